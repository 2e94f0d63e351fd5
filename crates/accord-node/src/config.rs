//! The node's configuration file (`accord.toml`): parsed, validated, and written with comments on `init`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const CONFIG_FILE: &str = "accord.toml";

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub node: NodeConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub collections: Vec<CollectionConfig>,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub api_roots: Vec<ApiRootConfig>,
    #[serde(default)]
    pub principals: Vec<PrincipalConfig>,
    #[serde(default)]
    pub policy: accord_policy::sharing::Settings,
    #[serde(default)]
    pub organisations: Vec<accord_policy::sharing::Organisation>,
    #[serde(default)]
    pub purposes: Vec<accord_policy::sharing::Purpose>,
    /// Personal-data categories beyond the built-in vocabulary.
    #[serde(default)]
    pub data_categories: Vec<accord_policy::sharing::DataCategory>,
    #[serde(default)]
    pub agreements: Vec<accord_policy::sharing::Agreement>,
    #[serde(default)]
    pub redaction_profiles: Vec<accord_policy::Profile>,
    #[serde(default)]
    /// The transparency log (`[ledger]`; `[audit]`, its earlier name, is read too).
    #[serde(alias = "audit")]
    pub ledger: LedgerConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    #[serde(default)]
    pub obligations: ObligationsConfig,
    #[serde(default)]
    pub partners: Vec<PartnerConfig>,
}

/// A partner node this node exchanges with directly.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PartnerConfig {
    /// The partner node's name, as it signs (the first part of its public key).
    pub name: String,
    /// Its organisation (an id in [[organisations]]).
    pub organisation: String,
    /// Its pinned provenance keys (`accord keys show` on the partner prints the line).
    pub keys: Vec<String>,
    /// Its TAXII 2.1 API roots.
    #[serde(default)]
    pub taxii: Vec<String>,
    /// The agreements that govern what goes to it.
    #[serde(default)]
    pub agreements: Vec<String>,
    /// Admiralty source reliability: A (completely reliable) to F (cannot be judged).
    #[serde(default = "default_reliability")]
    pub reliability: String,
    /// Nodes whose signed objects this partner may pass on to us.
    #[serde(default)]
    pub relays_for: Vec<String>,
    /// Whether everything from it must carry a verified Accord provenance signature (true for
    /// Accord nodes; false for other TAXII servers, whose unsigned objects are then admitted,
    /// while signed ones that fail still go to quarantine).
    #[serde(default = "default_true")]
    pub signed: bool,
    /// The principal (in [[principals]]) whose rights decide what is pushed to it.
    pub principal: Option<String>,
    /// HTTP Basic user, with the password in `password_file`; or a bearer token in `token_file`
    /// (files relative to the data directory).
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    pub token_file: Option<PathBuf>,
    /// CA certificate (PEM) to trust for its TLS certificate, and a client certificate and key
    /// (PEM) for mTLS.
    pub ca_file: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// At most this many requests per second to it.
    #[serde(default = "default_rate")]
    pub requests_per_second: u32,
    /// Collections to read from it: `{ remote = "collection id", local = "id or alias" }`.
    #[serde(default)]
    pub pull: Vec<SyncMapping>,
    /// Collections to send to it: `{ local = "id or alias", remote = "collection id" }`.
    #[serde(default)]
    pub push: Vec<SyncMapping>,
    /// Seconds between synchronisations by a running server (0: only `accord sync`).
    #[serde(default)]
    pub sync_interval_secs: u64,
}

/// One collection synchronised with a partner.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SyncMapping {
    pub remote: String,
    pub local: String,
}

fn default_true() -> bool {
    true
}

fn default_rate() -> u32 {
    10
}

fn default_reliability() -> String {
    "F".into()
}

/// Incident reporting obligations.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ObligationsConfig {
    /// Operator rule files (a regime with a shipped id replaces it), relative to the data directory.
    pub rule_files: Vec<PathBuf>,
    /// Operator holiday calendars, relative to the data directory.
    pub calendar_files: Vec<PathBuf>,
    /// Collection incident reports are stored in (id or alias; default: the first collection).
    pub collection: Option<String>,
}

