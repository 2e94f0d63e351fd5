//! A node: its data directory (configuration, secrets, store, ledger) and the handle every edge
//! holds to call its services. The services themselves live in the modules that own them
//! (`read`, `ingest`, `delete`, `quarantine`, `access`, …), each as `impl Node` methods or
//! functions of a `&Node`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use accord_ledger::Event;
use accord_ledger_files::Ledger;
use accord_store::{Backend, CollectionInfo, CollectionSpec, SqliteStore, Store};

use crate::access::{Directory, Principal, Scope, TokenCache};
use crate::clock::{Clock, SystemClock};
use crate::config::{CONFIG_FILE, Config, default_config_text};
use crate::error::{NodeError, Result};
use crate::federation::Partners;
use crate::gate::Gate;
use crate::metrics::Metrics;
use crate::read::ReadAhead;
use crate::secrets;

/// Key rotation statements of partners, accepted after checking them against the pinned keys.
pub const ROTATIONS_DIR: &str = "partners/rotations";

/// An open node. Cheap to clone: every clone is the same node.
#[derive(Clone)]
pub struct Node(Arc<Inner>);

struct Inner {
    dir: PathBuf,
    /// The configuration in force; replaced whole by [`Node::reload`].
    config: RwLock<Loaded>,
    store: Arc<dyn Backend>,
    /// Opened (and verified) on first use: commands that never log do not pay for it.
    ledger: OnceLock<Ledger>,
    gate: OnceLock<Arc<Gate>>,
    partners: OnceLock<Arc<Partners>>,
    /// The principals and pinned client certificates, fixed when the node opens.
    directory: Arc<Directory>,
    /// Held while the ledger, gate or partners are first built, so that each is built once.
    init: Mutex<()>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    tokens: TokenCache,
    read_ahead: ReadAhead,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("dir", &self.0.dir)
            .finish_non_exhaustive()
    }
}

/// What `init` created.
#[derive(Debug, serde::Serialize)]
pub struct Initialised {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub store: PathBuf,
    pub collections: Vec<String>,
}

/// A configuration as loaded: parsed, and the text it was parsed from.
#[derive(Debug, Clone)]
struct Loaded {
    config: Arc<Config>,
    text: Arc<str>,
}

impl Loaded {
    fn read(dir: &Path) -> Result<Loaded> {
        let path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(NodeError::io(&path))?;
        let config = Config::parse(&text, &path)?;
        Ok(Loaded {
            config: Arc::new(config),
            text: text.into(),
        })
    }
}

/// The operator policy files a configuration names (relative to `dir`), and the SHA-256 (hex)
/// of the configuration file as written and those files: what labels the engine and what the
/// ledger records when a configuration takes effect.
fn policy_sources(dir: &Path, loaded: &Loaded) -> Result<(Vec<accord_policy::Source>, String)> {
    use sha2::Digest;
    let config = &loaded.config;
    let mut digest = sha2::Sha256::new();
    digest.update(loaded.text.as_bytes());
    let mut sources = Vec::new();
    for file in &config.policy.policy_files {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).map_err(NodeError::io(&path))?;
        digest.update(&text);
        sources.push(accord_policy::Source {
            name: path.display().to_string(),
            text,
        });
    }
    Ok((sources, hex::encode(digest.finalize())))
}

/// Builds the decision point from a configuration and the operator policy files it names
/// (relative to `dir`), labelled with the SHA-256 of the configuration and policies.
fn policy_engine(dir: &Path, loaded: &Loaded) -> Result<accord_policy::Engine> {
    let model = accord_policy::Model::build(loaded.config.model_spec())
        .map_err(|e| NodeError::Misconfigured(format!("{}: {e}", dir.join(CONFIG_FILE).display())))?;
    let (sources, digest) = policy_sources(dir, loaded)?;
    Ok(accord_policy::Engine::new(model, &sources)?.with_version(digest[..16].to_owned()))
}

/// The ledger entry for a configuration taking effect.
fn config_event(dir: &Path, loaded: &Loaded, engine: &accord_policy::Engine, reason: &str) -> Result<Event> {
    Ok(Event::Config(accord_ledger::entry::ConfigChange {
        reason: reason.to_owned(),
        config_sha256: policy_sources(dir, loaded)?.1,
        policy: engine.version().to_owned(),
    }))
}

fn scope(config: &Config, names: &[String]) -> Scope {
    if names.iter().any(|n| n == "*") {
        return Scope::All;
    }
    Scope::Only(
        names
            .iter()
            .filter_map(|n| config.collection(Some(n)).map(|c| c.id.clone()))
            .collect(),
    )
}

/// The principals and pinned client certificates of a configuration.
fn directory(config: &Config) -> Result<Directory> {
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
            hex::decode_to_slice(fp, &mut bytes).map_err(|e| {
                NodeError::Misconfigured(format!("principal {}: client_certificate_sha256: {e}", p.name))
            })?;
            dir.certificates.insert(bytes, p.name.clone());
        }
    }
    Ok(dir)
}

