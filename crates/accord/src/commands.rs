//! Each command: open what it needs, call one service of the node (or a core), and say what
//! happened as an [`Outcome`]. Formatting for people lives here; the work does not.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use accord_node::Node;
use accord_node::export::{ExportFilter, Format};
use accord_node::ingest::import::{self, ImportOptions, ImportSummary};
use accord_node::ingest::sources;
use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::cli::{
    AuditAction, Cli, Command, ConvertFrom, ConvertTo, ExportFormat, KeysAction, LogSource,
    ObligationsAction, PartnersAction, PolicyAction, RetentionAction, TokenAction,
};
use crate::outcome::Outcome;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<Outcome> {
    let dir = cli.data_dir.as_path();
    let json = cli.json;
    let open = || Node::open(dir).map_err(anyhow::Error::from);
    match cli.command {
        Command::Init { dir: target } => init(target.as_deref().unwrap_or(dir)),
        Command::Up => crate::serve::up(dir, json),
        Command::Serve { listen } => crate::serve::serve(open()?, listen),
        Command::Token { action } => token(&open()?, action),
        Command::Import {
            paths,
            collection,
            strict,
            progress_lines,
            from_partner,
        } => {
            let node = open()?;
            let opts = ImportOptions {
                collection: node.collection_id(collection.as_deref())?,
                strict,
                max_object_bytes: node.config().limits.max_object_bytes,
                from_partner: from_partner.clone(),
            };
            match from_partner {
                Some(partner) => import_from_partner(&node, &partner, &paths, &opts),
                None => {
                    let sources = sources::expand(&paths)?;
                    let summary = run_import(&node, &sources, &opts, json, progress_lines)?;
                    Ok(Outcome::new(import_text(&summary), &summary).failed_if(summary.has_rejections()))
                }
            }
        }
        Command::Export {
            collection,
            types,
            added_after,
            all_versions,
            format,
            output,
            principal,
            purpose,
            sign,
        } => {
            let node = open()?;
            let added_after = added_after
                .map(|s| accord_stix::Timestamp::parse(&s).map(|t| t.as_micros()))
                .transpose()
                .map_err(|e| anyhow!("--added-after: {e}"))?;
            let filter = ExportFilter {
                collection: node.collection_id(collection.as_deref())?,
                types,
                added_after,
                all_versions,
                principal,
                purpose,
                signed: sign,
            };
            let format = match format {
                ExportFormat::Bundle => Format::Bundle,
                ExportFormat::Jsonl => Format::Jsonl,
            };
            let read = match output {
                Some(path) => accord_node::export::export_to_file(&node, &filter, format, &path)?,
                None => accord_node::export::export(
                    &node,
                    &filter,
                    format,
                    &mut std::io::BufWriter::new(std::io::stdout().lock()),
                    Path::new("standard output"),
                )?,
            };
            Ok(Outcome::note(format!(
                "exported {} objects from {} for {} ({} withheld by policy)",
                read.disclosed, filter.collection, filter.principal, read.withheld
            )))
        }
        Command::Validate {
            paths,
            warnings,
            max_object_bytes,
        } => {
            let sources = sources::expand(&paths)?;
            let summary = accord_node::validate::validate(&sources, max_object_bytes, warnings || json)?;
            let mut text = String::new();
            for p in &summary.document_problems {
                let _ = writeln!(text, "{p}");
            }
            for r in &summary.results {
                for line in r.human() {
                    let _ = writeln!(text, "{line}");
                }
            }
            let _ = writeln!(
                text,
                "{} objects in {} files: {} valid, {} invalid, {} warnings",
                summary.objects, summary.files, summary.valid, summary.invalid, summary.warnings
            );
            Ok(Outcome::new(text, &summary).failed_if(summary.failed()))
        }
        Command::Match {
            indicators,
            events,
            sighted_by,
            ingest,
            min_reliability,
        } => {
            let req = accord_node::detect::MatchRequest {
                indicators,
                sighted_by,
                ingest,
                min_reliability,
                stix: json,
                now: accord_node::clock::system_micros(),
            };
            run_match(&open, &req, &events)
        }
        Command::Convert {
            inputs,
            to,
            from,
            kind,
            sid_range,
            source,
            info,
            tlp,
            output,
        } => convert(
            &inputs,
            &ConvertOptions {
                to,
                from,
                kinds: kind,
                sid_range,
                source,
                info,
                tlp,
            },
            output.as_deref(),
        ),
        Command::Sync { partner } => {
            let reports = accord_sync::exchange::sync_all(&open()?, partner.as_deref())?;
            let mut text = String::new();
            for r in &reports {
                let _ = writeln!(
                    text,
                    "{}: received {} ({} already here), quarantined {}; sent {}, withheld by policy {}, not echoed {}",
                    r.partner, r.received, r.unchanged, r.quarantined, r.sent, r.withheld, r.not_echoed
                );
                for e in r.refused.iter().chain(&r.errors) {
                    let _ = writeln!(text, "  {e}");
                }
            }
            let failed = reports
                .iter()
                .any(|r| !r.errors.is_empty() || !r.refused.is_empty());
            Ok(Outcome::new(text, &reports).failed_if(failed))
        }
        Command::Corroboration {
            collection,
            min,
            min_reliability,
        } => {
            let node = open()?;
            let collection = node.collection_id(collection.as_deref())?;
            let (found, bundle) =
                accord_node::corroboration::report(&node, &collection, min, min_reliability)?;
            let mut text = String::new();
            for c in &found {
                let _ = writeln!(
                    text,
                    "{} originators ({}): {} [{} objects]",
                    c.originators.len(),
                    accord_node::corroboration::describe(c),
                    c.key,
                    c.objects.len()
                );
            }
            Ok(Outcome::new(text, &bundle))
        }
        Command::Keys { action } => keys(&open()?, action),
        Command::Partners { action } => partners(&open()?, action),
        Command::Quarantine { full } => quarantine(&open()?, full),
        Command::Collections => {
            let list = open()?.collections()?;
            let mut text = String::new();
            for c in &list {
                let last = if c.last_added > 0 {
                    accord_stix::Timestamp::format_micros(c.last_added)
                } else {
                    "-".into()
                };
                let _ = writeln!(
                    text,
                    "{}  {:<10} {:>9} versions  last added {last}  {}",
                    c.id,
                    c.alias.as_deref().unwrap_or_default(),
                    c.versions,
                    c.title
                );
            }
            Ok(Outcome::new(text, &list))
        }
        Command::Policy { action } => policy(&open()?, action),
        Command::Audit { action } => audit(dir, action, json),
        Command::Obligations { action } => obligations(&open()?, action),
        Command::Retention {
            action: RetentionAction::Sweep { dry_run },
        } => {
            let expired = open()?.sweep_retention(dry_run)?;
            let mut text = String::new();
            for e in &expired {
                let _ = writeln!(
                    text,
                    "{}  {} {}  retention ended {}",
                    e.collection, e.id, e.version, e.retention_until
                );
            }
            let verb = if dry_run { "would remove" } else { "removed" };
            Ok(Outcome::new(text, &expired).with_note(format!("{verb} {} object versions", expired.len())))
        }
        Command::Rules => {
            let rules: Vec<Value> = accord_stix::Rule::ALL
                .iter()
                .map(|r| json!({"rule": r.name(), "description": r.description()}))
                .collect();
            let text = accord_stix::Rule::ALL
                .iter()
                .map(|r| format!("{:<22} {}\n", r.name(), r.description()))
                .collect::<String>();
            Ok(Outcome::new(text, &rules))
        }
        Command::GenCorpus {
            count,
            seed,
            invalid_every,
            output,
        } => {
            let file = std::fs::File::create(&output)
                .with_context(|| format!("cannot create {}", output.display()))?;
            let mut w = std::io::BufWriter::new(file);
            accord_node::corpus::write_jsonl(&mut w, count, seed, invalid_every)?;
            Ok(Outcome::default())
        }
    }
}

