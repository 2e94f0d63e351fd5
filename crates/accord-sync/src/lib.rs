//! The TAXII 2.1 client side of synchronisation between nodes (and with any TAXII 2.1 server,
//! such as medallion): paged object reads that follow `more`/`next` and report the
//! `X-TAXII-Date-Added-Last` cursor, envelope posts (split to the API root's `max_content_length`)
//! whose status is polled until complete, TLS and mTLS via rustls, plain HTTP only to loopback
//! addresses, retries with exponential backoff and full jitter, and a minimum interval between
//! requests per partner.

use std::io::Read;
use std::ops::Range;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

pub const TAXII: &str = "application/taxii+json;version=2.1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("{url}: HTTP {status}: {body}")]
    Http { url: String, status: u16, body: String },
    #[error("{url}: {message}")]
    Transport { url: String, message: String },
    #[error("{url}: not a TAXII 2.1 answer: {message}")]
    Protocol { url: String, message: String },
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

/// How to reach one TAXII API root.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The API root URL (`https://host:port/api/`).
    pub api_root: String,
    pub auth: Auth,
    /// Extra CA certificates (PEM) to trust.
    pub ca: Option<Vec<u8>>,
    /// Client certificate chain and key (PEM) for mTLS.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
    /// At least this long between two requests.
    pub min_interval: Duration,
    pub timeout: Duration,
}

/// One page of objects.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub objects: Vec<Value>,
    pub more: bool,
    pub next: Option<String>,
    /// `X-TAXII-Date-Added-Last`: the cursor to resume after this page.
    pub date_added_last: Option<String>,
}

/// A TAXII status resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub id: String,
    pub status: String,
    pub success_count: u64,
    pub failure_count: u64,
    pub pending_count: u64,
    /// `(object id, message)` of each failure.
    pub failures: Vec<(String, String)>,
}

/// Retries with exponential backoff and full jitter: attempt `n` waits a random time below
/// `base * 2^n`, capped.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            attempts: 5,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The wait before retry `n` (0-based).
    pub fn delay(&self, n: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(n.min(20)).unwrap_or(u32::MAX))
            .min(self.cap);
        let mut r = [0u8; 8];
        let fraction = if getrandom::fill(&mut r).is_ok() {
            (u64::from_le_bytes(r) >> 11) as f64 / (1u64 << 53) as f64
        } else {
            0.5
        };
        ceiling.mul_f64(fraction)
    }

    /// Runs `op` until it succeeds, fails for good, or the attempts run out.
    pub fn run<T>(&self, mut op: impl FnMut() -> Result<T, SyncError>) -> Result<T, SyncError> {
        let mut n = 0;
        loop {
            match op() {
                Err(e) if e.is_transient() && n + 1 < self.attempts => {
                    std::thread::sleep(self.delay(n));
                    n += 1;
                }
                other => return other,
            }
        }
    }
}

/// A client for one API root.
#[derive(Debug)]
pub struct Client {
    endpoint: Endpoint,
    agent: ureq::Agent,
    last: std::sync::Mutex<Option<Instant>>,
    /// The API root's `max_content_length`, once read (`Some(None)`: it states none).
    limit: std::sync::Mutex<Option<Option<usize>>>,
}

impl Client {
    pub fn new(endpoint: Endpoint) -> Result<Client, SyncError> {
        let url = endpoint.api_root.clone();
        let config = |m: String| SyncError::Config(format!("{url}: {m}"));
        let parsed_host = url.split_once("://").map(|(scheme, rest)| {
            let host = match rest.strip_prefix('[') {
                // An IPv6 literal: up to the closing bracket.
                Some(v6) => v6.split(']').next().unwrap_or(""),
                None => rest.split(['/', ':']).next().unwrap_or(""),
            };
            (scheme, host)
        });
        match parsed_host {
            Some(("https", _) | ("http", "127.0.0.1" | "localhost" | "::1")) => {}
            Some(("http", _)) => {
                return Err(config("plain HTTP is allowed only to loopback addresses".into()));
            }
            _ => return Err(config("not an http(s) URL".into())),
        }
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(pem) = &endpoint.ca {
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert = cert.map_err(|e| config(format!("CA certificate: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| config(format!("CA certificate: {e}")))?;
            }
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| config(e.to_string()))?
            .with_root_certificates(roots);
        let tls = match &endpoint.identity {
            None => builder.with_no_client_auth(),
            Some((chain, key)) => {
                let chain = rustls_pemfile::certs(&mut chain.as_slice())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| config(format!("client certificate: {e}")))?;
                let key = rustls_pemfile::private_key(&mut key.as_slice())
                    .map_err(|e| config(format!("client key: {e}")))?
                    .ok_or_else(|| config("client key: no private key in the file".into()))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| config(format!("client certificate: {e}")))?
            }
        };
        let agent = ureq::AgentBuilder::new()
            .tls_config(std::sync::Arc::new(tls))
            .timeout(endpoint.timeout)
            .build();
        Ok(Client {
            endpoint,
            agent,
            last: std::sync::Mutex::new(None),
            limit: std::sync::Mutex::new(None),
        })
    }

