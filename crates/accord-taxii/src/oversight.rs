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

/// The query parameters, in order, repeats kept (so that a repeat can be refused).
type Params = Vec<(String, String)>;

fn param<'p>(p: &'p Params, name: &str) -> Option<&'p String> {
    p.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Oversight queries scanning the log at once; others wait their turn. With the page and run
/// bounds of `ledger_query`, this bounds the memory queries can take (README: the oversight
/// API).
pub const MAX_CONCURRENT_QUERIES: usize = 2;
static QUERIES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_CONCURRENT_QUERIES);

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
    param(p, name)
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
    // At most MAX_ENTRIES entries and a page's bytes (at least one entry): the client follows
    // x-accord-log-end.
    let end = number(&p, "end")?
        .unwrap_or(size)
        .min(start.saturating_add(MAX_ENTRIES))
        .min(log.run_end(start, accord_node::ledger_query::MAX_PAGE_BYTES))
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

/// The parameters `/audit/v1/query` takes.
const QUERY_PARAMS: &[&str] = &[
    "object",
    "agreement",
    "principal",
    "kind",
    "since",
    "until",
    "limit",
    "next",
];

/// Oversight questions: entries about an object, under an agreement, for a principal, of some
/// kinds, between two times; with `agreement`, also who received objects under it. A page at a
/// time (`limit`, and `next` from the previous page); every parameter is checked first, and one
/// that cannot be used is a 400 naming it.
pub async fn query(Oversight(p, log): Oversight) -> Result<Response> {
    use accord_node::ledger_query::{DEFAULT_LIMIT, Filter, MAX_LIMIT, Params as Query};
    let bad = |m: String| Err(TaxiiError::BadRequest(m));
    for (i, (name, _)) in p.iter().enumerate() {
        if !QUERY_PARAMS.contains(&name.as_str()) {
            return bad(format!(
                "unknown parameter {name:?} (this endpoint takes {})",
                QUERY_PARAMS.join(", ")
            ));
        }
        if p[..i].iter().any(|(earlier, _)| earlier == name) {
            return bad(format!("parameter {name} is given more than once"));
        }
    }
    let text = |name: &str| param(&p, name).cloned();
    let query = Query {
        object: text("object"),
        agreement: text("agreement"),
        principal: text("principal"),
        kind: param(&p, "kind")
            .map(|k| k.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        since: text("since"),
        until: text("until"),
    };
    let filter = Filter::parse(&query).map_err(|e| TaxiiError::BadRequest(format!("parameter {e}")))?;
    let limit = match number(&p, "limit")? {
        Some(0) => return bad("parameter limit: must be at least 1".into()),
        Some(l) => l.min(MAX_LIMIT as u64) as usize,
        None => DEFAULT_LIMIT,
    };
    let from = number(&p, "next")?.unwrap_or(0);
    if from > log.size() {
        return bad(format!(
            "parameter next: {from} is beyond the log's {} entries",
            log.size()
        ));
    }
    let _turn = QUERIES
        .acquire()
        .await
        .map_err(|_| TaxiiError::Internal("query queue closed".into()))?;
    let page = blocking(move || {
        accord_node::ledger_query::page(&log, &filter, from, limit).map_err(|e| match e {
            accord_node::ledger_query::QueryError::Ledger(e) => e.into(),
            other => TaxiiError::Internal(other.to_string()),
        })
    })
    .await?;
    let mut resp = (StatusCode::OK, page.to_json()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}
