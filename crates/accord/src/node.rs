//! A node's data directory: its configuration and its store.

use std::path::{Path, PathBuf};

use accord_store::{CollectionSpec, SqliteStore, Store};
use anyhow::{Context, Result, anyhow, bail};

use crate::config::{CONFIG_FILE, Config, default_config_text};

/// An open data directory.
#[derive(Debug)]
pub struct Node {
    pub dir: PathBuf,
    pub config: Config,
    pub store: SqliteStore,
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
            store,
        })
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
