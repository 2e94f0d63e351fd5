//! The TAXII 2.1 server, an edge of the node: every endpoint of the spec, HTTP Basic and Bearer
//! token authentication, pinned client certificates, signed paging cursors, the ledger for
//! oversight, and TLS (rustls). Each handler parses the request, calls one service of
//! `accord-node` (which authorises, decides, logs and stores), and formats the answer.

pub mod access;
pub mod error;
mod handlers;
mod oversight;
pub mod query;
pub mod roots;
pub mod server;
pub mod tls;

use std::sync::Arc;
use std::time::Instant;

use accord_node::Node;
use accord_node::ingest::worker::Ingestor;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;

pub use roots::{ApiRoot, Collection, ServerModel};

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
    /// The node: every service a handler calls.
    pub node: Node,
    pub model: Arc<ServerModel>,
    pub cursors: query::Cursors,
    /// Where POSTed objects are queued for processing.
    pub ingest: Ingestor,
    /// Whether the server is reached over TLS (for the URLs it hands out, and the policy's
    /// facts about the channel).
    pub tls: bool,
    /// Host (and port) to put in URLs when a request carries no Host header.
    pub public_host: String,
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
        get(oversight::checkpoint).post(oversight::new_checkpoint),
    );
    r = both(r, "/audit/v1/key/", get(oversight::key));
    r = both(r, "/audit/v1/entries/", get(oversight::entries));
    r = both(r, "/audit/v1/proof/inclusion/", get(oversight::inclusion));
    r = both(r, "/audit/v1/proof/consistency/", get(oversight::consistency));
    r = both(r, "/audit/v1/query/", get(oversight::query));
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
        .layer(middleware::map_response(error::taxii_error_bodies))
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
        .node
        .metrics()
        .request(&route, method.as_str(), status, elapsed.as_secs_f64());
    let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    tracing::info!(target: "accord::access", %method, %path, status, latency_us, "request");
    resp
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Node(#[from] accord_node::NodeError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("[api_roots]: {0}")]
    Roots(String),
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
}

/// A TAXII server ready to run for a node: its API roots and TLS configuration, built and
/// checked before anything starts, so that a bad certificate or API root fails the start before
/// the node logs or schedules anything.
pub struct Prepared {
    node: Node,
    model: ServerModel,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// Prepares the TAXII server of `node`: API roots from its configuration, TLS as configured.
pub fn prepare(node: &Node) -> Result<Prepared, ServeError> {
    let config = node.config();
    let model = ServerModel::from_config(&config, node.cursor_key()?).map_err(ServeError::Roots)?;
    let tls = if config.server.plain_http {
        None
    } else {
        let dir = node.dir();
        Some(tls::server_config(
            &dir.join(&config.server.tls_cert),
            &dir.join(&config.server.tls_key),
        )?)
    };
    Ok(Prepared {
        node: node.clone(),
        model,
        tls,
    })
}

impl Prepared {
    /// Serves on `listener` until `shutdown` resolves: POSTs processed in the background
    /// (statuses left pending by an earlier run first). In-flight requests and queued POSTs
    /// finish before this returns. `ready` is told the address once connections are accepted.
    pub async fn run(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()>,
        ready: impl FnOnce(std::net::SocketAddr),
    ) -> Result<(), ServeError> {
        let Prepared { node, model, tls } = self;
        let addr = listener.local_addr()?;
        let (ingest, worker) = Ingestor::start(&node);
        let state = AppState::new(Shared {
            cursors: query::Cursors::new(node.cursor_key()?),
            node,
            model: Arc::new(model),
            ingest,
            tls: tls.is_some(),
            public_host: addr.to_string(),
        });
        ready(addr);
        let limits = server::Limits::from_config(&state.node.config().server).fit_open_files();
        let metrics = state.node.metrics().clone();
        server::serve(listener, app(state), tls, limits, metrics, shutdown).await?;
        tracing::info!("connections drained; finishing queued requests");
        worker.finish().await;
        Ok(())
    }
}