    pub fn api_root(&self) -> &str {
        &self.endpoint.api_root
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.endpoint.api_root.trim_end_matches('/'), path)
    }

    /// Waits out the partner's minimum interval between requests.
    fn pace(&self) {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(t) = *last {
            let since = t.elapsed();
            if since < self.endpoint.min_interval {
                std::thread::sleep(self.endpoint.min_interval - since);
            }
        }
        *last = Some(Instant::now());
    }

    fn request(&self, method: &str, url: &str) -> ureq::Request {
        let mut req = self.agent.request(method, url).set("Accept", TAXII);
        match &self.endpoint.auth {
            Auth::None => {}
            Auth::Basic { user, password } => {
                let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                req = req.set("Authorization", &format!("Basic {token}"));
            }
            Auth::Bearer(t) => req = req.set("Authorization", &format!("Bearer {t}")),
        }
        req
    }

    /// Sends a request; returns the `X-TAXII-Date-Added-Last` header and the JSON body.
    fn send(
        &self,
        url: &str,
        req: ureq::Request,
        body: Option<&str>,
    ) -> Result<(Option<String>, Value), SyncError> {
        self.pace();
        let result = match body {
            Some(b) => req.set("Content-Type", TAXII).send_string(b),
            None => req.call(),
        };
        let resp = result.map_err(|e| match e {
            ureq::Error::Status(status, resp) => {
                let mut body = String::new();
                let _ = resp.into_reader().take(2000).read_to_string(&mut body);
                SyncError::Http {
                    url: url.to_owned(),
                    status,
                    body,
                }
            }
            other => SyncError::Transport {
                url: url.to_owned(),
                message: other.to_string(),
            },
        })?;
        let date_added_last = resp.header("X-TAXII-Date-Added-Last").map(str::to_owned);
        let mut text = String::new();
        resp.into_reader()
            .take(256 << 20)
            .read_to_string(&mut text)
            .map_err(|e| SyncError::Transport {
                url: url.to_owned(),
                message: e.to_string(),
            })?;
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| SyncError::Protocol {
                url: url.to_owned(),
                message: format!("body is not JSON: {e}"),
            })?
        };
        Ok((date_added_last, value))
    }

    /// One page of a collection's objects added after `added_after` (exclusive), or the page
    /// `next` continues.
    pub fn objects(
        &self,
        collection: &str,
        added_after: Option<&str>,
        next: Option<&str>,
        limit: usize,
    ) -> Result<Page, SyncError> {
        let url = self.url(&format!("collections/{collection}/objects/"));
        let mut req = self.request("GET", &url).query("limit", &limit.to_string());
        if let Some(a) = added_after {
            req = req.query("added_after", a);
        }
        if let Some(n) = next {
            req = req.query("next", n);
        }
        let (date_added_last, mut body) = self.send(&url, req, None)?;
        let protocol = |m: &str| SyncError::Protocol {
            url: url.clone(),
            message: m.to_owned(),
        };
        if !body.is_object() && !body.is_null() {
            return Err(protocol("the envelope is not a JSON object"));
        }
        let objects = match body.get_mut("objects").map(Value::take) {
            None => Vec::new(),
            Some(Value::Array(o)) => o,
            Some(_) => return Err(protocol("objects is not a list")),
        };
        Ok(Page {
            objects,
            more: body.get("more").and_then(Value::as_bool).unwrap_or(false),
            next: body.get("next").and_then(Value::as_str).map(str::to_owned),
            date_added_last,
        })
    }

    /// The largest request body the API root accepts (its information resource's
    /// `max_content_length`), read once; `None` if it states none or cannot be read (an error
    /// only when trying again may help).
    pub fn max_content_length(&self) -> Result<Option<usize>, SyncError> {
        let mut known = self
            .limit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(limit) = *known {
            return Ok(limit);
        }
        let url = self.url("");
        let limit = match self.send(&url, self.request("GET", &url), None) {
            Ok((_, info)) => info
                .get("max_content_length")
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok()),
            // A root that will not describe itself to this client states no limit it can use;
            // its answer to each post still says whether it fits.
            Err(e) if !e.is_transient() => None,
            Err(e) => return Err(e),
        };
        *known = Some(limit);
        Ok(limit)
    }

    /// Posts an envelope of `objects`, each the JSON text of one STIX object (sent as written);
    /// returns the status resource. [`envelopes`] splits a list to fit the API root's limit.
    pub fn add_objects(&self, collection: &str, objects: &[String]) -> Result<Status, SyncError> {
        let url = self.url(&format!("collections/{collection}/objects/"));
        let mut body = String::with_capacity(16 + objects.iter().map(|o| o.len() + 1).sum::<usize>());
        body.push_str("{\"objects\":[");
        for (i, o) in objects.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(o);
        }
        body.push_str("]}");
        let (_, answer) = self.send(&url, self.request("POST", &url), Some(&body))?;
        status_of(&url, &answer)
    }

    pub fn status(&self, id: &str) -> Result<Status, SyncError> {
        let url = self.url(&format!("status/{id}/"));
        let (_, answer) = self.send(&url, self.request("GET", &url), None)?;
        status_of(&url, &answer)
    }

    /// Polls a status until it is complete or `wait` has passed; returns its last state.
    pub fn wait(&self, id: &str, backoff: &Backoff, wait: Duration) -> Result<Status, SyncError> {
        let start = Instant::now();
        let mut poll = Duration::from_millis(10);
        loop {
            let status = backoff.run(|| self.status(id))?;
            if status.status == "complete" || start.elapsed() >= wait {
                return Ok(status);
            }
            std::thread::sleep(poll);
            poll = (poll * 2).min(Duration::from_secs(1));
        }
    }
}

