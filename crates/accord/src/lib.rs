//! The `accord` command's library: configuration, data directories, and the import, export and
//! validation pipelines that `main.rs` wires to the command line.

pub mod audit;
pub mod check;
pub mod config;
pub mod corpus;
pub mod corroboration;
pub mod demo;
pub mod detect;
pub mod export;
pub mod federation;
pub mod ingest;
pub mod logging;
pub mod node;
pub mod obligations;
pub mod policy;
pub mod reader;
pub mod report;
pub mod retention;
pub mod serve;
pub mod sync;