fn init(dir: &Path) -> Result<Outcome> {
    let done = Node::init(dir)?;
    let text = format!(
        "initialised {}\n  config: {}\n  store:  {}\nnext: accord --data-dir {} import FILE…\n",
        done.dir.display(),
        done.config.display(),
        done.store.display(),
        done.dir.display()
    );
    Ok(Outcome::new(text, &done))
}

fn token(node: &Node, action: TokenAction) -> Result<Outcome> {
    match action {
        TokenAction::Create {
            principal,
            description,
        } => {
            let t = node.issue_token(&principal, description)?;
            let text = format!(
                "token {} for {} (the secret is shown only now)\n{}",
                t.record.id,
                t.record.principal,
                credential_text(&t)
            );
            Ok(Outcome::new(text, &credential_json(&t)))
        }
        TokenAction::List => {
            let list = node.tokens()?;
            let mut text = String::new();
            for t in &list {
                let state = t.revoked_at.map_or_else(
                    || "active".to_owned(),
                    |at| format!("revoked {}", accord_stix::Timestamp::format_micros(at)),
                );
                let _ = writeln!(
                    text,
                    "{}  {:<16} created {}  {state}  {}",
                    t.id,
                    t.principal,
                    accord_stix::Timestamp::format_micros(t.created_at),
                    t.description.as_deref().unwrap_or_default()
                );
            }
            Ok(Outcome::new(text, &list))
        }
        TokenAction::Revoke { id } => {
            if !node.revoke_token(&id)? {
                bail!("no active token {id:?}");
            }
            // A server in another process trusts its cached lookup for TOKEN_CACHE_TTL more.
            let ttl = accord_node::access::TOKEN_CACHE_TTL.as_secs();
            Ok(Outcome::new(
                format!("revoked {id}; a running `accord serve` refuses it within {ttl} s"),
                &json!({"revoked": id, "refused_by_running_servers_within_s": ttl}),
            ))
        }
    }
}