/// Bytes of the envelope `Client::add_objects` posts for `objects`.
pub fn envelope_len(objects: &[String]) -> usize {
    const FRAME: usize = r#"{"objects":[]}"#.len();
    FRAME + objects.iter().map(String::len).sum::<usize>() + objects.len().saturating_sub(1)
}

/// Splits `objects` into consecutive runs, in order, whose envelopes are at most `limit` bytes
/// (one run when there is no limit). An object too large for an envelope of its own is a run
/// alone, which the server will refuse: the caller decides what to do with it.
pub fn envelopes(objects: &[String], limit: Option<usize>) -> Vec<Range<usize>> {
    let limit = limit.unwrap_or(usize::MAX);
    let mut runs = Vec::new();
    let (mut start, mut len) = (0, 0);
    for (i, o) in objects.iter().enumerate() {
        // What the envelope of start..=i would weigh: the frame, the objects, their commas.
        let with = if i == start {
            envelope_len(std::slice::from_ref(o))
        } else {
            len + 1 + o.len()
        };
        if i > start && with > limit {
            runs.push(start..i);
            start = i;
            len = envelope_len(std::slice::from_ref(o));
        } else {
            len = with;
        }
    }
    if start < objects.len() {
        runs.push(start..objects.len());
    }
    runs
}

fn status_of(url: &str, v: &Value) -> Result<Status, SyncError> {
    let protocol = |m: &str| SyncError::Protocol {
        url: url.to_owned(),
        message: m.to_owned(),
    };
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| protocol("status without id"))?;
    let count = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    let failures = v
        .get("failures")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f.get("id").and_then(Value::as_str).unwrap_or("").to_owned(),
                f.get("message").and_then(Value::as_str).unwrap_or("").to_owned(),
            )
        })
        .collect();
    Ok(Status {
        id: id.to_owned(),
        status: v.get("status").and_then(Value::as_str).unwrap_or("").to_owned(),
        success_count: count("success_count"),
        failure_count: count("failure_count"),
        pending_count: count("pending_count"),
        failures,
    })
}
