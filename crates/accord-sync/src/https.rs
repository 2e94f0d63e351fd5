//! The node's one HTTPS client: a base URL checked by [`check_url`], credentials, and a ureq
//! agent on the TLS configuration of [`client_config`](crate::client_config). The TAXII
//! [`Client`](crate::Client) is built on it, and so is anything else that fetches from a node
//! (the audit monitor's `/audit/v1/...` reads).

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde_json::Value;

use crate::address::check_url;
use crate::{AUTHORIZATION, Auth, CONTENT_TYPE, SyncError};

/// The largest answer body read; a larger one is an error rather than a truncated body.
pub const MAX_BODY: usize = 256 << 20;

/// The most of an error answer's body kept in [`SyncError::Http`].
const MAX_ERROR_BODY: u64 = 2000;

/// An authenticated HTTPS client for one base URL (plain HTTP only to loopback).
#[derive(Debug)]
pub struct Https {
    /// The checked base URL as the `url` crate writes it, without trailing slashes.
    base: String,
    auth: Auth,
    agent: ureq::Agent,
}

/// An answer with a success status, read whole.
#[derive(Debug, Clone)]
pub struct Response {
    /// The URL requested.
    pub url: String,
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Https {
    /// A client for `base` (checked by [`check_url`]) that sends `auth` with each request, trusts
    /// what `tls` trusts, and gives up on a request after `timeout`.
    pub fn new(
        base: &str,
        auth: Auth,
        tls: Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> Result<Https, SyncError> {
        let checked = check_url(base)?;
        let agent = ureq::AgentBuilder::new()
            .tls_config(tls)
            .timeout(timeout)
            // INVARIANT: only checked URLs are contacted. A redirect would lead to a URL that was
            // not checked (an https node redirecting to plain http elsewhere), so none is
            // followed: a 3xx answer is an error.
            .redirects(0)
            .build();
        Ok(Https {
            // INVARIANT: requests go to the serialisation of the parsed and checked URL, which has
            // no user-info, query or fragment, so appending a path cannot change its host.
            base: checked.as_str().trim_end_matches('/').to_owned(),
            auth,
            agent,
        })
    }

    /// The base URL, as checked and normalised.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `path` (with or without a leading slash; it may carry a query) under the base.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// GETs `path` under the base (e.g. `/audit/v1/checkpoint`), with the client's credentials.
    pub fn get(&self, path: &str) -> Result<Response, SyncError> {
        let url = self.url(path);
        self.send(&url, self.request("GET", &url), None)
    }

    /// A request to `url` (one of [`Https::url`]) with the credentials set.
    pub(crate) fn request(&self, method: &str, url: &str) -> ureq::Request {
        let req = self.agent.request(method, url);
        match &self.auth {
            Auth::None => req,
            Auth::Basic { user, password } => {
                let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                req.set(AUTHORIZATION, &format!("Basic {token}"))
            }
            Auth::Bearer(t) => req.set(AUTHORIZATION, &format!("Bearer {t}")),
        }
    }

    /// Sends `req` (to `url`), with `body` as `(content type, text)` if any, and reads the answer.
    pub(crate) fn send(
        &self,
        url: &str,
        req: ureq::Request,
        body: Option<(&str, &str)>,
    ) -> Result<Response, SyncError> {
        let result = match body {
            Some((content_type, b)) => req.set(CONTENT_TYPE, content_type).send_string(b),
            None => req.call(),
        };
        let transport = |message: String| SyncError::Transport {
            url: url.to_owned(),
            message,
        };
        let resp = result.map_err(|e| match e {
            ureq::Error::Status(status, resp) => SyncError::Http {
                url: url.to_owned(),
                status,
                body: error_body(resp),
            },
            other => transport(other.to_string()),
        })?;
        let status = resp.status();
        if (300..400).contains(&status) {
            let location = resp.header("Location").unwrap_or("nowhere").to_owned();
            return Err(SyncError::Http {
                url: url.to_owned(),
                status,
                body: format!("redirect to {location} not followed"),
            });
        }
        let headers = resp
            .headers_names()
            .into_iter()
            .filter_map(|name| {
                let value = resp.header(&name)?.to_owned();
                Some((name, value))
            })
            .collect();
        let mut body = Vec::new();
        resp.into_reader()
            .take(MAX_BODY as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| transport(e.to_string()))?;
        if body.len() > MAX_BODY {
            return Err(SyncError::Answer {
                url: url.to_owned(),
                message: format!("the answer is larger than {} MiB", MAX_BODY >> 20),
            });
        }
        Ok(Response {
            url: url.to_owned(),
            status,
            headers,
            body,
        })
    }
}

/// The start of an error answer's body, for the error message.
fn error_body(resp: ureq::Response) -> String {
    let mut body = String::new();
    let _ = resp.into_reader().take(MAX_ERROR_BODY).read_to_string(&mut body);
    body
}

impl Response {
    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> Result<&str, SyncError> {
        std::str::from_utf8(&self.body).map_err(|e| self.answer(format!("the body is not UTF-8: {e}")))
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<Value, SyncError> {
        serde_json::from_str(self.text()?).map_err(|e| self.answer(format!("the body is not JSON: {e}")))
    }

    fn answer(&self, message: String) -> SyncError {
        SyncError::Answer {
            url: self.url.clone(),
            message,
        }
    }
}
