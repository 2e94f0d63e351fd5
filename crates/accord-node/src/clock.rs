//! The node's clock: every time a service reads (decision times, ledger entry times, cache ages,
//! deadlines) comes from one [`Clock`], so that tests move time instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// Wall-clock and monotonic time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Microseconds since the Unix epoch (UTC).
    fn now_micros(&self) -> i64;
    /// Monotonic time since some fixed point: for ages and time-to-live, never for dates.
    fn elapsed(&self) -> Duration;

    /// The current time as a STIX timestamp.
    fn now(&self) -> accord_stix::Timestamp {
        accord_stix::Timestamp::from_micros(self.now_micros())
    }
}

/// The system's clocks.
#[derive(Debug)]
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    pub fn shared() -> Arc<dyn Clock> {
        Arc::new(SystemClock {
            start: Instant::now(),
        })
    }
}

/// The system's wall-clock time, microseconds since the Unix epoch: for the few commands that
/// run without a node (`convert`, `match` over files). Everything else asks the node's clock.
pub fn system_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

impl Clock for SystemClock {
    fn now_micros(&self) -> i64 {
        system_micros()
    }

    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// A clock that moves only when told to: for tests of anything that depends on time passing
/// (cache lifetimes, pages read ahead going stale, deadlines).
#[derive(Debug)]
pub struct ManualClock {
    micros: AtomicI64,
    /// Monotonic microseconds.
    elapsed: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `micros` (since the Unix epoch).
    pub fn at(micros: i64) -> Arc<ManualClock> {
        Arc::new(ManualClock {
            micros: AtomicI64::new(micros),
            elapsed: AtomicI64::new(0),
        })
    }

    /// Moves both clocks forward.
    pub fn advance(&self, by: Duration) {
        let us = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.micros.fetch_add(us, Ordering::AcqRel);
        self.elapsed.fetch_add(us, Ordering::AcqRel);
    }
}

impl Clock for ManualClock {
    fn now_micros(&self) -> i64 {
        self.micros.load(Ordering::Acquire)
    }

    fn elapsed(&self) -> Duration {
        Duration::from_micros(u64::try_from(self.elapsed.load(Ordering::Acquire)).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let c = ManualClock::at(1_000_000);
        assert_eq!((c.now_micros(), c.elapsed()), (1_000_000, Duration::ZERO));
        c.advance(Duration::from_millis(2500));
        assert_eq!(c.now_micros(), 3_500_000);
        assert_eq!(c.elapsed(), Duration::from_millis(2500));
        assert_eq!(c.now().as_micros(), 3_500_000);
    }
}