/// Removal of object versions whose retention ended.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Seconds between sweeps by a running server (0: only `accord retention sweep`).
    pub sweep_interval_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            sweep_interval_secs: 3600,
        }
    }
}

/// The transparency log.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LedgerConfig {
    /// Directory of the log files, relative to the data directory.
    pub dir: PathBuf,
    /// The checkpoints' origin line (default `accord.local/<node name>`). Verifiers pin it.
    pub origin: Option<String>,
    /// Seconds between checkpoints; one is signed only when the log has grown.
    pub checkpoint_interval_secs: u64,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            dir: PathBuf::from("ledger"),
            origin: None,
            checkpoint_interval_secs: 10,
        }
    }
}

/// Where each entry of the policy sections starts, to point errors at a line.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Spans {
    organisations: Vec<toml::Spanned<toml::Value>>,
    purposes: Vec<toml::Spanned<toml::Value>>,
    data_categories: Vec<toml::Spanned<toml::Value>>,
    agreements: Vec<toml::Spanned<toml::Value>>,
    redaction_profiles: Vec<toml::Spanned<toml::Value>>,
    principals: Vec<toml::Spanned<toml::Value>>,
    policy: Option<toml::Spanned<toml::Value>>,
    node: Option<toml::Spanned<toml::Value>>,
}

/// How long a small POST waits for its group to commit, by default (milliseconds).
pub const DEFAULT_COMPLETE_WITHIN_MS: u64 = 100;
/// The most objects a POST may have to be answered complete, by default.
pub const DEFAULT_COMPLETE_MAX_OBJECTS: usize = 500;

/// Bytes of POSTed bodies held at once, by default.
pub const DEFAULT_MAX_BODY_BYTES_IN_FLIGHT: usize = 256 << 20;

/// The TAXII server.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: std::net::SocketAddr,
    /// PEM certificate chain and key, relative to the data directory.
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    /// Plain HTTP instead of TLS; refused unless `listen` is a loopback address.
    pub plain_http: bool,
    pub title: String,
    pub description: Option<String>,
    pub contact: Option<String>,
    pub default_api_root: Option<String>,
    /// Objects per page when the client gives no `limit`, and the most it may ask for.
    pub page_size: usize,
    pub max_page_size: usize,
    /// A POST of at most `complete_max_objects` objects, with no more than that many queued ahead
    /// of it, is answered with its final status when its group commits within this many
    /// milliseconds; otherwise, or with 0, it is answered `pending` (BENCHMARKS.md measures the
    /// default).
    pub complete_within_ms: u64,
    pub complete_max_objects: usize,
    /// Seconds a client has for its TLS handshake, and then for each request's headers (a
    /// keep-alive HTTP/1.1 connection waiting for its next request is waiting for headers).
    pub header_timeout_s: u64,
    /// Seconds a connection may stay open with no traffic in either direction.
    pub idle_timeout_s: u64,
    /// Connections open at once, in all and from one IP address; more are closed at once and
    /// counted in `accord_connections_refused_total`.
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    /// Concurrent HTTP/2 streams per connection.
    pub http2_max_streams: u32,
    /// Bytes of POSTed bodies held at once, from reading to storing their objects; more wait
    /// their turn. At least every API root's `max_content_length`.
    pub max_body_bytes_in_flight: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 8443)),
            tls_cert: PathBuf::from("tls/cert.pem"),
            tls_key: PathBuf::from("tls/key.pem"),
            plain_http: false,
            title: "Accord TAXII 2.1 server".into(),
            description: None,
            contact: None,
            default_api_root: Some("api".into()),
            page_size: 1000,
            max_page_size: 10_000,
            complete_within_ms: DEFAULT_COMPLETE_WITHIN_MS,
            complete_max_objects: DEFAULT_COMPLETE_MAX_OBJECTS,
            header_timeout_s: 10,
            idle_timeout_s: 60,
            max_connections: 1024,
            max_connections_per_address: 128,
            http2_max_streams: 100,
            max_body_bytes_in_flight: DEFAULT_MAX_BODY_BYTES_IN_FLIGHT,
        }
    }
}

/// A TAXII API root.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApiRootConfig {
    /// The URL path segment.
    pub name: String,
    pub title: String,
    pub description: Option<String>,
    #[serde(default = "default_max_content_length")]
    pub max_content_length: usize,
    /// Collection ids or aliases served under this root.
    pub collections: Vec<String>,
}

