//! The transparency log over HTTP, for oversight: the latest checkpoint (and a fresh one on
//! demand), entries by range, inclusion and consistency proofs, and metadata queries. Entries
//! hold identifiers and hashes only, so nothing here reaches object content.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::AppState;
use crate::error::TaxiiError;
use crate::handlers::{Auth, blocking};
use accord_node::access::{Action, authorize};

type Result<T> = std::result::Result<T, TaxiiError>;

/// Most entries returned by one entries request.
pub const MAX_ENTRIES: u64 = 10_000;

type Params = std::collections::HashMap<String, String>;

/// A request by a principal that may read the ledger, with its query parameters and the ledger.
pub struct Oversight(Params, accord_node::Ledger);

impl FromRequestParts<AppState> for Oversight {
    type Rejection = TaxiiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let Auth(who) = Auth::from_request_parts(parts, state).await?;
        authorize(&who, Action::Audit, "ledger")?;
        let raw = parts.uri.query().unwrap_or_default();
        Ok(Oversight(
            form_urlencoded::parse(raw.as_bytes()).into_owned().collect(),
            state.node.ledger()?,
        ))
    }
}

fn number(p: &Params, name: &str) -> Result<Option<u64>> {
    p.get(name)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                TaxiiError::BadRequest(format!("parameter {name}: {v:?} is not a non-negative integer"))
            })
        })
        .transpose()
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

fn b64(hashes: &[accord_ledger::Hash]) -> Vec<String> {
    hashes.iter().map(|h| STANDARD.encode(h)).collect()
}

/// The latest signed checkpoint (C2SP tlog-checkpoint, text/plain).
pub async fn checkpoint(Oversight(_, log): Oversight) -> Result<Response> {
    let note = match log.latest_checkpoint() {
        Some((_, note)) => note,
        None => blocking(move || Ok(log.checkpoint()?)).await?,
    };
    Ok(text(StatusCode::OK, "text/plain; charset=utf-8", note))
}

/// Signs a checkpoint of the log as it is now (on demand).
pub async fn new_checkpoint(Oversight(_, log): Oversight) -> Result<Response> {
    let note = blocking(move || Ok(log.checkpoint()?)).await?;
    Ok(text(StatusCode::OK, "text/plain; charset=utf-8", note))
}

/// The verifier key checkpoints are signed with (pin it from a trusted copy, not from here).
pub async fn key(Oversight(_, log): Oversight) -> Result<Response> {
    Ok(text(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        format!("{}\n", log.verifier()),
    ))
}

/// Entries `start..end`, exactly as stored, one per line (application/x-ndjson).
pub async fn entries(Oversight(p, log): Oversight) -> Result<Response> {
    let size = log.size();
    let start = number(&p, "start")?.unwrap_or(0);
    let end = number(&p, "end")?
        .unwrap_or(size)
        .min(start.saturating_add(MAX_ENTRIES))
        .min(size);
    if start > end {
        return Err(TaxiiError::BadRequest(format!(
            "start {start} is beyond the log's {size} entries"
        )));
    }
    let lines = blocking(move || Ok(log.entries(start, end)?)).await?;
    let mut body = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for l in lines {
        body.extend_from_slice(&l);
        body.push(b'\n');
    }
    let mut resp = text(
        StatusCode::OK,
        "application/x-ndjson",
        String::from_utf8(body).map_err(|_| TaxiiError::Internal("ledger entries are not UTF-8".into()))?,
    );
    for (name, value) in [
        ("x-accord-log-start", start),
        ("x-accord-log-end", end),
        ("x-accord-log-size", size),
    ] {
        resp.headers_mut().insert(name, HeaderValue::from(value));
    }
    Ok(resp)
}

/// The inclusion proof of entry `index` in the tree of `size` entries (default: the latest
/// checkpoint's size).
pub async fn inclusion(Oversight(p, log): Oversight) -> Result<Response> {
    let index =
        number(&p, "index")?.ok_or_else(|| TaxiiError::BadRequest("parameter index is required".into()))?;
    let size = match number(&p, "size")? {
        Some(s) => s,
        None => log.latest_checkpoint().map_or(log.size(), |(c, _)| c.size),
    };
    let proof = log.inclusion_proof(index, size)?;
    let leaf = log.leaf(index)?.map(|h| STANDARD.encode(h));
    Ok(
        axum::Json(json!({"index": index, "size": size, "leaf_hash": leaf, "proof": b64(&proof)}))
            .into_response(),
    )
}

/// The consistency proof between the trees of `first` and `second` entries.
pub async fn consistency(Oversight(p, log): Oversight) -> Result<Response> {
    let need = |name: &str| -> Result<u64> {
        number(&p, name)?.ok_or_else(|| TaxiiError::BadRequest(format!("parameter {name} is required")))
    };
    let (first, second) = (need("first")?, need("second")?);
    let proof = log.consistency_proof(first, second)?;
    Ok(axum::Json(json!({"first": first, "second": second, "proof": b64(&proof)})).into_response())
}

/// Oversight questions: entries about an object, under an agreement, for a principal, of some
/// kinds, between two times. With `agreement`, also who received objects under it.
pub async fn query(Oversight(p, log): Oversight) -> Result<Response> {
    let filter = accord_node::ledger_query::Filter {
        object: p.get("object").cloned(),
        agreement: p.get("agreement").cloned(),
        principal: p.get("principal").cloned(),
        kinds: p
            .get("kind")
            .map(|k| k.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        since: p.get("since").cloned(),
        until: p.get("until").cloned(),
    };
    let limit = number(&p, "limit")?.unwrap_or(1000).min(MAX_ENTRIES) as usize;
    let body = blocking(move || Ok(accord_node::ledger_query::scan(&log, &filter, limit)?)).await?;
    Ok(axum::Json(body).into_response())
}
