//! The TAXII 2.1 client side of synchronisation between nodes (and with any TAXII 2.1 server,
//! such as medallion): paged object reads that follow `more`/`next` and report the
//! `X-TAXII-Date-Added-Last` cursor, envelope posts (split to the API root's `max_content_length`)
//! whose status is polled until complete, TLS and mTLS via rustls, plain HTTP only to loopback
//! addresses, retries with exponential backoff and full jitter, and a minimum interval between
//! requests per partner.
//!
//! It is also the node's one HTTPS client: [`client_config`] is the TLS client configuration,
//! [`check_url`] decides which URLs may be contacted, and [`Https`] makes authenticated requests
//! to a node outside the TAXII API (the ledger monitor's reads).
//!
//! On top of the client, two edges of the node: [`exchange`] (pull from and push to partners,
//! through the node's ingest path and gated reader) and [`monitor`] (verify a node's ledger
//! against a pinned key, answer oversight queries).

mod address;
mod backoff;
mod client;
mod envelope;
pub mod error;
pub mod exchange;
mod https;
pub mod monitor;
mod tls;

pub use address::{check_url, is_loopback};
pub use backoff::Backoff;
pub use client::{Client, Endpoint, Page, Status};
pub use envelope::{envelope_len, envelope_len_of, envelopes};
pub use https::{Https, MAX_BODY, Response};
pub use tls::client_config;

/// The TAXII 2.1 media type (TAXII 2.1 section 1.6.8).
pub const TAXII: &str = "application/taxii+json;version=2.1";
/// The `Accept` value of TAXII 2.1 requests.
pub const ACCEPT_TAXII: &str = TAXII;
/// The `Content-Type` value of TAXII 2.1 request bodies.
pub const CONTENT_TYPE_TAXII: &str = TAXII;

/// Header names the client sends or reads.
pub const ACCEPT: &str = "Accept";
pub const CONTENT_TYPE: &str = "Content-Type";
pub const AUTHORIZATION: &str = "Authorization";
/// The cursor a page of objects ends at (TAXII 2.1 section 3.3.1).
pub const DATE_ADDED_LAST: &str = "X-TAXII-Date-Added-Last";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("{url}: HTTP {status}: {body}")]
    Http { url: String, status: u16, body: String },
    #[error("{url}: {message}")]
    Transport { url: String, message: String },
    #[error("{url}: not a TAXII 2.1 answer: {message}")]
    Protocol { url: String, message: String },
    /// An answer that cannot be used (too large, not text, not JSON) outside the TAXII API.
    #[error("{url}: {message}")]
    Answer { url: String, message: String },
    /// A URL that may not be contacted, or is not one.
    #[error("{url}: {message}")]
    Url { url: String, message: String },
    #[error("{0}")]
    Config(String),
}

impl SyncError {
    /// Whether trying again later may succeed (network trouble, overload, server errors).
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Transport { .. } => true,
            SyncError::Http { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// How a client proves who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Basic { user: String, password: String },
    Bearer(String),
}