fn default_max_content_length() -> usize {
    100 * 1024 * 1024
}

/// Someone who may use the server: a user, an automated client, or a partner node.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PrincipalConfig {
    pub name: String,
    pub organisation: String,
    #[serde(default)]
    pub roles: Vec<String>,
    /// Collections (ids or aliases, or "*") this principal may read and write.
    #[serde(default)]
    pub read: Vec<String>,
    #[serde(default)]
    pub write: Vec<String>,
    /// SHA-256 (hex) of the client certificate that identifies a partner node over mTLS.
    pub client_certificate_sha256: Option<String>,
    /// Purposes this principal may declare (`X-Accord-Purpose`).
    #[serde(default)]
    pub purposes: Vec<String>,
    /// The purpose of requests that declare none; required with several purposes.
    pub default_purpose: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub name: String,
    pub organisation: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// SQLite database file, relative to the data directory.
    pub path: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from("accord.db"),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest single object accepted, in bytes.
    pub max_object_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_object_bytes: accord_stix::DEFAULT_MAX_OBJECT_BYTES,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CollectionConfig {
    pub id: String,
    pub alias: Option<String>,
    pub title: String,
    pub description: Option<String>,
    /// TLP of unmarked objects in this collection (default: `policy.default_tlp`), e.g. "clear"
    /// for a collection of public data.
    #[serde(default)]
    pub default_tlp: Option<String>,
}

