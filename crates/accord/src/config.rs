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
        Ok(config)
    }

    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.into(),
            message,
        };
        if self.collections.is_empty() {
            return Err(invalid("at least one [[collections]] entry is required".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for c in &self.collections {
            accord_store::check_collection_id(&c.id).map_err(|e| invalid(e.to_string()))?;
            if !seen.insert(c.id.as_str()) || c.alias.as_deref().is_some_and(|a| !seen.insert(a)) {
                return Err(invalid(format!(
                    "collection id or alias {:?} is used twice",
                    c.id
                )));
            }
        }
        if self.limits.max_object_bytes == 0 {
            return Err(invalid("limits.max_object_bytes must be positive".into()));
        }
        Ok(())
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
"#,
        max = accord_stix::DEFAULT_MAX_OBJECT_BYTES,
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
        assert_eq!(c.collection(None).unwrap().id, "a1b2");
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
