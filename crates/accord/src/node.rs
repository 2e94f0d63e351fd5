//! A node's data directory: its configuration and its store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use accord_store::{CollectionSpec, SqliteStore, Store};
use anyhow::{Context, Result, anyhow, bail};

use crate::config::{CONFIG_FILE, Config, default_config_text};

/// An open data directory.
#[derive(Debug)]
pub struct Node {
    pub dir: PathBuf,
    pub config: Config,
    pub store: Arc<SqliteStore>,
    /// The transparency log, opened (and verified) once per process on first use.
    audit: std::sync::OnceLock<accord_audit::AuditLog>,
}

const CURSOR_KEY_FILE: &str = "secrets/cursor.key";
/// The master key each agreement's pseudonymisation key is derived from.
const PSEUDONYM_KEY_FILE: &str = "secrets/pseudonym.key";
/// The node's Ed25519 signing key (seed): it signs the transparency log's checkpoints.
const NODE_KEY_FILE: &str = "secrets/node.key";
/// The node's Ed25519 provenance key (seed): it signs the objects this node originates or redacts.
pub const SIGNING_KEY_FILE: &str = "secrets/signing.key";
/// Key rotation statements of partners, accepted after checking them against the pinned keys.
pub const ROTATIONS_DIR: &str = "partners/rotations";

/// Writes a file only its owner can read (mode 0600), creating its directory.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// The operator policy files a configuration names (relative to `dir`), and the SHA-256 (hex)
/// of the configuration and those files: what labels the engine and what the transparency log
/// records when a configuration takes effect.
fn policy_sources(dir: &Path, config: &Config) -> Result<(Vec<accord_policy::Source>, String)> {
    use sha2::Digest;
    let mut digest = sha2::Sha256::new();
    digest.update(toml::to_string(config).unwrap_or_default());
    let mut sources = Vec::new();
    for file in &config.policy.policy_files {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read policy file {}", path.display()))?;
        digest.update(&text);
        sources.push(accord_policy::Source {
            name: path.display().to_string(),
            text,
        });
    }
    Ok((sources, hex::encode(digest.finalize())))
}

/// SHA-256 (hex) of a configuration and its operator policy files.
pub fn config_digest(dir: &Path, config: &Config) -> Result<String> {
    Ok(policy_sources(dir, config)?.1)
}

/// The log entry for a configuration taking effect.
pub fn config_event(
    dir: &Path,
    config: &Config,
    engine: &accord_policy::Engine,
    reason: &str,
) -> Result<accord_ledger::Event> {
    Ok(accord_ledger::Event::Config(accord_ledger::entry::ConfigChange {
        reason: reason.to_owned(),
        config_sha256: config_digest(dir, config)?,
        policy: engine.version().to_owned(),
    }))
}

/// Builds the decision point from a configuration and the operator policy files it names
/// (relative to `dir`). The engine is labelled with the SHA-256 of the configuration and policies.
pub fn policy_engine(dir: &Path, config: &Config) -> Result<accord_policy::Engine> {
    let model = accord_policy::Model::build(config.model_spec()).map_err(|e| anyhow!("{e}"))?;
    let (sources, digest) = policy_sources(dir, config)?;
    Ok(accord_policy::Engine::new(model, &sources)?.with_version(digest[..16].to_owned()))
}

/// What `init` created.
#[derive(Debug, serde::Serialize)]
pub struct Initialised {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub store: PathBuf,
    pub collections: Vec<String>,
}