/// A credential as `token create` and `up` show it to machines: one set of names for both.
pub fn credential_json(t: &accord_node::access::IssuedToken) -> Value {
    json!({"id": t.record.id, "principal": t.record.principal, "secret": t.secret, "bearer": t.bearer()})
}

/// A credential as `token create` and `up` show it to people, named as in [`credential_json`].
pub fn credential_text(t: &accord_node::access::IssuedToken) -> String {
    format!(
        "  id {}  secret {}\n  HTTP Basic: user = id, password = secret\n  Bearer:     Authorization: Bearer {}\n",
        t.record.id,
        t.secret,
        t.bearer()
    )
}

/// Shows import progress on a terminal (bytes read, objects committed), and `committed N` lines
/// for supervisors that ask.
struct Bar {
    bar: ProgressBar,
    lines: bool,
}

impl import::Progress for Bar {
    fn read(&self, bytes: u64) {
        self.bar.set_position(bytes);
    }
    fn committed(&self, objects: u64) {
        use std::io::Write;
        self.bar.set_message(format!("{objects} objects committed"));
        if self.lines {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "committed {objects}");
            let _ = out.flush();
        }
    }
}

pub fn run_import(
    node: &Node,
    sources: &[sources::Source],
    opts: &ImportOptions,
    json: bool,
    lines: bool,
) -> Result<ImportSummary> {
    let bar = if json || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(sources::total_bytes(sources))
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = Bar { bar, lines };
    let summary = import::import(node, sources, opts, &progress)?;
    progress.bar.finish_and_clear();
    Ok(summary)
}

pub fn import_text(s: &ImportSummary) -> String {
    let mut text = String::new();
    for p in &s.document_problems {
        let _ = writeln!(text, "{p}");
    }
    const SHOWN: usize = 50;
    for r in s.rejections.iter().take(SHOWN) {
        for line in r.human() {
            let _ = writeln!(text, "{line}");
        }
    }
    if s.rejections.len() > SHOWN {
        let _ = writeln!(
            text,
            "… and {} more rejected objects (use --json for all)",
            s.rejections.len() - SHOWN
        );
    }
    let _ = writeln!(
        text,
        "{} objects from {} files into {}: {} new, {} new versions, {} unchanged, {} rejected ({} accepted with warnings)",
        s.objects, s.files, s.collection, s.new, s.new_version, s.unchanged, s.rejected, s.with_warnings
    );
    if !s.committed {
        let _ = writeln!(
            text,
            "--strict: nothing was imported because objects were rejected"
        );
    }
    text
}

