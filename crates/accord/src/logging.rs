//! The log writer: lines are gathered in memory and written to stderr in batches by one thread,
//! so that a request's log line costs a copy under a lock rather than a thread wake-up and a
//! system call of its own.
//!
//! An info line waits at most [`INTERVAL`] to be written; a warning or an error wakes the writer
//! at once. No line is dropped: past [`LIMIT`] bytes waiting, loggers wait for the writer.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in memory before it is written.
pub const INTERVAL: Duration = Duration::from_millis(50);
/// Bytes waiting that make the writer write at once.
const EAGER: usize = 64 << 10;
/// Bytes waiting past which loggers wait for the writer.
pub const LIMIT: usize = 4 << 20;

#[derive(Debug, Clone, Copy)]
struct Limits {
    interval: Duration,
    eager: usize,
    limit: usize,
}

#[derive(Default)]
struct Waiting {
    bytes: Vec<u8>,
    /// A warning or an error is waiting, or [`EAGER`] bytes: write without waiting for the interval.
    now: bool,
    closed: bool,
}

struct Shared {
    limits: Limits,
    waiting: Mutex<Waiting>,
    /// The writer waits on this for lines, and for the interval to pass.
    wake: Condvar,
    /// Loggers held back at [`LIMIT`] wait on this for the writer to take the lines.
    taken: Condvar,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The `MakeWriter` to give the subscriber.
#[derive(Debug, Clone)]
pub struct Batched {
    shared: Arc<Shared>,
}

/// Writes what is still waiting, and stops the writer, when dropped.
#[derive(Debug)]
pub struct Guard {
    batched: Batched,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.batched.shared.lock().closed = true;
        self.batched.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A batching writer over `out` (stderr in the binary), and the guard that flushes it; an error
/// if the writer thread cannot be started.
pub fn batched(out: impl Write + Send + 'static) -> std::io::Result<(Batched, Guard)> {
    batched_with(
        out,
        Limits {
            interval: INTERVAL,
            eager: EAGER,
            limit: LIMIT,
        },
    )
}

fn batched_with(out: impl Write + Send + 'static, limits: Limits) -> std::io::Result<(Batched, Guard)> {
    let batched = Batched {
        shared: Arc::new(Shared {
            limits,
            waiting: Mutex::default(),
            wake: Condvar::new(),
            taken: Condvar::new(),
        }),
    };
    let shared = batched.shared.clone();
    let thread = std::thread::Builder::new()
        .name("accord-log".into())
        .spawn(move || write_loop(&shared, out))?;
    let guard = Guard {
        batched: batched.clone(),
        thread: Some(thread),
    };
    Ok((batched, guard))
}

fn write_loop(shared: &Shared, mut out: impl Write) {
    let mut spare = Vec::new();
    loop {
        let mut w = shared.lock();
        while w.bytes.is_empty() && !w.closed {
            w = shared
                .wake
                .wait(w)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        // Something is waiting: give others the interval to join it, unless it is urgent.
        if !w.now && !w.closed {
            w = shared
                .wake
                .wait_timeout_while(w, shared.limits.interval, |w| !w.now && !w.closed)
                .map_or_else(|p| p.into_inner().0, |(w, _)| w);
        }
        w.now = false;
        std::mem::swap(&mut w.bytes, &mut spare);
        let closed = w.closed;
        drop(w);
        shared.taken.notify_all();
        // A log that cannot be written has nowhere to report that; the lines are lost, not retried.
        let _ = out.write_all(&spare).and_then(|()| out.flush());
        spare.clear();
        if closed && shared.lock().bytes.is_empty() {
            return;
        }
    }
}

/// One event's line(s), appended to what is waiting.
#[derive(Debug)]
pub struct Line<'a> {
    shared: &'a Shared,
    urgent: bool,
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut w = self.shared.lock();
        let limits = self.shared.limits;
        while w.bytes.len() >= limits.limit && !w.closed {
            w = self
                .shared
                .taken
                .wait(w)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        let first = w.bytes.is_empty();
        w.bytes.extend_from_slice(bytes);
        let now = !w.now && (self.urgent || w.bytes.len() >= limits.eager);
        w.now |= now;
        drop(w);
        if first || now {
            self.shared.wake.notify_one();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Batched {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            shared: &self.shared,
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line<'a> {
        Line {
            shared: &self.shared,
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Instant;
    use tracing::subscriber::with_default;

    /// A sink that hands each write to the test, and can be held shut.
    struct Sink {
        writes: mpsc::Sender<Vec<u8>>,
        gate: Arc<Mutex<()>>,
    }

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let _open = self
                .gate
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let _ = self.writes.send(bytes.to_vec());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn sink() -> (Sink, mpsc::Receiver<Vec<u8>>, Arc<Mutex<()>>) {
        let (writes, received) = mpsc::channel();
        let gate = Arc::new(Mutex::new(()));
        (
            Sink {
                writes,
                gate: gate.clone(),
            },
            received,
            gate,
        )
    }

    fn subscriber(batched: Batched) -> impl tracing::Subscriber + Send + Sync {
        tracing_subscriber::fmt()
            .with_writer(batched)
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .finish()
    }

    /// A writer whose interval no test run reaches, and whose buffer never fills.
    fn unhurried(out: Sink) -> (Batched, Guard) {
        batched_with(
            out,
            Limits {
                interval: Duration::from_secs(3600),
                eager: 1 << 20,
                limit: 1 << 30,
            },
        )
        .expect("log writer")
    }

    fn text(received: &mpsc::Receiver<Vec<u8>>) -> String {
        String::from_utf8(received.try_iter().flatten().collect()).unwrap_or_default()
    }

    #[test]
    fn info_lines_wait_for_the_interval_and_a_warning_takes_them_along() {
        let (out, received, _) = sink();
        // Only the warning can have the lines written.
        let (batched, guard) = unhurried(out);
        with_default(subscriber(batched), || {
            tracing::info!("first");
            tracing::info!("second");
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(text(&received), "", "info lines were written before the interval");
            tracing::warn!("third");
        });
        let got = received.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let got = String::from_utf8(got).unwrap_or_default();
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(lines.len(), 3, "{got}");
        assert!(
            lines[0].ends_with("first") && lines[1].ends_with("second"),
            "{got}"
        );
        assert!(lines[2].contains("WARN") && lines[2].ends_with("third"), "{got}");
        drop(guard);
    }

    #[test]
    fn dropping_the_guard_writes_what_is_waiting() {
        let (out, received, _) = sink();
        let (batched, guard) = unhurried(out);
        with_default(subscriber(batched), || {
            for i in 0..100 {
                tracing::info!(i, "line");
            }
        });
        drop(guard);
        let got = text(&received);
        let numbers: Vec<&str> = got.lines().filter_map(|l| l.rsplit("i=").next()).collect();
        let expected: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        assert_eq!(numbers, expected, "{got}");
    }

    #[test]
    fn a_full_buffer_holds_loggers_back_instead_of_dropping_lines() {
        let (out, received, gate) = sink();
        let (batched, guard) = batched_with(
            out,
            Limits {
                interval: Duration::from_millis(1),
                eager: 64,
                limit: 256,
            },
        )
        .expect("log writer");
        // The sink is shut: the first batch sticks in the writer, then the buffer fills.
        let shut = gate.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (done, finished) = mpsc::channel();
        let logger = std::thread::spawn(move || {
            with_default(subscriber(batched), || {
                for i in 0..200 {
                    tracing::info!(i, "line");
                }
            });
            let _ = done.send(());
        });
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(200) {
            assert!(
                finished.try_recv().is_err(),
                "200 lines went past a shut sink and a 256-byte limit"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(shut);
        assert!(
            finished.recv_timeout(Duration::from_secs(30)).is_ok(),
            "the logger never finished"
        );
        let _ = logger.join();
        drop(guard);
        assert_eq!(text(&received).lines().count(), 200);
    }
}
