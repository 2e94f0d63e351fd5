//! Runs the TAXII server for a node: builds the server model and principal directory from the
//! configuration, starts background ingestion, serves until a shutdown signal, then drains.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use accord_taxii::{AppState, Directory, Ingestor, Metrics, Principal, Scope, ServerModel, Shared, model};
use anyhow::{Context, Result, anyhow};

use crate::config::Config;
use crate::node::Node;

/// Zero bytes the server keeps written ahead of its transparency log's entries: about 160
/// entries. The group that writes the next 64 KiB pays what every group paid before (a new size,
/// new blocks) plus 64 KiB; a megabyte at once held the writer long enough to raise the p99 of
/// single reads at saturation (3.7–4.3 ms → 5.8–6.1 ms on the benchmark's node).
const AUDIT_RESERVE_BYTES: u64 = 64 << 10;

/// The API roots and collections to serve, from the configuration.
pub fn server_model(config: &Config, cursor_key: [u8; 32]) -> Result<ServerModel> {
    let roots = config
        .api_roots()
        .into_iter()
        .map(|r| {
            let collections = r
                .collections
                .iter()
                .map(|name| {
                    let c = config
                        .collection(Some(name))
                        .ok_or_else(|| anyhow!("unknown collection {name:?}"))?;
                    Ok(model::Collection {
                        id: c.id.clone(),
                        title: c.title.clone(),
                        description: c.description.clone(),
                        alias: c.alias.clone(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(model::ApiRoot {
                name: r.name,
                title: r.title,
                description: r.description,
                max_content_length: r.max_content_length,
                collections,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ServerModel {
        title: config.server.title.clone(),
        description: config.server.description.clone(),
        contact: config.server.contact.clone(),
        default_root: config.server.default_api_root.clone(),
        roots,
        cursor_key,
        max_page: config.server.max_page_size,
        default_page: config.server.page_size,
    })
}

fn scope(config: &Config, names: &[String]) -> Scope {
    if names.iter().any(|n| n == "*") {
        return Scope::All;
    }
    let ids: HashSet<String> = names
        .iter()
        .filter_map(|n| config.collection(Some(n)).map(|c| c.id.clone()))
        .collect();
    Scope::Only(ids)
}

/// The principals and pinned client certificates, from the configuration.
pub fn directory(config: &Config) -> Result<Directory> {
    let mut dir = Directory::default();
    for p in &config.principals {
        dir.principals.insert(
            p.name.clone(),
            Principal {
                name: p.name.clone(),
                organisation: p.organisation.clone(),
                read: scope(config, &p.read),
                write: scope(config, &p.write),
                roles: p.roles.clone(),
            },
        );
        if let Some(fp) = &p.client_certificate_sha256 {
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(fp, &mut bytes).map_err(|e| anyhow!("principal {}: {e}", p.name))?;
            dir.certificates.insert(bytes, p.name.clone());
        }
    }
    Ok(dir)
}

/// Serves the node until `shutdown` resolves; in-flight requests and queued POSTs are finished first.
pub async fn serve(
    node: Node,
    shutdown: impl Future<Output = ()>,
    ready: impl FnOnce(std::net::SocketAddr),
) -> Result<()> {
    node.ensure_secrets()?;
    let node = Arc::new(node);
    let config = &node.config;
    let model = server_model(config, node.cursor_key()?)?;
    let directory = directory(config)?;
    let tls = if config.server.plain_http {
        None
    } else {
        let (cert, key) = (
            node.dir.join(&config.server.tls_cert),
            node.dir.join(&config.server.tls_key),
        );
        Some(accord_taxii::tls::server_config(&cert, &key)?)
    };
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let addr = listener.local_addr()?;
    let metrics = Arc::new(Metrics::new());
    let backend: Arc<dyn accord_store::Backend> = node.store.clone();
    let audit = node.audit_log()?;
    // Every read is logged: keep zeros written ahead of the entries so that most groups' syncs
    // only overwrite (see `AuditLog::reserve`).
    audit.reserve(AUDIT_RESERVE_BYTES);
    let gate = Arc::new(node.gate()?);
    tracing::info!(
        policy_version = gate.engine().version(),
        audit_entries = audit.size(),
        "policy in force"
    );
    let started = crate::node::config_event(&node.dir, config, &gate.engine(), "start")?;
    audit
        .record(vec![(accord_audit::now_micros(), started)])
        .durable()
        .await?;
    let partners = Arc::new(crate::federation::Partners::for_node(&node)?);
    let (ingest, worker) = Ingestor::start(
        backend.clone(),
        audit.clone(),
        metrics.clone(),
        config.limits.max_object_bytes,
        Some(partners.clone()),
    );
    // What scheduled syncs read: the node under its latest configuration.
    let current = Arc::new(std::sync::RwLock::new(node.clone()));
    #[cfg(unix)]
    tokio::spawn(reload_on_hangup(
        current.clone(),
        gate.clone(),
        partners.clone(),
        audit.clone(),
    ));
    let sweeps = (config.retention.sweep_interval_secs > 0).then(|| {
        let collections = config.collections.iter().map(|c| c.id.clone()).collect();
        tokio::spawn(sweep_every(
            node.store.clone(),
            audit.clone(),
            collections,
            std::time::Duration::from_secs(config.retention.sweep_interval_secs),
        ))
    });
    let obligations = tokio::spawn(obligation_metrics_every(
        node.clone(),
        metrics.clone(),
        std::time::Duration::from_secs(60),
    ));
    let syncs = tokio::spawn(sync_on_schedule(current));
    let checkpoints = tokio::spawn(checkpoint_every(
        audit.clone(),
        std::time::Duration::from_secs(config.audit.checkpoint_interval_secs.max(1)),
    ));
    let state = AppState::new(Shared {
        backend,
        model: Arc::new(model),
        directory: Arc::new(directory),
        cursors: accord_taxii::query::Cursors::new(node.cursor_key()?),
        ingest,
        metrics,
        tls: tls.is_some(),
        public_host: addr.to_string(),
        max_object_bytes: config.limits.max_object_bytes,
        tokens: Arc::default(),
        gate,
        audit: audit.clone(),
        outbound: Some(partners),
        read_ahead: Default::default(),
    });
    ready(addr);
    let app = accord_taxii::app(state);
    accord_taxii::server::serve(listener, app, tls, shutdown).await?;
    tracing::info!("connections drained; finishing queued requests");
    worker.finish().await;
    checkpoints.abort();
    obligations.abort();
    syncs.abort();
    if let Some(s) = sweeps {
        s.abort();
    }
    let last = tokio::task::spawn_blocking(move || audit.close()).await??;
    if let Some(note) = last {
        tracing::info!(checkpoint = %note.lines().nth(1).unwrap_or_default(), "audit log closed with a signed checkpoint");
    }
    Ok(())
}

/// Synchronises with each partner that has a `sync_interval_secs`, at that interval, under the
/// configuration in force (partners added, removed or re-timed by a reload are followed). Each
/// run is on its own blocking thread, so a dead partner never holds up the others; its cursors
/// make an interrupted run resume where it stopped.
async fn sync_on_schedule(current: Arc<std::sync::RwLock<Arc<Node>>>) {
    use std::collections::HashMap;
    use std::time::{Duration, Instant};
    let mut last: HashMap<String, Instant> = HashMap::new();
    let mut running: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        running.retain(|_, run| !run.is_finished());
        let node = current
            .read()
            .map(|n| n.clone())
            .unwrap_or_else(|e| e.into_inner().clone());
        for p in &node.config.partners {
            let interval = Duration::from_secs(p.sync_interval_secs);
            if p.sync_interval_secs == 0
                || (p.pull.is_empty() && p.push.is_empty())
                || running.contains_key(&p.name)
                || last.get(&p.name).is_some_and(|t| t.elapsed() < interval)
            {
                continue;
            }
            last.insert(p.name.clone(), Instant::now());
            let (n, name) = (node.clone(), p.name.clone());
            running.insert(p.name.clone(), tokio::spawn(sync_once(n, name)));
        }
    }
}

async fn sync_once(node: Arc<Node>, partner: String) {
    let name = partner.clone();
    match tokio::task::spawn_blocking(move || crate::sync::sync_all(&node, Some(&name))).await {
        Ok(Ok(reports)) => {
            for r in reports {
                tracing::info!(
                    partner = %r.partner,
                    received = r.received,
                    quarantined = r.quarantined,
                    sent = r.sent,
                    withheld = r.withheld,
                    errors = ?r.errors,
                    "sync"
                );
            }
        }
        Ok(Err(e)) => tracing::warn!(partner = %partner, error = %e, "sync failed"),
        Err(e) => tracing::error!(partner = %partner, error = %e, "sync task failed"),
    }
}

/// Removes object versions whose retention ended, every `interval`.
async fn sweep_every(
    store: Arc<accord_store::SqliteStore>,
    audit: accord_audit::AuditLog,
    collections: Vec<String>,
    interval: std::time::Duration,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (store, audit, collections) = (store.clone(), audit.clone(), collections.clone());
        let swept = tokio::task::spawn_blocking(move || {
            let now = accord_stix::Timestamp::from_micros(accord_audit::now_micros());
            crate::retention::sweep(store.as_ref(), &audit, &collections, now, false)
        })
        .await;
        match swept {
            Ok(Ok(expired)) if !expired.is_empty() => {
                tracing::info!(
                    versions = expired.len(),
                    "removed object versions whose retention ended"
                );
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "retention sweep failed"),
            Err(e) => tracing::error!(error = %e, "retention sweep task failed"),
        }
    }
}

/// Recomputes the reporting-obligation metrics (time to notify, overdue) every `interval`.
async fn obligation_metrics_every(node: Arc<Node>, metrics: Arc<Metrics>, interval: std::time::Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let node = node.clone();
        let computed = tokio::task::spawn_blocking(move || {
            let pack = crate::obligations::pack(&node)?;
            crate::obligations::stats(&node, &pack)
        })
        .await;
        match computed {
            Ok(Ok(stats)) => metrics.obligations(&stats),
            Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "cannot compute the obligation metrics"),
            Err(e) => tracing::error!(error = %e, "obligation metrics task failed"),
        }
    }
}

/// Signs a checkpoint every `interval` when the log has grown.
async fn checkpoint_every(audit: accord_audit::AuditLog, interval: std::time::Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let log = audit.clone();
        match tokio::task::spawn_blocking(move || log.checkpoint()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "cannot sign a checkpoint"),
            Err(e) => tracing::error!(error = %e, "checkpoint task failed"),
        }
    }
}

/// On SIGHUP, re-reads the configuration and policy files and puts the new decision point in
/// force atomically, with the partners, their pinned keys and accepted rotations, and this node's
/// signing key. A broken configuration is logged with its file, line and reason, and the old one
/// stays in force. (Listeners, collections and principals are fixed at start.)
#[cfg(unix)]
async fn reload_on_hangup(
    current: Arc<std::sync::RwLock<Arc<Node>>>,
    gate: Arc<accord_taxii::gate::Gate>,
    partners: Arc<crate::federation::Partners>,
    audit: accord_audit::AuditLog,
) {
    let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        return;
    };
    while hangup.recv().await.is_some() {
        let node = current
            .read()
            .map(|n| n.clone())
            .unwrap_or_else(|e| e.into_inner().clone());
        let dir = node.dir.clone();
        let loaded = Config::load(&dir.join(crate::config::CONFIG_FILE))
            .map_err(anyhow::Error::from)
            .and_then(|config| {
                let engine = crate::node::policy_engine(&dir, &config)?;
                let event = crate::node::config_event(&dir, &config, &engine, "reload")?;
                let defaults = config.collection_defaults();
                let next = Arc::new(node.with_config(config));
                // Checked before anything changes: keys that do not parse keep the old ones.
                next.keyring()?;
                next.provenance_signer()?;
                Ok((engine, defaults, event, next))
            });
        match loaded {
            Ok((engine, defaults, event, next)) => {
                let version = engine.version().to_owned();
                // The change is logged before it takes effect.
                if let Err(e) = audit
                    .record(vec![(accord_audit::now_micros(), event)])
                    .durable()
                    .await
                {
                    tracing::error!(error = %e, "configuration not reloaded: it could not be logged");
                    continue;
                }
                gate.replace(engine, defaults);
                if let Err(e) = partners.reload(&next) {
                    tracing::error!(error = %format!("{e:#}"), "partners not reloaded; the previous keys stay in force");
                }
                *current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = next;
                tracing::info!(policy_version = %version, "configuration reloaded; new policy and partners in force");
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "configuration not reloaded; the previous policy stays in force")
            }
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested");
}
