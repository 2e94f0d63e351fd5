//! In-process tests of the TAXII 2.1 server: every endpoint, filter and error case, driven through
//! the router with `oneshot` (no socket), over a real node (SQLite store, ledger, policy) on a
//! clock the tests move.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use accord_node::Node;
use accord_node::clock::ManualClock;
use accord_node::ingest::worker::{IngestWorker, Ingestor};
use accord_store::{CollectionSpec, SqliteStore, StatusDetail, StatusRecord, Store};
use accord_taxii::access::PeerCertificate;
use accord_taxii::query::Cursors;
use accord_taxii::{AppState, ServerModel, Shared};
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const TAXII: &str = "application/taxii+json;version=2.1";

struct TestNode {
    state: AppState,
    worker: Option<IngestWorker>,
    basic: std::collections::HashMap<&'static str, String>,
    clock: Arc<ManualClock>,
    dir: tempfile::TempDir,
}

/// The sharing model: every principal below belongs to the node's organisation `org` (DE),
/// except `fr-partner` (a French CSIRT under an agreement for CLEAR and GREEN) and `de-bank`
/// (a German bank, declared client of `org`, with no agreement). `alice` reads everything and
/// writes c1; `reader` reads c2; `auditor` is oversight; `partner` reads c1 with a pinned client
/// certificate. `policy_principals` are those the policy knows (a reload may drop some).
fn config(max_content_length: usize, policy_principals: &[&str]) -> String {
    let mut text = format!(
        r#"
[node]
name = "test-node"
organisation = "org"

[store]
path = "db"

[limits]
max_object_bytes = 1048576

[[collections]]
id = "c1"
title = "C1"

[[collections]]
id = "c2"
title = "C2"

[server]
plain_http = true
listen = "127.0.0.1:0"
title = "Test"
default_api_root = "api"
page_size = 100
max_page_size = 500
# Tests must not depend on how fast the machine is: a small POST waits for its group as long as
# it takes.
complete_within_ms = 60000

[[api_roots]]
name = "api"
title = "API"
max_content_length = {max_content_length}
collections = ["c1", "c2"]

[ledger]
origin = "accord.test/taxii"

[[organisations]]
id = "org"
name = "Home CSIRT"
jurisdiction = "DE"
role = "csirt"
clients = ["bank-de"]

[[organisations]]
id = "cert-fr"
name = "French CSIRT"
jurisdiction = "FR"
role = "csirt"

[[organisations]]
id = "bank-de"
name = "Bank"
jurisdiction = "DE"
role = "operator"
identity = "identity--00000000-0000-4000-8000-0000000ba4c0"

[[agreements]]
id = "de-fr"
title = "DE-FR"
parties = ["org", "cert-fr"]
tlp = ["clear", "green"]
purposes = ["situational-awareness", "detection"]
legal_bases = ["gdpr-6-1-e"]
data_categories = ["email"]
redaction_profile = "strict"
"#
    );
    let principals = [
        (
            "alice",
            "org",
            r#"read = ["*"]
write = ["c1"]"#,
        ),
        ("reader", "org", r#"read = ["c2"]"#),
        (
            "auditor",
            "org",
            r#"read = ["*"]
roles = ["oversight"]"#,
        ),
        (
            "partner",
            "org",
            &format!(
                r#"read = ["c1"]
client_certificate_sha256 = "{}""#,
                hex::encode([42u8; 32])
            ),
        ),
        (
            "fr-partner",
            "cert-fr",
            r#"read = ["c1"]
purposes = ["detection"]"#,
        ),
        (
            "de-bank",
            "bank-de",
            r#"read = ["c1"]
write = ["c1"]
purposes = ["detection"]"#,
        ),
    ];
    for (name, org, rights) in principals {
        if policy_principals.contains(&name) {
            text.push_str(&format!(
                "\n[[principals]]\nname = \"{name}\"\norganisation = \"{org}\"\n{rights}\n"
            ));
        }
    }
    text
}

const EVERYONE: [&str; 6] = ["alice", "reader", "auditor", "partner", "fr-partner", "de-bank"];

async fn node_with(dir: tempfile::TempDir, max_content_length: usize) -> TestNode {
    std::fs::write(
        dir.path().join("accord.toml"),
        config(max_content_length, &EVERYONE),
    )
    .unwrap();
    let clock = ManualClock::at(1_790_000_000_000_000);
    let node = Node::open_with_clock(dir.path(), clock.clone()).unwrap();
    let mut basic = std::collections::HashMap::new();
    for name in ["alice", "reader", "auditor", "fr-partner", "de-bank"] {
        let t = node.issue_token(name, None).unwrap();
        basic.insert(
            name,
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", t.record.id, t.secret))
            ),
        );
        if name == "alice" {
            basic.insert("alice-bearer", format!("Bearer {}", t.bearer()));
        }
    }
    let model = ServerModel::from_config(&node.config(), [7; 32]).unwrap();
    let (ingest, worker) = Ingestor::start(&node);
    let state = AppState::new(Shared {
        node,
        model: Arc::new(model),
        cursors: Cursors::new([7; 32]),
        ingest,
        tls: true,
        public_host: "localhost:8443".into(),
    });
    TestNode {
        state,
        worker: Some(worker),
        basic,
        clock,
        dir,
    }
}

