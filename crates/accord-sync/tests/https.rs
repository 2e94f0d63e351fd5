//! Requests as a server on loopback sees them, and answers as the client reports them: the
//! credentials and TAXII headers sent, headers and bodies read, redirects not followed.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::thread::JoinHandle;
use std::time::Duration;

use accord_sync::{Auth, Client, Endpoint, Https, SyncError, client_config};

/// A server on loopback that answers one request with `answer` and hands back the request
/// (head and body) it read.
fn serve_once(answer: String) -> (String, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            request.push_str(&line);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        request.push('\n');
        request.push_str(&String::from_utf8(body).unwrap());
        let mut stream = stream;
        stream.write_all(answer.as_bytes()).unwrap();
        request
    });
    (base, handle)
}

fn answer(status: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut a = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        a.push_str(&format!("{k}: {v}\r\n"));
    }
    a + "\r\n" + body
}

fn https(base: &str, auth: Auth) -> Https {
    Https::new(
        base,
        auth,
        client_config(None, None).unwrap(),
        Duration::from_secs(10),
    )
    .unwrap()
}

fn has_header(request: &str, name: &str, value: &str) -> bool {
    request.lines().any(|l| {
        l.split_once(':')
            .is_some_and(|(n, v)| n.eq_ignore_ascii_case(name) && v.trim() == value)
    })
}

#[test]
fn get_sends_the_credentials_and_reads_headers_and_body() {
    let (base, server) = serve_once(answer(
        "200 OK",
        &[("X-Accord-Log-End", "5"), ("X-Accord-Log-Size", "9")],
        "one\ntwo\n",
    ));
    let resp = https(&base, Auth::Bearer("id.secret".into()))
        .get("/audit/v1/entries?start=3")
        .unwrap();
    let request = server.join().unwrap();
    assert!(
        request.starts_with("GET /audit/v1/entries?start=3 HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        has_header(&request, "Authorization", "Bearer id.secret"),
        "{request}"
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-accord-log-end"), Some("5"));
    assert_eq!(resp.header("X-ACCORD-LOG-SIZE"), Some("9"));
    assert_eq!(resp.text().unwrap(), "one\ntwo\n");
    assert_eq!(resp.url, format!("{base}/audit/v1/entries?start=3"));
}

#[test]
fn a_redirect_is_not_followed() {
    let (base, server) = serve_once(answer("302 Found", &[("Location", "http://evil.example/")], ""));
    let e = https(&base, Auth::None).get("/audit/v1/key").unwrap_err();
    server.join().unwrap();
    match &e {
        SyncError::Http {
            status: 302, body, ..
        } => {
            assert!(
                body.contains("http://evil.example/") && body.contains("not followed"),
                "{e}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(!e.is_transient());
}

#[test]
fn error_statuses_name_the_url_and_say_whether_to_retry() {
    let (base, server) = serve_once(answer("403 Forbidden", &[], "no such principal"));
    let e = https(&base, Auth::None).get("audit/v1/checkpoint").unwrap_err();
    server.join().unwrap();
    assert_eq!(
        e.to_string(),
        format!("{base}/audit/v1/checkpoint: HTTP 403: no such principal")
    );
    assert!(!e.is_transient());
    let (base, server) = serve_once(answer("503 Service Unavailable", &[], ""));
    let e = https(&base, Auth::None).get("/").unwrap_err();
    server.join().unwrap();
    assert!(e.is_transient(), "{e}");
}

#[test]
fn a_body_that_is_not_json_is_reported_with_its_url() {
    let (base, server) = serve_once(answer("200 OK", &[], "{not json"));
    let resp = https(&base, Auth::None).get("/audit/v1/query?limit=1").unwrap();
    server.join().unwrap();
    let e = resp.json().unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("{base}/audit/v1/query?limit=1: the body is not JSON")),
        "{e}"
    );
}

fn client(base: &str) -> Client {
    Client::new(Endpoint {
        api_root: format!("{base}/api/"),
        auth: Auth::Basic {
            user: "u".into(),
            password: "p".into(),
        },
        ca: None,
        identity: None,
        min_interval: Duration::ZERO,
        timeout: Duration::from_secs(10),
    })
    .unwrap()
}

#[test]
fn a_page_is_read_with_taxii_headers() {
    let (base, server) = serve_once(answer(
        "200 OK",
        &[
            ("Content-Type", "application/taxii+json;version=2.1"),
            ("X-TAXII-Date-Added-Last", "2024-01-01T00:00:00.000Z"),
        ],
        r#"{"more":true,"next":"n2","objects":[{"type":"x"}]}"#,
    ));
    let page = client(&base)
        .objects("c1", Some("2023-01-01T00:00:00Z"), None, 10)
        .unwrap();
    let request = server.join().unwrap();
    assert!(
        request.starts_with(
            "GET /api/collections/c1/objects/?limit=10&added_after=2023-01-01T00%3A00%3A00Z HTTP/1.1\r\n"
        ),
        "{request}"
    );
    assert!(
        has_header(&request, "Accept", accord_sync::ACCEPT_TAXII),
        "{request}"
    );
    // base64("u:p")
    assert!(has_header(&request, "Authorization", "Basic dTpw"), "{request}");
    assert!(page.more);
    assert_eq!(page.next.as_deref(), Some("n2"));
    assert_eq!(page.date_added_last.as_deref(), Some("2024-01-01T00:00:00.000Z"));
    assert_eq!(page.objects.len(), 1);
}

#[test]
fn an_envelope_is_posted_as_taxii() {
    let (base, server) = serve_once(answer(
        "202 Accepted",
        &[],
        r#"{"id":"s1","status":"pending","pending_count":2}"#,
    ));
    let status = client(&base)
        .add_objects("c1", &[r#"{"a":1}"#.to_owned(), r#"{"b":2}"#.to_owned()])
        .unwrap();
    let request = server.join().unwrap();
    assert!(
        request.starts_with("POST /api/collections/c1/objects/ HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        has_header(&request, "Content-Type", accord_sync::CONTENT_TYPE_TAXII),
        "{request}"
    );
    assert!(request.ends_with(r#"{"objects":[{"a":1},{"b":2}]}"#), "{request}");
    assert_eq!((status.id.as_str(), status.pending_count), ("s1", 2));
}
