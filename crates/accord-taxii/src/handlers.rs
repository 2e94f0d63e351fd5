//! The TAXII 2.1 endpoints. Each handler parses the request, authorises it through
//! `accord_node::access::authorize`, calls one service of the node, and formats the response;
//! nothing else.

use accord_node::access::{Action, Principal, authorize};
use accord_node::gate::Channel;
use accord_node::read::{SealedPage, Taken};
use accord_node::{Query, StatusRecord, StoredObject, VersionFilter};
use accord_stix::Timestamp;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::access::{PeerCertificate, authenticate};
use crate::error::TaxiiError;
use crate::query::{self, Filters};
use crate::roots::{ApiRoot, Collection};
use crate::{AppState, MEDIA_TYPE_STIX, MEDIA_TYPE_TAXII};

type Result<T, E = TaxiiError> = std::result::Result<T, E>;

/// The authenticated principal of a request.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = TaxiiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let peer = parts.extensions.get::<PeerCertificate>().copied();
        // Usually answered from the token cache; otherwise one indexed row read, which costs less
        // inline than a hand-off to the blocking pool.
        Ok(Auth(authenticate(&parts.headers, peer, &state.node)?))
    }
}

/// Store calls that read at most this many objects run inline: a hand-off to the blocking pool
/// costs more than the query.
const INLINE_QUERY_LIMIT: usize = 100;

/// Runs a blocking store call off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| TaxiiError::Internal(e.to_string()))?
}

/// 406 unless the client accepts the TAXII media type (or anything).
fn check_accept(headers: &HeaderMap) -> Result<()> {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return Ok(());
    };
    let accept = accept.to_str().map_err(|_| TaxiiError::NotAcceptable)?;
    let ok = accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let version = parts
            .find_map(|p| p.strip_prefix("version="))
            .map(|v| v.trim_matches('"').to_owned());
        match media.as_str() {
            "*/*" | "application/*" => true,
            "application/taxii+json" => version.is_none_or(|v| v == "2.1"),
            _ => false,
        }
    });
    if ok {
        Ok(())
    } else {
        Err(TaxiiError::NotAcceptable)
    }
}

/// 415 unless the body is declared as TAXII 2.1.
fn check_content_type(headers: &HeaderMap) -> Result<()> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut parts = ct.split(';').map(str::trim);
    let media = parts.next().unwrap_or_default();
    let version = parts
        .find_map(|p| p.strip_prefix("version="))
        .map(|v| v.trim_matches('"'));
    if media.eq_ignore_ascii_case("application/taxii+json") && version.is_none_or(|v| v == "2.1") {
        Ok(())
    } else {
        Err(TaxiiError::UnsupportedMediaType(ct.to_owned()))
    }
}

fn taxii(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut resp = (status, body.into()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE_TAXII));
    resp
}

fn taxii_json(status: StatusCode, value: &Value) -> Response {
    taxii(status, serde_json::to_string(value).unwrap_or_default())
}

fn root<'a>(state: &'a AppState, name: &str) -> Result<&'a ApiRoot> {
    state
        .model
        .root(name)
        .ok_or_else(|| TaxiiError::NotFound(format!("unknown API root {name:?}")))
}

fn collection<'a>(root: &'a ApiRoot, id: &str) -> Result<&'a Collection> {
    root.collection(id)
        .ok_or_else(|| TaxiiError::NotFound(format!("unknown collection {id:?}")))
}

/// What every collection endpoint starts with: content negotiation, finding the collection, and
/// the authorisation decision for the action.
fn open_collection<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
    who: &Principal,
    root_name: &str,
    cid: &str,
    action: Action,
) -> Result<&'a Collection> {
    check_accept(headers)?;
    let c = collection(root(state, root_name)?, cid)?;
    authorize(who, action, &c.id)?;
    Ok(c)
}

/// A page of one object's versions (object and versions endpoints), read with the endpoint's
/// parameters and versions; 404 when the object is absent or the principal may not see it.
async fn object_listing(
    state: &AppState,
    (who, headers): (&Principal, &HeaderMap),
    (name, cid, oid): (&str, &str, &str),
    raw: Option<&str>,
    endpoint: &str,
    (params, versions): (&[query::Param], fn(&Filters) -> VersionFilter),
) -> Result<Listing> {
    let c = open_collection(state, headers, who, name, cid, Action::Read)?;
    let filters = query::parse(raw, params)?;
    check_object_id(oid)?;
    let mut base = Query::new(&c.id);
    base.ids = vec![oid.to_owned()];
    base.versions = versions(&filters);
    let scope = format!("{endpoint}|{name}|{cid}|{oid}");
    let listing = list(state, who, headers, &c.id, &filters, base, &scope).await?;
    // An object the principal may not see is reported as absent, not as forbidden.
    if listing.objects.is_empty() && (listing.scanned > 0 || !state.node.has_object(&c.id, oid)?) {
        return Err(TaxiiError::NotFound(format!(
            "no object {oid} in collection {}",
            c.id
        )));
    }
    Ok(listing)
}

fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .map_or_else(|| state.public_host.clone(), str::to_owned);
    format!("{}://{host}", if state.tls { "https" } else { "http" })
}

pub async fn discovery(State(state): State<AppState>, Auth(_): Auth, headers: HeaderMap) -> Result<Response> {
    check_accept(&headers)?;
    let base = base_url(&state, &headers);
    let roots: Vec<String> = state
        .model
        .roots
        .iter()
        .map(|r| format!("{base}/{}/", r.name))
        .collect();
    let mut body = json!({"title": state.model.title, "api_roots": roots});
    if let Some(d) = &state.model.description {
        body["description"] = d.clone().into();
    }
    if let Some(c) = &state.model.contact {
        body["contact"] = c.clone().into();
    }
    if let Some(d) = &state.model.default_root {
        body["default"] = format!("{base}/{d}/").into();
    }
    Ok(taxii_json(StatusCode::OK, &body))
}

pub async fn api_root(
    State(state): State<AppState>,
    Auth(_): Auth,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    check_accept(&headers)?;
    let r = root(&state, &name)?;
    let mut body = json!({
        "title": r.title,
        "versions": [MEDIA_TYPE_TAXII],
        "max_content_length": r.max_content_length,
    });
    if let Some(d) = &r.description {
        body["description"] = d.clone().into();
    }
    Ok(taxii_json(StatusCode::OK, &body))
}

fn status_body(s: &StatusRecord) -> Value {
    let details =
        |v: &[accord_node::StatusDetail]| serde_json::to_value(v).unwrap_or(Value::Array(Vec::new()));
    json!({
        "id": s.id,
        "status": if s.complete { "complete" } else { "pending" },
        "request_timestamp": Timestamp::format_micros(s.request_timestamp),
        "total_count": s.total,
        "success_count": s.successes.len(),
        "successes": details(&s.successes),
        "failure_count": s.failures.len(),
        "failures": details(&s.failures),
        "pending_count": s.pendings.len(),
        "pendings": details(&s.pendings),
    })
}

pub async fn status(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    check_accept(&headers)?;
    root(&state, &name)?;
    let found = state.node.status(&id)?;
    let s = found
        .filter(|s| s.api_root == name)
        .ok_or_else(|| TaxiiError::NotFound(format!("unknown status {id:?}")))?;
    if s.principal != who.name {
        authorize(&who, Action::Write, &s.collection)?;
    }
    Ok(taxii_json(StatusCode::OK, &status_body(&s)))
}

fn collection_body(c: &Collection, who: &Principal) -> Value {
    let mut body = json!({
        "id": c.id,
        "title": c.title,
        "can_read": authorize(who, Action::Read, &c.id).is_ok(),
        "can_write": authorize(who, Action::Write, &c.id).is_ok(),
        "media_types": [MEDIA_TYPE_STIX],
    });
    if let Some(d) = &c.description {
        body["description"] = d.clone().into();
    }
    if let Some(a) = &c.alias {
        body["alias"] = a.clone().into();
    }
    body
}

pub async fn collections(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    check_accept(&headers)?;
    let r = root(&state, &name)?;
    let list: Vec<Value> = r
        .collections
        .iter()
        .filter(|c| authorize(&who, Action::See, &c.id).is_ok())
        .map(|c| collection_body(c, &who))
        .collect();
    let body = if list.is_empty() {
        json!({})
    } else {
        json!({"collections": list})
    };
    Ok(taxii_json(StatusCode::OK, &body))
}

