//! The service layer of an Accord node: everything between the pure cores (STIX, policy, ledger,
//! pattern, provenance, obligations) and the edges (TAXII, the command line, sync, and the web
//! UI to come). Every edge parses its input, calls one service here, and formats the result, so
//! that none can read or write around the policy or the ledger.
//!
//! - reads of object content: [`read::Reader`] (through the [`gate`]), and nothing else;
//! - writes: [`ingest`] (with [`quarantine`] for what fails provenance), [`delete`];
//! - who may use what: [`access`] (principals, collection rights, API tokens);
//! - time: [`clock`].

pub mod access;
mod background;
pub mod clock;
pub mod config;
pub mod corpus;
pub mod corroboration;
pub mod delete;
pub mod demo;
pub mod detect;
pub mod error;
pub mod export;
pub mod federation;
pub mod gate;
pub mod ingest;
pub mod jobs;
pub mod metrics;
pub mod node;
pub mod obligations;
pub mod policy;
pub mod quarantine;
pub mod read;
pub mod secrets;
pub mod validate;

pub use error::{NodeError, Result};
pub use node::Node;

// The store's and the ledger's types that edges need, re-exported so that an edge depends on
// neither crate, and so cannot open the store or write the ledger around the services.
pub use accord_ledger_files::{Ledger, LedgerError, query as ledger_query};
pub use accord_store::{
    CollectionInfo, Query, StatusDetail, StatusRecord, StoreError, StoredObject, VersionFilter,
};
