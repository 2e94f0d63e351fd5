//! Running a node: the TAXII server, the node's scheduled jobs and partner syncs, the
//! configuration reloaded on SIGHUP, and in-flight work finished on SIGTERM or Ctrl-C. `up` is
//! the same after bringing up a demo node.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use accord_node::Node;
use anyhow::{Context, Result};

use crate::outcome::Outcome;

/// Zero bytes the server keeps written ahead of its ledger's entries: about 160 entries. The
/// group that writes the next 64 KiB pays what every group paid before (a new size, new blocks)
/// plus 64 KiB; a megabyte at once held the writer long enough to raise the p99 of single reads
/// at saturation (3.7–4.3 ms → 5.8–6.1 ms on the benchmark's node).
const LEDGER_RESERVE_BYTES: u64 = 64 << 10;

/// `accord serve`.
pub fn serve(node: Node, listen: Option<SocketAddr>) -> Result<Outcome> {
    run(node, listen, |addr| eprintln!("serving TAXII 2.1 on {addr}"))?;
    Ok(Outcome::default())
}

/// `accord up`: a demo node, then serving it; what to try is printed once it listens.
pub fn up(dir: &Path, json: bool) -> Result<Outcome> {
    let demo = accord_node::demo::up(dir, &accord_node::ingest::import::Silent)?;
    let node = demo.node.clone();
    let config = node.config();
    let tls = !config.server.plain_http;
    // Printed lines are pasted into other shells, in other directories: absolute paths, and
    // this very binary (it need not be on PATH).
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let ca = absolute(&node.dev_ca_path());
    let d = absolute(dir);
    let exe = std::env::current_exe().map_or_else(|_| "accord".into(), |p| p.display().to_string());
    let report = move |addr: SocketAddr| {
        let scheme = if tls { "https" } else { "http" };
        let url = format!("{scheme}://{addr}");
        let text = if json {
            let value = serde_json::json!({
                "data_dir": d, "demo_import": demo.import, "collections": demo.collections,
                "url": format!("{url}/taxii2/"), "audit_key": demo.ledger_key.to_string(),
                "ca": tls.then_some(&ca),
                "replaced_credentials": demo.replaced,
                "credential": demo.credential.as_ref().map(crate::commands::credential_json),
            });
            serde_json::to_string_pretty(&value).unwrap_or_default()
        } else {
            up_text(
                &demo,
                &Shell {
                    exe: &exe,
                    dir: &d,
                    ca: tls.then_some(ca.as_path()),
                },
                &url,
            )
        };
        // A closed stdout is the reader's business; the server keeps serving.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}").and_then(|()| out.flush());
    };
    run(node, None, report)?;
    Ok(Outcome::default())
}

/// Quotes `s` for a POSIX shell, when it needs it.
fn sh(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./:@%+=,-".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// What the printed commands name: this binary, the data directory and the CA (absolute).
struct Shell<'a> {
    exe: &'a str,
    dir: &'a Path,
    ca: Option<&'a Path>,
}

/// What `up` prints for people once the node listens: every command works pasted into a fresh
/// shell, whatever its directory, PATH or REQUESTS_CA_BUNDLE.
fn up_text(demo: &accord_node::demo::Demo, at: &Shell<'_>, url: &str) -> String {
    let mut t = String::new();
    let i = &demo.import;
    let d = sh(&at.dir.display().to_string());
    let accord = format!("{} --data-dir {d}", sh(at.exe));
    let _ = writeln!(t, "Accord node ready in {}", at.dir.display());
    let _ = writeln!(
        t,
        "demo data: {} objects ({} new, {} unchanged, {} rejected)",
        i.objects,
        i.new + i.new_version,
        i.unchanged,
        i.rejected
    );
    for c in &demo.collections {
        let _ = writeln!(
            t,
            "  collection {:<8} {}  {} versions",
            c.alias.as_deref().unwrap_or("-"),
            c.id,
            c.versions
        );
    }
    let _ = writeln!(t, "\nTAXII 2.1 server: {url}/taxii2/");
    let ca = at.ca.map(|c| sh(&c.display().to_string()));
    match &demo.credential {
        Some(c) => {
            let _ = writeln!(t, "demo credential for {}:", c.record.principal);
            t.push_str(&crate::commands::credential_text(c));
            for old in &demo.replaced {
                let _ = writeln!(
                    t,
                    "  REPLACED: {old}, the demo credential an earlier `accord up` printed, is now \
                     revoked and gets 401; use the one above (a credential from `token create` is \
                     never replaced)"
                );
            }
            let _ = writeln!(t, "try:");
            let cacert = ca.as_ref().map(|c| format!(" --cacert {c}")).unwrap_or_default();
            let _ = writeln!(
                t,
                "  curl{cacert} -u {}:{} -H 'Accept: application/taxii+json;version=2.1' {url}/api/collections/",
                c.record.id, c.secret
            );
            // requests lets REQUESTS_CA_BUNDLE override a session's `verify`, which is what
            // taxii2-client sets: naming the CA there makes the line work whatever the shell has.
            let bundle = ca
                .as_ref()
                .map(|c| format!("REQUESTS_CA_BUNDLE={c} "))
                .unwrap_or_default();
            let _ = writeln!(
                t,
                "  {bundle}python3 -c \"from taxii2client.v21 import Server; s = Server('{url}/taxii2/', user='{}', password='{}'); print([c.title for c in s.default.collections])\"   # pip install taxii2-client",
                c.record.id, c.secret
            );
        }
        None => {
            let _ = writeln!(
                t,
                "no principals in accord.toml: add one and run `{accord} token create --principal NAME`"
            );
        }
    }
    let _ = writeln!(
        t,
        "  {accord} export --collection demo --type attack-pattern --format jsonl | head -1"
    );
    let _ = writeln!(t, "see what a partner receives, and why:");
    let _ = writeln!(
        t,
        "  {accord} export --collection demo --for demo-partner --type identity --format jsonl | head -1"
    );
    let _ = writeln!(
        t,
        "  {accord} policy explain --principal demo-partner --object identity--a9119a87-6576-46af-bfd7-4fbe55926671"
    );
    let _ = writeln!(
        t,
        "every decision, share and redaction is in the transparency log; check it as an oversight body would:"
    );
    let _ = writeln!(t, "  {accord} audit verify --key '{}'", demo.ledger_key);
    let _ = writeln!(t, "  {accord} audit query --agreement example-bilateral");
    let _ = writeln!(
        t,
        "(`cargo install --path crates/accord` puts `accord` on PATH, so that it can be typed alone)"
    );
    let _ = write!(t, "Ctrl-C stops the server (in-flight requests finish first).");
    t
}