fn import_from_partner(
    node: &Node,
    partner: &str,
    paths: &[PathBuf],
    opts: &ImportOptions,
) -> Result<Outcome> {
    let r = node.import_from_partner(partner, paths, opts, &import::Silent)?;
    let mut text = import_text(&r.summary);
    for i in &r.invalid {
        let _ = writeln!(text, "invalid: {i}");
    }
    for q in &r.quarantined {
        let _ = writeln!(text, "quarantined #{}: {}: {}", q.seq, q.object_id, q.reason);
    }
    let _ = writeln!(text, "{} quarantined", r.quarantined.len());
    let failed = r.summary.has_rejections() || !r.quarantined.is_empty() || !r.invalid.is_empty();
    Ok(Outcome::new(
        text,
        &json!({"import": r.summary, "quarantined": r.quarantined, "invalid": r.invalid}),
    )
    .failed_if(failed))
}

/// Shows a match run's progress on a terminal.
struct MatchBar {
    bar: ProgressBar,
    skipped: std::sync::atomic::AtomicU64,
}

impl accord_node::detect::MatchProgress for MatchBar {
    fn compiled(&self, indicators: usize, left_out: &[String], seconds: f64) {
        self.bar.suspend(|| {
            eprintln!(
                "{indicators} indicators compiled in {seconds:.2} s ({} left out)",
                left_out.len()
            );
            for r in left_out.iter().take(10) {
                eprintln!("  left out: {r}");
            }
        });
    }
    fn read(&self, bytes: u64, sighted: usize) {
        self.bar.set_position(bytes);
        self.bar.set_message(format!("{sighted} sightings"));
    }
    fn skipped(&self, problem: &accord_node::NodeError) {
        let n = self.skipped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n < 10 {
            self.bar.suspend(|| eprintln!("skipped: {problem}"));
        }
    }
}

fn run_match(
    open: &dyn Fn() -> Result<Node>,
    req: &accord_node::detect::MatchRequest,
    events: &Path,
) -> Result<Outcome> {
    let (mut input, size): (Box<dyn std::io::BufRead>, u64) = if events.as_os_str() == "-" {
        (Box::new(std::io::BufReader::new(std::io::stdin().lock())), 0)
    } else {
        let f = std::fs::File::open(events).with_context(|| format!("cannot open {}", events.display()))?;
        let size = f.metadata().map_or(0, |m| m.len());
        (Box::new(std::io::BufReader::with_capacity(1 << 20, f)), size)
    };
    let bar = if size > 0 {
        ProgressBar::new(size).with_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
    } else {
        ProgressBar::new_spinner()
    };
    let progress = MatchBar {
        bar,
        skipped: Default::default(),
    };
    let open_node = || open().map_err(|e| accord_node::NodeError::Invalid(format!("{e:#}")));
    let r = accord_node::detect::run(&open_node, req, &mut input, &progress)?;
    progress.bar.finish_and_clear();
    let s = r.stats;
    let mut note = format!(
        "{} observations in {:.2} s ({:.0}/s): {} matches of {} indicators; {} candidates checked; {} outside validity; {} skipped",
        s.observations,
        r.seconds,
        s.observations as f64 / r.seconds.max(1e-9),
        s.hits,
        r.rows.len(),
        s.candidates,
        r.outside_validity,
        r.skipped
    );
    if s.abandoned > 0 {
        let _ = write!(
            note,
            "\nwarning: {} observations were too many to bind for some multi-part patterns (see accord-pattern BINDING_LIMIT)",
            s.abandoned
        );
    }
    let mut text = String::new();
    for row in &r.rows {
        let _ = writeln!(
            text,
            "{} {:?}: {} × between {} and {}",
            row.indicator, row.name, row.count, row.first_seen, row.last_seen
        );
    }
    let mut failed = false;
    if let Some(stored) = &r.stored {
        let _ = write!(
            note,
            "\nstored in {}: {} new objects, {} rejected",
            stored.collection, stored.new, stored.rejected
        );
        if stored.has_rejections() {
            failed = true;
            text = import_text(stored);
        }
    }
    // Sightings that could not be stored: what was wrong with them, not the bundle.
    let json = match &r.stored {
        Some(stored) if failed => serde_json::to_value(stored).ok(),
        _ => r.bundle,
    };
    Ok(Outcome {
        text,
        json,
        note,
        code: u8::from(failed),
    })
}

