//! Work a running node does on its own, on a schedule: the retention sweep, signing ledger
//! checkpoints, and recomputing the reporting-obligation metrics. Each run happens on a blocking
//! thread, so a slow one never holds up requests; a failed run is logged and the next one tried.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::node::Node;

/// The node's scheduled jobs, running until aborted.
#[derive(Debug, Default)]
pub struct Jobs {
    handles: Vec<JoinHandle<()>>,
}

impl Jobs {
    /// Runs `job` on a blocking thread every `interval`, starting now.
    pub fn every(
        &mut self,
        name: &'static str,
        interval: Duration,
        job: impl Fn() -> crate::Result<()> + Send + Sync + 'static,
    ) {
        let job = std::sync::Arc::new(job);
        self.handles.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let job = job.clone();
                match tokio::task::spawn_blocking(move || job()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::error!(job = name, error = %e, "scheduled job failed"),
                    Err(e) => tracing::error!(job = name, error = %e, "scheduled job panicked"),
                }
            }
        }));
    }

    /// Adds a task the caller spawned (say, an edge's own schedule), to be stopped with the rest.
    pub fn add(&mut self, handle: JoinHandle<()>) {
        self.handles.push(handle);
    }

    /// Stops every job.
    pub fn abort(self) {
        for h in self.handles {
            h.abort();
        }
    }
}

impl Node {
    /// Starts the node's own scheduled jobs (from the configuration in force at start).
    pub fn start_jobs(&self) -> Jobs {
        let config = self.config();
        let mut jobs = Jobs::default();
        if config.retention.sweep_interval_secs > 0 {
            let node = self.clone();
            jobs.every(
                "retention sweep",
                Duration::from_secs(config.retention.sweep_interval_secs),
                move || {
                    let expired = node.sweep_retention(false)?;
                    if !expired.is_empty() {
                        tracing::info!(
                            versions = expired.len(),
                            "removed object versions whose retention ended"
                        );
                    }
                    Ok(())
                },
            );
        }
        let node = self.clone();
        jobs.every(
            "checkpoint",
            Duration::from_secs(config.ledger.checkpoint_interval_secs.max(1)),
            move || {
                node.ledger()?.checkpoint()?;
                Ok(())
            },
        );
        let node = self.clone();
        jobs.every("obligation metrics", Duration::from_secs(60), move || {
            let pack = crate::obligations::pack(&node)?;
            let stats = crate::obligations::stats(&node, &pack)?;
            node.metrics().obligations(&stats);
            Ok(())
        });
        jobs
    }
}