fn run(node: Node, listen: Option<SocketAddr>, ready: impl FnOnce(SocketAddr)) -> Result<()> {
    // The allocator asks for transparent huge pages, and the kernel then zeroes 2 MiB at each
    // first touch: with them, about half of the first 500-object POST's time and 15% of later
    // ones went to zeroing. A server's requests touch fresh memory in small pieces; a batch
    // import (a little faster with them) keeps them.
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::warn!(error = %e, "cannot turn transparent huge pages off");
    }
    // Few blocking threads: store calls are short, and every new thread costs a fresh allocator heap.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(16)
        .enable_all()
        .build()?;
    runtime.block_on(serve_node(node, listen, shutdown_signal(), ready))
}

/// Serves `node` until `shutdown` resolves, then finishes in-flight work and closes the ledger
/// with a signed checkpoint.
pub async fn serve_node(
    node: Node,
    listen: Option<SocketAddr>,
    shutdown: impl Future<Output = ()>,
    ready: impl FnOnce(SocketAddr),
) -> Result<()> {
    node.ensure_secrets()?;
    // What could be wrong in the configuration is found now, before anything is logged or
    // scheduled, not at the first request.
    node.partners()?;
    let taxii = accord_taxii::prepare(&node)?;
    let addr = listen.unwrap_or(node.config().server.listen);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let ledger = node.ledger()?;
    // Every read is logged: keep zeros written ahead of the entries so that most groups' syncs
    // only overwrite (see `Ledger::reserve`).
    ledger.reserve(LEDGER_RESERVE_BYTES);
    let policy = node.policy_engine()?;
    tracing::info!(
        policy_version = policy.version(),
        audit_entries = ledger.size(),
        "policy in force"
    );
    // INVARIANT: the configuration in force is logged before anything is served under it.
    let n = node.clone();
    tokio::task::spawn_blocking(move || n.log_config("start")).await??;
    let mut jobs = node.start_jobs();
    jobs.add(tokio::spawn(accord_sync::exchange::on_schedule(node.clone())));
    #[cfg(unix)]
    jobs.add(tokio::spawn(reload_on_hangup(node.clone())));
    taxii.run(listener, shutdown, ready).await?;
    jobs.abort();
    let last = tokio::task::spawn_blocking(move || ledger.close()).await??;
    if let Some(note) = last {
        tracing::info!(checkpoint = %note.lines().nth(1).unwrap_or_default(), "ledger closed with a signed checkpoint");
    }
    Ok(())
}

/// On SIGHUP, re-reads the configuration and policy files and puts them in force as one (see
/// `Node::reload`); a broken configuration is logged with its file, line and reason, and the old
/// one stays in force.
#[cfg(unix)]
async fn reload_on_hangup(node: Node) {
    let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        return;
    };
    while hangup.recv().await.is_some() {
        let n = node.clone();
        match tokio::task::spawn_blocking(move || n.reload()).await {
            Ok(Ok(version)) => {
                tracing::info!(policy_version = %version, "configuration reloaded; new policy and partners in force");
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "configuration not reloaded; the previous policy stays in force");
            }
            Err(e) => tracing::error!(error = %e, "configuration reload failed"),
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
