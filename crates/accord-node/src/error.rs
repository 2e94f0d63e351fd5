//! What a service of the node can fail with. Each edge maps these to its own form (an HTTP
//! status and TAXII error body, an exit code and a line on stderr) in one place.

use std::path::PathBuf;

/// Every failure of a node service. Messages are lowercase and name the input and where.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The request is malformed or refers to something impossible: the caller's fault.
    #[error("{0}")]
    Invalid(String),
    /// Not there, or not visible to the one asking (the two are not told apart).
    #[error("{0}")]
    NotFound(String),
    /// Authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The node is shutting down and takes no more work.
    #[error("the node is shutting down")]
    Unavailable,
    #[error(transparent)]
    Store(#[from] accord_store::StoreError),
    /// The transparency log failed: nothing that needed an entry happened.
    #[error(transparent)]
    Ledger(#[from] accord_ledger_files::LedgerError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Policy(#[from] accord_policy::PolicyError),
    #[error(transparent)]
    Provenance(#[from] accord_provenance::ProvenanceError),
    #[error(transparent)]
    Obligations(#[from] accord_obligations::ObligationError),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// The node's own configuration, keys or files cannot be used: the operator's to fix.
    #[error("{0}")]
    Misconfigured(String),
    /// Stored data that does not read back as it was written.
    #[error("{0}")]
    Corrupt(String),
    /// A failure of the node itself (a thread that could not start, no randomness).
    #[error("{0}")]
    Internal(String),
}

impl NodeError {
    /// An I/O failure on `path` (the message says the path and the system's reason).
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> NodeError {
        let path = path.into();
        move |source| NodeError::Io { path, source }
    }
}

pub type Result<T, E = NodeError> = std::result::Result<T, E>;