impl Node {
    /// Creates a data directory with a commented default configuration, an empty store and its
    /// secrets. Refuses to overwrite an existing configuration.
    pub fn init(dir: &Path) -> Result<Initialised> {
        std::fs::create_dir_all(dir).map_err(NodeError::io(dir))?;
        let config_path = dir.join(CONFIG_FILE);
        if config_path.exists() {
            return Err(NodeError::Invalid(format!(
                "{} already exists; refusing to overwrite it",
                config_path.display()
            )));
        }
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "accord-node".into());
        let text = default_config_text(
            &name,
            &uuid::Uuid::new_v4().to_string(),
            &uuid::Uuid::new_v4().to_string(),
        );
        // Written under a temporary name and renamed, so a crash never leaves half a config.
        let tmp = dir.join(format!(".{CONFIG_FILE}.tmp"));
        std::fs::write(&tmp, text).map_err(NodeError::io(&tmp))?;
        std::fs::rename(&tmp, &config_path).map_err(NodeError::io(&config_path))?;
        let node = Node::open(dir)?;
        node.ensure_secrets()?;
        let config = node.config();
        Ok(Initialised {
            dir: dir.to_path_buf(),
            store: dir.join(&config.store.path),
            config: config_path,
            collections: config.collections.iter().map(|c| c.id.clone()).collect(),
        })
    }

    /// Opens an initialised data directory on the system clock.
    pub fn open(dir: &Path) -> Result<Node> {
        Node::open_with_clock(dir, SystemClock::shared())
    }

    /// Opens an initialised data directory and makes sure the configured collections exist.
    pub fn open_with_clock(dir: &Path, clock: Arc<dyn Clock>) -> Result<Node> {
        let config_path = dir.join(CONFIG_FILE);
        if !config_path.exists() {
            return Err(NodeError::Invalid(format!(
                "{} has no {CONFIG_FILE}; run `accord init {}` first",
                dir.display(),
                dir.display()
            )));
        }
        let loaded = Loaded::read(dir)?;
        let config = &loaded.config;
        let store = SqliteStore::open(dir.join(&config.store.path))?;
        for c in &config.collections {
            store.ensure_collection(&CollectionSpec {
                id: c.id.clone(),
                title: c.title.clone(),
                description: c.description.clone(),
                alias: c.alias.clone(),
            })?;
        }
        let directory = Arc::new(directory(config)?);
        Ok(Node(Arc::new(Inner {
            dir: dir.to_path_buf(),
            config: RwLock::new(loaded),
            store: Arc::new(store),
            ledger: OnceLock::new(),
            gate: OnceLock::new(),
            partners: OnceLock::new(),
            directory,
            init: Mutex::new(()),
            clock,
            metrics: Arc::new(Metrics::new()),
            tokens: TokenCache::default(),
            read_ahead: ReadAhead::default(),
        })))
    }

    pub fn dir(&self) -> &Path {
        &self.0.dir
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.loaded().config
    }

    fn loaded(&self) -> Loaded {
        self.0
            .config
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Builds what `cell` holds, once, on first use: two threads asking at once do not both
    /// open the ledger (which verifies it) or compile the policy.
    fn once<T: Clone>(&self, cell: &OnceLock<T>, build: impl FnOnce() -> Result<T>) -> Result<T> {
        if let Some(v) = cell.get() {
            return Ok(v.clone());
        }
        let _building = self
            .0
            .init
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(v) = cell.get() {
            return Ok(v.clone());
        }
        let v = build()?;
        Ok(cell.get_or_init(|| v).clone())
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.0.clock
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.0.metrics
    }

    /// The store. Only the services of this crate read object content from it; edges read
    /// through [`crate::read::Reader`].
    pub(crate) fn store(&self) -> &dyn Backend {
        self.0.store.as_ref()
    }

    pub(crate) fn token_cache(&self) -> &TokenCache {
        &self.0.tokens
    }

    pub(crate) fn read_ahead(&self) -> &ReadAhead {
        &self.0.read_ahead
    }

    /// Creates what the server needs and `init` did not yet have: the generated keys, and (when
    /// TLS is configured and no certificate exists) a development certificate for localhost
    /// signed by a throw-away CA (`tls/ca.pem`).
    pub fn ensure_secrets(&self) -> Result<()> {
        secrets::ensure_keys(&self.0.dir)?;
        let config = self.config();
        let (cert, key) = (
            self.0.dir.join(&config.server.tls_cert),
            self.0.dir.join(&config.server.tls_key),
        );
        if !config.server.plain_http && !cert.exists() && !key.exists() {
            let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
            secrets::write_dev_certificate(&cert, &key, &self.dev_ca_path(), &names)?;
        }
        Ok(())
    }

    /// Where the development CA certificate is written (clients trust it to reach this node).
    pub fn dev_ca_path(&self) -> PathBuf {
        self.0
            .dir
            .join(&self.config().server.tls_cert)
            .with_file_name("ca.pem")
    }

    pub(crate) fn secret(&self, file: &str) -> Result<[u8; 32]> {
        self.ensure_secrets()?;
        secrets::read_key(&self.0.dir.join(file))
    }

    /// The key that authenticates paging cursors.
    pub fn cursor_key(&self) -> Result<[u8; 32]> {
        self.secret(secrets::CURSOR_KEY_FILE)
    }

    /// The transparency log, signing checkpoints with the node key. Opening it verifies it, so
    /// it is opened once per node and shared.
    pub fn ledger(&self) -> Result<Ledger> {
        if let Some(log) = self.0.ledger.get() {
            return Ok(log.clone());
        }
        let config = self.config();
        let log = Ledger::open(
            &self.0.dir.join(&config.ledger.dir),
            &config.ledger_origin(),
            self.signer()?,
        )?;
        Ok(self.0.ledger.get_or_init(|| log).clone())
    }

    /// Logs events, dated now, and waits until they are durable.
    pub(crate) fn log(&self, events: Vec<Event>) -> Result<()> {
        let now = self.0.clock.now_micros();
        self.ledger()?
            .record_wait(events.into_iter().map(|e| (now, e)).collect())?;
        Ok(())
    }

    fn signer(&self) -> Result<accord_ledger::NoteSigner> {
        let config = self.config();
        accord_ledger::NoteSigner::new(&config.ledger_origin(), &self.secret(secrets::NODE_KEY_FILE)?)
            .map_err(|e| NodeError::Misconfigured(format!("[ledger] origin: {e}")))
    }

    /// The verifier key of this node's transparency log.
    pub fn ledger_key(&self) -> Result<accord_ledger::VerifierKey> {
        Ok(self.signer()?.verifier())
    }

    /// The decision point every disclosure passes, built on first use.
    pub(crate) fn gate(&self) -> Result<Arc<Gate>> {
        self.once(&self.0.gate, || {
            let loaded = self.loaded();
            Ok(Arc::new(Gate::new(
                policy_engine(&self.0.dir, &loaded)?,
                loaded.config.collection_defaults(),
                self.secret(secrets::PSEUDONYM_KEY_FILE)?,
                self.0.clock.clone(),
            )))
        })
    }

    /// The decision point in force.
    pub fn policy_engine(&self) -> Result<Arc<accord_policy::Engine>> {
        Ok(self.gate()?.engine())
    }

    /// Builds the decision point from the configuration and policy files as they are, without
    /// touching the data directory (`accord policy check`).
    pub fn check_policy(&self) -> Result<accord_policy::Engine> {
        policy_engine(&self.0.dir, &self.loaded())
    }

    /// The partners as the node sees them: pinned keys, and this node's provenance signer.
    pub fn partners(&self) -> Result<Arc<Partners>> {
        self.once(&self.0.partners, || Ok(Arc::new(Partners::for_node(self)?)))
    }

    /// The principals and pinned client certificates, fixed when the node was opened.
    pub fn directory(&self) -> Arc<Directory> {
        self.0.directory.clone()
    }

    /// Logs that the configuration in force took effect (at start), before serving anything.
    pub fn log_config(&self, reason: &str) -> Result<()> {
        let event = config_event(&self.0.dir, &self.loaded(), &self.gate()?.engine(), reason)?;
        self.log(vec![event])
    }

    /// Re-reads the configuration and policy files and puts them in force as one: the decision
    /// point, collection defaults, partners and their keys, and this node's signing key. Logged
    /// before it takes effect. On any error the configuration in force stays. (Collections and
    /// principals stay as the node opened with.) Returns the new policy version.
    pub fn reload(&self) -> Result<String> {
        let loaded = Loaded::read(&self.0.dir)?;
        let engine = policy_engine(&self.0.dir, &loaded)?;
        let event = config_event(&self.0.dir, &loaded, &engine, "reload")?;
        let defaults = loaded.config.collection_defaults();
        // Checked before anything changes: keys that do not parse keep the old ones.
        let partners = crate::federation::PartnerTable::build(self, &loaded.config)?;
        let version = engine.version().to_owned();
        // INVARIANT: a configuration change is logged before it takes effect.
        self.log(vec![event])?;
        self.gate()?.replace(engine, defaults);
        self.partners()?.replace(partners);
        *self
            .0
            .config
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = loaded;
        Ok(version)
    }

    /// Resolves a collection given by id or alias (default: the first configured one).
    pub fn collection_id(&self, name: Option<&str>) -> Result<String> {
        let config = self.config();
        config.collection(name).map(|c| c.id.clone()).ok_or_else(|| {
            let known: Vec<String> = config
                .collections
                .iter()
                .map(|c| match &c.alias {
                    Some(a) => format!("{a} ({})", c.id),
                    None => c.id.clone(),
                })
                .collect();
            NodeError::NotFound(format!(
                "unknown collection {:?}; configured: {}",
                name.unwrap_or_default(),
                known.join(", ")
            ))
        })
    }

    /// Every collection with its counts (no content).
    pub fn collections(&self) -> Result<Vec<CollectionInfo>> {
        Ok(self.0.store.collections()?)
    }
}
