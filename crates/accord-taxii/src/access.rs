//! Authentication over HTTP: an `Authorization` header (HTTP Basic, or Bearer API tokens) or a
//! pinned client certificate proves which of the node's principals is asking. Whether it may,
//! is `accord_node::access::authorize`'s question.

use accord_node::Node;
use accord_node::access::Principal;
use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::TaxiiError;

/// The SHA-256 fingerprint of the client certificate a TLS connection presented, if any.
#[derive(Debug, Clone, Copy)]
pub struct PeerCertificate(pub [u8; 32]);

/// The token id and secret an `Authorization` header carries.
fn credentials(value: &str) -> Option<(String, String)> {
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD.decode(rest.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        Some((id.to_owned(), secret.to_owned()))
    } else if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token") {
        // `Token` is what taxii2-client's TokenAuth sends.
        let (id, secret) = rest.trim().split_once('.')?;
        Some((id.to_owned(), secret.to_owned()))
    } else {
        None
    }
}

/// Proves who is asking: an `Authorization` header if present, else a pinned client certificate.
/// A wrong credential is never silently ignored in favour of another.
pub fn authenticate(
    headers: &HeaderMap,
    peer: Option<PeerCertificate>,
    node: &Node,
) -> Result<Principal, TaxiiError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| TaxiiError::BadCredentials)?;
        let (id, secret) = credentials(value).ok_or(TaxiiError::BadCredentials)?;
        return node
            .token_principal(&id, &secret)?
            .ok_or(TaxiiError::BadCredentials);
    }
    peer.and_then(|PeerCertificate(fp)| node.certificate_principal(&fp))
        .ok_or(TaxiiError::Unauthenticated)
}