#[derive(Debug)]
struct ConvertOptions {
    to: ConvertTo,
    from: ConvertFrom,
    kinds: Vec<String>,
    sid_range: accord_convert::SidRange,
    source: String,
    info: String,
    tlp: Option<String>,
}

fn read_input(input: &Path) -> Result<String> {
    let bytes = if input.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut b)?;
        b
    } else {
        std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?
    };
    String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8", input.display()))
}

fn convert(inputs: &[PathBuf], o: &ConvertOptions, output: Option<&Path>) -> Result<Outcome> {
    use accord_convert::Format as To;
    let now_micros = accord_node::clock::system_micros();
    let now = accord_stix::Timestamp::format_micros(now_micros);
    let (text, summary, problems) = if o.to == ConvertTo::Stix {
        let input = match o.from {
            ConvertFrom::Auto => accord_convert::Input::Auto,
            ConvertFrom::Misp => accord_convert::Input::Misp,
            ConvertFrom::List => accord_convert::Input::List,
            ConvertFrom::Stix => bail!("--from stix --to stix: nothing to convert"),
        };
        let documents = inputs
            .iter()
            .map(|i| Ok((i.display().to_string(), read_input(i)?)))
            .collect::<Result<Vec<_>>>()?;
        let defaults = accord_convert::Defaults {
            now,
            tlp: o.tlp.clone(),
            created_by: None,
        };
        let imported = accord_convert::to_stix(&documents, input, &defaults).map_err(|p| anyhow!("{p}"))?;
        let n = imported
            .objects
            .iter()
            .filter(|x| x["type"] == "indicator")
            .count();
        let bundle = accord_stix::bundle(imported.objects);
        let problems: Vec<String> = imported.problems.iter().map(ToString::to_string).collect();
        (
            format!("{}\n", serde_json::to_string_pretty(&bundle)?),
            format!("{n} indicators made"),
            problems,
        )
    } else {
        if o.from != ConvertFrom::Auto && o.from != ConvertFrom::Stix {
            bail!("--to {:?} reads STIX indicators; convert to stix first", o.to);
        }
        let format = match o.to {
            ConvertTo::Blocklist => {
                To::Blocklist(accord_convert::blocklist_kinds(&o.kinds).map_err(|e| anyhow!("--kind: {e}"))?)
            }
            ConvertTo::Csv => To::Csv,
            ConvertTo::Suricata => To::Suricata(o.sid_range),
            ConvertTo::Zeek => To::Zeek {
                source: o.source.clone(),
            },
            ConvertTo::Misp => To::Misp {
                info: o.info.clone(),
                date: now[..10].to_owned(),
                timestamp: now_micros / 1_000_000,
            },
            ConvertTo::Stix => unreachable!("handled above"),
        };
        let mut objects = Vec::new();
        let mut problems = accord_node::detect::read_files(inputs, &mut |json| {
            objects.push(
                serde_json::from_str(json).map_err(|e| accord_node::NodeError::Invalid(e.to_string()))?,
            );
            Ok(())
        })?;
        let converted = accord_convert::export(&objects, &format);
        problems.extend(converted.problems.iter().map(ToString::to_string));
        (
            converted.text,
            format!(
                "{} indicators read, {} values written, {} of other kinds skipped",
                converted.indicators, converted.written, converted.skipped
            ),
            problems,
        )
    };
    match output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?
        }
        None => std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes())?,
    }
    let mut note = String::new();
    for p in &problems {
        let _ = writeln!(note, "not converted: {p}");
    }
    let _ = write!(note, "{summary}; {} not converted", problems.len());
    Ok(Outcome::note(note).failed_if(!problems.is_empty()))
}

