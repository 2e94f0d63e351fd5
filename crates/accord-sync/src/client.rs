//! The TAXII 2.1 client of one API root: paged object reads, envelope posts, status polls, the
//! API root's `max_content_length`, and the partner's minimum interval between requests.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::https::{Https, Response};
use crate::{ACCEPT, ACCEPT_TAXII, Auth, Backoff, CONTENT_TYPE_TAXII, DATE_ADDED_LAST, SyncError};

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

/// A client for one API root.
#[derive(Debug)]
pub struct Client {
    endpoint: Endpoint,
    https: Https,
    last: Mutex<Option<Instant>>,
    /// The API root's `max_content_length`, once read (`Some(None)`: it states none).
    limit: Mutex<Option<Option<usize>>>,
}

impl Client {
    pub fn new(endpoint: Endpoint) -> Result<Client, SyncError> {
        let identity = endpoint
            .identity
            .as_ref()
            .map(|(chain, key)| (chain.as_slice(), key.as_slice()));
        // The URL first: its errors are the likelier ones, and TLS errors then name a checked URL.
        let base = crate::check_url(&endpoint.api_root)?;
        let tls = crate::client_config(endpoint.ca.as_deref(), identity).map_err(|e| match e {
            SyncError::Config(m) => SyncError::Config(format!("{base}: {m}")),
            other => other,
        })?;
        let https = Https::new(base.as_str(), endpoint.auth.clone(), tls, endpoint.timeout)?;
        Ok(Client {
            endpoint,
            https,
            last: Mutex::new(None),
            limit: Mutex::new(None),
        })
    }

    /// The API root as configured.
    pub fn api_root(&self) -> &str {
        &self.endpoint.api_root
    }

    /// Waits out the partner's minimum interval between requests.
    fn pace(&self) {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = *last {
            let since = t.elapsed();
            if since < self.endpoint.min_interval {
                std::thread::sleep(self.endpoint.min_interval - since);
            }
        }
        *last = Some(Instant::now());
    }

    fn request(&self, method: &str, url: &str) -> ureq::Request {
        self.https.request(method, url).set(ACCEPT, ACCEPT_TAXII)
    }

    /// Sends a request; returns the `X-TAXII-Date-Added-Last` header and the JSON body.
    fn send(
        &self,
        url: &str,
        req: ureq::Request,
        body: Option<&str>,
    ) -> Result<(Option<String>, Value), SyncError> {
        self.pace();
        let resp: Response = self.https.send(url, req, body.map(|b| (CONTENT_TYPE_TAXII, b)))?;
        let date_added_last = resp.header(DATE_ADDED_LAST).map(str::to_owned);
        let protocol = |message: String| SyncError::Protocol {
            url: url.to_owned(),
            message,
        };
        let text =
            std::str::from_utf8(&resp.body).map_err(|e| protocol(format!("body is not UTF-8: {e}")))?;
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(text).map_err(|e| protocol(format!("body is not JSON: {e}")))?
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
        let url = self.https.url(&format!("collections/{collection}/objects/"));
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
        let mut known = self.limit.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(limit) = *known {
            return Ok(limit);
        }
        let url = self.https.url("");
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
    /// returns the status resource. [`envelopes`](crate::envelopes) splits a list to fit the API
    /// root's limit.
    pub fn add_objects(&self, collection: &str, objects: &[String]) -> Result<Status, SyncError> {
        let url = self.https.url(&format!("collections/{collection}/objects/"));
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
        let url = self.https.url(&format!("status/{id}/"));
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
