//! A monitor of a node's ledger (`accord audit verify|query`): verifies the log, read from a data
//! directory or fetched from a node over HTTPS, against a pinned key, and keeps the last
//! checkpoint it accepted (like a CT monitor) so that a rewritten or rolled-back log is caught on
//! the next run. Also answers oversight queries.

use std::path::{Path, PathBuf};
use std::time::Duration;

use accord_ledger::{Checkpoint, VerifierKey};
use accord_ledger_files::query::{Filter, MAX_LIMIT, Recipient, Scan};
use accord_node::Node;

use crate::error::{Error, Result};
use crate::{Auth, Https};

/// Where the log comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A node's data directory.
    Dir(PathBuf),
    /// A node's base URL (`https://host:port`), with an oversight credential.
    Url(Remote),
}

#[derive(Debug, Clone)]
pub struct Remote {
    pub base: String,
    /// `ID.SECRET` of an oversight or admin token.
    pub token: Option<String>,
    /// A CA certificate (PEM) to trust besides the system roots (e.g. a node's development CA).
    pub ca: Option<PathBuf>,
}

impl Remote {
    /// The node's HTTPS client (accord-sync's, so the TLS setup and the URL checks are the
    /// sync client's), with the token as a bearer credential.
    fn client(&self) -> Result<Https> {
        let tls = match &self.ca {
            Some(path) => {
                let pem = std::fs::read(path).map_err(Error::io(path))?;
                crate::client_config(Some(&pem), None).map_err(|e| {
                    Error::Invalid(format!("{}: unusable CA certificate: {e}", path.display()))
                })?
            }
            None => crate::client_config(None, None)?,
        };
        let auth = self.token.clone().map_or(Auth::None, Auth::Bearer);
        Ok(Https::new(&self.base, auth, tls, Duration::from_secs(60))?)
    }
}

/// A log as read for verification: its checkpoints, leaf hashes and where its entries come from.
struct Fetched {
    entries: Entries,
    checkpoints: Vec<String>,
    /// Leaf hashes stored beside the entries (a node's audit API does not serve them).
    hashes: Vec<accord_ledger::Hash>,
    origin: String,
    /// The key the node itself publishes (not an independent pin).
    published_key: Option<String>,
}

/// Where the entries are read from, a run at a time: a log may be larger than memory.
enum Entries {
    Dir(accord_ledger_files::DirLog),
    /// A node's audit API, a page at a time.
    Url(Https),
}

impl Fetched {
    /// Calls `f` with each run of entry lines, in log order.
    fn for_each_run(&self, mut f: impl FnMut(&[&[u8]])) -> Result<()> {
        let node = match &self.entries {
            Entries::Dir(log) => return Ok(log.for_each_run(f)?),
            Entries::Url(node) => node,
        };
        let mut start = 0u64;
        loop {
            let resp = node.get(&format!("/audit/v1/entries?start={start}"))?;
            let header = |name: &str| resp.header(name).and_then(|v| v.parse::<u64>().ok());
            let (end, size) = (header("x-accord-log-end"), header("x-accord-log-size"));
            let (Some(end), Some(size)) = (end, size) else {
                return Err(Error::Invalid(
                    "the node's entries response lacks its range headers".into(),
                ));
            };
            if let Some(text) = resp.body.strip_suffix(b"\n") {
                f(&text.split(|b| *b == b'\n').collect::<Vec<_>>());
            }
            if end >= size || end == start {
                return Ok(());
            }
            start = end;
        }
    }
}

fn from_dir(dir: &Path) -> Result<Fetched> {
    let config = Node::open(dir)?.config();
    let ledger = dir.join(&config.ledger.dir);
    if !ledger.join(accord_ledger_files::ENTRIES_FILE).exists() {
        return Err(Error::Invalid(format!(
            "{} holds no transparency log",
            ledger.display()
        )));
    }
    let mut log = accord_ledger_files::DirLog::open(&ledger)?;
    Ok(Fetched {
        checkpoints: std::mem::take(&mut log.checkpoints),
        hashes: std::mem::take(&mut log.hashes),
        entries: Entries::Dir(log),
        origin: config.ledger_origin(),
        published_key: std::fs::read_to_string(ledger.join(accord_ledger_files::KEY_FILE)).ok(),
    })
}

