//! What synchronising with a partner or monitoring a node's ledger can fail with, beyond the
//! HTTP client's own errors.

use std::path::PathBuf;

use crate::SyncError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Http(#[from] SyncError),
    #[error(transparent)]
    Node(#[from] accord_node::NodeError),
    #[error(transparent)]
    Ledger(#[from] accord_node::LedgerError),
    /// Something the partner, the node or the operator gave that cannot be used, named.
    #[error("{0}")]
    Invalid(String),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// Writing out an answer failed (a closed pipe, say).
    #[error("cannot write the answer: {0}")]
    Write(#[source] std::io::Error),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
