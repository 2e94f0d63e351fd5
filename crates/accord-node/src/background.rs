//! Threads for work that no client is waiting on at that moment (checking queued POSTs), at a
//! lower priority than the threads that answer requests.
//!
//! Pages read ahead are not such work: for a client paging through a collection, the read of its
//! next page is the slowest step, and at this priority paging measured about 6% slower.

/// How much less CPU these threads get than the rest of the server when both want it.
pub(crate) const NICENESS: i32 = 5;

/// A pool of such threads, named `{name}-{i}`, one per core; `None` if they cannot be started
/// (the caller then does the work at normal priority).
pub(crate) fn pool(name: &'static str) -> Option<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .thread_name(move |i| format!("{name}-{i}"))
        .start_handler(|_| {
            // Only this thread: on Linux a thread has its own niceness.
            if let Err(e) = rustix::process::setpriority_process(None, NICENESS) {
                tracing::warn!(error = %e, "cannot lower the priority of a background thread");
            }
        })
        .build()
        .inspect_err(|e| tracing::error!(error = %e, "cannot start the background threads"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_work_runs_at_a_lower_priority_than_requests() {
        let own = rustix::process::getpriority_process(None).expect("own priority");
        let pool = pool("test").expect("background threads");
        let background = pool
            .install(|| rustix::process::getpriority_process(None))
            .expect("a background thread's priority");
        assert_eq!(background, (own + NICENESS).min(19));
        // Lowering the pool's priority must leave the calling thread's alone.
        assert_eq!(
            rustix::process::getpriority_process(None).expect("own priority"),
            own
        );
    }
}
