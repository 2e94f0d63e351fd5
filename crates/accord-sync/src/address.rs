//! Which URLs the client may connect to: `https` anywhere, plain `http` only to a loopback host,
//! never with user-info. The check is made on the URL as the `url` crate parses it (WHATWG URL
//! rules, as ureq parses it too), so that the host checked is the host connected to.

use url::{Host, Url};

use crate::SyncError;

/// Parses `url` and checks that a client may connect to it: the scheme is `https`, or `http` to
/// a loopback host (an IP literal in 127.0.0.0/8, `::1`, or `localhost`); it carries no user-info,
/// query or fragment (it is a base that paths are appended to). Every error names the URL and
/// what is wrong with it.
pub fn check_url(url: &str) -> Result<Url, SyncError> {
    let fail = |message: String| SyncError::Url {
        url: url.to_owned(),
        message,
    };
    let parsed = Url::parse(url).map_err(|e| fail(format!("not a URL: {e}")))?;
    // User-info is refused outright: credentials belong in the endpoint's auth, and
    // `http://127.0.0.1:80@evil.example/` is how a foreign host passes for a loopback one to a
    // reader (or a check) that stops at the first colon.
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Named with its password masked: errors end up in logs.
        let named = match parsed.password() {
            Some(_) => {
                let mut masked = parsed.clone();
                let _ = masked.set_password(Some("***"));
                masked.to_string()
            }
            None => url.to_owned(),
        };
        return Err(SyncError::Url {
            url: named,
            message: format!(
                "user-info ({:?}) is not allowed in a URL: the host is {}; give credentials as the \
                 endpoint's auth",
                user_info(&parsed),
                host_text(&parsed)
            ),
        });
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(fail(
            "a base URL has no query or fragment (paths are appended to it)".to_owned(),
        ));
    }
    // The `url` crate lowercases the scheme, so `HTTP://` is plain HTTP too.
    match parsed.scheme() {
        "https" => {}
        // INVARIANT: plain HTTP goes only to loopback hosts, judged on the parsed host (IP
        // literals normalised: `127.1` and `0x7f000001` are 127.0.0.1), never on the text.
        "http" if parsed.host().is_some_and(|h| is_loopback(&h)) => {}
        "http" => {
            return Err(fail(format!(
                "plain HTTP is allowed only to loopback hosts (127.0.0.0/8, ::1, localhost), and the \
                 host is {}: use https",
                host_text(&parsed)
            )));
        }
        other => return Err(fail(format!("not an http(s) URL: the scheme is {other:?}"))),
    }
    if parsed.host().is_none() {
        return Err(fail("the URL has no host".to_owned()));
    }
    Ok(parsed)
}

/// Whether a parsed host is loopback: an IPv4 literal in 127.0.0.0/8, the IPv6 literal `::1`, or
/// the name `localhost` exactly. Other names (`localhost.`, `localhost.evil.example`) would be
/// resolved, possibly by DNS, and are not loopback for this check.
pub fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Ipv4(a) => a.is_loopback(),
        // `::1` only: an IPv4-mapped `::ffff:127.0.0.1` is not accepted.
        Host::Ipv6(a) => a.is_loopback(),
        // The `url` crate lowercases names of http(s) URLs.
        Host::Domain(d) => *d == "localhost",
    }
}

fn host_text(u: &Url) -> String {
    match u.host() {
        Some(h) => format!("{:?}", h.to_string()),
        None => "missing".to_owned(),
    }
}

fn user_info(u: &Url) -> String {
    match u.password() {
        // The password is not repeated in an error message.
        Some(_) => format!("{}:…", u.username()),
        None => u.username().to_owned(),
    }
}