/// A configuration problem, with the file and line it comes from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| accord_stix::json::line_col(text.as_bytes(), s.start))
                .unwrap_or((1, 1));
            ConfigError::Parse {
                path: path.into(),
                line,
                column,
                message: e.message().to_owned(),
            }
        })?;
        config.check(path)?;
        accord_policy::Model::build(config.model_spec()).map_err(|e| {
            let spans: Spans = toml::from_str(text).unwrap_or_default();
            let entry = match e.section {
                "organisations" => spans.organisations.get(e.index),
                "purposes" => spans.purposes.get(e.index),
                "data_categories" => spans.data_categories.get(e.index),
                "agreements" => spans.agreements.get(e.index),
                "redaction_profiles" => spans.redaction_profiles.get(e.index),
                "principals" => spans.principals.get(e.index),
                "policy" => spans.policy.as_ref(),
                "node" => spans.node.as_ref(),
                _ => None,
            };
            let at = entry.map_or(0, |s| s.span().start);
            let (line, column) = accord_stix::json::line_col(text.as_bytes(), at);
            ConfigError::Parse {
                path: path.into(),
                line,
                column,
                message: e.to_string(),
            }
        })?;
        Ok(config)
    }

    /// The sharing model the policy decision point is built from.
    pub fn model_spec(&self) -> accord_policy::ModelSpec {
        accord_policy::ModelSpec {
            node_organisation: self.node.organisation.clone(),
            organisations: self.organisations.clone(),
            purposes: self.purposes.clone(),
            data_categories: self.data_categories.clone(),
            agreements: self.agreements.clone(),
            profiles: self.redaction_profiles.clone(),
            settings: self.policy.clone(),
            principals: self
                .principals
                .iter()
                .map(|p| accord_policy::sharing::PrincipalSpec {
                    name: p.name.clone(),
                    organisation: p.organisation.clone(),
                    roles: p.roles.clone(),
                    purposes: p.purposes.clone(),
                    default_purpose: p.default_purpose.clone(),
                })
                .collect(),
        }
    }

    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.into(),
            message,
        };
        if self.collections.is_empty() {
            return Err(invalid("at least one [[collections]] entry is required".into()));
        }
        let mut partners = std::collections::HashSet::new();
        for p in &self.partners {
            if !partners.insert(&p.name) {
                return Err(invalid(format!("partner {:?} is declared twice", p.name)));
            }
            if !matches!(p.reliability.as_str(), "A" | "B" | "C" | "D" | "E" | "F") {
                return Err(invalid(format!(
                    "partner {:?}: reliability {:?} is not an Admiralty grade A to F",
                    p.name, p.reliability
                )));
            }
            if p.keys.is_empty() && p.signed {
                return Err(invalid(format!(
                    "partner {:?} has no pinned key (set signed = false for a TAXII server that does not sign)",
                    p.name
                )));
            }
            if p.requests_per_second == 0 {
                return Err(invalid(format!(
                    "partner {:?}: requests_per_second must be positive",
                    p.name
                )));
            }
            if let Some(principal) = &p.principal
                && !self.principals.iter().any(|x| &x.name == principal)
            {
                return Err(invalid(format!(
                    "partner {:?}: principal {principal:?} is not in [[principals]]",
                    p.name
                )));
            }
            if !p.push.is_empty() && p.principal.is_none() {
                return Err(invalid(format!(
                    "partner {:?}: pushing needs a principal whose rights decide what it receives",
                    p.name
                )));
            }
            if (!p.push.is_empty() || !p.pull.is_empty()) && p.taxii.is_empty() {
                return Err(invalid(format!(
                    "partner {:?}: synchronising needs its taxii API root",
                    p.name
                )));
            }
            for k in &p.keys {
                let key = accord_provenance::PublicKey::parse(k)
                    .map_err(|e| invalid(format!("partner {:?}: {e}", p.name)))?;
                if key.node != p.name {
                    return Err(invalid(format!(
                        "partner {:?}: the key {k:?} belongs to node {:?}",
                        p.name, key.node
                    )));
                }
            }
            if !self.organisations.iter().any(|o| o.id == p.organisation) {
                return Err(invalid(format!(
                    "partner {:?}: organisation {:?} is not in [[organisations]]",
                    p.name, p.organisation
                )));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for c in &self.collections {
            accord_store::check_collection_id(&c.id).map_err(|e| invalid(e.to_string()))?;
            if let Some(t) = c.default_tlp.as_deref()
                && accord_policy::sharing::parse_tlp(t).is_none()
            {
                return Err(invalid(format!(
                    "collection {:?}: default_tlp {t:?} is not a TLP level",
                    c.id
                )));
            }
            if !seen.insert(c.id.as_str()) || c.alias.as_deref().is_some_and(|a| !seen.insert(a)) {
                return Err(invalid(format!(
                    "collection id or alias {:?} is used twice",
                    c.id
                )));
            }
        }
        for root in &self.api_roots {
            let name_ok = !root.name.is_empty()
                && root
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !matches!(root.name.as_str(), "taxii2" | "metrics");
            if !name_ok {
                return Err(invalid(format!(
                    "api root name {:?} must be a-z, 0-9, '-', '_' and not taxii2 or metrics",
                    root.name
                )));
            }
            for c in &root.collections {
                if self.collection(Some(c)).is_none() {
                    return Err(invalid(format!(
                        "api root {:?} lists unknown collection {c:?}",
                        root.name
                    )));
                }
            }
        }
        if let Some(d) = &self.server.default_api_root
            && !self.api_roots().iter().any(|r| &r.name == d)
        {
            return Err(invalid(format!(
                "server.default_api_root {d:?} is not an api root"
            )));
        }
        let srv = &self.server;
        for (name, value) in [
            ("header_timeout_s", srv.header_timeout_s as usize),
            ("idle_timeout_s", srv.idle_timeout_s as usize),
            ("max_connections", srv.max_connections),
            ("max_connections_per_address", srv.max_connections_per_address),
            ("http2_max_streams", srv.http2_max_streams as usize),
        ] {
            if value == 0 {
                return Err(invalid(format!("server.{name} must be at least 1")));
            }
        }
        if let Some(root) = self
            .api_roots()
            .iter()
            .find(|r| r.max_content_length > srv.max_body_bytes_in_flight)
        {
            return Err(invalid(format!(
                "server.max_body_bytes_in_flight ({}) is less than api root {:?}'s max_content_length ({}): such a request could never be read",
                srv.max_body_bytes_in_flight, root.name, root.max_content_length
            )));
        }
        if self.server.plain_http && !self.server.listen.ip().is_loopback() {
            return Err(invalid(format!(
                "server.plain_http is only allowed on a loopback address, not {}",
                self.server.listen
            )));
        }
        let mut names = std::collections::HashSet::new();
        for p in &self.principals {
            if !names.insert(p.name.as_str()) {
                return Err(invalid(format!("principal {:?} is declared twice", p.name)));
            }
            if p.name.is_empty() || p.name.starts_with('@') {
                return Err(invalid(format!(
                    "principal name {:?} must not be empty or start with '@' (reserved)",
                    p.name
                )));
            }
            for c in p.read.iter().chain(&p.write) {
                if c != "*" && self.collection(Some(c)).is_none() {
                    return Err(invalid(format!(
                        "principal {:?} names unknown collection {c:?}",
                        p.name
                    )));
                }
            }
            if let Some(fp) = &p.client_certificate_sha256
                && (fp.len() != 64 || !fp.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err(invalid(format!(
                    "principal {:?}: client_certificate_sha256 must be 64 hex digits",
                    p.name
                )));
            }
        }
        if self.server.page_size == 0 || self.server.max_page_size < self.server.page_size {
            return Err(invalid(
                "server.page_size must be positive and at most server.max_page_size".into(),
            ));
        }
        if self.limits.max_object_bytes == 0 {
            return Err(invalid("limits.max_object_bytes must be positive".into()));
        }
        Ok(())
    }

    /// The API roots, or a single root named `api` serving every collection when none is configured.
    pub fn api_roots(&self) -> Vec<ApiRootConfig> {
        if !self.api_roots.is_empty() {
            return self.api_roots.clone();
        }
        vec![ApiRootConfig {
            name: "api".into(),
            title: "Accord".into(),
            description: None,
            max_content_length: default_max_content_length(),
            collections: self.collections.iter().map(|c| c.id.clone()).collect(),
        }]
    }

    /// The TLP of unmarked objects, for each collection that sets one.
    pub fn collection_defaults(&self) -> std::collections::HashMap<String, accord_stix::markings::TlpLevel> {
        self.collections
            .iter()
            .filter_map(|c| {
                Some((
                    c.id.clone(),
                    accord_policy::sharing::parse_tlp(c.default_tlp.as_deref()?)?,
                ))
            })
            .collect()
    }

    /// Finds a collection by id or alias; `None` picks the first one.
    pub fn collection(&self, name: Option<&str>) -> Option<&CollectionConfig> {
        match name {
            None => self.collections.first(),
            Some(n) => self
                .collections
                .iter()
                .find(|c| c.id == n || c.alias.as_deref() == Some(n)),
        }
    }
}

