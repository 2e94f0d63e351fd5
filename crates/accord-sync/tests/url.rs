//! Which URLs the client may contact: https anywhere, plain http only to a host that is loopback
//! as the URL is really parsed, and never a URL with user-info.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use accord_sync::{Auth, Client, Endpoint, Https, SyncError, check_url, client_config};

/// `url` is refused, and the error names it and says `what`.
fn refused(url: &str, what: &str) -> String {
    let e = check_url(url).expect_err(url);
    assert!(matches!(e, SyncError::Url { .. }), "{url}: {e:?}");
    let text = e.to_string();
    assert!(text.starts_with(&format!("{url}: ")), "{text}");
    assert!(text.contains(what), "{url}: {text:?} does not say {what:?}");
    text
}

/// `url` is accepted, and the host it will connect to is `host`.
fn accepted(url: &str, host: &str) {
    let u = check_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    assert_eq!(u.host_str(), Some(host), "{url}");
}

#[test]
fn user_info_cannot_pass_a_foreign_host_for_loopback() {
    // The host here is evil.example: "127.0.0.1" is the user name and "80" the password (masked
    // where the URL is named).
    let e = check_url("http://127.0.0.1:80@evil.example/").unwrap_err();
    assert_eq!(
        e.to_string(),
        "http://127.0.0.1:***@evil.example/: user-info (\"127.0.0.1:…\") is not allowed in a URL: \
         the host is \"evil.example\"; give credentials as the endpoint's auth"
    );
    refused("http://127.0.0.1@evil.example/", "user-info");
    refused("http://user@localhost/", "user-info");
    let e = check_url("https://user:secret@node.example/api/").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("https://user:***@node.example/api/: user-info (\"user:…\")"),
        "{e}"
    );
}

#[test]
fn plain_http_only_to_loopback_hosts() {
    refused("http://evil.example/", "plain HTTP is allowed only to loopback");
    refused("http://128.0.0.1/", "plain HTTP");
    refused("http://10.0.0.1:8443/", "plain HTTP");
    accepted("http://127.0.0.1:8000/api/", "127.0.0.1");
    accepted("http://127.255.255.254/", "127.255.255.254");
    accepted("https://node.example:8443/api/", "node.example");
}

#[test]
fn the_scheme_is_compared_as_parsed() {
    accepted("HTTP://127.0.0.1:8000/api/", "127.0.0.1");
    accepted("HTTPS://node.example/api/", "node.example");
    refused("HTTP://evil.example/", "plain HTTP");
    refused("Http://evil.example/", "plain HTTP");
}

#[test]
fn ip_literals_are_judged_as_addresses() {
    accepted("http://[::1]:8000/", "[::1]");
    refused("http://[::2]/", "plain HTTP");
    refused("http://[::ffff:127.0.0.1]/", "plain HTTP");
    // Short and hexadecimal IPv4 forms are the addresses they stand for.
    accepted("http://127.1/", "127.0.0.1");
    accepted("http://0x7f000001:8000/", "127.0.0.1");
    refused("http://0x80000001/", "plain HTTP");
}

#[test]
fn only_the_name_localhost_itself_is_loopback() {
    accepted("http://localhost/", "localhost");
    accepted("http://LOCALHOST:9/", "localhost");
    refused("http://localhost.evil.example/", "plain HTTP");
    refused("http://localhost./", "plain HTTP");
    refused("http://evil.example./", "plain HTTP");
    refused("http://127.0.0.1.evil.example/", "plain HTTP");
    // An IPv4 literal with a trailing dot is still that address (no name is resolved).
    accepted("http://127.0.0.1./", "127.0.0.1");
}

#[test]
fn tricks_that_move_the_host_are_seen_through() {
    // Tabs and newlines are dropped by URL parsing: this is one long name, not 127.0.0.1.
    refused("http://127.0.0.1\t.evil.example/", "plain HTTP");
    // The fragment starts at '#': the host is evil.example.
    refused("http://evil.example#@127.0.0.1/", "fragment");
    refused("http://evil.example/#@127.0.0.1/", "fragment");
    // A backslash ends the host of an http URL: this one is 127.0.0.1, with a path.
    accepted("http://127.0.0.1\\@evil.example/", "127.0.0.1");
    refused("https://node.example/api/?x=1", "query");
}

#[test]
fn what_is_not_an_http_url_is_named() {
    refused("127.0.0.1:80", "not a URL");
    refused("http://", "not a URL");
    refused("localhost:8000", "not an http(s) URL");
    refused("ftp://localhost/", "not an http(s) URL: the scheme is \"ftp\"");
    refused("file:///etc/passwd", "not an http(s) URL");
}

#[test]
fn clients_refuse_what_the_check_refuses() {
    let endpoint = |api_root: &str| Endpoint {
        api_root: api_root.to_owned(),
        auth: Auth::None,
        ca: None,
        identity: None,
        min_interval: Duration::ZERO,
        timeout: Duration::from_secs(5),
    };
    let e = Client::new(endpoint("http://127.0.0.1:80@evil.example/api/")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("http://127.0.0.1:***@evil.example/api/: user-info"),
        "{e}"
    );
    let e = Client::new(endpoint("http://evil.example/api/")).unwrap_err();
    assert!(e.to_string().contains("plain HTTP"), "{e}");
    assert!(Client::new(endpoint("http://localhost:8000/api/")).is_ok());

    let tls = client_config(None, None).unwrap();
    let e = Https::new(
        "http://localhost.evil.example/",
        Auth::None,
        tls.clone(),
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert!(e.to_string().contains("\"localhost.evil.example\""), "{e}");
    let h = Https::new("HTTP://127.1:8000/api//", Auth::None, tls, Duration::from_secs(5)).unwrap();
    assert_eq!(h.base(), "http://127.0.0.1:8000/api");
    assert_eq!(h.url("/audit/v1/key"), "http://127.0.0.1:8000/api/audit/v1/key");
    assert_eq!(h.url("collections/"), "http://127.0.0.1:8000/api/collections/");
}

#[test]
fn a_bad_ca_certificate_is_named() {
    let pem = b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
    let e = client_config(Some(pem), None).unwrap_err();
    assert!(e.to_string().starts_with("CA certificate: "), "{e}");
    let e = Client::new(Endpoint {
        api_root: "https://node.example/api/".to_owned(),
        auth: Auth::None,
        ca: Some(pem.to_vec()),
        identity: None,
        min_interval: Duration::ZERO,
        timeout: Duration::from_secs(5),
    })
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("https://node.example/api/: CA certificate: "),
        "{e}"
    );
}