pub async fn collection_info(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((name, cid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    let c = open_collection(&state, &headers, &who, &name, &cid, Action::See)?;
    Ok(taxii_json(StatusCode::OK, &collection_body(c, &who)))
}

/// A page of released results with its cursor and date headers.
struct Listing {
    objects: Vec<StoredObject>,
    more: bool,
    next: Option<String>,
    /// Versions read from the store for this page, whether or not they were released.
    scanned: usize,
}

/// The purpose a request declares (`X-Accord-Purpose`), if any.
fn purpose(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-accord-purpose")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Reads a page through the node's gated reader (or takes the one read ahead for its cursor),
/// which logs what is disclosed, and starts reading the next page ahead.
async fn list(
    state: &AppState,
    who: &Principal,
    headers: &HeaderMap,
    collection: &str,
    filters: &Filters,
    base: Query,
    scope: &str,
) -> Result<Listing> {
    let now_secs = state.node.clock().now_micros() / 1_000_000;
    let after = match &filters.next {
        Some(token) => Some(state.cursors.check(token, now_secs, filters, scope)?),
        None => filters.added_after,
    };
    let mut q = base;
    q.collection = collection.to_owned();
    q.added_after = after;
    q.limit = filters
        .limit
        .unwrap_or(state.model.default_page)
        .min(state.model.max_page);
    if q.ids.is_empty() {
        q.ids = filters.ids.clone();
    }
    q.types = filters.types.clone();
    q.spec_versions = filters.spec_versions.clone();
    let small = q.limit <= INLINE_QUERY_LIMIT
        || (!q.ids.is_empty() && q.ids.len() <= INLINE_QUERY_LIMIT && q.versions != VersionFilter::all());
    // Only the objects endpoints return content: manifests and versions lists need no signature.
    let (channel, content) = match scope.split('|').next() {
        Some("manifest") => (Channel::TaxiiManifest, false),
        Some("versions") => (Channel::Taxii, false),
        _ => (Channel::Taxii, true),
    };
    let reader = state
        .node
        .reader(
            &who.name,
            accord_policy::Action::Read,
            channel,
            purpose(headers).as_deref(),
        )
        .encrypted(state.tls);
    let reader = if content { reader } else { reader.signed(false) };
    // Signing is CPU work for every core: never on an async worker.
    let small = small && !reader.signs();
    let taken = match &filters.next {
        Some(token) if !small => reader.take_ahead(token, &q).await,
        _ => Taken::Nothing,
    };
    // The query again, to read the page after this one ahead.
    let again = (!small).then(|| q.clone());
    let page: SealedPage = match taken {
        Taken::Page(page) => page,
        Taken::Nothing | Taken::Stale => {
            let r = reader.clone();
            let read = move || Ok(r.page(q)?.seal(&r));
            if small { read()? } else { blocking(read).await? }
        }
    };
    let (more, last, scanned) = (page.more, page.last, page.scanned);
    let objects = page.disclose(&state.node).await?;
    let next = match (more, last) {
        (true, Some(last)) => Some(state.cursors.issue(last, now_secs, filters, scope)),
        _ => None,
    };
    if let (Some(cursor), Some(last), Some(mut q)) = (&next, last, again) {
        q.added_after = Some(last);
        reader.read_ahead(cursor, q);
    }
    Ok(Listing {
        objects,
        more,
        next,
        scanned,
    })
}

fn date_headers(resp: &mut Response, listing: &Listing) {
    let (Some(first), Some(last)) = (listing.objects.first(), listing.objects.last()) else {
        return;
    };
    for (name, micros) in [
        ("x-taxii-date-added-first", first.date_added),
        ("x-taxii-date-added-last", last.date_added),
    ] {
        if let Ok(v) = HeaderValue::from_str(&Timestamp::format_micros(micros)) {
            resp.headers_mut().insert(name, v);
        }
    }
}

/// An envelope built from stored canonical JSON without re-serialising the objects.
fn envelope(listing: &Listing) -> String {
    if listing.objects.is_empty() {
        return serde_json::to_string(&with_more_next(json!({}), listing)).unwrap_or_default();
    }
    let size: usize = listing.objects.iter().map(|o| o.json.len() + 1).sum();
    let mut out = String::with_capacity(size + 128);
    out.push_str("{\"more\":");
    out.push_str(if listing.more { "true" } else { "false" });
    if let Some(next) = &listing.next {
        out.push_str(",\"next\":\"");
        out.push_str(next);
        out.push('"');
    }
    out.push_str(",\"objects\":[");
    for (i, o) in listing.objects.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&o.json);
    }
    out.push_str("]}");
    out
}

fn with_more_next(mut body: Value, listing: &Listing) -> Value {
    if body.as_object().is_some_and(serde_json::Map::is_empty) && !listing.more {
        return body;
    }
    body["more"] = listing.more.into();
    if let Some(n) = &listing.next {
        body["next"] = n.clone().into();
    }
    body
}

fn default_versions(filters: &Filters) -> VersionFilter {
    filters.versions.clone().unwrap_or_else(VersionFilter::last)
}

/// A page of a collection's objects (objects and manifest endpoints), read with the given filters.
async fn collection_listing(
    state: &AppState,
    who: &Principal,
    headers: &HeaderMap,
    (name, cid): (&str, &str),
    raw: Option<&str>,
    endpoint: &str,
) -> Result<Listing> {
    let c = open_collection(state, headers, who, name, cid, Action::Read)?;
    let filters = query::parse(raw, query::LIST_ENDPOINT)?;
    let mut base = Query::new(&c.id);
    base.versions = default_versions(&filters);
    list(
        state,
        who,
        headers,
        &c.id,
        &filters,
        base,
        &format!("{endpoint}|{name}|{cid}"),
    )
    .await
}

pub async fn get_objects(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((name, cid)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    let listing =
        collection_listing(&state, &who, &headers, (&name, &cid), raw.as_deref(), "objects").await?;
    let mut resp = taxii(StatusCode::OK, envelope(&listing));
    date_headers(&mut resp, &listing);
    Ok(resp)
}

pub async fn manifest(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((name, cid)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    let listing =
        collection_listing(&state, &who, &headers, (&name, &cid), raw.as_deref(), "manifest").await?;
    let body = if listing.objects.is_empty() {
        json!({})
    } else {
        let records: Vec<Value> = listing
            .objects
            .iter()
            .map(|o| {
                json!({
                    "id": o.id,
                    "date_added": Timestamp::format_micros(o.date_added),
                    "version": o.version,
                    "media_type": MEDIA_TYPE_STIX,
                })
            })
            .collect();
        with_more_next(json!({"objects": records}), &listing)
    };
    let mut resp = taxii_json(StatusCode::OK, &body);
    date_headers(&mut resp, &listing);
    Ok(resp)
}

fn check_object_id(object_id: &str) -> Result<()> {
    accord_stix::id::parse_identifier(object_id)
        .map(|_| ())
        .map_err(|e| TaxiiError::BadRequest(format!("object id: {e}")))
}

pub async fn get_object(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((name, cid, oid)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    let listing = object_listing(
        &state,
        (&who, &headers),
        (&name, &cid, &oid),
        raw.as_deref(),
        "object",
        (query::OBJECT_ENDPOINT, default_versions),
    )
    .await?;
    let mut resp = taxii(StatusCode::OK, envelope(&listing));
    date_headers(&mut resp, &listing);
    Ok(resp)
}

pub async fn versions(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((name, cid, oid)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    let listing = object_listing(
        &state,
        (&who, &headers),
        (&name, &cid, &oid),
        raw.as_deref(),
        "versions",
        (query::VERSIONS_ENDPOINT, |_| VersionFilter::all()),
    )
    .await?;
    let body = if listing.objects.is_empty() {
        json!({})
    } else {
        let list: Vec<&str> = listing.objects.iter().map(|o| o.version.as_str()).collect();
        with_more_next(json!({"versions": list}), &listing)
    };
    let mut resp = taxii_json(StatusCode::OK, &body);
    date_headers(&mut resp, &listing);
    Ok(resp)
}

pub async fn delete_object(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((name, cid, oid)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    check_accept(&headers)?;
    let c = collection(root(&state, &name)?, &cid)?;
    authorize(&who, Action::Delete, &c.id)?;
    check_object_id(&oid)?;
    let filters = query::parse(raw.as_deref(), query::DELETE_ENDPOINT)?;
    // Objects are stored as STIX 2.1; a spec_version filter without 2.1 matches nothing.
    if !filters.spec_versions.is_empty() && !filters.spec_versions.iter().any(|v| v == "2.1") {
        return Err(TaxiiError::NotFound(format!(
            "no matching version of {oid} in collection {cid}"
        )));
    }
    let versions = filters.versions.clone().unwrap_or_else(VersionFilter::all);
    let (node, coll) = (state.node.clone(), c.id.clone());
    blocking(move || Ok(node.delete_object(&who, &coll, &oid, &versions)?)).await?;
    Ok(taxii(StatusCode::OK, Body::empty()))
}

pub async fn add_objects(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((name, cid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    check_accept(&headers)?;
    let r = root(&state, &name)?;
    let c = collection(r, &cid)?;
    authorize(&who, Action::Write, &c.id)?;
    check_content_type(&headers)?;
    let limit = r.max_content_length;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared
        && len > limit as u64
    {
        return Err(TaxiiError::TooLarge { size: len, limit });
    }
    // Held from before the body is read until its objects are stored; a body of unknown length
    // is counted at the most it may be.
    let held = usize::try_from(declared.unwrap_or(limit as u64)).unwrap_or(limit);
    let reserved = state.ingest.reserve(held).await?;
    let bytes: Bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| TaxiiError::TooLarge {
            size: limit as u64 + 1,
            limit,
        })?;
    let status = state
        .ingest
        .accept(&state.node, Vec::from(bytes), reserved, &c.id, &who.name, &name)
        .await?;
    Ok(taxii_json(StatusCode::ACCEPTED, &status_body(&status)))
}

pub async fn metrics(State(state): State<AppState>, Auth(_): Auth) -> Response {
    if let Ok(ledger) = state.node.ledger() {
        state.node.metrics().ledger(&ledger);
    }
    let mut resp = state.node.metrics().render().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    resp
}

pub async fn not_found() -> TaxiiError {
    TaxiiError::NotFound("no such endpoint".into())
}
