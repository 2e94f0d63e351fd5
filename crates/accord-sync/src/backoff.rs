//! Retries with exponential backoff and full jitter, for the errors that trying again may cure.

use std::time::Duration;

use crate::SyncError;

/// Retries with exponential backoff and full jitter: attempt `n` waits a random time below
/// `base * 2^n`, capped.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            attempts: 5,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The wait before retry `n` (0-based).
    pub fn delay(&self, n: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(n.min(20)).unwrap_or(u32::MAX))
            .min(self.cap);
        // Full jitter spreads the retries of many clients; without randomness, half the ceiling.
        let mut r = [0u8; 8];
        let fraction = if getrandom::fill(&mut r).is_ok() {
            (u64::from_le_bytes(r) >> 11) as f64 / (1u64 << 53) as f64
        } else {
            0.5
        };
        ceiling.mul_f64(fraction)
    }

    /// Runs `op` until it succeeds, fails for good, or the attempts run out.
    pub fn run<T>(&self, mut op: impl FnMut() -> Result<T, SyncError>) -> Result<T, SyncError> {
        let mut n = 0;
        loop {
            match op() {
                Err(e) if e.is_transient() && n + 1 < self.attempts => {
                    std::thread::sleep(self.delay(n));
                    n += 1;
                }
                other => return other,
            }
        }
    }
}
