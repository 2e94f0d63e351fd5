//! The `accord` command line: parses arguments, calls the library, and maps results to output
//! and exit codes (0 success, 1 rejected or invalid objects, 2 unreadable input or other errors).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use accord::check;
use accord::export::{self, ExportFilter, Format};
use accord::ingest::{self, ImportOptions, ImportSummary};
use accord::node::Node;
use accord::reader;
use accord_store::Store;
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

// Parsing allocates many small JSON values; mimalloc handles that pattern much faster than glibc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "accord",
    version,
    about = "Accord: a cyber threat-intelligence exchange with the law built in"
)]
struct Cli {
    /// The node's data directory.
    #[arg(long, global = true, env = "ACCORD_DATA_DIR", default_value = "accord-data")]
    data_dir: PathBuf,
    /// Machine-readable JSON output on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum KeysAction {
    /// Print this node's public key line, for partners' `keys = [...]`.
    Show,
    /// Make a new key. Prints the rotation statement, signed by the old key, that partners
    /// accept with `accord partners accept-rotation`.
    Rotate {
        /// Write the statement to this file as well.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum PartnersAction {
    /// Partners with their keys (current and retired), reliability and relays.
    List,
    /// Accept a partner's key rotation: checked against its pinned key, then kept.
    AcceptRotation { statement: PathBuf },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ConvertTo {
    Blocklist,
    Csv,
    Suricata,
    Zeek,
    Misp,
    Stix,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ConvertFrom {
    Auto,
    Stix,
    Misp,
    List,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a data directory with a commented default configuration and an empty store.
    Init {
        /// Directory to create (default: --data-dir).
        dir: Option<PathBuf>,
    },
    /// Bring up a node: initialise the data directory if needed, import the demo data, issue a
    /// demo credential, and serve TAXII 2.1 until interrupted.
    Up,
    /// Serve TAXII 2.1 until interrupted (Ctrl-C or SIGTERM finish in-flight work first).
    Serve,
    /// Manage API tokens (the credentials of principals declared in accord.toml).
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Import STIX objects: bundles, single objects, JSON arrays, JSON lines, directories, or - for stdin.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Collection id or alias (default: the first configured collection).
        #[arg(long, short)]
        collection: Option<String>,
        /// All or nothing: import nothing if any object is rejected.
        #[arg(long)]
        strict: bool,
        /// Print `committed N` on stdout after each durable batch (for tests and supervisors).
        #[arg(long, hide = true)]
        progress_lines: bool,
        /// The objects come from this partner node: each must carry a provenance signature that
        /// verifies against its pinned keys, or it is quarantined (and logged) instead of stored.
        #[arg(long)]
        from_partner: Option<String>,
    },
    /// Export stored objects as a bundle or JSON lines.
    Export {
        #[arg(long, short)]
        collection: Option<String>,
        /// Only these types (repeatable).
        #[arg(long = "type", short = 't')]
        types: Vec<String>,
        /// Only objects added after this RFC 3339 timestamp (exclusive).
        #[arg(long)]
        added_after: Option<String>,
        /// Every version, not just the latest.
        #[arg(long)]
        all_versions: bool,
        #[arg(long, value_enum, default_value = "bundle")]
        format: Format,
        /// Output file (default: stdout). Written to a temporary file and renamed when complete.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// The principal the export is for; each object is decided and redacted for it
        /// (default: this node's own organisation).
        #[arg(long = "for", default_value = accord_policy::model::NODE_PRINCIPAL)]
        principal: String,
        /// Declared purpose (default: the principal's first).
        #[arg(long)]
        purpose: Option<String>,
        /// Sign every object with this node's provenance key (for partners to verify).
        #[arg(long)]
        sign: bool,
    },
    /// Validate STIX documents without storing them. Exit 0: valid, 1: errors found, 2: unreadable.
    Validate {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// List warnings (SHOULD rules, open vocabularies) as well as errors.
        #[arg(long)]
        warnings: bool,
        /// Largest single object accepted, in bytes.
        #[arg(long, default_value_t = accord_stix::DEFAULT_MAX_OBJECT_BYTES)]
        max_object_bytes: usize,
    },
    /// Match STIX indicators against events and report what was sighted (STIX `sighting`
    /// objects with --json). Exit 0 whether or not anything matched; 2 on unreadable input.
    Match {
        /// Indicators: files of STIX objects (bundles, arrays, JSON lines, directories), or the
        /// id or alias of a collection of this node.
        #[arg(long, required = true, num_args = 1..)]
        indicators: Vec<String>,
        /// Events: a file or - for standard input. JSON lines of observed-data, bundles, or
        /// SCO-shaped events with a `timestamp` (or `objects` for several related ones); or one
        /// bundle.
        #[arg(long, default_value = "-")]
        events: PathBuf,
        /// The identity that sighted them (default: this node's organisation).
        #[arg(long)]
        sighted_by: Option<String>,
        /// Also store the sightings (with their observed-data) in this collection of the node,
        /// through the import path: validated, stored and logged.
        #[arg(long)]
        ingest: Option<String>,
        /// Only indicators whose originator has this Admiralty source reliability or better
        /// (A-F; this node counts as A, partners as graded in accord.toml).
        #[arg(long, value_parser = accord::federation::parse_grade)]
        min_reliability: Option<char>,
    },
    /// Translate indicators: STIX to a blocklist, CSV, Suricata rules, a Zeek Intel file or a
    /// MISP event; MISP events and IOC lists (CSV or one per line) to STIX. What a format cannot
    /// express is listed per indicator on stderr (exit 1 if anything was left out).
    Convert {
        /// Input files, or - for standard input.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[arg(long, value_enum)]
        to: ConvertTo,
        /// What the inputs are (default: recognised from their content).
        #[arg(long, value_enum, default_value = "auto")]
        from: ConvertFrom,
        /// For --to blocklist: the kinds of value to list (repeatable): ip, cidr, domain, url,
        /// hash, email, filename, or a single hash (md5, sha1, sha256, sha512).
        #[arg(long)]
        kind: Vec<String>,
        /// For --to suricata: the first rule's sid.
        #[arg(long, default_value_t = 9_000_000)]
        sid_base: u64,
        /// For --to zeek: meta.source.
        #[arg(long, default_value = "accord")]
        source: String,
        /// For --to misp: the event's info line.
        #[arg(long, default_value = "Indicators exported by Accord")]
        info: String,
        /// For --to stix: TLP for values the input gives none (clear, green, amber, amber+strict, red).
        #[arg(long)]
        tlp: Option<String>,
        /// Output file (default: stdout).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Synchronise with partners over TAXII: pull their collections, push ours (policy, redaction
    /// and signing for each), as configured in [[partners]]. Exit 1 if anything failed.
    Sync {
        /// Only this partner.
        #[arg(long)]
        partner: Option<String>,
    },
    /// Indicator patterns and observables reported by several distinct originators (counted
    /// by verified provenance); with --json, STIX opinions carrying x_accord_corroboration.
    Corroboration {
        #[arg(long, short)]
        collection: Option<String>,
        /// Only what at least this many originators reported.
        #[arg(long, default_value_t = 2)]
        min: usize,
        /// Count only originators of this Admiralty source reliability or better (A-F; this
        /// node counts as A, partners as graded in accord.toml).
        #[arg(long, value_parser = accord::federation::parse_grade, default_value = "F")]
        min_reliability: char,
    },
    /// This node's provenance key: show it (for partners to pin) or rotate it.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Partner nodes: their pinned keys, and key rotations they announce.
    Partners {
        #[command(subcommand)]
        action: PartnersAction,
    },
    /// Objects from partners whose provenance did not verify (never served, matched or shared).
    Quarantine {
        /// Show each object's JSON too.
        #[arg(long)]
        full: bool,
    },
    /// List collections and their sizes.
    Collections,
    /// List the validation rules.
    Rules,
    /// Explain, test and check sharing decisions.
    Policy {
        #[command(subcommand)]
        action: PolicyAction,
    },
    /// Incident reporting: which regimes an incident triggers, every notification's deadline, and
    /// what was submitted.
    Obligations {
        #[command(subcommand)]
        action: ObligationsAction,
    },
    /// Retention: remove object versions whose `retention_until` has passed (each logged first).
    Retention {
        #[command(subcommand)]
        action: RetentionAction,
    },
    /// The transparency log: verify it, query it, show its verifier key, sign a checkpoint.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Generate a reproducible JSON-lines corpus (for benchmarks and tests).
    #[command(hide = true)]
    GenCorpus {
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Make every Nth object invalid (0: none).
        #[arg(long, default_value_t = 0)]
        invalid_every: u64,
        #[arg(long, short)]
        output: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum PolicyAction {
    /// Print the decision for one principal and object, with the policies and facts behind it.
    Explain {
        #[arg(long)]
        principal: String,
        /// Object id (its latest version is decided).
        #[arg(long)]
        object: String,
        #[arg(long)]
        purpose: Option<String>,
        /// Collection id or alias (default: every configured collection, in order).
        #[arg(long, short)]
        collection: Option<String>,
        /// read, export or push.
        #[arg(long, default_value = "read")]
        action: String,
    },
    /// Run a TOML table of expected decisions ([[case]] principal, object or object_file, purpose,
    /// expect, reason). Exit 0: all pass, 1: a case failed.
    Test { file: PathBuf },
    /// Load the configuration and policy files as `serve` would, and report what is in force.
    Check,
}

#[derive(Subcommand, Debug)]
enum ObligationsAction {
    /// Store an incident report (a JSON report, or a STIX incident with the Accord incident-report
    /// extension; a new version replaces the old one) and show its obligations.
    Report {
        file: PathBuf,
        /// Name of a new incident (for a bare report).
        #[arg(long)]
        name: Option<String>,
    },
    /// Every stored incident with its open obligations and the next deadline.
    List,
    /// An incident's full timeline: each regime, why it applies or not, each stage's deadline.
    Show { incident: String },
    /// Record a stage as submitted (stored and logged in the transparency log).
    Submit {
        incident: String,
        #[arg(long)]
        regime: String,
        #[arg(long)]
        stage: String,
        /// The recipient's reference (case number, filing id).
        #[arg(long)]
        reference: String,
        /// When it was submitted (RFC 3339; default now).
        #[arg(long)]
        at: Option<String>,
        /// Who submitted it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Check the rule pack (shipped and operator files) and list the regimes.
    Rules,
}

#[derive(Subcommand, Debug)]
enum RetentionAction {
    /// Find expired versions in every collection and remove them (the server also does this every
    /// `retention.sweep_interval_secs`).
    Sweep {
        /// Only list what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Where `accord audit` reads the log: a data directory, or a node's URL.
#[derive(clap::Args, Debug)]
struct LogSource {
    /// A node's data directory (default: --data-dir).
    dir: Option<PathBuf>,
    /// A node's base URL instead (https://host:port); needs an oversight or admin token.
    #[arg(long)]
    from: Option<String>,
    /// Token (ID.SECRET) for --from.
    #[arg(long, env = "ACCORD_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// CA certificate (PEM) to trust for --from, besides the system roots.
    #[arg(long)]
    ca: Option<PathBuf>,
}

impl LogSource {
    fn source(self, data_dir: &std::path::Path) -> accord::audit::Source {
        match self.from {
            Some(base) => accord::audit::Source::Url(accord::audit::Remote {
                base,
                token: self.token,
                ca: self.ca,
            }),
            None => accord::audit::Source::Dir(self.dir.unwrap_or_else(|| data_dir.to_path_buf())),
        }
    }
}

#[derive(Subcommand, Debug)]
enum AuditAction {
    /// Recompute the tree from the entries, check every checkpoint's signature against the pinned
    /// key, and check consistency with the checkpoint accepted on the last run. Exit 0: OK;
    /// 1: the log does not verify (the first bad entry index or checkpoint is named).
    Verify {
        #[command(flatten)]
        source: LogSource,
        /// The log's verifier key (NAME+ID+KEY, or @FILE). Without it, the key pinned in --state
        /// on an earlier run, or else the node's own published key (reported as not independent).
        #[arg(long)]
        key: Option<String>,
        /// Directory where the last accepted checkpoint and the pinned key are kept.
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// Oversight questions: every entry about an object, who received objects under an
    /// agreement (between dates), what a principal did.
    Query {
        #[command(flatten)]
        source: LogSource,
        #[arg(long)]
        object: Option<String>,
        #[arg(long)]
        agreement: Option<String>,
        #[arg(long)]
        principal: Option<String>,
        /// Entry kinds, comma-separated (decision, share, redaction, ingest, deletion, config, token).
        #[arg(long, value_delimiter = ',')]
        kind: Vec<String>,
        /// RFC 3339 time or date: entries at or after it.
        #[arg(long)]
        since: Option<String>,
        /// RFC 3339 time or date: entries at or before it.
        #[arg(long)]
        until: Option<String>,
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Print the verifier key of this node's log (give it to oversight bodies to pin).
    Key,
    /// Sign a checkpoint now (of the log in --data-dir).
    Checkpoint,
}

#[derive(Subcommand, Debug)]
enum TokenAction {
    /// Issue a token for a principal; its secret is shown once and only its hash is stored.
    Create {
        #[arg(long)]
        principal: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id.
    Revoke { id: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A server logs its requests by default; one-shot commands only warnings. ACCORD_LOG overrides.
    let default = if matches!(cli.command, Command::Serve | Command::Up) {
        "info"
    } else {
        "warn"
    };
    // Log lines are gathered in memory and written by one thread in batches (a warning or an
    // error at once), so a request's line costs no wake-up of its own; none is dropped.
    let (writer, _log_guard) = match accord::logging::batched(std::io::stderr()) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: cannot start the log writer: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ACCORD_LOG").unwrap_or_else(|_| default.into()),
        )
        .init();
    match run(cli) {
        Ok(code) => code,
        // A closed pipe (`accord export | head`) is the reader's choice, not an error.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn policy_command(data_dir: &std::path::Path, action: PolicyAction, json: bool) -> Result<ExitCode> {
    let node = Node::open(data_dir)?;
    match action {
        PolicyAction::Explain {
            principal,
            object,
            purpose,
            collection,
            action,
        } => {
            let action = match action.as_str() {
                "read" => accord_policy::Action::Read,
                "export" => accord_policy::Action::Export,
                "push" => accord_policy::Action::Push,
                other => anyhow::bail!("--action {other:?} is not read, export or push"),
            };
            let e = accord::policy::explain(
                &node,
                &principal,
                &object,
                purpose.as_deref(),
                collection.as_deref(),
                action,
            )?;
            if json {
                print_json(&e)?;
            } else {
                print!("{}", accord::policy::render(&e));
            }
            Ok(if e.decision.allowed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        PolicyAction::Test { file } => {
            let results = accord::policy::test(&node, &file)?;
            let failed = results.iter().filter(|r| !r.pass).count();
            if json {
                print_json(&results)?;
            } else {
                for r in &results {
                    println!(
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
                println!("{} cases, {failed} failed", results.len());
            }
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        PolicyAction::Check => {
            let engine = node.policy_engine()?;
            let model = engine.model();
            let summary = serde_json::json!({
                "policy_version": engine.version(),
                "organisations": model.organisations.len(),
                "agreements": model.agreements.len(),
                "principals": model.principals.len() - 1,
                "operator_policy_files": node.config.policy.policy_files,
            });
            if json {
                print_json(&summary)?;
            } else {
                println!(
                    "policy {} OK: {} organisations, {} agreements, {} principals, {} operator policy files",
                    summary["policy_version"].as_str().unwrap_or_default(),
                    summary["organisations"],
                    summary["agreements"],
                    summary["principals"],
                    node.config.policy.policy_files.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_timeline(t: &accord_obligations::Timeline, name: &str, id: &str) {
    use accord_obligations::{Applicability, Tracking};
    println!("{name} ({id})");
    for r in &t.regimes {
        let status = match r.status {
            accord_obligations::Status::InForce => String::new(),
            s => format!(
                " [{}]",
                serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
        };
        match &r.applicability {
            Applicability::NotApplicable => continue,
            Applicability::CannotDetermine { needs } => {
                println!(
                    "\n{}{status}: cannot determine: needs {}",
                    r.name,
                    needs.join(", ")
                );
            }
            Applicability::Applies => println!("\n{}{status}: applies ({})", r.name, r.citation),
        }
        for reason in &r.reasons {
            println!("  · {reason}");
        }
        for o in &r.obligations {
            let state = match &o.tracking {
                Tracking::Waiting { on } => format!("waiting for {on}"),
                Tracking::NoFixedDeadline => "no fixed deadline".into(),
                Tracking::Pending => "pending".into(),
                Tracking::DueSoon => "DUE SOON".into(),
                Tracking::Overdue => "OVERDUE".into(),
                Tracking::Met { at } => format!("met ({at})"),
                Tracking::Late { at } => format!("submitted late ({at})"),
                Tracking::Submitted { at } => format!("submitted ({at})"),
                Tracking::CannotDetermine { needs } => {
                    format!("cannot determine: needs {}", needs.join(", "))
                }
            };
            println!("  - {} [{}]  {state}", o.name, o.stage);
            if let (Some(utc), Some(local)) = (&o.deadline_utc, &o.deadline_local) {
                println!(
                    "    deadline {local}  ({utc}){}",
                    if o.projected { ", projected" } else { "" }
                );
            }
            if !o.rule.is_empty() {
                println!("    rule: {}", o.rule);
            }
            if let Some(a) = &o.adjusted {
                println!("    {a}");
            }
            println!("    {}", o.summary);
            println!("    {}", o.citation);
        }
    }
    let not_applicable: Vec<&str> = t
        .regimes
        .iter()
        .filter(|r| r.applicability == Applicability::NotApplicable)
        .map(|r| r.id.as_str())
        .collect();
    println!(
        "\nnot applicable: {} (`show --json` gives the reasons)",
        not_applicable.join(", ")
    );
}

fn obligations_command(
    data_dir: &std::path::Path,
    action: ObligationsAction,
    json: bool,
) -> Result<ExitCode> {
    use accord::obligations as ob;
    let node = Node::open(data_dir)?;
    let pack = ob::pack(&node)?;
    let name_of = |o: &serde_json::Map<String, serde_json::Value>| {
        o.get("name")
            .and_then(|n| n.as_str())
            .unwrap_or("(unnamed)")
            .to_owned()
    };
    match action {
        ObligationsAction::Report { file, name } => {
            let id = ob::report(&node, &file, name.as_deref())?;
            let (object, t) = ob::timeline(&node, &pack, &id)?;
            if json {
                print_json(&serde_json::json!({"incident": id, "timeline": t}))?;
            } else {
                print_timeline(&t, &name_of(&object), &id);
            }
        }
        ObligationsAction::Show { incident } => {
            let (object, t) = ob::timeline(&node, &pack, &incident)?;
            if json {
                print_json(&t)?;
            } else {
                print_timeline(&t, &name_of(&object), &incident);
            }
        }
        ObligationsAction::List => {
            let mut rows = Vec::new();
            for object in ob::incidents(&node)? {
                let id = object
                    .get("id")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned();
                let t = ob::timeline_of(&node, &pack, &object)?;
                let open: Vec<&accord_obligations::Obligation> = t
                    .obligations()
                    .into_iter()
                    .filter(|o| {
                        !matches!(
                            o.tracking,
                            accord_obligations::Tracking::Met { .. }
                                | accord_obligations::Tracking::Late { .. }
                                | accord_obligations::Tracking::Submitted { .. }
                        )
                    })
                    .collect();
                let count = |f: fn(&accord_obligations::Tracking) -> bool| {
                    open.iter().filter(|o| f(&o.tracking)).count()
                };
                rows.push(serde_json::json!({
                    "incident": id,
                    "name": name_of(&object),
                    "overdue": count(|t| matches!(t, accord_obligations::Tracking::Overdue)),
                    "due_soon": count(|t| matches!(t, accord_obligations::Tracking::DueSoon)),
                    "open": open.len(),
                    "next": open.iter().find(|o| o.deadline_utc.is_some() && !matches!(o.tracking, accord_obligations::Tracking::Overdue))
                        .map(|o| serde_json::json!({"regime": o.regime, "stage": o.stage, "deadline": o.deadline_utc})),
                }));
            }
            if json {
                print_json(&rows)?;
            } else {
                for r in &rows {
                    println!(
                        "{}  {}  open {}  overdue {}  due soon {}  next {}",
                        r["incident"].as_str().unwrap_or_default(),
                        r["name"].as_str().unwrap_or_default(),
                        r["open"],
                        r["overdue"],
                        r["due_soon"],
                        r["next"]
                    );
                }
                if rows.is_empty() {
                    println!("no incident reports; add one with `accord obligations report FILE`");
                }
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
            let t = ob::submit(&node, &pack, &incident, &new)?;
            let o = t
                .obligations()
                .into_iter()
                .find(|o| o.regime == regime && o.stage == stage)
                .cloned();
            if json {
                print_json(&o)?;
            } else if let Some(o) = o {
                println!("recorded {regime}/{stage} for {incident}: {:?}", o.tracking);
            }
        }
        ObligationsAction::Rules => {
            let rows: Vec<serde_json::Value> = pack
                .regimes
                .iter()
                .map(|r| serde_json::json!({"id": r.id, "name": r.name, "citation": r.citation, "status": r.status, "stages": r.stages.len()}))
                .collect();
            if json {
                print_json(&rows)?;
            } else {
                for r in &rows {
                    println!(
                        "{:<22} {:<12} {} ({})",
                        r["id"].as_str().unwrap_or_default(),
                        r["status"].as_str().unwrap_or_default(),
                        r["name"].as_str().unwrap_or_default(),
                        r["citation"].as_str().unwrap_or_default()
                    );
                }
                println!(
                    "{} regimes, {} holiday calendars",
                    pack.regimes.len(),
                    pack.calendars.len()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn audit_command(data_dir: &std::path::Path, action: AuditAction, json: bool) -> Result<ExitCode> {
    match action {
        AuditAction::Verify { source, key, state } => {
            let r = accord::audit::verify(&source.source(data_dir), key.as_deref(), state.as_deref())?;
            if json {
                print_json(&r)?;
            } else if r.ok {
                println!(
                    "OK: {} entries; {} checkpoints verified (latest: size {}); {} entries not yet checkpointed",
                    r.entries,
                    r.checkpoints_verified,
                    r.latest_checkpoint_size
                        .map_or_else(|| "none".into(), |s| s.to_string()),
                    r.uncovered_entries
                );
                if let Some(seen) = r.consistent_with_seen {
                    println!("consistent with the checkpoint seen before (size {seen})");
                }
                println!("origin {}; key {}", r.origin, r.key_source);
            } else {
                println!(
                    "FAILED: {}",
                    r.problems.first().map(String::as_str).unwrap_or_default()
                );
                for p in r.problems.iter().skip(1).take(9) {
                    println!("  also: {p}");
                }
            }
            Ok(if r.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
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
            let filter = accord_audit::query::Filter {
                object,
                agreement,
                principal,
                kinds: kind,
                since,
                until,
            };
            let result = accord::audit::query(&source.source(data_dir), &filter, limit)?;
            if json {
                print_json(&result)?;
            } else {
                if let Some(recipients) = result["recipients"].as_array() {
                    for r in recipients {
                        println!(
                            "{}  {} objects  {} .. {}",
                            r["principal"].as_str().unwrap_or_default(),
                            r["objects"],
                            r["first"].as_str().unwrap_or_default(),
                            r["last"].as_str().unwrap_or_default()
                        );
                    }
                }
                for e in result["entries"].as_array().into_iter().flatten() {
                    println!("{e}");
                }
                eprintln!("{} matching entries", result["total"]);
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditAction::Key => {
            println!("{}", Node::open(data_dir)?.audit_key()?);
            Ok(ExitCode::SUCCESS)
        }
        AuditAction::Checkpoint => {
            let note = Node::open(data_dir)?.audit_log()?.checkpoint()?;
            print!("{note}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Debug)]
struct ConvertOptions {
    to: ConvertTo,
    from: ConvertFrom,
    kinds: Vec<String>,
    sid_base: u64,
    source: String,
    info: String,
    tlp: Option<String>,
}

fn convert_command(
    inputs: &[PathBuf],
    o: &ConvertOptions,
    output: Option<&std::path::Path>,
) -> Result<ExitCode> {
    use accord_convert::{Format, Kind};
    let now = accord_stix::Timestamp::format_micros(now_micros());
    let mut problems = Vec::new();
    let (text, summary) = if o.to == ConvertTo::Stix {
        let defaults = accord_convert::Defaults {
            now: now.clone(),
            tlp: o.tlp.clone(),
            created_by: None,
        };
        let mut objects: Vec<serde_json::Value> = Vec::new();
        for input in inputs {
            let bytes = if input.as_os_str() == "-" {
                let mut b = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut b)?;
                b
            } else {
                std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?
            };
            let text = String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8", input.display()))?;
            let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
            let misp = match (o.from, &json) {
                (ConvertFrom::Misp, _) => true,
                (ConvertFrom::Auto, Some(v)) => {
                    v.get("Event").is_some()
                        || v.get("response").is_some()
                        || v.as_array()
                            .is_some_and(|a| a.iter().any(|e| e.get("Event").is_some()))
                }
                _ => false,
            };
            let imported = if misp {
                let doc = json.with_context(|| format!("{}: not a MISP JSON document", input.display()))?;
                accord_convert::from_misp(&doc, &defaults)
            } else if o.from == ConvertFrom::Stix {
                anyhow::bail!("--from stix --to stix: nothing to convert");
            } else {
                accord_convert::from_list(&text, &defaults)
            };
            for p in imported.problems {
                problems.push(format!("{}: {p}", input.display()));
            }
            for obj in imported.objects {
                if obj["type"] != "marking-definition" || !objects.iter().any(|x| x["id"] == obj["id"]) {
                    objects.push(obj);
                }
            }
        }
        let n = objects.iter().filter(|x| x["type"] == "indicator").count();
        let bundle = serde_json::json!({
            "type": "bundle",
            "id": format!("bundle--{}", uuid::Uuid::new_v4()),
            "objects": objects,
        });
        (
            format!("{}\n", serde_json::to_string_pretty(&bundle)?),
            format!("{n} indicators made"),
        )
    } else {
        if o.from != ConvertFrom::Auto && o.from != ConvertFrom::Stix {
            anyhow::bail!("--to {:?} reads STIX indicators; convert to stix first", o.to);
        }
        let format = match o.to {
            ConvertTo::Blocklist => {
                if o.kinds.is_empty() {
                    anyhow::bail!(
                        "--to blocklist needs --kind (ip, cidr, domain, url, hash, email, filename)"
                    );
                }
                let mut kinds = Vec::new();
                for k in &o.kinds {
                    match k.as_str() {
                        "ip" => kinds.extend([Kind::Ipv4, Kind::Ipv6]),
                        "hash" => kinds.extend([Kind::Md5, Kind::Sha1, Kind::Sha256, Kind::Sha512]),
                        other => kinds
                            .push(Kind::parse(other).with_context(|| format!("--kind {other}: not a kind"))?),
                    }
                }
                Format::Blocklist(kinds)
            }
            ConvertTo::Csv => Format::Csv,
            ConvertTo::Suricata => Format::Suricata { sid_base: o.sid_base },
            ConvertTo::Zeek => Format::Zeek {
                source: o.source.clone(),
            },
            ConvertTo::Misp => Format::Misp {
                info: o.info.clone(),
                date: now[..10].to_owned(),
                timestamp: now_micros() / 1_000_000,
            },
            ConvertTo::Stix => unreachable!("handled above"),
        };
        let mut objects = Vec::new();
        problems.extend(accord::detect::read_files(inputs, &mut |json| {
            objects.push(serde_json::from_str(json)?);
            Ok(())
        })?);
        let converted = accord_convert::export(&objects, &format);
        problems.extend(converted.problems.iter().map(ToString::to_string));
        (
            converted.text,
            format!(
                "{} indicators read, {} values written, {} of other kinds skipped",
                converted.indicators, converted.written, converted.skipped
            ),
        )
    };
    match output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    for p in &problems {
        eprintln!("not converted: {p}");
    }
    eprintln!("{summary}; {} not converted", problems.len());
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[derive(Debug)]
struct MatchOptions {
    indicators: Vec<String>,
    events: PathBuf,
    sighted_by: Option<String>,
    ingest: Option<String>,
    min_reliability: Option<char>,
}

fn match_command(data_dir: &std::path::Path, o: &MatchOptions, json: bool) -> Result<ExitCode> {
    use accord::detect;
    let (indicators, events) = (&o.indicators, o.events.as_path());
    let started = std::time::Instant::now();
    let node = || Node::open(data_dir);
    let mut loader = match o.min_reliability {
        Some(min) => detect::Loader::only_from(
            accord::federation::Sources::for_node(
                &node().context("--min-reliability: no node to grade sources")?,
            ),
            min,
        ),
        None => detect::Loader::default(),
    };
    let mut rejected = Vec::new();
    let (files, collections): (Vec<&String>, Vec<&String>) = indicators
        .iter()
        .partition(|s| s.as_str() == "-" || std::path::Path::new(s).exists());
    if !files.is_empty() {
        let paths: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
        rejected.extend(detect::read_files(&paths, &mut |json| loader.add_json(json))?);
    }
    if !collections.is_empty() {
        let node = node().context("indicators: not a file, and no node to read a collection from")?;
        for c in collections {
            for o in detect::read_collection(&node, c)? {
                loader.add_value(&o)?;
            }
        }
    }
    let loaded = loader.finish()?;
    rejected.extend(loaded.rejected.iter().cloned());
    let loaded_in = started.elapsed();
    eprintln!(
        "{} indicators compiled in {:.2} s ({} left out)",
        loaded.index.len(),
        loaded_in.as_secs_f64(),
        rejected.len()
    );
    for r in rejected.iter().take(10) {
        eprintln!("  left out: {r}");
    }
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
    let mut matching = detect::Matching::new(&loaded);
    let (mut bad, mut done, mut lines) = (0u64, 0u64, 0u64);
    detect::read_events(&mut input, &mut |obs, bytes| {
        done += bytes;
        lines += 1;
        match obs {
            Ok(list) => {
                for o in list {
                    matching.push(o);
                }
            }
            Err(e) => {
                bad += 1;
                if bad <= 10 {
                    bar.suspend(|| eprintln!("skipped: {e}"));
                }
            }
        }
        if lines % 4096 == 0 {
            bar.set_position(done);
            bar.set_message(format!("{} sightings", matching.sightings.len()));
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    let stats = matching.stats();
    let secs = started.elapsed().saturating_sub(loaded_in).as_secs_f64();
    eprintln!(
        "{} observations in {:.2} s ({:.0}/s): {} matches of {} indicators; {} candidates checked; {} outside validity; {} skipped",
        stats.observations,
        secs,
        stats.observations as f64 / secs.max(1e-9),
        stats.hits,
        matching.sightings.len(),
        stats.candidates,
        matching.outside_validity,
        bad
    );
    if stats.abandoned > 0 {
        eprintln!(
            "warning: {} observations were too many to bind for some multi-part patterns (see accord-pattern BINDING_LIMIT)",
            stats.abandoned
        );
    }
    let now = accord_stix::Timestamp::format_micros(now_micros());
    if json || o.ingest.is_some() {
        let (by, identity) = match &o.sighted_by {
            Some(id) => (id.clone(), None),
            None => detect::node_identity(
                &node().context("--sighted-by is needed when there is no node")?,
                &now,
            ),
        };
        let mut objects: Vec<serde_json::Value> = identity.into_iter().collect();
        objects.extend(matching.to_stix(&by, &now));
        let bundle = serde_json::json!({
            "type": "bundle",
            "id": format!("bundle--{}", uuid::Uuid::new_v4()),
            "objects": objects,
        });
        if let Some(collection) = &o.ingest {
            let node = node()?;
            let opts = ImportOptions {
                collection: node.collection_id(Some(collection))?,
                strict: true,
                max_object_bytes: node.config.limits.max_object_bytes,
                same_version: None,
            };
            let lines: Vec<String> = objects.iter().map(ToString::to_string).collect();
            let summary = accord::federation::import_objects(
                &node,
                &node.audit_log()?,
                &lines,
                &opts,
                &ingest::Silent,
            )?;
            eprintln!(
                "stored in {}: {} new objects, {} rejected",
                opts.collection, summary.new, summary.rejected
            );
            if summary.has_rejections() {
                print_import_summary(&summary);
                return Ok(ExitCode::from(1));
            }
        }
        if json {
            print_json(&bundle)?;
        }
    }
    if !json {
        let mut rows: Vec<_> = matching.sightings.iter().collect();
        rows.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        for (i, s) in rows {
            let id = loaded.index.entry(*i).map_or("?", |e| &*e.id);
            let name = loaded
                .meta
                .get(*i as usize)
                .and_then(|m| m.name.as_deref())
                .unwrap_or("");
            println!(
                "{id} {name:?}: {} × between {} and {}",
                s.count,
                accord_stix::Timestamp::format_micros(s.first_seen / 1000),
                accord_stix::Timestamp::format_micros(s.last_seen / 1000)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn import_from_partner(
    node: &Node,
    partner: &str,
    paths: &[PathBuf],
    opts: &ImportOptions,
    json: bool,
) -> Result<ExitCode> {
    let r = accord::federation::import_from_partner(node, partner, paths, opts, &ingest::Silent)?;
    if json {
        print_json(&serde_json::json!({
            "import": r.summary,
            "quarantined": r.quarantined,
            "invalid": r.invalid,
        }))?;
    } else {
        print_import_summary(&r.summary);
        for i in &r.invalid {
            println!("invalid: {i}");
        }
        for q in &r.quarantined {
            println!("quarantined #{}: {}: {}", q.seq, q.object_id, q.reason);
        }
        println!("{} quarantined", r.quarantined.len());
    }
    Ok(
        if r.summary.has_rejections() || !r.quarantined.is_empty() || !r.invalid.is_empty() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}

fn keys_command(dir: &std::path::Path, action: KeysAction, json: bool) -> Result<ExitCode> {
    let node = Node::open(dir)?;
    match action {
        KeysAction::Show => {
            let key = node.provenance_signer()?.public().to_string();
            if json {
                print_json(&serde_json::json!({ "key": key }))?;
            } else {
                println!("{key}");
            }
        }
        KeysAction::Rotate { output } => {
            let now = accord_stix::Timestamp::format_micros(now_micros());
            let statement = node.rotate_signing_key(&now)?;
            if let Some(path) = output {
                std::fs::write(&path, &statement)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            println!("{statement}");
            eprintln!(
                "new key: {} (partners pin it by accepting the statement above)",
                node.provenance_signer()?.public()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn partners_command(dir: &std::path::Path, action: PartnersAction, json: bool) -> Result<ExitCode> {
    let node = Node::open(dir)?;
    match action {
        PartnersAction::List => {
            let ring = node.keyring()?;
            let mut rows = Vec::new();
            for p in &node.config.partners {
                let keys: Vec<serde_json::Value> = ring
                    .keys()
                    .filter(|k| k.node == p.name)
                    .map(|k| serde_json::json!({"key": k.to_string(), "retired": k.retired}))
                    .collect();
                rows.push(serde_json::json!({
                    "name": p.name, "organisation": p.organisation, "reliability": p.reliability,
                    "taxii": p.taxii, "agreements": p.agreements, "relays_for": p.relays_for, "keys": keys,
                }));
            }
            if json {
                print_json(&rows)?;
            } else {
                for r in &rows {
                    println!(
                        "{} ({}), reliability {}, relays for {}",
                        r["name"].as_str().unwrap_or(""),
                        r["organisation"].as_str().unwrap_or(""),
                        r["reliability"].as_str().unwrap_or(""),
                        r["relays_for"]
                    );
                    for k in r["keys"].as_array().into_iter().flatten() {
                        println!(
                            "  {}{}",
                            k["key"].as_str().unwrap_or(""),
                            k["retired"]
                                .as_str()
                                .map(|t| format!(" (retired {t})"))
                                .unwrap_or_default()
                        );
                    }
                }
            }
        }
        PartnersAction::AcceptRotation { statement } => {
            let text = std::fs::read_to_string(&statement)
                .with_context(|| format!("cannot read {}", statement.display()))?;
            let mut ring = node.keyring()?;
            let new = ring.apply_rotation(&text)?;
            let doc: serde_json::Value = serde_json::from_str(&text)?;
            let at = doc["at"].as_str().unwrap_or_default().replace(':', "");
            let dir = node.dir.join(accord::node::ROTATIONS_DIR);
            std::fs::create_dir_all(&dir)?;
            let file = dir.join(format!("{at}-{}.json", new.key_id));
            std::fs::write(&file, text.trim())?;
            println!("accepted: {new}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

fn run(cli: Cli) -> Result<ExitCode> {
    let json = cli.json;
    match cli.command {
        Command::Init { dir } => {
            let dir = dir.unwrap_or(cli.data_dir);
            let done = Node::init(&dir)?;
            if json {
                print_json(&done)?;
            } else {
                println!("initialised {}", done.dir.display());
                println!("  config: {}", done.config.display());
                println!("  store:  {}", done.store.display());
                println!("next: accord --data-dir {} import FILE…", done.dir.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Up => up(&cli.data_dir, json),
        Command::Serve => {
            let node = Node::open(&cli.data_dir)?;
            run_server(node, |addr| eprintln!("serving TAXII 2.1 on {addr}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token { action } => token(&cli.data_dir, action, json),
        Command::Import {
            paths,
            collection,
            strict,
            progress_lines,
            from_partner,
        } => {
            let node = Node::open(&cli.data_dir)?;
            let opts = ImportOptions {
                collection: node.collection_id(collection.as_deref())?,
                strict,
                max_object_bytes: node.config.limits.max_object_bytes,
                same_version: from_partner
                    .is_some()
                    .then_some(accord_provenance::same_apart_from_provenance as fn(&str, &str) -> bool),
            };
            if let Some(partner) = from_partner {
                return import_from_partner(&node, &partner, &paths, &opts, json);
            }
            let sources = reader::expand(&paths)?;
            let summary = run_import(&node, &sources, &opts, json, progress_lines)?;
            if json {
                print_json(&summary)?;
            } else {
                print_import_summary(&summary);
            }
            Ok(if summary.has_rejections() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
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
            let node = Node::open(&cli.data_dir)?;
            let gate = node.gate()?;
            let signer = if sign {
                Some(node.provenance_signer()?)
            } else {
                None
            };
            let added_after = added_after
                .map(|s| accord_stix::Timestamp::parse(&s).map(|t| t.as_micros()))
                .transpose()
                .context("--added-after")?;
            let audit = node.audit_log()?;
            let filter = ExportFilter {
                collection: node.collection_id(collection.as_deref())?,
                types,
                added_after,
                all_versions,
                principal,
                purpose,
            };
            let n = match output {
                Some(path) => {
                    let tmp = path.with_extension("partial");
                    let file = std::fs::File::create(&tmp)
                        .with_context(|| format!("cannot create {}", tmp.display()))?;
                    let mut w = std::io::BufWriter::new(file);
                    let n = export::export(
                        node.store.as_ref(),
                        &gate,
                        &audit,
                        &filter,
                        format,
                        signer.as_ref(),
                        &mut w,
                    )?;
                    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                    std::fs::rename(&tmp, &path)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    n
                }
                None => export::export(
                    node.store.as_ref(),
                    &gate,
                    &audit,
                    &filter,
                    format,
                    signer.as_ref(),
                    &mut std::io::BufWriter::new(std::io::stdout().lock()),
                )?,
            };
            eprintln!(
                "exported {} objects from {} for {} ({} withheld by policy)",
                n.written, filter.collection, filter.principal, n.withheld
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate {
            paths,
            warnings,
            max_object_bytes,
        } => {
            let sources = reader::expand(&paths)?;
            let summary = check::validate(&sources, max_object_bytes, warnings || json)?;
            if json {
                print_json(&summary)?;
            } else {
                for p in &summary.document_problems {
                    println!("{p}");
                }
                for r in &summary.results {
                    for line in r.human() {
                        println!("{line}");
                    }
                }
                println!(
                    "{} objects in {} files: {} valid, {} invalid, {} warnings",
                    summary.objects, summary.files, summary.valid, summary.invalid, summary.warnings
                );
            }
            Ok(if summary.failed() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Match {
            indicators,
            events,
            sighted_by,
            ingest,
            min_reliability,
        } => match_command(
            &cli.data_dir,
            &MatchOptions {
                indicators,
                events,
                sighted_by,
                ingest,
                min_reliability,
            },
            json,
        ),
        Command::Convert {
            inputs,
            to,
            from,
            kind,
            sid_base,
            source,
            info,
            tlp,
            output,
        } => {
            let opts = ConvertOptions {
                to,
                from,
                kinds: kind,
                sid_base,
                source,
                info,
                tlp,
            };
            convert_command(&inputs, &opts, output.as_deref())
        }
        Command::Sync { partner } => {
            let node = Node::open(&cli.data_dir)?;
            let reports = accord::sync::sync_all(&node, partner.as_deref())?;
            if json {
                print_json(&reports)?;
            } else {
                for r in &reports {
                    println!(
                        "{}: received {} ({} already here), quarantined {}; sent {}, withheld by policy {}, not echoed {}",
                        r.partner, r.received, r.unchanged, r.quarantined, r.sent, r.withheld, r.not_echoed
                    );
                    for e in r.refused.iter().chain(&r.errors) {
                        println!("  {e}");
                    }
                }
            }
            Ok(
                if reports
                    .iter()
                    .any(|r| !r.errors.is_empty() || !r.refused.is_empty())
                {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                },
            )
        }
        Command::Corroboration {
            collection,
            min,
            min_reliability,
        } => {
            let node = Node::open(&cli.data_dir)?;
            let collection = node.collection_id(collection.as_deref())?;
            let objects = accord::detect::read_collection_all(&node, &collection)?;
            let sources = accord::federation::Sources::for_node(&node);
            let found = accord::corroboration::corroborate(&objects, &sources, min, min_reliability);
            if json {
                let now = accord_stix::Timestamp::format_micros(now_micros());
                let (by, identity) = accord::detect::node_identity(&node, &now);
                let mut out: Vec<serde_json::Value> = identity.into_iter().collect();
                out.extend(found.iter().map(|c| accord::corroboration::opinion(c, &by, &now)));
                print_json(&serde_json::json!({
                    "type": "bundle",
                    "id": format!("bundle--{}", uuid::Uuid::new_v4()),
                    "objects": out,
                }))?;
            } else {
                for c in &found {
                    println!(
                        "{} originators ({}): {} [{} objects]",
                        c.originators.len(),
                        accord::corroboration::describe(c),
                        c.key,
                        c.objects.len()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { action } => keys_command(&cli.data_dir, action, json),
        Command::Partners { action } => partners_command(&cli.data_dir, action, json),
        Command::Quarantine { full } => {
            use accord_store::QuarantineStore;
            let node = Node::open(&cli.data_dir)?;
            let mut after = 0;
            let mut all = Vec::new();
            loop {
                let page = node.store.quarantined(after, 1000)?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                all.extend(page);
            }
            if json {
                print_json(&all)?;
            } else {
                for q in &all {
                    println!(
                        "#{} {} from {} into {} at {}: {}",
                        q.seq,
                        q.object_id,
                        q.sender,
                        q.collection,
                        accord_stix::Timestamp::format_micros(q.received_at),
                        q.reason
                    );
                    if full {
                        println!("  {}", q.json);
                    }
                }
                println!("{} quarantined", all.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Collections => {
            let node = Node::open(&cli.data_dir)?;
            let list = node.store.collections()?;
            if json {
                print_json(&list)?;
            } else {
                for c in list {
                    let last = if c.last_added > 0 {
                        accord_stix::Timestamp::format_micros(c.last_added)
                    } else {
                        "-".into()
                    };
                    println!(
                        "{}  {:<10} {:>9} versions  last added {last}  {}",
                        c.id,
                        c.alias.unwrap_or_default(),
                        c.versions,
                        c.title
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Policy { action } => policy_command(&cli.data_dir, action, json),
        Command::Audit { action } => audit_command(&cli.data_dir, action, json),
        Command::Obligations { action } => obligations_command(&cli.data_dir, action, json),
        Command::Retention {
            action: RetentionAction::Sweep { dry_run },
        } => {
            let node = Node::open(&cli.data_dir)?;
            let collections: Vec<String> = node.config.collections.iter().map(|c| c.id.clone()).collect();
            let now = accord_stix::Timestamp::from_micros(now_micros());
            let expired = accord::retention::sweep(
                node.store.as_ref(),
                &node.audit_log()?,
                &collections,
                now,
                dry_run,
            )?;
            if json {
                print_json(&expired)?;
            } else {
                for e in &expired {
                    println!(
                        "{}  {} {}  retention ended {}",
                        e.collection, e.id, e.version, e.retention_until
                    );
                }
                let verb = if dry_run { "would remove" } else { "removed" };
                eprintln!("{verb} {} object versions", expired.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules => {
            let rules: Vec<_> = accord_stix::Rule::ALL
                .iter()
                .map(|r| serde_json::json!({"rule": r.name(), "description": r.description()}))
                .collect();
            if json {
                print_json(&rules)?;
            } else {
                for r in accord_stix::Rule::ALL {
                    println!("{:<22} {}", r.name(), r.description());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::GenCorpus {
            count,
            seed,
            invalid_every,
            output,
        } => {
            let mut w = std::io::BufWriter::new(std::fs::File::create(&output)?);
            accord::corpus::write_jsonl(&mut w, count, seed, invalid_every)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

struct Bar {
    bar: ProgressBar,
    lines: bool,
}

impl ingest::Progress for Bar {
    fn read(&self, bytes: u64) {
        self.bar.set_position(bytes);
    }
    fn committed(&self, objects: u64) {
        self.bar.set_message(format!("{objects} objects committed"));
        if self.lines {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "committed {objects}");
            let _ = out.flush();
        }
    }
}

fn run_import(
    node: &Node,
    sources: &[reader::Source],
    opts: &ImportOptions,
    json: bool,
    lines: bool,
) -> Result<ImportSummary> {
    let bar = if json || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(reader::total_bytes(sources))
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = Bar { bar, lines };
    let audit = node.audit_log()?;
    let summary = ingest::import(node.store.as_ref(), &audit, sources, opts, &progress)?;
    progress.bar.finish_and_clear();
    Ok(summary)
}

fn print_import_summary(s: &ImportSummary) {
    for p in &s.document_problems {
        println!("{p}");
    }
    const SHOWN: usize = 50;
    for r in s.rejections.iter().take(SHOWN) {
        for line in r.human() {
            println!("{line}");
        }
    }
    if s.rejections.len() > SHOWN {
        println!(
            "… and {} more rejected objects (use --json for all)",
            s.rejections.len() - SHOWN
        );
    }
    println!(
        "{} objects from {} files into {}: {} new, {} new versions, {} unchanged, {} rejected ({} accepted with warnings)",
        s.objects, s.files, s.collection, s.new, s.new_version, s.unchanged, s.rejected, s.with_warnings
    );
    if !s.committed {
        println!("--strict: nothing was imported because objects were rejected");
    }
}

fn run_server(node: Node, ready: impl FnOnce(std::net::SocketAddr)) -> Result<()> {
    // Few blocking threads: store calls are short, and every new thread costs a fresh allocator heap.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(16)
        .enable_all()
        .build()?;
    runtime.block_on(accord::serve::serve(
        node,
        accord::serve::shutdown_signal(),
        ready,
    ))
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn token_event(action: &str, id: &str, principal: &str) -> accord_ledger::Event {
    accord_ledger::Event::Token(accord_ledger::entry::TokenEvent {
        action: action.to_owned(),
        token: id.to_owned(),
        principal: principal.to_owned(),
    })
}

/// Revokes a token and logs it.
fn revoke(node: &Node, id: &str) -> Result<bool> {
    use accord_store::TokenStore;
    let Some(record) = node.store.token(id)?.filter(|t| t.revoked_at.is_none()) else {
        return Ok(false);
    };
    let revoked = node.store.revoke_token(id, now_micros())?;
    if revoked {
        node.audit_log()?
            .record_now(vec![token_event("revoked", id, &record.principal)])?;
    }
    Ok(revoked)
}

fn issue(
    node: &Node,
    principal: &str,
    description: Option<String>,
) -> Result<accord_taxii::access::IssuedToken> {
    if !node.config.principals.iter().any(|p| p.name == principal) {
        let known: Vec<&str> = node.config.principals.iter().map(|p| p.name.as_str()).collect();
        anyhow::bail!(
            "no principal {principal:?} in accord.toml; declared: {}",
            known.join(", ")
        );
    }
    let issued = accord_taxii::access::issue_token(principal, description, now_micros())
        .map_err(|e| anyhow::anyhow!("no randomness for the token: {e}"))?;
    // Logged before the token exists, so that no credential is ever unaccounted for.
    node.audit_log()?
        .record_now(vec![token_event("issued", &issued.record.id, principal)])?;
    accord_store::TokenStore::add_token(node.store.as_ref(), &issued.record)?;
    Ok(issued)
}

fn token(dir: &std::path::Path, action: TokenAction, json: bool) -> Result<ExitCode> {
    use accord_store::TokenStore;
    let node = Node::open(dir)?;
    match action {
        TokenAction::Create {
            principal,
            description,
        } => {
            let t = issue(&node, &principal, description)?;
            if json {
                print_json(&serde_json::json!({
                    "id": t.record.id, "principal": t.record.principal, "secret": t.secret, "bearer": t.bearer()
                }))?;
            } else {
                println!(
                    "token {} for {} (the secret is shown only now)",
                    t.record.id, t.record.principal
                );
                println!("  HTTP Basic: user {}  password {}", t.record.id, t.secret);
                println!("  Bearer:     Authorization: Bearer {}", t.bearer());
            }
        }
        TokenAction::List => {
            let list = node.store.tokens()?;
            if json {
                print_json(&list)?;
            } else {
                for t in list {
                    let state = t.revoked_at.map_or_else(
                        || "active".to_owned(),
                        |at| format!("revoked {}", accord_stix::Timestamp::format_micros(at)),
                    );
                    println!(
                        "{}  {:<16} created {}  {state}  {}",
                        t.id,
                        t.principal,
                        accord_stix::Timestamp::format_micros(t.created_at),
                        t.description.unwrap_or_default()
                    );
                }
            }
        }
        TokenAction::Revoke { id } => {
            if !revoke(&node, &id)? {
                anyhow::bail!("no active token {id:?}");
            }
            if json {
                print_json(&serde_json::json!({"revoked": id}))?;
            } else {
                println!("revoked {id}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

const DEMO_CREDENTIAL: &str = "demo credential issued by accord up";

fn up(dir: &std::path::Path, json: bool) -> Result<ExitCode> {
    if !dir.join(accord::config::CONFIG_FILE).exists() {
        Node::init(dir)?;
    }
    let node = Node::open(dir)?;
    let demo_dir = dir.join("demo");
    let paths = accord::demo::write_to(&demo_dir).context("cannot write the demo data")?;
    let sources: Vec<reader::Source> = paths.into_iter().map(reader::Source::File).collect();
    let opts = ImportOptions {
        collection: node.collection_id(Some("demo"))?,
        strict: false,
        max_object_bytes: node.config.limits.max_object_bytes,
        same_version: None,
    };
    let summary = run_import(&node, &sources, &opts, json, false)?;
    let collections = node.store.collections()?;
    // A fresh demo credential each time: only hashes are stored, so an old one cannot be shown again.
    use accord_store::TokenStore;
    for t in node.store.tokens()? {
        if t.description.as_deref() == Some(DEMO_CREDENTIAL) && t.revoked_at.is_none() {
            revoke(&node, &t.id)?;
        }
    }
    let principal = node.config.principals.first().map(|p| p.name.clone());
    let token = principal
        .as_deref()
        .map(|p| issue(&node, p, Some(DEMO_CREDENTIAL.into())))
        .transpose()?;
    let tls = !node.config.server.plain_http;
    let cert = node.dev_ca_path();
    let d = dir.display().to_string();
    let vkey = node.audit_key()?;
    let report = move |addr: std::net::SocketAddr| {
        let scheme = if tls { "https" } else { "http" };
        let url = format!("{scheme}://{addr}");
        if json {
            let value = serde_json::json!({
                "data_dir": d, "demo_import": summary, "collections": collections, "url": format!("{url}/taxii2/"), "audit_key": vkey.to_string(),
                "credential": token.as_ref().map(|t| serde_json::json!({"user": t.record.id, "password": t.secret, "bearer": t.bearer()})),
            });
            let _ = print_json(&value);
            return;
        }
        println!("Accord node ready in {d}");
        println!(
            "demo data: {} objects ({} new, {} unchanged, {} rejected)",
            summary.objects,
            summary.new + summary.new_version,
            summary.unchanged,
            summary.rejected
        );
        for c in &collections {
            println!(
                "  collection {:<8} {}  {} versions",
                c.alias.as_deref().unwrap_or("-"),
                c.id,
                c.versions
            );
        }
        println!();
        println!("TAXII 2.1 server: {url}/taxii2/");
        let ca = if tls {
            format!(" --cacert {}", cert.display())
        } else {
            String::new()
        };
        if let Some(t) = &token {
            println!(
                "demo credential ({}): user {}  password {}",
                t.record.principal, t.record.id, t.secret
            );
            println!("try:");
            println!(
                "  curl{ca} -u {}:{} -H 'Accept: application/taxii+json;version=2.1' {url}/api/collections/",
                t.record.id, t.secret
            );
            let verify = if tls {
                format!("'{}'", cert.display())
            } else {
                "True".into()
            };
            println!(
                "  python3 -c \"from taxii2client.v21 import Server; s = Server('{url}/taxii2/', user='{}', password='{}', verify={verify}); print([c.title for c in s.default.collections])\"",
                t.record.id, t.secret
            );
        } else {
            println!("no principals in accord.toml: add one and run `accord token create --principal NAME`");
        }
        println!(
            "  accord --data-dir {d} export --collection demo --type attack-pattern --format jsonl | head -1"
        );
        println!("see what a partner receives, and why:");
        println!(
            "  accord --data-dir {d} export --collection demo --for demo-partner --type identity --format jsonl | head -1"
        );
        println!(
            "  accord --data-dir {d} policy explain --principal demo-partner --object identity--a9119a87-6576-46af-bfd7-4fbe55926671"
        );
        println!(
            "every decision, share and redaction is in the transparency log; check it as an oversight body would:"
        );
        println!("  accord --data-dir {d} audit verify --key '{vkey}'");
        println!("  accord --data-dir {d} audit query --agreement example-bilateral");
        println!("Ctrl-C stops the server (in-flight requests finish first).");
    };
    run_server(node, report)?;
    Ok(ExitCode::SUCCESS)
}