fn from_url(remote: &Remote) -> Result<Fetched> {
    let node = remote.client()?;
    let note = node.get("/audit/v1/checkpoint")?.text()?.to_owned();
    let published_key = node.get("/audit/v1/key")?.text().ok().map(str::to_owned);
    let origin = note.lines().next().unwrap_or_default().to_owned();
    Ok(Fetched {
        entries: Entries::Url(node),
        checkpoints: vec![note],
        hashes: Vec::new(),
        origin,
        published_key,
    })
}

/// What a monitor keeps between runs, per log origin.
fn state_file(state: &Path, origin: &str) -> PathBuf {
    let name: String = origin
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    state.join(format!("{name}.checkpoint"))
}

/// The outcome of a verification, for printing.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub ok: bool,
    pub origin: String,
    pub entries: u64,
    pub checkpoints_verified: usize,
    pub latest_checkpoint_size: Option<u64>,
    pub uncovered_entries: u64,
    /// Size of the checkpoint seen on an earlier run that the log was checked against.
    pub consistent_with_seen: Option<u64>,
    /// The first problem (entry index or checkpoint), and how many there were.
    pub problems: Vec<String>,
    pub key_source: String,
}

/// Verifies a log against `key` (or, failing that, a key pinned in `state`, or as a last resort
/// the key the node publishes, which the report says).
pub fn verify(source: &Source, key: Option<&str>, state: Option<&Path>) -> Result<Report> {
    let fetched = match source {
        Source::Dir(d) => from_dir(d)?,
        Source::Url(r) => from_url(r)?,
    };
    let origin = fetched.origin.clone();
    let pinned_path = state.map(|s| state_file(s, &origin).with_extension("vkey"));
    let pinned = pinned_path.as_ref().and_then(|p| std::fs::read_to_string(p).ok());
    let (key_text, key_source) = match (key, &pinned, &fetched.published_key) {
        (Some(k), _, _) => {
            let text = match k.strip_prefix('@') {
                Some(file) => std::fs::read_to_string(file).map_err(Error::io(file))?,
                None => k.to_owned(),
            };
            (text, "given".to_owned())
        }
        (None, Some(p), _) => (p.clone(), "pinned on an earlier run".to_owned()),
        (None, None, Some(k)) => (
            k.clone(),
            "published by the node itself (not independent: pass --key)".to_owned(),
        ),
        (None, None, None) => {
            return Err(Error::Invalid(
                "no key to verify with: pass --key NAME+ID+KEY".into(),
            ));
        }
    };
    let key: VerifierKey = key_text
        .trim()
        .parse()
        .map_err(|e| Error::Invalid(format!("--key: {e}")))?;
    // A node signs its checkpoints under its log's origin.
    if key.name != origin {
        return Err(Error::Invalid(format!(
            "the key is for {:?}, but the log's origin is {origin:?}",
            key.name
        )));
    }
    if let Some(p) = &pinned
        && p.trim() != key.to_string()
    {
        return Err(Error::Invalid(format!(
            "the key differs from the one pinned in {} on an earlier run",
            pinned_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )));
    }
    let seen: Option<Checkpoint> = state
        .map(|s| state_file(s, &origin))
        .and_then(|f| std::fs::read_to_string(f).ok())
        .map(|note| key.open(&note))
        .transpose()
        .map_err(|e| {
            Error::Invalid(format!(
                "the checkpoint kept from an earlier run does not verify with this key: {e}"
            ))
        })?;
    let mut checker = accord_ledger::Checker::default();
    let stored = (!fetched.hashes.is_empty()).then_some(fetched.hashes.as_slice());
    fetched.for_each_run(|run| checker.feed(run, stored))?;
    let mut report = Report {
        ok: false,
        origin: origin.clone(),
        entries: checker.size(),
        checkpoints_verified: 0,
        latest_checkpoint_size: None,
        uncovered_entries: 0,
        consistent_with_seen: None,
        problems: Vec::new(),
        key_source,
    };
    let signed = accord_ledger::Signed {
        checkpoints: &fetched.checkpoints,
        key: &key,
        origin: &origin,
        seen: seen.as_ref(),
    };
    match checker.finish(stored.map(<[_]>::len), &signed) {
        Ok(v) => {
            report.ok = true;
            report.checkpoints_verified = v.checkpoints;
            report.latest_checkpoint_size = v.latest.as_ref().map(|c| c.size);
            report.uncovered_entries = v.uncovered;
            report.consistent_with_seen = seen.as_ref().map(|c| c.size);
            if let (Some(state), Some(latest)) = (state, &v.latest)
                && seen.as_ref().is_none_or(|s| latest.size >= s.size)
            {
                std::fs::create_dir_all(state).map_err(Error::io(state))?;
                let note = v
                    .latest_note
                    .map(|i| fetched.checkpoints[i].clone())
                    .unwrap_or_default();
                let file = state_file(state, &origin);
                std::fs::write(&file, note).map_err(Error::io(&file))?;
                let vkey = file.with_extension("vkey");
                std::fs::write(&vkey, format!("{key}\n")).map_err(Error::io(&vkey))?;
            }
        }
        Err(problems) => report.problems = problems.iter().map(ToString::to_string).collect(),
    }
    Ok(report)
}