impl Node {
    /// Creates a data directory with a commented default configuration and an empty store.
    /// Refuses to overwrite an existing configuration.
    pub fn init(dir: &Path) -> Result<Initialised> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let config_path = dir.join(CONFIG_FILE);
        if config_path.exists() {
            bail!(
                "{} already exists; refusing to overwrite it",
                config_path.display()
            );
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
        // Write to a temporary name and rename, so a crash never leaves a half-written config.
        let tmp = dir.join(format!(".{CONFIG_FILE}.tmp"));
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &config_path)
            .with_context(|| format!("cannot write {}", config_path.display()))?;
        let node = Node::open(dir)?;
        node.ensure_secrets()?;
        Ok(Initialised {
            dir: dir.to_path_buf(),
            store: dir.join(&node.config.store.path),
            config: config_path,
            collections: node.config.collections.iter().map(|c| c.id.clone()).collect(),
        })
    }

    /// Opens an initialised data directory and makes sure the configured collections exist.
    pub fn open(dir: &Path) -> Result<Node> {
        let config_path = dir.join(CONFIG_FILE);
        if !config_path.exists() {
            bail!(
                "{} has no {CONFIG_FILE}; run `accord init {}` first",
                dir.display(),
                dir.display()
            );
        }
        let config = Config::load(&config_path)?;
        let store_path = dir.join(&config.store.path);
        let store = SqliteStore::open(&store_path)?;
        for c in &config.collections {
            store.ensure_collection(&CollectionSpec {
                id: c.id.clone(),
                title: c.title.clone(),
                description: c.description.clone(),
                alias: c.alias.clone(),
            })?;
        }
        Ok(Node {
            dir: dir.to_path_buf(),
            config,
            store: Arc::new(store),
            audit: std::sync::OnceLock::new(),
        })
    }

    /// Creates what the server needs and `init` did not yet have: the key that signs paging
    /// cursors, and (when TLS is configured and no certificate exists) a development certificate
    /// for localhost signed by a throw-away CA (`tls/ca.pem`). Secret files get mode 0600.
    pub fn ensure_secrets(&self) -> Result<()> {
        for file in [
            CURSOR_KEY_FILE,
            PSEUDONYM_KEY_FILE,
            NODE_KEY_FILE,
            SIGNING_KEY_FILE,
        ] {
            let key = self.dir.join(file);
            if !key.exists() {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes).map_err(|e| anyhow!("no randomness: {e}"))?;
                write_private(&key, hex::encode(bytes).as_bytes())?;
            }
        }
        let (cert, tls_key) = (
            self.dir.join(&self.config.server.tls_cert),
            self.dir.join(&self.config.server.tls_key),
        );
        if !self.config.server.plain_http && !cert.exists() && !tls_key.exists() {
            let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
            accord_taxii::tls::write_dev_certificate(&cert, &tls_key, &self.dev_ca_path(), &names)?;
        }
        Ok(())
    }

    /// Where the development CA certificate is written (clients trust it to reach this node).
    pub fn dev_ca_path(&self) -> PathBuf {
        let cert = self.dir.join(&self.config.server.tls_cert);
        cert.with_file_name("ca.pem")
    }

    /// The key that authenticates paging cursors.
    pub fn cursor_key(&self) -> Result<[u8; 32]> {
        self.secret(CURSOR_KEY_FILE)
    }

    /// The policy decision point for this node's configuration and operator policy files.
    pub fn policy_engine(&self) -> Result<accord_policy::Engine> {
        policy_engine(&self.dir, &self.config)
    }

    /// The egress gate (decision point, pseudonymisation key and store lookups).
    pub fn gate(&self) -> Result<accord_taxii::gate::Gate> {
        self.ensure_secrets()?;
        Ok(accord_taxii::gate::Gate::new(
            self.policy_engine()?,
            self.config.collection_defaults(),
            self.secret(PSEUDONYM_KEY_FILE)?,
        ))
    }

    /// The transparency log, signing checkpoints with the node key. Opening it verifies the whole
    /// log, so it is opened once per process and shared.
    /// The same node (store and transparency log) under a configuration re-read from disk: what a
    /// running server switches to on SIGHUP.
    pub fn with_config(&self, config: Config) -> Node {
        let audit = std::sync::OnceLock::new();
        if let Some(log) = self.audit.get() {
            let _ = audit.set(log.clone());
        }
        Node {
            dir: self.dir.clone(),
            config,
            store: self.store.clone(),
            audit,
        }
    }

    pub fn audit_log(&self) -> Result<accord_audit::AuditLog> {
        if let Some(log) = self.audit.get() {
            return Ok(log.clone());
        }
        let log = accord_audit::AuditLog::open(
            &self.dir.join(&self.config.audit.dir),
            &self.config.audit_origin(),
            self.signer()?,
        )?;
        Ok(self.audit.get_or_init(|| log).clone())
    }

    fn signer(&self) -> Result<accord_ledger::NoteSigner> {
        self.ensure_secrets()?;
        accord_ledger::NoteSigner::new(&self.config.audit_origin(), &self.secret(NODE_KEY_FILE)?)
            .map_err(|e| anyhow!("[audit] origin: {e}"))
    }

    /// The verifier key of this node's transparency log.
    pub fn audit_key(&self) -> Result<accord_ledger::VerifierKey> {
        Ok(self.signer()?.verifier())
    }

    /// This node's provenance signer.
    pub fn provenance_signer(&self) -> Result<accord_provenance::NodeSigner> {
        self.ensure_secrets()?;
        Ok(accord_provenance::NodeSigner::new(
            &self.config.node.name,
            &self.secret(SIGNING_KEY_FILE)?,
        )?)
    }

    /// Replaces this node's provenance key. Returns the rotation statement, signed by the old
    /// key, that partners accept to pin the new one; the old key is kept beside it, retired.
    pub fn rotate_signing_key(&self, at: &str) -> Result<String> {
        let old = self.provenance_signer()?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| anyhow!("no randomness: {e}"))?;
        let new = accord_provenance::NodeSigner::new(&self.config.node.name, &seed)?;
        let statement = old.rotate_to(&new.public(), at);
        let current = self.dir.join(SIGNING_KEY_FILE);
        let retired = current.with_file_name(format!("signing.key.{}.retired", old.public().key_id));
        std::fs::rename(&current, &retired)
            .with_context(|| format!("cannot retire {}", current.display()))?;
        write_private(&current, hex::encode(seed).as_bytes())?;
        Ok(statement)
    }

    /// The partner keys pinned in the configuration, with the rotations accepted since.
    pub fn keyring(&self) -> Result<accord_provenance::Keyring> {
        let mut ring = accord_provenance::Keyring::new();
        for p in &self.config.partners {
            for k in &p.keys {
                ring.pin(accord_provenance::PublicKey::parse(k)?);
            }
        }
        let dir = self.dir.join(ROTATIONS_DIR);
        if dir.exists() {
            let mut files: Vec<_> = std::fs::read_dir(&dir)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            // Named by time, so they apply in the order they happened.
            files.sort();
            for f in files {
                let text = std::fs::read_to_string(&f)?;
                ring.apply_rotation(&text)
                    .with_context(|| format!("{}", f.display()))?;
            }
        }
        Ok(ring)
    }

    fn secret(&self, file: &str) -> Result<[u8; 32]> {
        let path = self.dir.join(file);
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut key = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut key).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        Ok(key)
    }

    /// Resolves a collection given by id or alias (default: the first configured one).
    pub fn collection_id(&self, name: Option<&str>) -> Result<String> {
        self.config.collection(name).map(|c| c.id.clone()).ok_or_else(|| {
            let known: Vec<String> = self
                .config
                .collections
                .iter()
                .map(|c| match &c.alias {
                    Some(a) => format!("{a} ({})", c.id),
                    None => c.id.clone(),
                })
                .collect();
            anyhow!(
                "unknown collection {:?}; configured: {}",
                name.unwrap_or_default(),
                known.join(", ")
            )
        })
    }
}