fn keys(node: &Node, action: KeysAction) -> Result<Outcome> {
    match action {
        KeysAction::Show => {
            let key = node.provenance_signer()?.public().to_string();
            Ok(Outcome::new(key.clone(), &json!({ "key": key })))
        }
        KeysAction::Rotate { output } => {
            let statement = node.rotate_signing_key()?;
            if let Some(path) = output {
                std::fs::write(&path, &statement)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            let new = node.provenance_signer()?.public();
            Ok(Outcome::new(
                statement.clone(),
                &json!({"statement": statement, "key": new.to_string()}),
            )
            .with_note(format!(
                "new key: {new} (partners pin it by accepting the statement above)"
            )))
        }
    }
}

fn partners(node: &Node, action: PartnersAction) -> Result<Outcome> {
    match action {
        PartnersAction::List => {
            let rows = node.partner_list()?;
            let mut text = String::new();
            for r in &rows {
                let _ = writeln!(
                    text,
                    "{} ({}), reliability {}, relays for {}",
                    r.name,
                    r.organisation,
                    r.reliability,
                    if r.relays_for.is_empty() {
                        "nobody".to_owned()
                    } else {
                        r.relays_for.join(", ")
                    }
                );
                for k in &r.keys {
                    let retired = k
                        .retired
                        .as_deref()
                        .map(|t| format!(" (retired {t})"))
                        .unwrap_or_default();
                    let _ = writeln!(text, "  {}{retired}", k.key);
                }
            }
            Ok(Outcome::new(text, &rows))
        }
        PartnersAction::AcceptRotation { statement } => {
            let text = std::fs::read_to_string(&statement)
                .with_context(|| format!("cannot read {}", statement.display()))?;
            let new = node.accept_rotation(&text)?;
            Ok(Outcome::new(
                format!("accepted: {new}"),
                &json!({"accepted": new.to_string()}),
            ))
        }
    }
}

fn quarantine(node: &Node, full: bool) -> Result<Outcome> {
    let mut text = String::new();
    let when = |at: i64| accord_stix::Timestamp::format_micros(at);
    if full {
        // Content leaves only through the ledger: the review is logged as a share first.
        let all = node.review_quarantined(accord_policy::sharing::NODE_PRINCIPAL)?;
        for q in &all {
            let _ = writeln!(
                text,
                "#{} {} from {} into {} at {}: {}\n  {}",
                q.seq,
                q.object_id,
                q.sender,
                q.collection,
                when(q.received_at),
                q.reason,
                q.json
            );
        }
        let _ = writeln!(text, "{} quarantined", all.len());
        return Ok(Outcome::new(text, &all));
    }
    let all = node.quarantined()?;
    for q in &all {
        let _ = writeln!(
            text,
            "#{} {} from {} into {} at {}: {}",
            q.seq,
            q.object_id,
            q.sender,
            q.collection,
            when(q.received_at),
            q.reason
        );
    }
    let _ = writeln!(text, "{} quarantined", all.len());
    Ok(Outcome::new(text, &all))
}

fn policy(node: &Node, action: PolicyAction) -> Result<Outcome> {
    match action {
        PolicyAction::Explain {
            principal,
            object,
            purpose,
            collection,
            action,
        } => {
            let action = accord_node::policy::parse_action(&action).map_err(|e| anyhow!("--action: {e}"))?;
            let e = accord_node::policy::explain(
                node,
                &principal,
                &object,
                purpose.as_deref(),
                collection.as_deref(),
                action,
            )?;
            Ok(Outcome::new(accord_node::policy::render(&e), &e).failed_if(!e.decision.allowed()))
        }
        PolicyAction::Test { file } => {
            let results = accord_node::policy::test(node, &file)?;
            let failed = results.iter().filter(|r| !r.pass).count();
            let mut text = String::new();
            for r in &results {
                let _ = writeln!(
                    text,
                    "{} case {}: {} {} expected {}, got {} [{}]",
                    if r.pass { "ok  " } else { "FAIL" },
                    r.case,
                    r.principal,
                    r.object,
                    r.expected,
                    r.got,
                    r.reasons.join(", ")
                );
            }
            let _ = writeln!(text, "{} cases, {failed} failed", results.len());
            Ok(Outcome::new(text, &results).failed_if(failed > 0))
        }
        PolicyAction::Check => {
            let engine = node.check_policy()?;
            let model = engine.model();
            let files = &node.config().policy.policy_files;
            let summary = json!({
                "policy_version": engine.version(),
                "organisations": model.organisations.len(),
                "agreements": model.agreements.len(),
                "principals": model.principals.len() - 1,
                "operator_policy_files": files,
            });
            let text = format!(
                "policy {} OK: {} organisations, {} agreements, {} principals, {} operator policy files",
                engine.version(),
                model.organisations.len(),
                model.agreements.len(),
                model.principals.len() - 1,
                files.len()
            );
            Ok(Outcome::new(text, &summary))
        }
    }
}

fn obligations(node: &Node, action: ObligationsAction) -> Result<Outcome> {
    use accord_node::obligations as ob;
    let pack = ob::pack(node)?;
    match action {
        ObligationsAction::Report { file, name } => {
            let id = ob::report(node, &file, name.as_deref())?;
            let (object, t) = ob::timeline(node, &pack, &id)?;
            Ok(Outcome::new(
                ob::render(&t, &ob::name_of(&object), &id),
                &json!({"incident": id, "timeline": t}),
            ))
        }
        ObligationsAction::Show { incident } => {
            let (object, t) = ob::timeline(node, &pack, &incident)?;
            Ok(Outcome::new(ob::render(&t, &ob::name_of(&object), &incident), &t))
        }
        ObligationsAction::List => {
            let rows = ob::list(node, &pack)?;
            let mut text = String::new();
            if rows.is_empty() {
                text.push_str("no incident reports; add one with `accord obligations report FILE`\n");
            } else {
                let _ = writeln!(
                    text,
                    "{:<46}  {:>4}  {:>7}  {:>8}  {:<50}  NAME",
                    "INCIDENT", "OPEN", "OVERDUE", "DUE SOON", "NEXT DEADLINE (UTC), STAGE"
                );
            }
            for r in &rows {
                let next = r.next.as_ref().map_or_else(
                    || "none".to_owned(),
                    |n| format!("{}  {}/{}", n.deadline, n.regime, n.stage),
                );
                let _ = writeln!(
                    text,
                    "{:<46}  {:>4}  {:>7}  {:>8}  {next:<50}  {}",
                    r.incident, r.open, r.overdue, r.due_soon, r.name
                );
            }
            Ok(Outcome::new(text, &rows))
        }
        ObligationsAction::Template { output } => {
            let text = ob::template(&pack);
            match output {
                Some(path) => {
                    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
                    Ok(Outcome::note(format!(
                        "wrote a blank incident report to {}; fill it in, then `accord obligations report {}`\n",
                        path.display(),
                        path.display()
                    )))
                }
                None => Ok(Outcome::new(text.clone(), &json!({"template": text}))),
            }
        }
        ObligationsAction::Submit {
            incident,
            regime,
            stage,
            reference,
            at,
            by,
        } => {
            let by = by
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "operator".into());
            let new = ob::NewSubmission {
                regime: &regime,
                stage: &stage,
                at: at.as_deref(),
                by: &by,
                reference: &reference,
            };
            let o = ob::submit(node, &pack, &incident, &new)?;
            let deadline = o
                .deadline_utc
                .as_deref()
                .map_or_else(String::new, |d| format!(" (deadline {d})"));
            Ok(Outcome::new(
                format!(
                    "recorded {regime}/{stage} for {incident}: {}{deadline}\n",
                    ob::tracking(&o.tracking)
                ),
                &o,
            ))
        }
        ObligationsAction::Rules => {
            let rows: Vec<Value> = pack
                .regimes
                .iter()
                .map(|r| json!({"id": r.id, "name": r.name, "citation": r.citation, "status": r.status, "stages": r.stages.len()}))
                .collect();
            let mut text = String::new();
            for r in &rows {
                let _ = writeln!(
                    text,
                    "{:<22} {:<12} {} ({})",
                    r["id"].as_str().unwrap_or_default(),
                    r["status"].as_str().unwrap_or_default(),
                    r["name"].as_str().unwrap_or_default(),
                    r["citation"].as_str().unwrap_or_default()
                );
            }
            let _ = writeln!(
                text,
                "{} regimes, {} holiday calendars",
                pack.regimes.len(),
                pack.calendars.len()
            );
            Ok(Outcome::new(text, &rows))
        }
    }
}

