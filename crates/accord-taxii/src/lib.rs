//! The TAXII 2.1 server: every endpoint of the spec over one store, with HTTP Basic and Bearer
//! token authentication, pinned client certificates, per-collection authorisation through one
//! function, signed paging cursors, background processing of POSTs with durable status resources,
//! Prometheus metrics, and TLS (rustls). Only this crate knows HTTP.

pub mod access;
mod audit;
mod background;
pub mod error;
pub mod gate;
mod handlers;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod pages;
pub mod query;
pub mod server;
pub mod tls;

use std::sync::Arc;
use std::time::Instant;

use accord_store::Backend;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;

pub use ingest::{IngestWorker, Ingestor};
pub use metrics::Metrics;
pub use model::{ApiRoot, Collection, Directory, Principal, Scope, ServerModel};

/// The media type of TAXII 2.1 resources.
pub const MEDIA_TYPE_TAXII: &str = "application/taxii+json;version=2.1";
/// The media type of STIX 2.1 objects.
pub const MEDIA_TYPE_STIX: &str = "application/stix+json;version=2.1";

/// Everything the handlers share, behind one reference count: axum clones the state for every
/// extractor and middleware that takes it, so a count per field would be paid on each request.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    pub backend: Arc<dyn Backend>,
    pub model: Arc<ServerModel>,
    pub directory: Arc<Directory>,
    pub cursors: query::Cursors,
    pub ingest: Ingestor,
    pub metrics: Arc<Metrics>,
    /// Whether the server is reached over TLS (for the URLs it hands out).
    pub tls: bool,
    /// Host (and port) to put in URLs when a request carries no Host header.
    pub public_host: String,
    pub max_object_bytes: usize,
    pub tokens: Arc<access::TokenCache>,
    /// The policy decision point every read passes through.
    pub gate: Arc<gate::Gate>,
    /// The transparency log: every decision, share, ingest and deletion, durable before the
    /// response.
    pub audit: accord_audit::AuditLog,
    /// Signs what partner nodes read (their principals), so their pulls can verify provenance.
    pub outbound: Option<Arc<dyn Outbound>>,
    /// Next pages being read while clients take in the current ones.
    pub read_ahead: Arc<pages::ReadAhead>,
}

/// Provenance for objects read by partner nodes over TAXII.
pub trait Outbound: Send + Sync + std::fmt::Debug {
    /// Whether reads by this principal are signed.
    fn applies(&self, principal: &str) -> bool;
    /// The signed JSON of a released version; `original` is the stored version's hash when the
    /// released copy was redacted.
    fn sign(
        &self,
        released: &accord_store::StoredObject,
        original: Option<&accord_stix::ContentHash>,
    ) -> Result<String, String>;
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("model", &self.model)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// Adds a route under its canonical path (with trailing slash) and without the slash.
fn both(
    router: Router<AppState>,
    path: &str,
    method: axum::routing::MethodRouter<AppState>,
) -> Router<AppState> {
    let bare = path.trim_end_matches('/');
    router.route(path, method.clone()).route(bare, method)
}

/// The whole HTTP surface, as a router tests can drive without a socket.
pub fn app(state: AppState) -> Router {
    let max_body = state
        .model
        .roots
        .iter()
        .map(|r| r.max_content_length)
        .max()
        .unwrap_or(0)
        .saturating_add(1);
    let mut r = Router::new();
    r = both(r, "/taxii2/", get(handlers::discovery));
    r = both(r, "/metrics/", get(handlers::metrics));
    r = both(
        r,
        "/audit/v1/checkpoint/",
        get(audit::checkpoint).post(audit::new_checkpoint),
    );
    r = both(r, "/audit/v1/key/", get(audit::key));
    r = both(r, "/audit/v1/entries/", get(audit::entries));
    r = both(r, "/audit/v1/proof/inclusion/", get(audit::inclusion));
    r = both(r, "/audit/v1/proof/consistency/", get(audit::consistency));
    r = both(r, "/audit/v1/query/", get(audit::query));
    r = both(r, "/{root}/", get(handlers::api_root));
    r = both(r, "/{root}/status/{id}/", get(handlers::status));
    r = both(r, "/{root}/collections/", get(handlers::collections));
    r = both(r, "/{root}/collections/{cid}/", get(handlers::collection_info));
    r = both(r, "/{root}/collections/{cid}/manifest/", get(handlers::manifest));
    r = both(
        r,
        "/{root}/collections/{cid}/objects/",
        get(handlers::get_objects).post(handlers::add_objects),
    );
    r = both(
        r,
        "/{root}/collections/{cid}/objects/{oid}/",
        get(handlers::get_object).delete(handlers::delete_object),
    );
    r = both(
        r,
        "/{root}/collections/{cid}/objects/{oid}/versions/",
        get(handlers::versions),
    );
    r.fallback(handlers::not_found)
        // Each API root enforces its own max_content_length (413) in the handler.
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Records each request in the metrics and in the access log (one INFO event: method, path,
/// status, latency). Metrics label by route template, never the concrete path, so object ids do not
/// become label values. Headers, and so credentials, are never logged.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let start = Instant::now();
    let resp = next.run(req).await;
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    state
        .metrics
        .request(&route, method.as_str(), status, elapsed.as_secs_f64());
    let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    tracing::info!(target: "accord::access", %method, %path, status, latency_us, "request");
    resp
}
