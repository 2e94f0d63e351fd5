//! The command line's shape: every command, option and its help text (clap). Nothing here
//! does anything; `commands.rs` runs what is parsed.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// How `accord export` lays out objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// One STIX 2.1 bundle.
    Bundle,
    /// One object per line.
    Jsonl,
}

#[derive(Parser, Debug)]
#[command(
    name = "accord",
    version,
    about = "Accord: a cyber threat-intelligence exchange with the law built in"
)]
pub struct Cli {
    /// The node's data directory.
    #[arg(long, global = true, env = "ACCORD_DATA_DIR", default_value = "accord-data")]
    pub data_dir: PathBuf,
    /// Machine-readable JSON output on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum KeysAction {
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
pub enum PartnersAction {
    /// Partners with their keys (current and retired), reliability and relays.
    List,
    /// Accept a partner's key rotation: checked against its pinned key, then kept.
    AcceptRotation { statement: PathBuf },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConvertTo {
    Blocklist,
    Csv,
    Suricata,
    Zeek,
    Misp,
    Stix,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConvertFrom {
    Auto,
    Stix,
    Misp,
    List,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a data directory with a commented default configuration and an empty store.
    Init {
        /// Directory to create (default: --data-dir).
        dir: Option<PathBuf>,
    },
    /// Bring up a node: initialise the data directory if needed, import the demo data, issue a
    /// demo credential, and serve TAXII 2.1 until interrupted.
    Up,
    /// Serve TAXII 2.1 until interrupted (Ctrl-C or SIGTERM finish in-flight work first).
    Serve {
        /// Address to listen on (default: `[server] listen` in accord.toml).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
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
        format: ExportFormat,
        /// Output file (default: stdout). Written to a temporary file and renamed when complete.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// The principal the export is for; each object is decided and redacted for it
        /// (default: this node's own organisation).
        #[arg(long = "for", default_value = accord_policy::sharing::NODE_PRINCIPAL)]
        principal: String,
        /// Declared purpose (default: the principal's `default_purpose`).
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
        #[arg(long, value_parser = accord_node::federation::parse_grade)]
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
        /// For --to suricata: the sids to use, FIRST-LAST. A rule's sid is a hash of its
        /// indicator's id, protocol and value in this range, the same in every export.
        #[arg(long, default_value_t = accord_convert::SidRange::DEFAULT)]
        sid_range: accord_convert::SidRange,
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
        #[arg(long, value_parser = accord_node::federation::parse_grade, default_value = "F")]
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
pub enum PolicyAction {
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
pub enum ObligationsAction {
    /// Store an incident report (a report in TOML, as `template` writes it, or JSON; or a STIX
    /// incident with the Accord incident-report extension; a new version replaces the old one) and
    /// show its obligations, and the facts that would still change one.
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
    /// Write a blank incident report (TOML) with every fact commented: what it means, the entity
    /// types and each regime's own assessment with the values it takes.
    Template {
        /// Write it to this file (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum RetentionAction {
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
pub struct LogSource {
    /// A node's data directory (default: --data-dir).
    pub dir: Option<PathBuf>,
    /// A node's base URL instead (https://host:port); needs an oversight or admin token.
    #[arg(long)]
    pub from: Option<String>,
    /// Token (ID.SECRET) for --from.
    #[arg(long, env = "ACCORD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// CA certificate (PEM) to trust for --from, besides the system roots.
    #[arg(long)]
    pub ca: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum AuditAction {
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
    /// agreement (between dates), what a principal did. Prints the matching entries as they are
    /// found (JSON, one a line), then, with --agreement, who received objects under it. Exit 2
    /// on an option that cannot be used.
    Query {
        #[command(flatten)]
        source: LogSource,
        /// Only entries about this object id (ingests, decisions, shares, redactions, deletions…).
        #[arg(long)]
        object: Option<String>,
        /// Only entries relying on this agreement: what went to a partner under it, and who
        /// received it.
        #[arg(long)]
        agreement: Option<String>,
        /// Only entries about what this principal did or received.
        #[arg(long)]
        principal: Option<String>,
        /// Only entries of these kinds, comma-separated: decision, share, redaction, ingest,
        /// deletion, expiry, submission, config, token, quarantine.
        #[arg(long, value_delimiter = ',')]
        kind: Vec<String>,
        /// Only entries at or after this RFC 3339 time (any offset: 2026-11-30T13:00:00+01:00)
        /// or from the start of this UTC date (2026-11-30).
        #[arg(long)]
        since: Option<String>,
        /// Only entries at or before this RFC 3339 time (any offset), or up to the end of this
        /// UTC date.
        #[arg(long)]
        until: Option<String>,
        /// Stop after this many entries (default: all of them, read a page at a time).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        limit: Option<u64>,
    },
    /// Print the verifier key of this node's log (give it to oversight bodies to pin).
    Key,
    /// Sign a checkpoint now (of the log in --data-dir).
    Checkpoint,
}

#[derive(Subcommand, Debug)]
pub enum TokenAction {
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