/// What a query found besides its entries.
#[derive(Debug, Default)]
pub struct Queried {
    /// Matching entries handed out.
    pub total: u64,
    /// With an agreement: who received objects under it, in those entries.
    pub recipients: Option<Vec<Recipient>>,
}

/// Why a run of the log stopped being read.
enum Halt {
    Limit,
    Failed(Error),
}

impl From<accord_node::LedgerError> for Halt {
    fn from(e: accord_node::LedgerError) -> Halt {
        Halt::Failed(e.into())
    }
}

/// One page of a node's answer, its entries as the node sent them.
#[derive(serde::Deserialize)]
struct RemotePage<'a> {
    #[serde(borrow)]
    entries: Vec<&'a serde_json::value::RawValue>,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    recipients: Option<Vec<Recipient>>,
}

/// Runs an oversight query against a data directory or a node, handing each matching entry (its
/// JSON, one line) to `emit` in log order, and stopping after `limit` entries if one is given.
/// The answer is read a page (from a node) or a run of the log (from a directory) at a time, so
/// memory does not grow with it.
pub fn query(
    source: &Source,
    filter: &Filter,
    limit: Option<u64>,
    emit: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<Queried> {
    let mut found = Queried::default();
    match source {
        Source::Dir(dir) => {
            let config = Node::open(dir)?.config();
            let log = accord_ledger_files::DirLog::open_entries(&dir.join(&config.ledger.dir))?;
            let mut scan = Scan::new(filter);
            let mut index = 0u64;
            let read = log.try_for_each_run(|run| {
                for line in run {
                    if limit.is_some_and(|l| found.total >= l) {
                        return Err(Halt::Limit);
                    }
                    let entry = scan
                        .check(index, line)
                        .map_err(|e| Halt::Failed(Error::Invalid(e.to_string())))?;
                    index += 1;
                    if let Some(entry) = entry {
                        scan.count(&entry);
                        emit(line).map_err(|e| Halt::Failed(Error::Write(e)))?;
                        found.total += 1;
                    }
                }
                Ok(())
            });
            match read {
                Ok(()) | Err(Halt::Limit) => {}
                Err(Halt::Failed(e)) => return Err(e),
            }
            found.recipients = scan.recipients();
        }
        Source::Url(remote) => {
            let client = remote.client()?;
            let p = filter.params();
            let mut next: Option<String> = None;
            loop {
                let mut q = form_urlencoded::Serializer::new(String::new());
                for (k, v) in [
                    ("object", &p.object),
                    ("agreement", &p.agreement),
                    ("principal", &p.principal),
                    ("since", &p.since),
                    ("until", &p.until),
                ] {
                    if let Some(v) = v {
                        q.append_pair(k, v);
                    }
                }
                if !p.kind.is_empty() {
                    q.append_pair("kind", &p.kind.join(","));
                }
                if let Some(l) = limit {
                    let left = l.saturating_sub(found.total).min(MAX_LIMIT as u64);
                    q.append_pair("limit", &left.to_string());
                }
                if let Some(n) = &next {
                    q.append_pair("next", n);
                }
                let path = format!("/audit/v1/query?{}", q.finish());
                let resp = client.get(&path)?;
                let page: RemotePage<'_> = serde_json::from_str(resp.text()?)
                    .map_err(|e| Error::Invalid(format!("{path}: not an oversight answer: {e}")))?;
                for entry in page.entries {
                    if limit.is_some_and(|l| found.total >= l) {
                        break;
                    }
                    emit(entry.get().as_bytes()).map_err(Error::Write)?;
                    found.total += 1;
                }
                if let Some(more) = page.recipients {
                    accord_ledger_files::query::merge_recipients(
                        found.recipients.get_or_insert_with(Vec::new),
                        more,
                    );
                }
                next = page.next;
                if next.is_none() || limit.is_some_and(|l| found.total >= l) {
                    break;
                }
            }
            if p.agreement.is_some() && found.recipients.is_none() {
                found.recipients = Some(Vec::new());
            }
        }
    }
    Ok(found)
}