fn log_source(source: LogSource, data_dir: &Path) -> accord_sync::monitor::Source {
    match source.from {
        Some(base) => accord_sync::monitor::Source::Url(accord_sync::monitor::Remote {
            base,
            token: source.token,
            ca: source.ca,
        }),
        None => accord_sync::monitor::Source::Dir(source.dir.unwrap_or_else(|| data_dir.to_path_buf())),
    }
}

fn audit(data_dir: &Path, action: AuditAction, json: bool) -> Result<Outcome> {
    match action {
        AuditAction::Verify { source, key, state } => {
            let r = accord_sync::monitor::verify(
                &log_source(source, data_dir),
                key.as_deref(),
                state.as_deref(),
            )?;
            let mut text = String::new();
            if r.ok {
                let _ = writeln!(
                    text,
                    "OK: {} entries; {} checkpoints verified (latest: size {}); {} entries not yet checkpointed",
                    r.entries,
                    r.checkpoints_verified,
                    r.latest_checkpoint_size
                        .map_or_else(|| "none".into(), |s| s.to_string()),
                    r.uncovered_entries
                );
                if let Some(seen) = r.consistent_with_seen {
                    let _ = writeln!(text, "consistent with the checkpoint seen before (size {seen})");
                }
                let _ = writeln!(text, "origin {}; key {}", r.origin, r.key_source);
            } else {
                let _ = writeln!(
                    text,
                    "FAILED: {}",
                    r.problems.first().map(String::as_str).unwrap_or_default()
                );
                for p in r.problems.iter().skip(1).take(9) {
                    let _ = writeln!(text, "  also: {p}");
                }
            }
            Ok(Outcome::new(text, &r).failed_if(!r.ok))
        }
        AuditAction::Query {
            source,
            object,
            agreement,
            principal,
            kind,
            since,
            until,
            limit,
        } => {
            use std::io::Write;
            let params = accord_node::ledger_query::Params {
                object,
                agreement,
                principal,
                kind,
                since,
                until,
            };
            let filter = accord_node::ledger_query::Filter::parse(&params).map_err(|e| anyhow!("--{e}"))?;
            // Entries are written as they are found, so the answer never has to fit in memory.
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if json {
                out.write_all(b"{\"entries\":[")?;
            }
            let mut first = true;
            let found = accord_sync::monitor::query(
                &log_source(source, data_dir),
                &filter,
                limit,
                &mut |entry: &[u8]| -> std::io::Result<()> {
                    if json && !std::mem::take(&mut first) {
                        out.write_all(b",")?;
                    }
                    out.write_all(entry)?;
                    out.write_all(b"\n")
                },
            )?;
            if json {
                out.write_all(b"],\"recipients\":")?;
                serde_json::to_writer(&mut out, &found.recipients)?;
                writeln!(out, ",\"total\":{}}}", found.total)?;
            } else {
                for r in found.recipients.iter().flatten() {
                    writeln!(
                        out,
                        "{}  {} objects  {} .. {}",
                        r.principal, r.objects, r.first, r.last
                    )?;
                }
            }
            out.flush()?;
            Ok(Outcome::note(format!("{} matching entries", found.total)))
        }
        AuditAction::Key => {
            let key = Node::open(data_dir)?.ledger_key()?.to_string();
            Ok(Outcome::new(key.clone(), &json!({"key": key})))
        }
        AuditAction::Checkpoint => {
            let note = Node::open(data_dir)?.ledger()?.checkpoint()?;
            Ok(Outcome::new(note.clone(), &json!({"checkpoint": note})))
        }
    }
}
