//! What the server serves: its API roots and collections, and who may do what.

use std::collections::{HashMap, HashSet};

/// The server's shape, built from the node configuration.
#[derive(Debug, Clone)]
pub struct ServerModel {
    pub title: String,
    pub description: Option<String>,
    pub contact: Option<String>,
    /// Name of the default API root, if any.
    pub default_root: Option<String>,
    pub roots: Vec<ApiRoot>,
    /// Key that authenticates `next` cursors, so clients cannot forge them.
    pub cursor_key: [u8; 32],
    /// Largest `limit` honoured; larger requests get this many.
    pub max_page: usize,
    /// `limit` when the client gives none.
    pub default_page: usize,
}

#[derive(Debug, Clone)]
pub struct ApiRoot {
    /// The path segment (`/{name}/`).
    pub name: String,
    pub title: String,
    pub description: Option<String>,
    pub max_content_length: usize,
    pub collections: Vec<Collection>,
}

#[derive(Debug, Clone)]
pub struct Collection {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub alias: Option<String>,
}

impl ServerModel {
    pub fn root(&self, name: &str) -> Option<&ApiRoot> {
        self.roots.iter().find(|r| r.name == name)
    }
}

impl ApiRoot {
    pub fn collection(&self, id: &str) -> Option<&Collection> {
        self.collections.iter().find(|c| c.id == id)
    }
}

/// Which collections a right covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Only(HashSet<String>),
}

impl Scope {
    pub fn covers(&self, collection: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(set) => set.contains(collection),
        }
    }
}

/// Someone making requests: a user or token holder of an organisation, or a partner node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub organisation: String,
    pub read: Scope,
    pub write: Scope,
    /// Oversight principals (a later issue) may never read object content.
    pub roles: Vec<String>,
}

/// The principals the node knows, and the client certificates that identify partner nodes.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub principals: HashMap<String, Principal>,
    /// SHA-256 of a partner's DER certificate → principal name.
    pub certificates: HashMap<[u8; 32], String>,
}