/// A name usable in a signed-note key name: no spaces, no '+'.
pub fn key_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() || c == '+' {
                '-'
            } else {
                c
            }
        })
        .collect()
}

impl Config {
    /// The origin line of the transparency log's checkpoints.
    pub fn ledger_origin(&self) -> String {
        self.ledger
            .origin
            .clone()
            .unwrap_or_else(|| format!("accord.local/{}", key_name(&self.node.name)))
    }
}

/// The commented configuration `accord init` writes.
pub fn default_config_text(name: &str, default_collection: &str, demo_collection: &str) -> String {
    format!(
        r#"# Accord node configuration. Reloaded on start; every key is checked, and an unknown key is an error.

[node]
# Shown to partners and in logs.
name = "{name}"
# The organisation operating this node (its id in sharing agreements).
organisation = "example-csirt"

[store]
# SQLite database file, relative to this data directory. WAL journal, fsync on every commit.
path = "accord.db"

[limits]
# Largest single STIX object accepted on import, in bytes (bundles may be larger).
max_object_bytes = {max}

# Collections hold object versions. `id` is what TAXII clients see; `alias` is a short name
# for the command line. The first collection is the default for import and export.
[[collections]]
id = "{default_collection}"
alias = "default"
title = "Default"
description = "Intelligence imported or received by this node"

[[collections]]
id = "{demo_collection}"
alias = "demo"
title = "Demo data"
description = "OASIS STIX 2.1 examples and MITRE ATT&CK for ICS, imported by `accord up`"
# Public data: unmarked objects here are TLP:CLEAR (elsewhere they get policy.default_tlp).
default_tlp = "clear"

# The TAXII 2.1 server (`accord serve`, `accord up`).
[server]
listen = "127.0.0.1:8443"
# PEM certificate chain and key, relative to this directory. `accord init` writes a development
# certificate for localhost signed by a throw-away CA (tls/ca.pem, for clients to trust);
# replace them with a real certificate before serving partners.
tls_cert = "tls/cert.pem"
tls_key = "tls/key.pem"
# Plain HTTP instead of TLS. Refused unless `listen` is a loopback address.
plain_http = false
title = "Accord TAXII 2.1 server"
default_api_root = "api"
# Objects per page when a client gives no `limit`, and the most a client may ask for.
page_size = 1000
max_page_size = 10000
# A POST of at most `complete_max_objects` objects (with no more than that many queued ahead of
# it) is answered with its final status (`complete`) when its objects and their log entry are
# durable within `complete_within_ms`; otherwise it is answered `pending` and completes in the
# background. 0 answers every POST `pending` at once.
complete_within_ms = {complete_within_ms}
complete_max_objects = {complete_max_objects}
# Connection limits. A client has `header_timeout_s` for its TLS handshake and for each request's
# headers (also the longest an HTTP/1.1 keep-alive connection waits for its next request); a
# connection with no traffic for `idle_timeout_s` is closed after its current response. More
# connections than `max_connections` (or than `max_connections_per_address` from one IP address)
# are closed at once and counted in /metrics (`accord_connections_refused_total`). `accord serve`
# raises its open-file limit to fit `max_connections`, and refuses to start if it cannot.
header_timeout_s = 10
idle_timeout_s = 60
max_connections = 1024
max_connections_per_address = 128
http2_max_streams = 100
# Bytes of POSTed bodies held at once, from reading to storing their objects (parsed, a body
# takes about three times its size); more wait their turn. At least every API root's
# max_content_length. README "Memory" gives the worst case.
max_body_bytes_in_flight = 268435456

[[api_roots]]
name = "api"
title = "Accord"
description = "Threat intelligence shared under this node's agreements"
# Largest request body accepted, in bytes (larger POSTs get 413).
max_content_length = 104857600
# Collection ids or aliases served under this root.
collections = ["default", "demo"]

# Who may use the server. Credentials are API tokens (`accord token create --principal NAME`),
# used as HTTP Basic (user = token id, password = secret) or `Authorization: Bearer ID.SECRET`.
# Partner nodes may instead present a client certificate pinned by its SHA-256
# (`client_certificate_sha256 = "…"`). read/write list collection ids or aliases, or "*".
[[principals]]
name = "demo-analyst"
organisation = "example-csirt"
roles = ["analyst"]
read = ["*"]
write = ["default"]
purposes = ["situational-awareness", "detection", "incident-response", "blocking"]
# The purpose of requests that declare none (required when a principal has several purposes).
default_purpose = "situational-awareness"

# An oversight body: it reads the transparency log (/audit/v1/…, `accord audit`), never objects.
[[principals]]
name = "demo-oversight"
organisation = "example-oversight"
roles = ["oversight"]
read = []
write = []

# A partner's node. It may read every collection, but each object reaches it only if the policy
# allows it (here: TLP:CLEAR and GREEN under `example-bilateral`, with personal data minimised).
[[principals]]
name = "demo-partner"
organisation = "partner-csirt"
roles = ["partner-node"]
read = ["*"]
write = []
purposes = ["detection", "situational-awareness"]
default_purpose = "detection"

# The transparency log, the ledger (ledger/): every policy decision, share, redaction, ingest, deletion,
# configuration change and token, as an RFC 9162 Merkle tree with Ed25519-signed checkpoints
# (C2SP tlog-checkpoint). Principals with the "oversight" role read it at /audit/v1/; anyone
# with the verifier key (`accord audit key`) checks it with `accord audit verify`.
[ledger]
# The checkpoints' origin line; keep it stable, verifiers pin it with the key.
origin = "accord.local/{origin}"
# Seconds between checkpoints (one is signed only when the log has grown).
checkpoint_interval_secs = 10

# Object versions whose handling extension sets a `retention_until` that has passed are never
# served, and are removed (each removal logged as an `expiry` entry first) by a sweep.
[retention]
# Seconds between sweeps by a running server (0: only `accord retention sweep`).
sweep_interval_secs = 3600

# Incident reporting: `accord obligations report|list|show|submit` compute from an incident report
# which regimes apply (NIS2, GDPR, DORA, SEC, CERT-In, …) and every notification's deadline.
[obligations]
# Operator rule files and holiday calendars (e.g. a national NIS2 transposition with id eu-nis2
# replaces the shipped one); see crates/accord-obligations/rules/ for the format.
rule_files = []
calendar_files = []

# ---------------------------------------------------------------------------------------------
# Sharing policy. Every object a principal reads, every export and every push is decided per
# object version by the policy decision point: TLP 2.0 and IEP 2.0 (shipped as Cedar policies),
# the agreements below, purpose, jurisdiction and retention. Deny is the default.
[policy]
# TLP assumed for objects that carry none. AMBER keeps them within this organisation and its clients.
default_tlp = "amber"
# Redaction profile for disclosures outside this organisation that rely on no agreement.
default_redaction_profile = "strict"
# The only purpose of principals that declare no purposes.
default_purpose = "situational-awareness"
# Operator Cedar policies, relative to this directory, added to the shipped ones
# (`accord policy check` validates them; `accord policy explain` shows which one decided).
policy_files = []

# Organisations: id, ISO 3166-1 alpha-2 jurisdiction, role (csirt, isac, operator, regulator,
# oversight, law-enforcement, vendor, public), sectors, declared clients (TLP:AMBER may reach
# them), and the STIX identity they create objects with (`created_by_ref`), which tells objects
# this node's organisation originated from those it received.
[[organisations]]
id = "example-csirt"
name = "Example national CSIRT"
jurisdiction = "DE"
role = "csirt"
sectors = ["government-national"]
clients = []

[[organisations]]
id = "example-oversight"
name = "Example data protection and oversight authority"
jurisdiction = "DE"
role = "oversight"

[[organisations]]
id = "partner-csirt"
name = "Example partner CSIRT"
jurisdiction = "FR"
role = "csirt"

# Partner nodes this node exchanges with directly: the name they sign with, their organisation,
# their pinned provenance keys (`accord keys show` on their node prints the line; a new key is
# taken only from a rotation statement their old key signed: `accord partners accept-rotation`),
# their TAXII API roots, the agreements that apply, their Admiralty source reliability (A-F) and
# the nodes whose signed objects they may pass on. Objects they send (`accord import
# --from-partner NAME`) that do not verify are quarantined (`accord quarantine`).
# `accord sync` (and `serve`, every sync_interval_secs) pulls its `pull` collections and pushes
# the `push` ones, deciding each version for `principal`; TAXII POSTs by that principal are
# checked for provenance too. Credentials are files: password_file (with user) or token_file.
# [[partners]]
# name = "partner-node"
# organisation = "partner-csirt"
# keys = ["partner-node+0123456789abcdef+BASE64KEY="]
# taxii = ["https://partner.example:8443/api/"]
# agreements = ["example-bilateral"]
# reliability = "B"
# relays_for = []
# principal = "demo-partner"
# token_file = "secrets/partner-node.token"
# ca_file = "partners/partner-node-ca.pem"
# requests_per_second = 10
# pull = [{{ remote = "THEIR-COLLECTION-ID", local = "default" }}]
# push = [{{ local = "default", remote = "THEIR-COLLECTION-ID" }}]
# sync_interval_secs = 300

# Personal-data categories beyond the built-in ones (email, phone, name, contact, user-account,
# network-identifier, online-identifier, location, victim, financial, government-identifier, and
# GDPR Art. 9/10: health, genetic, biometric, racial-or-ethnic-origin, political-opinions,
# religious-or-philosophical-beliefs, trade-union-membership, sex-life-or-sexual-orientation,
# criminal-offences). Agreements may name only these; a misspelt name is an error.
# [[data_categories]]
# name = "vehicle-registration"
# description = "licence plates"

# Sharing agreements: parties, TLP levels and purposes that may flow, legal bases and personal-data
# categories permitted across borders, the redaction profile applied on egress (`strict`, `none`,
# or one of [[redaction_profiles]]), retention at the recipient, onward sharing ("tlp" or "none"),
# and validity (RFC 3339 `valid_from` / `valid_until`).
[[agreements]]
id = "example-bilateral"
title = "Example bilateral CSIRT agreement"
parties = ["example-csirt", "partner-csirt"]
tlp = ["clear", "green"]
purposes = ["situational-awareness", "detection", "incident-response"]
legal_bases = ["gdpr-6-1-e"]
data_categories = ["email", "network-identifier"]
redaction_profile = "strict"
max_retention_days = 365
onward_sharing = "tlp"
"#,
        max = accord_stix::DEFAULT_MAX_OBJECT_BYTES,
        origin = key_name(name),
        complete_within_ms = DEFAULT_COMPLETE_WITHIN_MS,
        complete_max_objects = DEFAULT_COMPLETE_MAX_OBJECTS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_parses() {
        let text = default_config_text("n", "a1b2", "c3d4");
        let c = Config::parse(&text, Path::new("accord.toml")).unwrap();
        assert_eq!(c.collection(Some("demo")).unwrap().id, "c3d4");
        assert_eq!(c.principals[0].name, "demo-analyst");
        assert_eq!(c.api_roots()[0].collections, ["default", "demo"]);
        assert_eq!(c.collection(None).unwrap().id, "a1b2");
    }

    #[test]
    fn the_ledger_section_is_read_under_its_earlier_name_too() {
        let text = default_config_text("n", "a1b2", "c3d4");
        let now = Config::parse(&text, Path::new("accord.toml")).unwrap();
        let earlier = Config::parse(&text.replace("[ledger]", "[audit]"), Path::new("accord.toml")).unwrap();
        assert_eq!(now.ledger_origin(), "accord.local/n");
        assert_eq!(now, earlier);
        let both = format!("{text}\n[audit]\ncheckpoint_interval_secs = 5\n");
        assert!(
            Config::parse(&both, Path::new("accord.toml")).is_err(),
            "one section, one name"
        );
    }

    #[test]
    fn policy_errors_name_the_entry_line() {
        let text = default_config_text("n", "a1b2", "c3d4")
            .replace("default_tlp = \"amber\"", "default_tlp = \"purple\"");
        let err = Config::parse(&text, Path::new("accord.toml"))
            .unwrap_err()
            .to_string();
        let line: usize = err.split(':').nth(1).unwrap().parse().unwrap();
        let at = text.lines().nth(line - 1).unwrap();
        assert!(
            at.contains("default_tlp") || at.starts_with("[policy]"),
            "{err}: line {line} is {at:?}"
        );
        let text = default_config_text("n", "a1b2", "c3d4")
            .replace("organisation = \"partner-csirt\"", "organisation = \"nobody\"");
        let err = Config::parse(&text, Path::new("accord.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("principals[2]") && err.contains("nobody"), "{err}");
        // Several purposes and no default purpose: refused, naming the principal and its line.
        let text = default_config_text("n", "a1b2", "c3d4").replacen(
            "default_purpose = \"situational-awareness\"\n",
            "",
            1,
        );
        let err = Config::parse(&text, Path::new("accord.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"demo-analyst\"") && err.contains("default_purpose"),
            "{err}"
        );
        // An agreement naming a category outside the vocabulary: refused, naming both.
        let text = default_config_text("n", "a1b2", "c3d4").replace(
            "data_categories = [\"email\", \"network-identifier\"]",
            "data_categories = [\"emial\"]",
        );
        let err = Config::parse(&text, Path::new("accord.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"example-bilateral\"") && err.contains("\"emial\""),
            "{err}"
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let text = "[node]\nname = \"x\"\norganisation = \"o\"\nbogus = 1\n";
        let err = Config::parse(text, Path::new("accord.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("accord.toml:4:"), "{err}");
    }
}

#[cfg(test)]
mod server_tests {
    use super::*;

    #[test]
    fn plain_http_needs_loopback() {
        let text = default_config_text("n", "a1b2", "c3d4")
            .replace("listen = \"127.0.0.1:8443\"", "listen = \"0.0.0.0:8443\"")
            .replace("plain_http = false", "plain_http = true");
        let err = Config::parse(&text, Path::new("accord.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("loopback"), "{err}");
    }

    #[test]
    fn unknown_collections_are_refused() {
        let text =
            default_config_text("n", "a1b2", "c3d4").replace("write = [\"default\"]", "write = [\"nope\"]");
        let err = Config::parse(&text, Path::new("accord.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown collection"), "{err}");
    }
}