async fn node() -> TestNode {
    node_with(tempfile::tempdir().unwrap(), 10 << 20).await
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl TestNode {
    /// The node's store, opened beside it as another process would.
    fn store(&self) -> SqliteStore {
        SqliteStore::open(self.dir.path().join("db")).unwrap()
    }

    fn node(&self) -> &Node {
        &self.state.node
    }

    /// Rewrites the configuration so that the policy knows only `principals`, and puts it in
    /// force (principals authenticate as before: they are fixed when the node opens).
    fn reconfigure(&self, principals: &[&str]) {
        let max = self.state.model.roots[0].max_content_length;
        std::fs::write(self.dir.path().join("accord.toml"), config(max, principals)).unwrap();
        self.node().reload().unwrap();
    }

    async fn call(&self, req: Request<Body>) -> Resp {
        let resp = accord_taxii::app(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    async fn get_as(&self, who: &str, uri: &str) -> Resp {
        let mut b = Request::get(uri).header("accept", TAXII);
        if let Some(a) = self.basic.get(who) {
            b = b.header("authorization", a);
        }
        self.call(b.body(Body::empty()).unwrap()).await
    }

    async fn get(&self, uri: &str) -> Resp {
        self.get_as("alice", uri).await
    }

    async fn post(&self, coll: &str, body: &Value) -> Resp {
        self.post_as("alice", coll, body).await
    }

    async fn post_as(&self, who: &str, coll: &str, body: &Value) -> Resp {
        let req = Request::post(format!("/api/collections/{coll}/objects/"))
            .header("accept", TAXII)
            .header("content-type", TAXII)
            .header("authorization", &self.basic[who])
            .body(Body::from(body.to_string()))
            .unwrap();
        self.call(req).await
    }

    async fn delete_as(&self, who: &str, coll: &str, id: &str) -> Resp {
        let req = Request::delete(format!("/api/collections/{coll}/objects/{id}/"))
            .header("accept", TAXII)
            .header("authorization", &self.basic[who])
            .body(Body::empty())
            .unwrap();
        self.call(req).await
    }

    /// Posts and polls the status until complete.
    async fn add(&self, coll: &str, objects: Vec<Value>) -> Value {
        let r = self.post(coll, &json!({"objects": objects})).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        for _ in 0..500 {
            let s = self.get(&format!("/api/status/{id}/")).await;
            assert_eq!(s.status, StatusCode::OK);
            if s.body["status"] == "complete" {
                return s.body;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("status {id} never completed");
    }
}

fn indicator(n: u32, modified: &str) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1", "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2020-01-01T00:00:00.000Z", "modified": modified, "name": format!("i{n} {modified}"),
        "pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix", "valid_from": "2020-01-01T00:00:00Z"
    })
}

fn malware(n: u32) -> Value {
    json!({
        "type": "malware", "spec_version": "2.1", "id": format!("malware--00000000-0000-4000-8000-{n:012}"),
        "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z", "name": "m", "is_family": true
    })
}

/// The incomplete indicator the POST tests send is among `failures`, with its finding.
fn assert_missing_properties_reported(failures: &[Value]) {
    assert!(
        failures
            .iter()
            .any(|f| f["id"] == "indicator--00000000-0000-4000-8000-999999999999"
                && f["message"].as_str().unwrap().contains("required-property")),
        "{failures:?}"
    );
}

fn ids(env: &Value) -> Vec<String> {
    env["objects"]
        .as_array()
        .map(|a| a.iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_roots_and_collections() {
    let n = node().await;
    let d = n.get("/taxii2/").await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(d.headers["content-type"], TAXII);
    assert_eq!(d.body["api_roots"], json!(["https://localhost:8443/api/"]));
    assert_eq!(d.body["default"], "https://localhost:8443/api/");
    let r = n.get("/api/").await;
    assert_eq!(r.body["versions"], json!([TAXII]));
    assert_eq!(r.body["max_content_length"], 10 << 20);
    assert_eq!(n.get("/nope/").await.status, StatusCode::NOT_FOUND);
    let c = n.get("/api/collections/").await;
    let list = c.body["collections"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        (list[0]["can_read"].as_bool(), list[0]["can_write"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(
        (list[1]["can_read"].as_bool(), list[1]["can_write"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(n.get("/api/collections/c1/").await.body["id"], "c1");
    assert_eq!(n.get("/api/collections/c9/").await.status, StatusCode::NOT_FOUND);
    // The reader sees only c2, and is refused c1.
    let rc = n.get_as("reader", "/api/collections/").await;
    assert_eq!(rc.body["collections"].as_array().unwrap().len(), 1);
    assert_eq!(
        n.get_as("reader", "/api/collections/c1/").await.status,
        StatusCode::FORBIDDEN
    );
    // Without a trailing slash too (some clients drop it).
    assert_eq!(n.get("/api/collections").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn authentication() {
    let n = node().await;
    let none = n.get_as("nobody", "/taxii2/").await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(
        none.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("Basic")
    );
    assert_eq!(none.body["http_status"], "401");
    let bad = Request::get("/taxii2/")
        .header(
            "authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("tok-x:nope")
            ),
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(n.call(bad).await.status, StatusCode::UNAUTHORIZED);
    let bearer = Request::get("/taxii2/")
        .header("authorization", &n.basic["alice-bearer"])
        .body(Body::empty())
        .unwrap();
    assert_eq!(n.call(bearer).await.status, StatusCode::OK);
    let garbage = Request::get("/taxii2/")
        .header("authorization", "Digest abc")
        .body(Body::empty())
        .unwrap();
    assert_eq!(n.call(garbage).await.status, StatusCode::UNAUTHORIZED);
    // A pinned client certificate identifies the partner; an unknown one identifies no one.
    let mut req = Request::get("/api/collections/c1/objects/")
        .header("accept", TAXII)
        .body(Body::empty())
        .unwrap();
    req.extensions_mut().insert(PeerCertificate([42; 32]));
    assert_eq!(n.call(req).await.status, StatusCode::OK);
    let mut req = Request::get("/api/collections/c2/objects/")
        .body(Body::empty())
        .unwrap();
    req.extensions_mut().insert(PeerCertificate([42; 32]));
    assert_eq!(n.call(req).await.status, StatusCode::FORBIDDEN);
    let mut req = Request::get("/taxii2/").body(Body::empty()).unwrap();
    req.extensions_mut().insert(PeerCertificate([1; 32]));
    assert_eq!(n.call(req).await.status, StatusCode::UNAUTHORIZED);
    // A token revoked by another process (`accord token revoke` beside the server) stops working
    // once the cache's lifetime has passed; one revoked through the node, at once.
    let tokens = n.node().tokens().unwrap();
    let token = |who: &str| tokens.iter().find(|t| t.principal == who).unwrap().id.clone();
    accord_store::TokenStore::revoke_token(&n.store(), &token("alice"), 1).unwrap();
    assert_eq!(n.get("/taxii2/").await.status, StatusCode::OK, "still cached");
    n.clock.advance(accord_node::access::TOKEN_CACHE_TTL);
    assert_eq!(
        n.get("/taxii2/").await.status,
        StatusCode::UNAUTHORIZED,
        "revocation takes effect within the cache TTL"
    );
    assert_eq!(n.get_as("reader", "/taxii2/").await.status, StatusCode::OK);
    assert!(n.node().revoke_token(&token("reader")).unwrap());
    assert_eq!(
        n.get_as("reader", "/taxii2/").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn add_objects_and_status() {
    let n = node().await;
    let invalid = json!({"type": "indicator", "spec_version": "2.1", "id": "indicator--00000000-0000-4000-8000-999999999999"});
    let s = n
        .add(
            "c1",
            vec![
                indicator(1, "2020-01-01T00:00:00.000Z"),
                malware(1),
                invalid,
                json!("not an object"),
            ],
        )
        .await;
    assert_eq!(s["total_count"], 4);
    assert_eq!(s["success_count"], 2);
    assert_eq!(s["failure_count"], 2);
    assert_eq!(s["pending_count"], 0);
    let failures = s["failures"].as_array().unwrap();
    assert_missing_properties_reported(failures);
    // Re-sending is idempotent and reported as such.
    let again = n.add("c1", vec![malware(1)]).await;
    assert_eq!(again["successes"][0]["message"], "already present");
    // Writing where one may not.
    let r = n.post("c2", &json!({"objects": [malware(2)]})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Media types.
    let req = |ct: &str, accept: &str| {
        Request::post("/api/collections/c1/objects/")
            .header("content-type", ct)
            .header("accept", accept)
            .header("authorization", &n.basic["alice"])
            .body(Body::from(json!({"objects": [malware(3)]}).to_string()))
            .unwrap()
    };
    assert_eq!(
        n.call(req("application/json", TAXII)).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(
        n.call(req(TAXII, "text/html")).await.status,
        StatusCode::NOT_ACCEPTABLE
    );
    assert_eq!(
        n.call(req("application/taxii+json;version=2.0", TAXII))
            .await
            .status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    // Malformed envelopes.
    for body in [
        "{not json",
        "[1,2]",
        r#"{"objects": 5}"#,
        r#"{"objects": [1,], }"#,
    ] {
        let req = Request::post("/api/collections/c1/objects/")
            .header("content-type", TAXII)
            .header("authorization", &n.basic["alice"])
            .body(Body::from(body))
            .unwrap();
        let r = n.call(req).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        assert_eq!(r.body["http_status"], "400");
    }
    // Unknown status.
    assert_eq!(n.get("/api/status/nope/").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn max_content_length_is_413_with_or_without_content_length() {
    let n = node_with(tempfile::tempdir().unwrap(), 1000).await;
    let big = json!({"objects": [{"type": "x-pad", "x_pad": "a".repeat(2000)}]}).to_string();
    let with_len = Request::post("/api/collections/c1/objects/")
        .header("content-type", TAXII)
        .header("content-length", big.len())
        .header("authorization", &n.basic["alice"])
        .body(Body::from(big.clone()))
        .unwrap();
    assert_eq!(n.call(with_len).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Streamed without a length: counted as it arrives.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.as_bytes().chunks(100).map(|c| Ok(c.to_vec())).collect();
    let chunks = futures_util::stream::iter(chunks);
    let streamed = Request::post("/api/collections/c1/objects/")
        .header("content-type", TAXII)
        .header("authorization", &n.basic["alice"])
        .body(Body::from_stream(chunks))
        .unwrap();
    let r = n.call(streamed).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body["http_status"], "413");
}

/// Errors the handlers never see (rejected by an extractor or by the router) still carry the
/// TAXII error body, naming what was wrong.
#[tokio::test(flavor = "multi_thread")]
async fn every_error_has_the_taxii_error_body() {
    let n = node().await;
    let bad_utf8 = n.get("/api/collections/c1/objects/indicator--%FF%FE/").await;
    let wrong_method = n
        .call(
            Request::put("/api/collections/c1/objects/")
                .header("authorization", &n.basic["alice"])
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    for (r, status) in [
        (&bad_utf8, StatusCode::BAD_REQUEST),
        (&wrong_method, StatusCode::METHOD_NOT_ALLOWED),
    ] {
        assert_eq!(r.status, status, "{}", r.body);
        assert!(
            r.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/taxii+json"),
            "{:?}",
            r.headers
        );
        assert_eq!(r.body["http_status"], status.as_u16().to_string(), "{}", r.body);
        assert!(r.body["description"].as_str().is_some_and(|d| !d.is_empty()));
    }
    assert!(
        bad_utf8.body["description"].as_str().unwrap().contains("UTF-8"),
        "{}",
        bad_utf8.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn get_objects_with_every_filter() {
    let n = node().await;
    n.add(
        "c1",
        vec![
            indicator(1, "2020-01-01T00:00:00.000Z"),
            indicator(2, "2020-01-01T00:00:00.000Z"),
            malware(1),
        ],
    )
    .await;
    n.add(
        "c1",
        vec![
            indicator(1, "2021-01-01T00:00:00.000Z"),
            indicator(1, "2022-01-01T00:00:00.000Z"),
        ],
    )
    .await;
    let all = n.get("/api/collections/c1/objects/").await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.headers["content-type"], TAXII);
    assert_eq!(
        ids(&all.body).len(),
        3,
        "latest version of each object by default"
    );
    assert_eq!(all.body["more"], false);
    let first = all.headers["x-taxii-date-added-first"]
        .to_str()
        .unwrap()
        .to_owned();
    let last = all.headers["x-taxii-date-added-last"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(accord_stix::Timestamp::parse(&first).is_ok() && first <= last);
    let i1 = "indicator--00000000-0000-4000-8000-000000000001";
    let by = |q: &str| format!("/api/collections/c1/objects/?{q}");
    assert_eq!(ids(&n.get(&by("match[type]=malware")).await.body).len(), 1);
    assert_eq!(
        ids(&n.get(&by("match[type]=malware,indicator")).await.body).len(),
        3
    );
    assert_eq!(ids(&n.get(&by(&format!("match[id]={i1}"))).await.body), [i1]);
    let v = |q: &str| {
        let q = format!("match[id]={i1}&match[version]={q}");
        let n = &n;
        async move {
            n.get(&by(&q)).await.body["objects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["modified"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(v("last").await, ["2022-01-01T00:00:00.000Z"]);
    assert_eq!(v("first").await, ["2020-01-01T00:00:00.000Z"]);
    assert_eq!(v("all").await.len(), 3);
    assert_eq!(v("first,last").await.len(), 2);
    assert_eq!(
        v("2021-01-01T00:00:00Z").await,
        ["2021-01-01T00:00:00.000Z"],
        "timestamps compare as instants"
    );
    assert_eq!(ids(&n.get(&by("match[spec_version]=2.1")).await.body).len(), 3);
    assert_eq!(n.get(&by("match[spec_version]=2.0")).await.body, json!({}));
    // added_after is exclusive.
    assert_eq!(n.get(&by(&format!("added_after={last}"))).await.body, json!({}));
    // Errors.
    for q in [
        "limit=0",
        "limit=x",
        "added_after=2020-13-01T00:00:00Z",
        "match[version]=newest",
        "match[id]=nope",
        "match[type]=Bad_Type",
        "match[spec_version]=3",
        "match[colour]=red",
        "next=forged",
    ] {
        let r = n.get(&by(q)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {}", r.body);
        assert_eq!(r.body["title"], "Bad Request");
    }
    let many: Vec<String> = (0..1001)
        .map(|i| format!("indicator--00000000-0000-4000-8000-{i:012}"))
        .collect();
    assert_eq!(
        n.get(&by(&format!("match[id]={}", many.join(",")))).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        n.get_as("auditor", "/api/collections/c1/objects/").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn paging_keeps_filters_and_survives_concurrent_writes() {
    let n = node().await;
    n.add(
        "c1",
        (0..60)
            .map(|i| indicator(i, "2020-01-01T00:00:00.000Z"))
            .collect(),
    )
    .await;
    n.add("c1", (0..10).map(malware).collect()).await;
    let mut seen = Vec::new();
    let mut uri = "/api/collections/c1/objects/?match[type]=indicator&limit=7".to_owned();
    let mut wrote = false;
    loop {
        let page = n.get(&uri).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        seen.extend(ids(&page.body));
        if !wrote {
            // Writes arriving between pages: new objects come after the cursor, so none is skipped.
            n.add(
                "c1",
                (100..120)
                    .map(|i| indicator(i, "2020-01-01T00:00:00.000Z"))
                    .collect(),
            )
            .await;
            wrote = true;
        }
        if page.body["more"] != true {
            break;
        }
        let next = page.body["next"].as_str().unwrap();
        // The cursor only works with the filters it was issued for.
        let other = n
            .get(&format!(
                "/api/collections/c1/objects/?match[type]=malware&limit=7&next={next}"
            ))
            .await;
        assert_eq!(other.status, StatusCode::BAD_REQUEST);
        uri = format!("/api/collections/c1/objects/?match[type]=indicator&limit=7&next={next}");
    }
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no object repeated");
    assert_eq!(seen.len(), 80, "no object skipped");
    // Manifest pages the same way.
    let m = n.get("/api/collections/c1/manifest/?limit=50").await;
    assert_eq!(m.body["objects"].as_array().unwrap().len(), 50);
    assert_eq!(m.body["more"], true);
    let rec = &m.body["objects"][0];
    assert_eq!(rec["media_type"], "application/stix+json;version=2.1");
    assert!(rec["date_added"].as_str().is_some() && rec["version"] == "2020-01-01T00:00:00.000Z");
    let next = m.body["next"].as_str().unwrap();
    let m2 = n
        .get(&format!("/api/collections/c1/manifest/?limit=50&next={next}"))
        .await;
    assert_eq!(m2.body["objects"].as_array().unwrap().len(), 40);
    // A cursor from the objects endpoint is not valid on the manifest endpoint.
    let o = n.get("/api/collections/c1/objects/?limit=5").await;
    let onext = o.body["next"].as_str().unwrap();
    assert_eq!(
        n.get(&format!("/api/collections/c1/manifest/?limit=5&next={onext}"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

/// A client paging with pages of more than 100 gets each next page read ahead: used when nothing
/// it depends on changed, read again when a version in it was deleted (from any process), when
/// objects arrived after a last page was read, or when the policy was replaced; dropped when
/// nobody asks for it.
#[tokio::test(flavor = "multi_thread")]
async fn pages_read_ahead_are_used_only_while_they_hold() {
    let n = node().await;
    n.add(
        "c1",
        (0..250)
            .map(|i| indicator(i, "2020-01-01T00:00:00.000Z"))
            .collect(),
    )
    .await;
    let read_ahead = |outcome: &str| {
        let text = n.node().metrics().render();
        let prefix = format!("accord_pages_read_ahead_total{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix)?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let first = "/api/collections/c1/objects/?limit=101";
    let next = |page: &Resp| format!("{first}&next={}", page.body["next"].as_str().unwrap());
    // A whole walk: every object once; pages 2 and 3 were read ahead and used.
    let mut seen = Vec::new();
    let mut page = n.get(first).await;
    loop {
        seen.extend(ids(&page.body));
        if page.body["more"] != true {
            break;
        }
        page = n.get(&next(&page)).await;
    }
    let expected: Vec<String> = (0..250)
        .map(|i| format!("indicator--00000000-0000-4000-8000-{i:012}"))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!((read_ahead("used"), read_ahead("stale")), (2, 0));

    // The changes below must come after the page was read ahead (else it is read after them and
    // still holds): give the read, a few milliseconds, ample time (the clock does not move).
    let settle = || tokio::time::sleep(Duration::from_millis(500));
    // A version of page 2 deleted after page 1 was served (as retention would, from any process).
    let p1 = n.get(first).await;
    settle().await;
    let gone = &expected[150];
    let removed = n
        .store()
        .delete("c1", gone, &accord_store::VersionFilter::all(), false)
        .unwrap();
    assert_eq!(removed, 1);
    let p2 = n.get(&next(&p1)).await;
    assert_eq!(ids(&p2.body), [&expected[101..150], &expected[151..203]].concat());
    assert_eq!(read_ahead("stale"), 1);
    // Page 3 was read ahead to the end of the collection; objects added since belong in it.
    settle().await;
    n.add(
        "c1",
        (300..310)
            .map(|i| indicator(i, "2020-01-01T00:00:00.000Z"))
            .collect(),
    )
    .await;
    let p3 = n.get(&next(&p2)).await;
    assert_eq!(ids(&p3.body).len(), 47 + 10, "{}", p3.body);
    assert_eq!(read_ahead("stale"), 2);

    // A policy put in force after page 1 decides page 2: this one knows no alice.
    let p1 = n.get(first).await;
    settle().await;
    n.reconfigure(&["reader"]);
    let p2 = n.get(&next(&p1)).await;
    assert_eq!(p2.status, StatusCode::OK);
    assert!(ids(&p2.body).is_empty(), "{}", p2.body);
    assert_eq!(read_ahead("stale"), 3);
    n.reconfigure(&EVERYONE);

    // The share of a page read ahead is dated when the page leaves, its decisions when taken.
    let p1 = n.get(first).await;
    settle().await;
    let used = read_ahead("used");
    n.clock.advance(Duration::from_millis(1));
    let asked = accord_node::clock::Clock::now_micros(n.clock.as_ref()) * 1000;
    let p2 = n.get(&next(&p1)).await;
    assert_eq!(ids(&p2.body).len(), 101);
    assert_eq!(read_ahead("used"), used + 1);
    let log = n
        .get_as("auditor", "/audit/v1/query?principal=alice&kind=decision,share")
        .await;
    let entries = log.body["entries"].as_array().unwrap();
    let time = |e: &Value| accord_stix::Timestamp::parse(e["time"].as_str().unwrap()).unwrap();
    let share = entries.iter().rev().find(|e| e["kind"] == "share").unwrap();
    let decided = entries.iter().rev().find(|e| e["kind"] == "decisions").unwrap();
    assert_eq!(share["objects"].as_array().unwrap().len(), 101);
    assert!(
        time(decided).as_nanos_saturating() < asked && asked <= time(share).as_nanos_saturating(),
        "asked at {asked}: share {share} decisions {decided}"
    );

    // A page read ahead that nobody asks for is dropped after 2 s, and counted then: here page 3
    // of the walk just above and page 2 of this one.
    let unused = read_ahead("unused");
    n.get(first).await;
    settle().await;
    n.clock
        .advance(accord_node::read::MAX_AGE + Duration::from_millis(100));
    n.get(first).await;
    assert_eq!(read_ahead("unused"), unused + 2);

    // A client may change the page size from page to page: a page read ahead at another size is
    // not the one it asks for.
    let p1 = n.get(first).await;
    let used = read_ahead("used");
    let cursor = p1.body["next"].as_str().unwrap();
    let p2 = n
        .get(&format!("/api/collections/c1/objects/?limit=102&next={cursor}"))
        .await;
    let now: Vec<String> = ids(&p1.body).into_iter().chain(ids(&p2.body)).collect();
    assert_eq!(now.len(), 101 + 102);
    assert_eq!(read_ahead("used"), used);
}

#[tokio::test(flavor = "multi_thread")]
async fn object_versions_and_delete() {
    let n = node().await;
    let i1 = "indicator--00000000-0000-4000-8000-000000000001";
    n.add(
        "c1",
        vec![
            indicator(1, "2020-01-01T00:00:00.000Z"),
            indicator(1, "2021-01-01T00:00:00.000Z"),
        ],
    )
    .await;
    let o = n.get(&format!("/api/collections/c1/objects/{i1}/")).await;
    assert_eq!(o.body["objects"][0]["modified"], "2021-01-01T00:00:00.000Z");
    let all = n
        .get(&format!("/api/collections/c1/objects/{i1}/?match[version]=all"))
        .await;
    assert_eq!(all.body["objects"].as_array().unwrap().len(), 2);
    let vs = n
        .get(&format!("/api/collections/c1/objects/{i1}/versions/"))
        .await;
    assert_eq!(
        vs.body["versions"],
        json!(["2020-01-01T00:00:00.000Z", "2021-01-01T00:00:00.000Z"])
    );
    assert!(vs.headers.contains_key("x-taxii-date-added-first"));
    let missing = "indicator--00000000-0000-4000-8000-000000000077";
    assert_eq!(
        n.get(&format!("/api/collections/c1/objects/{missing}/"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        n.get(&format!("/api/collections/c1/objects/{missing}/versions/"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        n.get("/api/collections/c1/objects/not-an-id/").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        n.get(&format!(
            "/api/collections/c1/objects/{i1}/versions/?match[type]=x"
        ))
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    let del = |who: &str, q: &str| {
        let mut b = Request::delete(format!("/api/collections/c1/objects/{i1}/{q}")).header("accept", TAXII);
        if let Some(a) = n.basic.get(who) {
            b = b.header("authorization", a);
        }
        b.body(Body::empty()).unwrap()
    };
    assert_eq!(n.call(del("reader", "")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        n.call(del("alice", "?match[spec_version]=2.0")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        n.call(del("alice", "?match[version]=last")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        n.get(&format!("/api/collections/c1/objects/{i1}/")).await.body["objects"][0]["modified"],
        "2020-01-01T00:00:00.000Z"
    );
    assert_eq!(n.call(del("alice", "")).await.status, StatusCode::OK);
    assert_eq!(
        n.get(&format!("/api/collections/c1/objects/{i1}/")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(n.call(del("alice", "")).await.status, StatusCode::NOT_FOUND);
}

/// The oversight role can never read object content, on any route.
#[tokio::test(flavor = "multi_thread")]
async fn oversight_gets_403_on_every_content_endpoint() {
    let n = node().await;
    let status = n.post("c1", &json!({"objects": [malware(1)]})).await;
    let status_id = status.body["id"].as_str().unwrap().to_owned();
    let m = "malware--00000000-0000-4000-8000-000000000001";
    // Every route that reads, writes or describes a collection's content.
    let routes: Vec<(&str, String)> = vec![
        ("GET", "/api/collections/c1/".into()),
        ("GET", "/api/collections/c1/objects/".into()),
        ("POST", "/api/collections/c1/objects/".into()),
        ("GET", "/api/collections/c1/manifest/".into()),
        ("GET", format!("/api/collections/c1/objects/{m}/")),
        ("DELETE", format!("/api/collections/c1/objects/{m}/")),
        ("GET", format!("/api/collections/c1/objects/{m}/versions/")),
        ("GET", "/api/collections/c2/objects/".into()),
        ("GET", format!("/api/status/{status_id}/")),
    ];
    for (method, uri) in &routes {
        let mut b = Request::builder()
            .method(*method)
            .uri(uri)
            .header("accept", TAXII)
            .header("authorization", &n.basic["auditor"]);
        let body = if *method == "POST" {
            b = b.header("content-type", TAXII);
            Body::from(json!({"objects": [malware(2)]}).to_string())
        } else {
            Body::empty()
        };
        let r = n.call(b.body(body).unwrap()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {uri}: {}", r.body);
    }
    // Listings show it no collection; discovery and the API root carry no content.
    let r = n.get_as("auditor", "/api/collections/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body["collections"].as_array().is_none_or(Vec::is_empty),
        "{}",
        r.body
    );
    assert_eq!(n.get_as("auditor", "/taxii2/").await.status, StatusCode::OK);
    // The ledger is the oversight role's, and not an analyst's.
    for uri in [
        "/audit/v1/checkpoint",
        "/audit/v1/key",
        "/audit/v1/entries?start=0",
        "/audit/v1/query?kind=ingest",
    ] {
        assert_eq!(n.get_as("auditor", uri).await.status, StatusCode::OK, "{uri}");
        assert_eq!(
            n.get_as("alice", uri).await.status,
            StatusCode::FORBIDDEN,
            "{uri}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_read_is_logged_and_provable_without_content() {
    use base64::engine::general_purpose::STANDARD;
    let n = node().await;
    n.add(
        "c1",
        vec![malware(1), malware(2), indicator(3, "2021-01-01T00:00:00.000Z")],
    )
    .await;
    let r = n.get("/api/collections/c1/objects/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(ids(&r.body).len(), 3);
    // The read is in the log before the response: the decisions (one entry, since all three
    // came out the same, listing each version with its hash) and one share.
    let q = n
        .get_as("auditor", "/audit/v1/query?principal=alice&kind=decision,share")
        .await;
    let entries = q.body["entries"].as_array().unwrap();
    let decisions: Vec<&Value> = entries.iter().filter(|e| e["kind"] == "decisions").collect();
    assert_eq!(decisions.len(), 1, "{}", q.body);
    assert_eq!(decisions[0]["objects"].as_array().unwrap().len(), 3, "{}", q.body);
    assert!(
        decisions
            .iter()
            .all(|d| d["effect"] == "allow" && d["action"] == "read")
    );
    let share = entries.iter().find(|e| e["kind"] == "share").unwrap();
    assert_eq!(share["objects"].as_array().unwrap().len(), 3);
    assert_eq!(share["collection"], "c1");
    // Every decision about one object, and the ingest that brought it.
    let m = "malware--00000000-0000-4000-8000-000000000001";
    let about = n.get_as("auditor", &format!("/audit/v1/query?object={m}")).await;
    let kinds: Vec<&str> = about.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ingest", "decisions", "share"], "{}", about.body);
    // Entries carry hashes and ids, never content: the malware's name is nowhere in the log.
    let raw = n.get_as("auditor", "/audit/v1/entries?start=0").await;
    let text = raw.body.as_str().unwrap().to_owned();
    assert!(
        !text.contains("is_family") && !text.contains("\"name\""),
        "{text}"
    );
    // An inclusion proof from the API verifies against a fresh signed checkpoint.
    let note = n
        .call(
            Request::post("/audit/v1/checkpoint")
                .header("authorization", &n.basic["auditor"])
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let note = note.body.as_str().unwrap().to_owned();
    let cp = n.node().ledger().unwrap().verifier().open(&note).unwrap();
    let index = decisions[0]["index"].as_u64().unwrap();
    let p = n
        .get_as(
            "auditor",
            &format!("/audit/v1/proof/inclusion?index={index}&size={}", cp.size),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let hash = |v: &Value| -> [u8; 32] { STANDARD.decode(v.as_str().unwrap()).unwrap().try_into().unwrap() };
    let proof: Vec<[u8; 32]> = p.body["proof"].as_array().unwrap().iter().map(hash).collect();
    let line = text.lines().nth(index as usize).unwrap();
    assert_eq!(
        hash(&p.body["leaf_hash"]),
        accord_ledger::leaf_hash(line.as_bytes())
    );
    accord_ledger::verify_inclusion(
        &accord_ledger::leaf_hash(line.as_bytes()),
        index,
        cp.size,
        &proof,
        &cp.root,
    )
    .unwrap();
    let c = n
        .get_as(
            "auditor",
            &format!("/audit/v1/proof/consistency?first=1&second={}", cp.size),
        )
        .await;
    assert_eq!(c.status, StatusCode::OK);
    let bad = n
        .get_as("auditor", "/audit/v1/proof/inclusion?index=999999")
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
}

/// The ingest entries of the log, as the oversight body reads them.
async fn ingest_entries(n: &TestNode) -> Vec<Value> {
    let q = n.get_as("auditor", "/audit/v1/query?kind=ingest").await;
    assert_eq!(q.status, StatusCode::OK, "{}", q.body);
    q.body["entries"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_small_post_is_complete_in_its_own_response() {
    let n = node().await;
    let r = n.post("c1", &json!({"objects": [malware(1)]})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(
        (
            &r.body["status"],
            &r.body["total_count"],
            &r.body["success_count"],
            &r.body["pending_count"]
        ),
        (&json!("complete"), &json!(1), &json!(1), &json!(0)),
        "{}",
        r.body
    );
    let id = r.body["id"].as_str().unwrap().to_owned();
    // Readable at once, logged under its status, and its status resource says the same.
    assert_eq!(
        ids(&n
            .get("/api/collections/c1/objects/malware--00000000-0000-4000-8000-000000000001/")
            .await
            .body),
        ["malware--00000000-0000-4000-8000-000000000001"]
    );
    let logged = ingest_entries(&n).await;
    assert!(
        logged.iter().any(|e| e["status"] == id.as_str()
            && e["objects"][0]["id"] == "malware--00000000-0000-4000-8000-000000000001"),
        "{logged:?}"
    );
    assert_eq!(n.get(&format!("/api/status/{id}/")).await.body, r.body);
    assert!(
        accord_store::StatusStore::unfinished_statuses(&n.store())
            .unwrap()
            .is_empty()
    );

    // Valid and invalid objects together: complete, each failure with its finding.
    let r = n
        .post(
            "c1",
            &json!({"objects": [
                malware(2),
                {"type": "indicator", "spec_version": "2.1", "id": "indicator--00000000-0000-4000-8000-999999999999"},
                "not an object",
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.body["status"], "complete", "{}", r.body);
    assert_eq!(
        (&r.body["success_count"], &r.body["failure_count"]),
        (&json!(1), &json!(2))
    );
    let failures = r.body["failures"].as_array().unwrap();
    assert_missing_properties_reported(failures);
    // An object without a readable id is named by its place in the envelope, in the id too.
    assert!(
        failures.iter().any(|f| f["id"] == "$.objects[2]"
            && f["message"]
                .as_str()
                .unwrap()
                .starts_with("$.objects[2]: invalid STIX: error [not-an-object]")),
        "{failures:?}"
    );
    assert!(failures.iter().all(|f| f["id"] != ""), "{failures:?}");
}

/// Puts `settings` in force in the node's `[server]` section.
fn set_server(n: &TestNode, settings: &str) {
    let text = config(10 << 20, &EVERYONE).replace("complete_within_ms = 60000\n", &format!("{settings}\n"));
    assert!(text.contains(settings));
    std::fs::write(n.dir.path().join("accord.toml"), text).unwrap();
    n.node().reload().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn larger_or_slower_posts_are_pending_and_complete_as_before() {
    let n = node().await;
    let poll = |id: String| {
        let n = &n;
        async move {
            for _ in 0..500 {
                let s = n.get(&format!("/api/status/{id}/")).await;
                assert_eq!(
                    s.status,
                    StatusCode::OK,
                    "a pending status is durable when answered"
                );
                if s.body["status"] == "complete" {
                    return s.body;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("status {id} never completed");
        }
    };
    // Over the bound: pending at once, complete later.
    set_server(&n, "complete_within_ms = 60000\ncomplete_max_objects = 2");
    let r = n
        .post(
            "c1",
            &json!({"objects": (1..=3).map(malware).collect::<Vec<_>>()}),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["status"]),
        (StatusCode::ACCEPTED, &json!("pending")),
        "{}",
        r.body
    );
    assert_eq!(r.body["pending_count"], 3);
    let done = poll(r.body["id"].as_str().unwrap().to_owned()).await;
    assert_eq!(done["success_count"], 3);
    // Within the bound in objects, but 0 ms to wait: pending.
    set_server(&n, "complete_within_ms = 0");
    let r = n.post("c1", &json!({"objects": [malware(4)]})).await;
    assert_eq!(r.body["status"], "pending", "{}", r.body);
    assert_eq!(
        poll(r.body["id"].as_str().unwrap().to_owned()).await["success_count"],
        1
    );
    // Not done in time: answered pending, durable then, and completed by the writer either way
    // (its finished status stands if the writer got there first).
    set_server(&n, "complete_within_ms = 1\ncomplete_max_objects = 10000");
    let r = n
        .post(
            "c1",
            &json!({"objects": (10..4010).map(malware).collect::<Vec<_>>()}),
        )
        .await;
    assert_eq!(r.body["status"], "pending", "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(poll(id.clone()).await["success_count"], 4000);
    assert!(
        accord_store::StatusStore::unfinished_statuses(&n.store())
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ingest_entries(&n)
            .await
            .iter()
            .filter(|e| e["status"] == id.as_str())
            .count(),
        1,
        "logged once"
    );
    // Counted out just after the statuses are recorded.
    for _ in 0..500 {
        if n.state.ingest.backlog() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        n.state.ingest.backlog(),
        0,
        "every object accepted is counted out once stored"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn status_survives_restart_and_pending_work_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    {
        // A request that was acknowledged (status stored with its payload) but never processed,
        // as if the node died right after answering 202.
        let store = SqliteStore::open(path.join("db")).unwrap();
        store
            .ensure_collection(&CollectionSpec {
                id: "c1".into(),
                title: "c1".into(),
                description: None,
                alias: None,
            })
            .unwrap();
        let payload = json!({"objects": [malware(5)]}).to_string();
        let status = StatusRecord {
            id: "interrupted".into(),
            api_root: "api".into(),
            collection: "c1".into(),
            principal: "alice".into(),
            request_timestamp: 1,
            complete: false,
            total: 1,
            successes: vec![],
            failures: vec![],
            pendings: vec![StatusDetail {
                id: "malware--00000000-0000-4000-8000-000000000005".into(),
                version: String::new(),
                message: None,
            }],
        };
        accord_store::StatusStore::create_status(&store, &status, payload.as_bytes()).unwrap();
    }
    let mut n = node_with(dir, 10 << 20).await;
    for _ in 0..500 {
        let s = n.get("/api/status/interrupted/").await;
        assert_eq!(s.status, StatusCode::OK);
        if s.body["status"] == "complete" {
            assert_eq!(s.body["success_count"], 1);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        ids(&n.get("/api/collections/c1/objects/").await.body),
        ["malware--00000000-0000-4000-8000-000000000005"]
    );
    // Shutdown finishes queued work: once every sender is gone, the worker drains the queue.
    let r = n
        .post(
            "c1",
            &json!({"objects": (10..2000).map(malware).collect::<Vec<_>>()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let node = n.node().clone();
    let worker = n.worker.take().unwrap();
    drop(n.state);
    worker.finish().await;
    let done = node.status(&id).unwrap().unwrap();
    assert!(
        done.complete && done.successes.len() == 1990,
        "{} successes",
        done.successes.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_exposed() {
    let n = node().await;
    n.add("c1", vec![malware(1)]).await;
    let r = n.get("/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.body.as_str().unwrap().to_owned();
    assert!(text.contains("accord_http_requests_total"), "{text}");
    assert!(
        text.contains("route=\"/{root}/status/{id}/\""),
        "route templates, not concrete paths: {text}"
    );
    assert!(
        text.contains("accord_objects_ingested_total{collection=\"c1\"} 1"),
        "{text}"
    );
    assert!(text.contains("accord_http_request_duration_seconds_bucket"));
    // The transparency log's gauges follow the log (the ingest above was logged).
    let gauge = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    let entries = gauge("accord_audit_entries");
    assert_eq!(entries, n.node().ledger().unwrap().size());
    assert!(entries > 0 && gauge("accord_audit_bytes") > entries);
    assert!(gauge("accord_audit_unsigned_entries") <= entries);
    assert_eq!(gauge("accord_audit_failed"), 0);
    // Known (not -1) and positive: the test's file system is not full.
    assert!(gauge("accord_audit_disk_available_bytes") > 0);
    assert_eq!(
        n.get_as("nobody", "/metrics").await.status,
        StatusCode::UNAUTHORIZED
    );
}

const TLP: [(&str, &str); 5] = [
    (
        "clear",
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    ),
    (
        "green",
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    ),
    (
        "amber",
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    ),
    (
        "amber+strict",
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    ),
    ("red", "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"),
];

/// Three principals in two jurisdictions read the same collection, page by page, and each sees
/// exactly what the sharing rules allow, redacted where they say so.
#[tokio::test(flavor = "multi_thread")]
async fn each_principal_sees_what_the_policy_allows() {
    let n = node().await;
    let mut objects = Vec::new();
    for (i, (level, id)) in TLP.iter().enumerate() {
        let mut o = indicator(100 + i as u32, "2021-01-01T00:00:00.000Z");
        o["object_marking_refs"] = json!([id]);
        o["name"] = format!("tlp {level}").into();
        if *level == "red" {
            o["extensions"] = json!({accord_policy::HANDLING_EXTENSION_ID: {"extension_type": "property-extension", "recipients": ["bank-de"]}});
        }
        objects.push(o);
    }
    let mut pii = indicator(200, "2021-01-01T00:00:00.000Z");
    pii["object_marking_refs"] = json!([TLP[1].1]);
    pii["description"] = "reported by erika.mustermann@example.de".into();
    pii["extensions"] = json!({accord_policy::HANDLING_EXTENSION_ID: {"extension_type": "property-extension",
        "legal_basis": "gdpr-6-1-e", "personal_data_categories": ["email"]}});
    objects.push(pii);
    let unmarked = malware(300);
    objects.push(unmarked);
    // Read in one page, versions whose handling differs only in the recipients named (here the
    // node's own organisation), or not at all, are still each decided by their own.
    let mut other_red = objects[4].clone();
    other_red["id"] = "indicator--00000000-0000-4000-8000-000000000105".into();
    other_red["extensions"] = json!({accord_policy::HANDLING_EXTENSION_ID: {"extension_type": "property-extension", "recipients": ["org"]}});
    let mut amber_again = objects[2].clone();
    amber_again["id"] = "indicator--00000000-0000-4000-8000-000000000106".into();
    objects.extend([other_red, amber_again]);
    let status = n.add("c1", objects).await;
    assert_eq!(status["success_count"], 9, "{status}");

    let id = |k: u32| format!("indicator--00000000-0000-4000-8000-{k:012}");
    let table: [(&str, Vec<String>); 3] = [
        // Own organisation: everything but TLP:RED not naming it (named recipients only).
        (
            "alice",
            vec![
                id(100),
                id(101),
                id(102),
                id(103),
                id(105),
                id(106),
                id(200),
                "malware--00000000-0000-4000-8000-000000000300".into(),
            ],
        ),
        // French partner under the agreement: CLEAR and GREEN only.
        ("fr-partner", vec![id(100), id(101), id(200)]),
        // German client: CLEAR, GREEN, AMBER, and the RED object that names it; unmarked (AMBER).
        (
            "de-bank",
            vec![
                id(100),
                id(101),
                id(102),
                id(104),
                id(106),
                id(200),
                "malware--00000000-0000-4000-8000-000000000300".into(),
            ],
        ),
    ];
    for (who, expected) in &table {
        // Page by two: paging stays correct while the policy withholds objects.
        let mut seen = Vec::new();
        let mut uri = "/api/collections/c1/objects/?limit=2".to_owned();
        loop {
            let r = n.get_as(who, &uri).await;
            assert_eq!(r.status, StatusCode::OK, "{who}: {}", r.body);
            seen.extend(ids(&r.body));
            match r.body["next"].as_str() {
                Some(next) => uri = format!("/api/collections/c1/objects/?limit=2&next={next}"),
                None => break,
            }
        }
        let mut want = expected.clone();
        want.sort();
        let mut got = seen.clone();
        got.sort();
        assert_eq!(got, want, "{who}");
        let mut whole = ids(&n.get_as(who, "/api/collections/c1/objects/?limit=100").await.body);
        whole.sort();
        assert_eq!(whole, want, "{who}: in one page");
        assert_eq!(
            seen.len(),
            got.len(),
            "{who}: an object was repeated across pages"
        );
        let manifest = n.get_as(who, "/api/collections/c1/manifest/").await;
        let mut listed = ids(&manifest.body);
        listed.sort();
        assert_eq!(listed, want, "{who}: manifest");
    }
    // The partner receives the personal data minimised; the organisation itself does not.
    let r = n
        .get_as("fr-partner", &format!("/api/collections/c1/objects/{}/", id(200)))
        .await;
    let text = r.body.to_string();
    assert!(!text.contains("erika.mustermann"), "{text}");
    assert!(text.contains("@pseudonym.invalid"), "{text}");
    let r = n
        .get_as("alice", &format!("/api/collections/c1/objects/{}/", id(200)))
        .await;
    assert!(r.body.to_string().contains("erika.mustermann@example.de"));
    // What a principal may not see is absent, not forbidden, on every read endpoint.
    for path in ["", "versions/"] {
        let r = n
            .get_as(
                "fr-partner",
                &format!("/api/collections/c1/objects/{}/{path}", id(102)),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
    }
    // A purpose the principal may not declare is denied.
    let req = Request::get("/api/collections/c1/objects/")
        .header("accept", TAXII)
        .header("authorization", &n.basic["fr-partner"])
        .header("x-accord-purpose", "blocking")
        .body(Body::empty())
        .unwrap();
    let r = n.call(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(ids(&r.body), Vec::<String>::new());
}

/// Reads from a raw connection until the server closes it; how long that took, or `None` if it
/// stayed open for `within`.
async fn closed_within(s: &mut tokio::net::TcpStream, within: Duration) -> Option<Duration> {
    use tokio::io::AsyncReadExt;
    let start = std::time::Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(tokio::time::Instant::from_std(start + within), s.read(&mut buf)).await
        {
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
            Err(_) => return None,
        }
    }
}

/// A hostile client cannot exhaust the server: connections beyond the limits are closed at once
/// and counted; silent, trickling and idle connections are closed after their timeouts; the
/// places they held are free again afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn connections_are_bounded_in_number_and_time() {
    use accord_taxii::server::{Limits, serve};
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpSocket, TcpStream};
    let n = node().await;
    let limits = Limits {
        header_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_millis(400),
        max_connections: 3,
        max_per_address: 2,
        http2_max_streams: 4,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics = n.node().metrics().clone();
    let server = tokio::spawn(serve(
        listener,
        accord_taxii::app(n.state.clone()),
        None,
        limits,
        metrics,
        async {
            let _ = stopped.await;
        },
    ));
    let from = |ip: &str| {
        let ip: std::net::IpAddr = ip.parse().unwrap();
        async move {
            let s = TcpSocket::new_v4().unwrap();
            s.bind((ip, 0).into()).unwrap();
            s.connect(addr).await.unwrap()
        }
    };
    let refused = |reason: &str| {
        let text = n.node().metrics().render();
        let line = format!("accord_connections_refused_total{{reason=\"{reason}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&line))
            .map_or(0, |v| v.trim().parse::<u64>().unwrap())
    };
    let short = Duration::from_millis(150);

    // Two from one address are served; a third from it is closed at once.
    let mut a1 = from("127.0.0.1").await;
    let mut a2 = from("127.0.0.1").await;
    let mut a3 = from("127.0.0.1").await;
    assert!(
        closed_within(&mut a3, short).await.is_some(),
        "third from one address stays open"
    );
    assert_eq!(refused("address_limit"), 1);
    // One more from another address fills the node; the next is closed at once.
    let mut b1 = from("127.0.0.2").await;
    let mut c1 = from("127.0.0.3").await;
    assert!(
        closed_within(&mut c1, short).await.is_some(),
        "a connection beyond the limit stays open"
    );
    assert_eq!(refused("limit"), 1);
    assert!(
        closed_within(&mut a1, short).await.is_none(),
        "an admitted connection was closed early"
    );

    // Trickling a request's headers does not keep a connection open past the header timeout.
    let trickle = tokio::spawn(async move {
        let _ = b1.write_all(b"GET /taxii2/ HTTP/1.1\r\nHost: x\r\n").await;
        for _ in 0..60 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if b1.write_all(b"X-A: b\r\n").await.is_err() {
                break;
            }
        }
        b1
    });
    // Silent connections are closed after the timeout, not before and not much after.
    let silent = closed_within(&mut a1, Duration::from_secs(5))
        .await
        .expect("silent connection held");
    assert!(
        silent >= Duration::from_millis(200),
        "closed too early: {silent:?}"
    );
    assert!(closed_within(&mut a2, Duration::from_secs(5)).await.is_some());
    let mut b1 = trickle.await.unwrap();
    assert!(
        closed_within(&mut b1, Duration::from_millis(100)).await.is_some(),
        "trickled headers held the connection"
    );

    // The places are free again: a keep-alive client is served, then closed once idle.
    let mut k = TcpStream::connect(addr).await.unwrap();
    k.write_all(
        format!(
            "GET /taxii2/ HTTP/1.1\r\nHost: x\r\nAccept: {TAXII}\r\nAuthorization: {}\r\n\r\n",
            n.basic["alice"]
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut head = [0u8; 12];
    tokio::io::AsyncReadExt::read_exact(&mut k, &mut head)
        .await
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    assert!(
        closed_within(&mut k, Duration::from_secs(5)).await.is_some(),
        "idle keep-alive connection held"
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// STIX 2.1 §3.6: only an object's creator may version it. A writer of another organisation can
/// neither post a new version of it, nor claim to be its creator, nor delete it; its creator can.
#[tokio::test(flavor = "multi_thread")]
async fn only_the_creator_may_version_or_delete_an_object() {
    let n = node().await;
    let posted = |r: &Resp| {
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        assert_eq!(r.body["status"], "complete", "{}", r.body);
        (
            r.body["success_count"].as_u64().unwrap(),
            r.body["failures"].as_array().cloned().unwrap_or_default(),
        )
    };
    let home = indicator(1, "2026-01-01T00:00:00.000Z");
    let id = home["id"].as_str().unwrap().to_owned();
    assert_eq!(posted(&n.post("c1", &json!({"objects": [home]})).await).0, 1);

    // Another organisation's newer version, relabelled: refused, naming the creator.
    let mut takeover = indicator(1, "2026-02-01T00:00:00.000Z");
    takeover["object_marking_refs"] = json!(["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"]);
    let (ok, failures) = posted(&n.post_as("de-bank", "c1", &json!({"objects": [takeover]})).await);
    assert_eq!(ok, 0);
    let message = failures[0]["message"].as_str().unwrap();
    assert!(
        failures[0]["id"] == id.as_str() && message.contains("only its creator, organisation \"org\""),
        "{failures:?}"
    );
    let versions = n
        .get(&format!("/api/collections/c1/objects/{id}/versions/"))
        .await;
    assert_eq!(
        versions.body["versions"].as_array().unwrap().len(),
        1,
        "{}",
        versions.body
    );

    // Nor may it delete the object; its creator may.
    assert_eq!(
        n.delete_as("de-bank", "c1", &id).await.status,
        StatusCode::FORBIDDEN
    );

    // An object naming the bank's identity as creator is the bank's: the home CSIRT cannot post
    // one (impersonation), nor version the bank's.
    let mut banks = indicator(2, "2026-01-01T00:00:00.000Z");
    banks["created_by_ref"] = json!("identity--00000000-0000-4000-8000-0000000ba4c0");
    let (ok, failures) = posted(&n.post("c1", &json!({"objects": [banks.clone()]})).await);
    assert_eq!(ok, 0, "{failures:?}");
    assert_eq!(
        posted(
            &n.post_as("de-bank", "c1", &json!({"objects": [banks.clone()]}))
                .await
        )
        .0,
        1
    );
    banks["modified"] = json!("2026-03-01T00:00:00.000Z");
    assert_eq!(
        posted(&n.post("c1", &json!({"objects": [banks.clone()]})).await).0,
        0
    );
    assert_eq!(
        posted(&n.post_as("de-bank", "c1", &json!({"objects": [banks]})).await).0,
        1
    );

    // The creator versions and deletes its own.
    let next = indicator(1, "2026-02-01T00:00:00.000Z");
    assert_eq!(posted(&n.post("c1", &json!({"objects": [next]})).await).0, 1);
    assert_eq!(n.delete_as("alice", "c1", &id).await.status, StatusCode::OK);
    // The refused ones count as failed in the log's ingest entries.
    let failed: u64 = ingest_entries(&n)
        .await
        .iter()
        .map(|e| e["failed"].as_u64().unwrap_or(0))
        .sum();
    assert!(failed >= 3, "{failed}");
}

/// POSTed bodies take their share of `max_body_bytes_in_flight` from before they are read until
/// their objects are stored: when the budget is spent, the next POST waits its turn instead of
/// adding its bytes to memory, and every share is given back.
#[tokio::test(flavor = "multi_thread")]
async fn request_bodies_wait_for_their_share_of_memory() {
    let n = node().await;
    let budget = n.node().config().server.max_body_bytes_in_flight;
    let everything = n.state.ingest.reserve(budget).await.unwrap();
    assert_eq!(n.state.ingest.bytes_held(), budget);
    let post = {
        let state = n.state.clone();
        let auth = n.basic["alice"].clone();
        let body = json!({"objects": [malware(7)]}).to_string();
        tokio::spawn(async move {
            let req = Request::post("/api/collections/c1/objects/")
                .header("accept", TAXII)
                .header("content-type", TAXII)
                .header("content-length", body.len())
                .header("authorization", auth)
                .body(Body::from(body))
                .unwrap();
            accord_taxii::app(state).oneshot(req).await.unwrap().status()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!post.is_finished(), "a POST went ahead with the budget spent");
    drop(everything);
    let status = tokio::time::timeout(Duration::from_secs(10), post)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, StatusCode::ACCEPTED);
    let ok = n.post("c1", &json!({"objects": [malware(8)]})).await;
    assert_eq!(ok.body["status"], "complete", "{}", ok.body);
    assert_eq!(n.state.ingest.bytes_held(), 0, "a share was not given back");
}

/// An object stored with warnings says so: in its status (the writer learns what to fix) and in
/// /metrics, counted by rule.
#[tokio::test(flavor = "multi_thread")]
async fn warnings_reach_the_status_and_the_metrics() {
    let n = node().await;
    let mut warned = indicator(1, "2026-01-01T00:00:00.000Z");
    warned["indicator_types"] = json!(["made-up-type"]);
    let r = n.post("c1", &json!({"objects": [warned, malware(2)]})).await;
    assert_eq!(r.body["status"], "complete", "{}", r.body);
    let successes = r.body["successes"].as_array().unwrap();
    let message = |i: usize| successes[i]["message"].as_str().unwrap_or_default().to_owned();
    assert!(
        message(0).contains("open-vocabulary") && message(0).contains("indicator_types"),
        "{successes:?}"
    );
    assert_eq!(message(1), "", "{successes:?}");
    let text = n.get("/metrics").await.body.as_str().unwrap().to_owned();
    assert!(
        text.contains("accord_ingest_warnings_total{rule=\"open-vocabulary\"} 1"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn oversight_queries_check_every_parameter_and_come_in_pages() {
    let n = node().await;
    n.add("c1", vec![malware(1), malware(2)]).await;
    for _ in 0..4 {
        n.clock.advance(Duration::from_secs(3600));
        assert_eq!(n.get("/api/collections/c1/objects/").await.status, StatusCode::OK);
    }
    // A parameter that cannot be used is a 400 with the TAXII error body, naming it.
    for (q, named) in [
        ("since=garbage", "since"),
        ("until=yesterday", "until"),
        ("since=2026-11-30T12:00:00", "since"),
        ("until=2026-02-30", "until"),
        ("kind=decision,bogus", "kind"),
        ("kind=", "kind"),
        ("object=", "object"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("next=x", "next"),
        ("next=999999", "next"),
        ("agrement=bilateral", "agrement"),
        ("kind=share&kind=ingest", "kind"),
    ] {
        let r = n.get_as("auditor", &format!("/audit/v1/query?{q}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {}", r.body);
        assert_eq!(r.body["title"], "Bad Request", "{q}");
        assert_eq!(r.body["http_status"], "400", "{q}");
        let says = r.body["description"].as_str().unwrap();
        assert!(says.contains(named), "{q}: {says}");
    }
    let all = n.get_as("auditor", "/audit/v1/query").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(all.body["more"], false);
    let all = all.body["entries"].as_array().unwrap().clone();
    let at = |e: &Value| accord_stix::Timestamp::parse(e["time"].as_str().unwrap()).unwrap();
    // One instant spelled in three offsets gives one answer: what is at or after it.
    let middle = at(&all[all.len() / 2]);
    let expected: Vec<u64> = all
        .iter()
        .filter(|e| at(e) >= middle)
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert!(!expected.is_empty() && expected.len() < all.len());
    let micros = middle.as_micros();
    let spelled = |minutes: i64, sign: &str| {
        let local = accord_stix::Timestamp::format_micros(micros + minutes * 60_000_000);
        format!(
            "{}{sign}{:02}:{:02}",
            &local[..local.len() - 1],
            minutes.abs() / 60,
            minutes.abs() % 60
        )
    };
    for since in [
        accord_stix::Timestamp::format_micros(micros),
        spelled(330, "%2B"),
        spelled(-180, "-"),
    ] {
        let r = n
            .get_as("auditor", &format!("/audit/v1/query?since={since}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{since}: {}", r.body);
        let got: Vec<u64> = r.body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["index"].as_u64().unwrap())
            .collect();
        assert_eq!(got, expected, "since={since}");
    }
    // Pages: `limit` entries at a time, each naming the next; together, every entry once.
    let (mut got, mut next) = (Vec::new(), None::<String>);
    loop {
        let uri = match &next {
            Some(c) => format!("/audit/v1/query?limit=2&next={c}"),
            None => "/audit/v1/query?limit=2".to_owned(),
        };
        let r = n.get_as("auditor", &uri).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let page = r.body["entries"].as_array().unwrap();
        assert!(page.len() <= 2);
        got.extend(page.iter().cloned());
        assert_eq!(r.body["more"], r.body["next"].is_string());
        match r.body["next"].as_str() {
            Some(c) => next = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(got, all);
}
