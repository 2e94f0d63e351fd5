//! The one table that maps every failure to an HTTP status and a TAXII error body.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::MEDIA_TYPE_TAXII;

/// Everything a TAXII request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum TaxiiError {
    #[error("authentication required")]
    Unauthenticated,
    #[error("invalid credentials")]
    BadCredentials,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("the Accept header does not allow application/taxii+json;version=2.1")]
    NotAcceptable,
    #[error("Content-Type must be application/taxii+json;version=2.1, not {0:?}")]
    UnsupportedMediaType(String),
    #[error("request body of {size} bytes exceeds max_content_length ({limit} bytes)")]
    TooLarge { size: u64, limit: usize },
    #[error("{0}")]
    Unprocessable(String),
    #[error("the server is shutting down")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<accord_node::NodeError> for TaxiiError {
    fn from(e: accord_node::NodeError) -> Self {
        use accord_node::NodeError;
        match e {
            NodeError::Invalid(m) => TaxiiError::BadRequest(m),
            NodeError::NotFound(m) => TaxiiError::NotFound(m),
            NodeError::Forbidden(m) => TaxiiError::Forbidden(m),
            NodeError::Unavailable => TaxiiError::Unavailable,
            NodeError::Store(e) => e.into(),
            NodeError::Ledger(e) => e.into(),
            other => {
                tracing::error!(error = %other, "node failure");
                TaxiiError::Internal("node failure".into())
            }
        }
    }
}

impl From<accord_node::StoreError> for TaxiiError {
    fn from(e: accord_node::StoreError) -> Self {
        match e {
            accord_node::StoreError::UnknownCollection(c) => {
                TaxiiError::NotFound(format!("unknown collection {c:?}"))
            }
            other => {
                tracing::error!(error = %other, "store failure");
                TaxiiError::Internal("storage failure".into())
            }
        }
    }
}

impl From<accord_node::LedgerError> for TaxiiError {
    fn from(e: accord_node::LedgerError) -> Self {
        match e {
            // A proof that cannot be made for the sizes asked is the request's fault; a leaf hash
            // that cannot be read back, or does not match the tree, is the node's.
            accord_node::LedgerError::Proof(ref p)
                if !matches!(
                    p,
                    accord_ledger::ProofError::LeafUnavailable { .. }
                        | accord_ledger::ProofError::LeafMismatch { .. }
                ) =>
            {
                TaxiiError::BadRequest(p.to_string())
            }
            accord_node::LedgerError::Range { .. } => TaxiiError::BadRequest(e.to_string()),
            other => {
                // Nothing is disclosed without its ledger entry: fail closed.
                tracing::error!(error = %other, "ledger failure");
                TaxiiError::Internal("ledger failure; nothing was disclosed".into())
            }
        }
    }
}

/// The TAXII 2.1 error message resource (section 3.6.1).
#[derive(Debug, Serialize)]
struct ErrorBody {
    title: &'static str,
    description: String,
    http_status: String,
}

impl TaxiiError {
    /// Status code and title: the whole mapping, in one place.
    pub fn status(&self) -> (StatusCode, &'static str) {
        match self {
            TaxiiError::Unauthenticated | TaxiiError::BadCredentials => {
                (StatusCode::UNAUTHORIZED, "Unauthorized")
            }
            TaxiiError::Forbidden(_) => (StatusCode::FORBIDDEN, "Forbidden"),
            TaxiiError::NotFound(_) => (StatusCode::NOT_FOUND, "Not Found"),
            TaxiiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "Bad Request"),
            TaxiiError::NotAcceptable => (StatusCode::NOT_ACCEPTABLE, "Not Acceptable"),
            TaxiiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported Media Type")
            }
            TaxiiError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large"),
            TaxiiError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Unprocessable Entity"),
            TaxiiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
            TaxiiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        }
    }
}

/// Most bytes of a foreign error body (an extractor's or the framework's) kept as the description.
const FOREIGN_DESCRIPTION: usize = 512;

/// Gives every error response the TAXII error body. The handlers' own errors have it already;
/// this catches the rest at one place: rejections by extractors (a path segment that is not
/// UTF-8, say), the framework's 405 and 413, so that no route answers an error in plain text.
pub(crate) async fn taxii_error_bodies(resp: Response) -> Response {
    let status = resp.status();
    let is_taxii = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/taxii+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_taxii {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, FOREIGN_DESCRIPTION * 4)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let mut description: String = text.chars().take(FOREIGN_DESCRIPTION).collect();
    if description.is_empty() {
        description = status.canonical_reason().unwrap_or("error").to_owned();
    }
    let body = ErrorBody {
        title: status.canonical_reason().unwrap_or("Error"),
        description,
        http_status: status.as_u16().to_string(),
    };
    let mut resp = Response::from_parts(parts, serde_json::to_string(&body).unwrap_or_default().into());
    let headers = resp.headers_mut();
    headers.remove(header::CONTENT_LENGTH);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE_TAXII));
    resp
}

impl IntoResponse for TaxiiError {
    fn into_response(self) -> Response {
        let (status, title) = self.status();
        let body = ErrorBody {
            title,
            description: self.to_string(),
            http_status: status.as_u16().to_string(),
        };
        let mut resp = (status, serde_json::to_string(&body).unwrap_or_default()).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE_TAXII));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"accord\", Bearer"),
            );
        }
        resp
    }
}
