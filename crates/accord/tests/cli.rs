//! End-to-end tests of the `accord` command: init, import, export, validate, bad input, and
//! crash safety (kill -9 during an import).
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use accord_store::{Query, SqliteStore, Store, VersionFilter};
use serde_json::Value;

fn accord(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accord"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("run accord")
}

fn json_out(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout={} stderr={}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn init() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let o = accord(&dir, &["init"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (tmp, dir)
}

fn shared(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/stix")
        .join(rel)
        .display()
        .to_string()
}

const IND: &str = r#"{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:00.000Z","modified":"MODIFIED","name":"NAME","pattern":"[ipv4-addr:value = '198.51.100.3']","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z"}"#;

fn indicator(modified: &str, name: &str) -> String {
    IND.replace("MODIFIED", modified).replace("NAME", name)
}

#[test]
fn init_writes_a_commented_config_and_refuses_to_overwrite() {
    let (_tmp, dir) = init();
    let text = std::fs::read_to_string(dir.join("accord.toml")).unwrap();
    assert!(text.contains("# Collections hold object versions"));
    let again = accord(&dir, &["init"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));
}

#[test]
fn import_counts_new_unchanged_versions_and_rejections() {
    let (tmp, dir) = init();
    let f = tmp.path().join("objs.jsonl");
    let bad = r#"{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000001","created":"2016-04-06T20:03:00.000Z","modified":"2016-04-06T20:03:00.000Z","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z"}"#;
    std::fs::write(
        &f,
        format!("{}\n{bad}\n", indicator("2016-04-06T20:03:00.000Z", "v1")),
    )
    .unwrap();
    let o = accord(&dir, &["--json", "import", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "a rejection exits 1");
    let s = json_out(&o);
    assert_eq!((s["new"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(1)));
    let rej = &s["rejections"][0];
    assert_eq!(rej["line"], 2);
    assert_eq!(
        rej["object_id"],
        "indicator--00000000-0000-4000-8000-000000000001"
    );
    assert_eq!(rej["findings"][0]["rule"], "required-property");

    std::fs::write(
        &f,
        format!(
            "{}\n{}\n",
            indicator("2016-04-06T20:03:00.000Z", "v1"),
            indicator("2017-01-01T00:00:00.000Z", "v2")
        ),
    )
    .unwrap();
    let s = json_out(&accord(&dir, &["--json", "import", f.to_str().unwrap()]));
    assert_eq!(
        (s["unchanged"].as_u64(), s["new_version"].as_u64()),
        (Some(1), Some(1))
    );

    // Same version, different content: a conflict, rejected with a clear message.
    std::fs::write(&f, indicator("2017-01-01T00:00:00.000Z", "changed")).unwrap();
    let o = accord(&dir, &["--json", "import", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let s = json_out(&o);
    assert!(
        s["rejections"][0]["error"]
            .as_str()
            .unwrap()
            .contains("version conflict"),
        "{s}"
    );
}

#[test]
fn strict_import_is_all_or_nothing() {
    let (tmp, dir) = init();
    let f = tmp.path().join("b.jsonl");
    std::fs::write(
        &f,
        format!(
            "{}\n{{\"type\":\"indicator\"}}\n",
            indicator("2016-04-06T20:03:00.000Z", "x")
        ),
    )
    .unwrap();
    let o = accord(&dir, &["--json", "import", "--strict", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json_out(&o)["committed"], false);
    let list = json_out(&accord(&dir, &["--json", "collections"]));
    assert_eq!(list[0]["versions"], 0, "nothing imported");
}

#[test]
fn export_round_trips_the_oasis_examples() {
    let (tmp, dir) = init();
    let o = accord(&dir, &["--json", "import", &shared("examples")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let s = json_out(&o);
    let stored = s["new"].as_u64().unwrap();
    assert!(stored > 250);
    let out = tmp.path().join("export.json");
    let o = accord(
        &dir,
        &["export", "--format", "bundle", "-o", out.to_str().unwrap()],
    );
    assert!(o.status.success());
    // Exports pass the policy too: the one TLP:RED object in the examples (a campaign received
    // from another organisation, naming no recipient) stays in the store.
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("(1 withheld by policy)"), "{stderr}");
    let stored = stored - 1;
    let bundle: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let objects = bundle["objects"].as_array().unwrap();
    assert_eq!(objects.len() as u64, stored);
    assert!(
        !objects
            .iter()
            .any(|o| o["id"] == "campaign--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061")
    );
    // The exported bundle validates and re-imports as entirely unchanged.
    assert!(
        accord(&dir, &["validate", out.to_str().unwrap()])
            .status
            .success()
    );
    let s = json_out(&accord(&dir, &["--json", "import", out.to_str().unwrap()]));
    assert_eq!(s["unchanged"].as_u64(), Some(stored));
    // Type filter.
    let o = accord(&dir, &["export", "--type", "malware", "--format", "jsonl"]);
    let lines: Vec<Value> = o
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert!(!lines.is_empty() && lines.iter().all(|v| v["type"] == "malware"));
}

#[test]
fn policy_explain_test_check_and_partner_export() {
    let (tmp, dir) = init();
    for c in ["demo", "default"] {
        assert!(
            accord(&dir, &["import", "--collection", c, &shared("examples")])
                .status
                .success()
        );
    }
    // The demo partner (France, agreement for CLEAR and GREEN) gets less than the node itself,
    // and no personal data: the APT1 individuals' names and e-mail addresses are minimised.
    let o = accord(
        &dir,
        &[
            "export",
            "--collection",
            "demo",
            "--for",
            "demo-partner",
            "--format",
            "jsonl",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let partner: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!partner.is_empty());
    assert!(
        !text.contains("uglygorilla@163.com") && !text.contains("Wang Dong"),
        "personal data leaked"
    );
    let node: Vec<Value> = String::from_utf8_lossy(
        &accord(&dir, &["export", "--collection", "demo", "--format", "jsonl"]).stdout,
    )
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect();
    // The demo collection is public data (unmarked = CLEAR): the partner gets the same objects as
    // the node itself, but the individuals minimised.
    assert_eq!(partner.len(), node.len());
    assert_ne!(partner, node);
    assert!(node.iter().any(|o| o["name"] == "Wang Dong"));

    // explain: in the default collection unmarked objects are AMBER, which does not reach a partner.
    let id = "intrusion-set--da1065ce-972c-4605-8755-9cd1074e3b5a";
    let o = accord(
        &dir,
        &[
            "--json",
            "policy",
            "explain",
            "--collection",
            "default",
            "--principal",
            "demo-partner",
            "--object",
            id,
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let e = json_out(&o);
    assert_eq!(e["decision"]["effect"], "deny");
    assert_eq!(e["handling"]["tlp"], "amber");
    assert_eq!(e["handling"]["tlp_defaulted"], true);
    // For people, every evaluation says what gave its verdict: policies, or the default deny.
    let o = accord(
        &dir,
        &[
            "policy",
            "explain",
            "--collection",
            "default",
            "--principal",
            "demo-partner",
            "--object",
            id,
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    let verdicts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("evaluated under"))
        .collect();
    assert!(!verdicts.is_empty(), "{text}");
    for v in &verdicts {
        assert!(!v.trim_end().ends_with(" by"), "{v}");
    }
    assert!(
        verdicts
            .iter()
            .any(|v| v.ends_with("deny: no policy permits it (deny by default)")),
        "{text}"
    );

    // The log lists under the partner's agreement what went to the partner, not the node's own
    // reads (the export for the node itself above): an own read relies on no partner agreement.
    let q = json_out(&accord(
        &dir,
        &["--json", "audit", "query", "--agreement", "example-bilateral"],
    ));
    let under = q["entries"].as_array().unwrap();
    assert!(!under.is_empty(), "{q}");
    assert!(under.iter().all(|e| e["principal"] == "demo-partner"), "{q}");
    let who: Vec<&Value> = q["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["principal"])
        .collect();
    assert_eq!(who, ["demo-partner"], "{q}");
    let own = json_out(&accord(
        &dir,
        &[
            "--json",
            "audit",
            "query",
            "--principal",
            "@node",
            "--kind",
            "decision,share",
        ],
    ));
    let own = own["entries"].as_array().unwrap();
    assert!(!own.is_empty());
    assert!(
        own.iter().all(|e| e.get("agreement").is_none()
            && e["objects"]
                .as_array()
                .unwrap()
                .iter()
                .all(|o| o.get("agreement").is_none())),
        "{own:?}"
    );
    let o = accord(
        &dir,
        &[
            "policy",
            "explain",
            "--collection",
            "default",
            "--principal",
            "demo-analyst",
            "--object",
            id,
        ],
    );
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.starts_with("decision: allow") && text.contains("tlp-amber-clients"),
        "{text}"
    );

    // test: a table of expected decisions, one of them wrong.
    let table = tmp.path().join("cases.toml");
    std::fs::write(
        &table,
        format!(
            "[[case]]\nprincipal = \"demo-analyst\"\nobject = \"{id}\"\ncollection = \"default\"\nexpect = \"allow\"\n\n\
             [[case]]\nprincipal = \"demo-partner\"\nobject = \"{id}\"\ncollection = \"default\"\nexpect = \"deny\"\nreason = \"default-deny\"\n\n\
             [[case]]\nprincipal = \"demo-partner\"\nobject = \"{id}\"\ncollection = \"default\"\nexpect = \"allow\"\n\n\
             [[case]]\nprincipal = \"demo-partner\"\nobject = \"{id}\"\ncollection = \"demo\"\nexpect = \"allow\"\nreason = \"tlp-clear\"\n"
        ),
    )
    .unwrap();
    let o = accord(&dir, &["--json", "policy", "test", table.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let results = json_out(&o);
    let pass: Vec<bool> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pass"].as_bool().unwrap())
        .collect();
    assert_eq!(pass, [true, true, false, true]);

    // check, and a broken configuration named by file and line.
    assert!(accord(&dir, &["policy", "check"]).status.success());
    let config = dir.join("accord.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "parties = [\"example-csirt\", \"partner-csirt\"]",
            "parties = [\"example-csirt\", \"atlantis\"]",
        ),
    )
    .unwrap();
    let o = accord(&dir, &["policy", "check"]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("accord.toml:") && err.contains("unknown party \"atlantis\""),
        "{err}"
    );
    let line: usize = err
        .split("accord.toml:")
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        text.lines().nth(line - 1).unwrap().starts_with("[[agreements]]"),
        "line {line}"
    );
    // An operator policy that does not parse is rejected before it takes effect.
    std::fs::write(
        &config,
        text.replace("policy_files = []", "policy_files = [\"site.cedar\"]"),
    )
    .unwrap();
    std::fs::write(
        dir.join("site.cedar"),
        "permit(principal, action, resource) when { resource.colour };",
    )
    .unwrap();
    let o = accord(&dir, &["policy", "check"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("site.cedar") && err.contains("colour"),
        "{err}"
    );
}

#[test]
fn validate_exit_codes_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.json");
    let bad = tmp.path().join("bad.json");
    std::fs::write(&good, indicator("2016-04-06T20:03:00.000Z", "ok")).unwrap();
    std::fs::write(&bad, indicator("2016-04-06T20:02:00.000Z", "too early")).unwrap();
    let d = tmp.path();
    assert_eq!(
        accord(d, &["validate", good.to_str().unwrap()]).status.code(),
        Some(0)
    );
    let o = accord(d, &["--json", "validate", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let s = json_out(&o);
    assert_eq!(s["results"][0]["findings"][0]["rule"], "timestamp-order");
    assert_eq!(s["results"][0]["findings"][0]["path"], "$.modified");
    assert_eq!(
        accord(d, &["validate", "/nonexistent/file.json"]).status.code(),
        Some(2)
    );
    assert_eq!(accord(d, &["validate", &shared("attack")]).status.code(), Some(0));
}

/// Each kind of bad input is rejected with a located error: never a panic (exit 101) or a crash.
#[test]
fn bad_input_gets_located_errors() {
    let (tmp, dir) = init();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let huge = format!(
        r#"{{"type":"x-big","id":"x-big--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","x_blob":"{}"}}"#,
        "A".repeat(50 << 20)
    );
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "malformed.json",
            b"{\"type\": \"indicator\", \"id\": }".to_vec(),
            "malformed JSON",
        ),
        (
            "utf8.jsonl",
            b"{\"type\": \"x-a\", \"name\": \"\xff\"}\n".to_vec(),
            "invalid UTF-8",
        ),
        (
            "unknown.json",
            br#"{"type":"widget","spec_version":"2.1","id":"widget--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}"#
                .to_vec(),
            "unknown-type",
        ),
        (
            "types.json",
            indicator("2016-04-06T20:03:00.000Z", "x")
                .replace(r#""pattern_type":"stix""#, r#""pattern_type":7"#)
                .into_bytes(),
            "property-type",
        ),
        (
            "dupes.json",
            br#"{"type":"x-a","type":"x-b"}"#.to_vec(),
            "duplicate key",
        ),
        ("deep.jsonl", format!("{deep}\n").into_bytes(), "recursion limit"),
        ("huge.jsonl", format!("{huge}\n").into_bytes(), "over the limit"),
        ("huge.json", huge.into_bytes(), "over the limit"),
    ];
    for (name, bytes, want) in cases {
        let f = tmp.path().join(name);
        std::fs::write(&f, bytes).unwrap();
        let o = accord(&dir, &["--json", "import", f.to_str().unwrap()]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let s = json_out(&o);
        let text = s.to_string();
        assert!(text.contains(want), "{name}: expected {want:?} in {text:.2000}");
        if let Some(r) = s["rejections"].as_array().and_then(|r| r.first()) {
            assert!(r["line"].as_u64().unwrap() >= 1, "{name}: position");
        }
    }
    let list = json_out(&accord(&dir, &["--json", "collections"]));
    assert_eq!(list[0]["versions"], 0, "nothing half-written");
}

/// Kill -9 during a large import: every batch the importer reported as committed is in the store,
/// intact, and the store opens cleanly.
#[test]
fn acknowledged_objects_survive_kill_9() {
    let (tmp, dir) = init();
    let corpus = tmp.path().join("corpus.jsonl");
    let o = accord(
        &dir,
        &[
            "gen-corpus",
            "--count",
            "400000",
            "--seed",
            "7",
            "-o",
            corpus.to_str().unwrap(),
        ],
    );
    assert!(o.status.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_accord"))
        .arg("--data-dir")
        .arg(&dir)
        .args(["import", "--progress-lines", corpus.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = 0u64;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("committed ") {
            acked = n.parse().unwrap();
            if acked >= 30_000 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    // Anything printed before the kill landed was acknowledged too.
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("committed ") {
            acked = n.parse().unwrap();
        }
    }
    child.wait().unwrap();
    assert!(
        (30_000..400_000).contains(&acked),
        "kill landed too late to test anything: {acked}"
    );

    let default_id = read_collection_id(&dir);
    let store = SqliteStore::open(dir.join("accord.db")).unwrap();
    let text = std::fs::read_to_string(&corpus).unwrap();
    let expected: Vec<String> = text
        .lines()
        .take(acked as usize)
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let mut found = std::collections::HashSet::new();
    for chunk in expected.chunks(5000) {
        let mut q = Query::new(&default_id);
        q.ids = chunk.to_vec();
        q.versions = VersionFilter::all();
        q.limit = 100_000;
        for o in store.query(&q).unwrap().objects {
            assert_eq!(
                accord_stix::ContentHash::of_canonical(o.json.as_bytes()),
                o.hash,
                "intact"
            );
            found.insert(o.id);
        }
    }
    let missing: Vec<_> = expected
        .iter()
        .filter(|id| !found.contains(*id))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged objects missing, e.g. {missing:?}",
        expected.len() - found.len()
    );
    // The transparency log survived too: it verifies, and every acknowledged object has its
    // ingest entry.
    let (ok, line) = verify(&dir, &vkey(&dir), &[]);
    assert!(ok, "{line}");
    let ledger = std::fs::read_to_string(dir.join("ledger").join(accord_ledger_files::ENTRIES_FILE)).unwrap();
    let mut logged = std::collections::HashSet::new();
    for l in ledger.lines() {
        let e: accord_ledger::Entry = serde_json::from_str(l).unwrap();
        if let accord_ledger::Event::Ingest(i) = e.event {
            logged.extend(i.objects.into_iter().map(|o| o.id));
        }
    }
    assert!(
        expected.iter().all(|id| logged.contains(id)),
        "an acknowledged object has no ingest entry"
    );
}

fn vkey(dir: &Path) -> String {
    let o = accord(dir, &["audit", "key"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

/// Runs `audit verify` and gives (exit ok, first output line).
fn verify(dir: &Path, key: &str, extra: &[&str]) -> (bool, String) {
    let mut args = vec!["audit", "verify", "--key", key];
    args.extend_from_slice(extra);
    let o = accord(dir, &args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    (
        o.status.success(),
        out.lines().next().unwrap_or_default().to_owned(),
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn audit_verify_names_each_kind_of_tampering() {
    let (tmp, dir) = init();
    let file = tmp.path().join("objects.jsonl");
    let lines: Vec<String> = (0..30)
        .map(|i| {
            format!(
                r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-{i:012}","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.{i}']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]}}"#
            )
        })
        .collect();
    // One import per object: 30 ingest entries.
    for line in &lines {
        std::fs::write(&file, line).unwrap();
        assert!(accord(&dir, &["import", file.to_str().unwrap()]).status.success());
    }
    // Decisions for a partner (one entry: all 30 came out the same) and a share, a token, then
    // a signed checkpoint.
    let out = tmp.path().join("out.json");
    let o = accord(
        &dir,
        &["export", "--for", "demo-partner", "-o", out.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        accord(&dir, &["token", "create", "--principal", "demo-oversight"])
            .status
            .success()
    );
    assert!(accord(&dir, &["audit", "checkpoint"]).status.success());
    let key = vkey(&dir);
    let state = tmp.path().join("monitor");
    let (ok, line) = verify(&dir, &key, &["--state", state.to_str().unwrap()]);
    assert!(ok, "{line}");
    assert!(line.starts_with("OK: 33 entries"), "{line}");
    // The oversight questions, answered from the data directory.
    let o = accord(
        &dir,
        &["--json", "audit", "query", "--agreement", "example-bilateral"],
    );
    let q = json_out(&o);
    assert_eq!(q["recipients"][0]["principal"], "demo-partner", "{q}");
    assert_eq!(q["recipients"][0]["objects"], 30, "{q}");
    let o = accord(
        &dir,
        &[
            "--json",
            "audit",
            "query",
            "--object",
            "indicator--00000000-0000-4000-8000-000000000007",
        ],
    );
    let kinds: Vec<String> = json_out(&o)["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["ingest", "decisions", "share"]);

    let ledger = dir.join("ledger");
    let pristine = tmp.path().join("pristine");
    copy_dir(&ledger, &pristine);
    let entries = ledger.join("entries.jsonl");
    let hashes = ledger.join("hashes");
    let read_lines = || -> Vec<String> {
        std::fs::read_to_string(&entries)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let write_lines = |l: &[String]| std::fs::write(&entries, l.join("\n") + "\n").unwrap();
    type Tamper<'a> = Box<dyn Fn() + 'a>;
    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "a flipped byte",
            Box::new(|| {
                let mut b = std::fs::read(&entries).unwrap();
                let start = read_lines()[..12].iter().map(|l| l.len() + 1).sum::<usize>();
                b[start + 20] ^= 0x01;
                std::fs::write(&entries, b).unwrap();
            }),
            "FAILED: entry 12:",
        ),
        (
            "a deleted entry",
            Box::new(|| {
                let mut l = read_lines();
                l.remove(20);
                write_lines(&l);
            }),
            "FAILED: entry 20:",
        ),
        (
            "a deleted entry and its hash",
            Box::new(|| {
                let mut l = read_lines();
                l.remove(20);
                write_lines(&l);
                let mut h = std::fs::read(&hashes).unwrap();
                h.drain(20 * 32..21 * 32);
                std::fs::write(&hashes, h).unwrap();
            }),
            "FAILED: entry 20:",
        ),
        (
            "two entries swapped",
            Box::new(|| {
                let mut l = read_lines();
                l.swap(5, 25);
                write_lines(&l);
            }),
            "FAILED: entry 5:",
        ),
        (
            "the tail truncated",
            Box::new(|| {
                let l = read_lines();
                write_lines(&l[..31]);
                let h = std::fs::read(&hashes).unwrap();
                std::fs::write(&hashes, &h[..31 * 32]).unwrap();
            }),
            "FAILED: entry 31:",
        ),
        (
            "a checkpoint signature replaced",
            Box::new(|| {
                let path = ledger.join("checkpoints");
                let text = std::fs::read_to_string(&path).unwrap();
                let sig_at = text.rfind(' ').unwrap() + 1;
                let mut forged = text[..sig_at].to_owned();
                forged.push_str(&"A".repeat(text.len() - sig_at - 2));
                forged.push_str("=\n");
                std::fs::write(&path, forged).unwrap();
            }),
            "FAILED: checkpoint #0:",
        ),
    ];
    for (what, tamper, expected) in cases {
        std::fs::remove_dir_all(&ledger).unwrap();
        copy_dir(&pristine, &ledger);
        tamper();
        let (ok, line) = verify(&dir, &key, &[]);
        assert!(!ok, "{what} went unnoticed");
        assert!(line.starts_with(expected), "{what}: {line}");
    }
    // A log rewritten wholesale and re-signed with the node's own key still fails for a monitor
    // that kept the old checkpoint.
    std::fs::remove_dir_all(&ledger).unwrap();
    copy_dir(&pristine, &ledger);
    let mut l = read_lines();
    l.truncate(10);
    write_lines(&l);
    std::fs::write(&hashes, &std::fs::read(&hashes).unwrap()[..10 * 32]).unwrap();
    std::fs::write(ledger.join("checkpoints"), "").unwrap();
    assert!(accord(&dir, &["audit", "checkpoint"]).status.success());
    assert!(verify(&dir, &key, &[]).0, "self-consistent on its own");
    let (ok, line) = verify(&dir, &key, &["--state", state.to_str().unwrap()]);
    assert!(!ok);
    assert!(line.starts_with("FAILED: previously seen checkpoint:"), "{line}");
}

#[test]
fn the_ledger_survives_kill_9_during_a_burst_of_decisions() {
    let (tmp, dir) = init();
    let corpus = tmp.path().join("corpus.jsonl");
    let o = accord(
        &dir,
        &[
            "gen-corpus",
            "--count",
            "3000",
            "--seed",
            "3",
            "-o",
            corpus.to_str().unwrap(),
        ],
    );
    assert!(o.status.success());
    assert!(
        accord(&dir, &["import", corpus.to_str().unwrap()])
            .status
            .success()
    );
    let cfg = std::fs::read_to_string(dir.join("accord.toml")).unwrap();
    let cfg = cfg
        .replace("listen = \"127.0.0.1:8443\"", "listen = \"127.0.0.1:0\"")
        .replace("plain_http = false", "plain_http = true")
        .replace("checkpoint_interval_secs = 10", "checkpoint_interval_secs = 1");
    std::fs::write(dir.join("accord.toml"), cfg).unwrap();
    let token = |p: &str| {
        let o = accord(&dir, &["--json", "token", "create", "--principal", p]);
        json_out(&o)["bearer"].as_str().unwrap().to_owned()
    };
    let (analyst, oversight) = (token("demo-analyst"), token("demo-oversight"));
    let (mut server, base) = serve(&dir);
    let default_collection = read_collection_id(&dir);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (stop, base, analyst, coll) = (
                stop.clone(),
                base.clone(),
                analyst.clone(),
                default_collection.clone(),
            );
            std::thread::spawn(move || {
                let agent = ureq::agent();
                let mut reads = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = agent
                        .get(&format!("{base}/api/collections/{coll}/objects/?limit=500"))
                        .set("Authorization", &format!("Bearer {analyst}"))
                        .set("Accept", "application/taxii+json;version=2.1")
                        .call();
                    if r.is_ok() {
                        reads += 1;
                    }
                }
                reads
            })
        })
        .collect();
    // Collect the checkpoints the node issues while the burst runs, as a monitor would.
    let agent = ureq::agent();
    let mut notes: Vec<String> = Vec::new();
    let started = std::time::Instant::now();
    while notes.len() < 3 && started.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let note = agent
            .get(&format!("{base}/audit/v1/checkpoint"))
            .set("Authorization", &format!("Bearer {oversight}"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        if notes.last() != Some(&note) {
            notes.push(note);
        }
    }
    // A monitor verifies the live log over HTTP (plain on loopback here) and keeps its checkpoint.
    let key = vkey(&dir);
    let state = tmp.path().join("monitor");
    let (ok, line) = verify(
        &dir,
        &key,
        &[
            "--from",
            &base,
            "--token",
            &oversight,
            "--state",
            state.to_str().unwrap(),
        ],
    );
    assert!(ok, "{line}");
    server.kill().unwrap(); // SIGKILL, mid-burst
    server.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads: u32 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(
        reads > 0 && notes.len() >= 2,
        "reads {reads}, checkpoints {}",
        notes.len()
    );

    // The log verifies as the crash left it, consistent with the checkpoint the monitor accepted
    // before the crash, and its tree is consistent with every checkpoint issued before the crash.
    let o = accord(
        &dir,
        &[
            "audit",
            "verify",
            "--key",
            &key,
            "--state",
            state.to_str().unwrap(),
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.contains("consistent with the checkpoint seen before"),
        "{out}"
    );
    let ledger = std::fs::read_to_string(dir.join("ledger").join(accord_ledger_files::ENTRIES_FILE)).unwrap();
    let leaves: Vec<[u8; 32]> = ledger
        .lines()
        .map(|l| accord_ledger::leaf_hash(l.as_bytes()))
        .collect();
    let tree = accord_ledger::Tree::from_leaves(leaves.into());
    let verifier: accord_ledger::VerifierKey = key.parse().unwrap();
    for note in &notes {
        let cp = verifier.open(note).unwrap();
        assert_eq!(
            tree.root_at(cp.size).unwrap(),
            cp.root,
            "checkpoint at size {}",
            cp.size
        );
    }
    // Every answered read has its decisions in the log: at least 500 versions decided per read.
    let decisions: usize = ledger
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["kind"] == "decisions")
        .map(|e| e["objects"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(
        decisions >= reads as usize * 500,
        "{decisions} decisions for {reads} reads"
    );
    // The node starts again on the recovered log and keeps appending to it.
    assert!(accord(&dir, &["audit", "checkpoint"]).status.success());
    assert!(verify(&dir, &key, &[]).0);
}

/// Makes the node serve plain HTTP on a free loopback port.
fn plain_http_on_any_port(dir: &Path) {
    let cfg = std::fs::read_to_string(dir.join("accord.toml")).unwrap();
    let cfg = cfg
        .replace("listen = \"127.0.0.1:8443\"", "listen = \"127.0.0.1:0\"")
        .replace("plain_http = false", "plain_http = true");
    std::fs::write(dir.join("accord.toml"), cfg).unwrap();
}

/// Starts `accord serve` and returns it with its base URL, once it accepts connections.
fn serve(dir: &Path) -> (std::process::Child, String) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_accord"))
        .arg("--data-dir")
        .arg(dir)
        .arg("serve")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(server.stderr.take().unwrap()).lines();
    let addr = log
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.split("serving TAXII 2.1 on ").nth(1).map(str::to_owned))
        .expect("server address");
    std::thread::spawn(move || for _ in log {}); // keep draining the server's log
    (server, format!("http://{addr}"))
}

#[test]
fn a_post_answered_complete_survives_kill_9() {
    let (_tmp, dir) = init();
    plain_http_on_any_port(&dir);
    // However slow the machine, the POST is answered complete (the default waits 100 ms).
    let cfg = std::fs::read_to_string(dir.join("accord.toml")).unwrap();
    let cfg = cfg.replace("complete_within_ms = 100\n", "complete_within_ms = 60000\n");
    assert!(cfg.contains("complete_within_ms = 60000"));
    std::fs::write(dir.join("accord.toml"), cfg).unwrap();
    let o = accord(
        &dir,
        &["--json", "token", "create", "--principal", "demo-analyst"],
    );
    let bearer = json_out(&o)["bearer"].as_str().unwrap().to_owned();
    let coll = read_collection_id(&dir);
    let mut answered = Vec::new();
    // Each round: one object posted, answered complete, and the node killed at once.
    for round in 0..3 {
        let (mut server, base) = serve(&dir);
        let object = indicator(
            &format!("2016-04-0{}T20:03:00.000Z", round + 7),
            &format!("round {round}"),
        );
        let status: Value = ureq::post(&format!("{base}/api/collections/{coll}/objects/"))
            .set("Authorization", &format!("Bearer {bearer}"))
            .set("Accept", "application/taxii+json;version=2.1")
            .set("Content-Type", "application/taxii+json;version=2.1")
            .send_string(&format!("{{\"objects\": [{object}]}}"))
            .unwrap()
            .into_json()
            .unwrap();
        server.kill().unwrap(); // SIGKILL, right after the answer
        server.wait().unwrap();
        assert_eq!(
            (&status["status"], &status["success_count"]),
            (&Value::from("complete"), &Value::from(1)),
            "{status}"
        );
        answered.push((status["id"].as_str().unwrap().to_owned(), object));
    }
    // Verifying opens the log as the next start would: a torn tail is cut.
    let (ok, line) = verify(&dir, &vkey(&dir), &[]);
    assert!(ok, "{line}");
    let store = SqliteStore::open(dir.join("accord.db")).unwrap();
    let mut q = Query::new(&coll);
    q.versions = VersionFilter::all();
    let stored: Vec<String> = store
        .query(&q)
        .unwrap()
        .objects
        .into_iter()
        .map(|o| o.json)
        .collect();
    let ledger = std::fs::read_to_string(dir.join("ledger").join(accord_ledger_files::ENTRIES_FILE)).unwrap();
    let ingests: Vec<accord_ledger::entry::Ingest> = ledger
        .lines()
        // The entries file is allocated ahead in zeros.
        .take_while(|l| !l.starts_with('\0'))
        .filter_map(
            |l| match serde_json::from_str::<accord_ledger::Entry>(l).unwrap().event {
                accord_ledger::Event::Ingest(i) => Some(i),
                _ => None,
            },
        )
        .collect();
    for (id, object) in &answered {
        let canonical = accord_stix::check_bytes(object.as_bytes(), 1 << 20)
            .unwrap()
            .canonical;
        assert!(
            stored.contains(&canonical),
            "answered complete, then lost: {object}"
        );
        assert!(
            ingests
                .iter()
                .any(|i| i.status.as_deref() == Some(id) && i.objects.len() == 1),
            "no ingest entry for status {id}"
        );
        let status = accord_store::StatusStore::status(&store, id).unwrap().unwrap();
        assert!(status.complete && status.successes.len() == 1, "{status:?}");
    }
}

fn read_collection_id(dir: &Path) -> String {
    let cfg = std::fs::read_to_string(dir.join("accord.toml")).unwrap();
    cfg.split("id = \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn retention_sweep_removes_expired_versions_and_logs_them() {
    let (tmp, dir) = init();
    let ext = "extension-definition--c7faab37-9b2e-4706-a1ca-408bbe2e04dc";
    let object = |i: u32, until: &str| {
        format!(
            r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-{i:012}","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.{i}']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","extensions":{{"{ext}":{{"extension_type":"property-extension","retention_until":"{until}"}}}}}}"#
        )
    };
    let file = tmp.path().join("objects.jsonl");
    std::fs::write(
        &file,
        [
            object(1, "2025-01-01T00:00:00Z"),
            object(2, "2999-01-01T00:00:00Z"),
        ]
        .join("\n"),
    )
    .unwrap();
    let o = accord(&dir, &["import", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dry = json_out(&accord(&dir, &["--json", "retention", "sweep", "--dry-run"]));
    assert_eq!(dry.as_array().unwrap().len(), 1, "{dry}");
    let swept = json_out(&accord(&dir, &["--json", "retention", "sweep"]));
    assert_eq!(
        swept[0]["id"], "indicator--00000000-0000-4000-8000-000000000001",
        "{swept}"
    );
    // Gone from the store; the other one stays; a second sweep finds nothing.
    let out = tmp.path().join("out.jsonl");
    assert!(
        accord(
            &dir,
            &["export", "--format", "jsonl", "-o", out.to_str().unwrap()]
        )
        .status
        .success()
    );
    let exported = std::fs::read_to_string(&out).unwrap();
    assert!(
        !exported.contains("000000000001") && exported.contains("000000000002"),
        "{exported}"
    );
    assert_eq!(
        json_out(&accord(&dir, &["--json", "retention", "sweep"]))
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // The removal is in the transparency log, with the version's hash, and the log verifies.
    let q = json_out(&accord(&dir, &["--json", "audit", "query", "--kind", "expiry"]));
    assert_eq!(q["total"], 1, "{q}");
    assert_eq!(
        q["entries"][0]["retention_until"], "2025-01-01T00:00:00.000000Z",
        "{q}"
    );
    assert_eq!(q["entries"][0]["hash"].as_str().unwrap().len(), 64);
    let key = vkey(&dir);
    assert!(verify(&dir, &key, &[]).0);
}

#[test]
fn obligations_report_show_submit_and_list() {
    let (tmp, dir) = init();
    let report = tmp.path().join("report.json");
    std::fs::write(
        &report,
        r#"{"organisation":{"name":"Example Bank AG","home_jurisdiction":"DE","time_zone":"Europe/Berlin","entity_types":["financial-entity","data-controller"]},
            "clocks":{"aware":"2026-04-02T10:00:00Z","classified_major":"2026-04-02T18:00:00Z"},
            "personal_data":{"breach":true,"risk_to_rights":true},
            "assessments":{"major":true}}"#,
    )
    .unwrap();
    let o = accord(
        &dir,
        &[
            "--json",
            "obligations",
            "report",
            report.to_str().unwrap(),
            "--name",
            "Outage",
        ],
    );
    let out = json_out(&o);
    let id = out["incident"].as_str().unwrap().to_owned();
    assert!(id.starts_with("incident--"), "{out}");
    let regimes = out["timeline"]["regimes"].as_array().unwrap();
    let dora = regimes.iter().find(|r| r["id"] == "eu-dora").unwrap();
    let initial = &dora["obligations"][0];
    // Good Friday 2026: moved to Tuesday 7 April at 12:00 in Germany.
    assert_eq!(initial["deadline_utc"], "2026-04-07T10:00:00Z", "{initial}");
    assert!(
        initial["summary"]
            .as_str()
            .unwrap()
            .contains("Tue 7 Apr 2026 12:00 CEST"),
        "{initial}"
    );
    // The incident is a STIX incident in the store that validates, with the report as its extension.
    let exported = tmp.path().join("incidents.jsonl");
    assert!(
        accord(
            &dir,
            &[
                "export",
                "--type",
                "incident",
                "--format",
                "jsonl",
                "-o",
                exported.to_str().unwrap()
            ]
        )
        .status
        .success()
    );
    let text = std::fs::read_to_string(&exported).unwrap();
    assert!(
        text.contains(accord_obligations::INCIDENT_EXTENSION_ID) && text.contains("\"name\":\"Outage\""),
        "{text}"
    );
    assert!(
        accord(&dir, &["validate", exported.to_str().unwrap()])
            .status
            .success()
    );

    // Submitting: checked against the timeline, stored, and in the transparency log.
    let o = accord(
        &dir,
        &[
            "obligations",
            "submit",
            &id,
            "--regime",
            "eu-nis2",
            "--stage",
            "early-warning",
            "--reference",
            "x",
        ],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no obligation eu-nis2/early-warning"));
    let o = accord(
        &dir,
        &[
            "--json",
            "obligations",
            "submit",
            &id,
            "--regime",
            "eu-dora",
            "--stage",
            "initial",
            "--reference",
            "BaFin-42",
            "--at",
            "2026-04-07T09:00:00Z",
            "--by",
            "ciso",
        ],
    );
    assert_eq!(json_out(&o)["tracking"]["state"], "met");
    let shown = json_out(&accord(&dir, &["--json", "obligations", "show", &id]));
    let intermediate = shown["regimes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "eu-dora")
        .unwrap()["obligations"][1]
        .clone();
    // 72 hours after the submission (not the deadline) of the initial notification.
    assert_eq!(
        intermediate["deadline_utc"], "2026-04-10T09:00:00Z",
        "{intermediate}"
    );
    assert_eq!(intermediate["projected"], false);
    let list = json_out(&accord(&dir, &["--json", "obligations", "list"]));
    assert_eq!(list[0]["incident"], id.as_str());
    let q = json_out(&accord(&dir, &["--json", "audit", "query", "--object", &id]));
    let kinds: Vec<&str> = q["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    // What changed the node, and every time a person was shown the report: each read is a
    // decision and a share to this node's operator on the command line, logged before it showed.
    let writes: Vec<&str> = kinds
        .iter()
        .copied()
        .filter(|k| !matches!(*k, "decisions" | "share"))
        .collect();
    assert_eq!(writes, ["ingest", "submission"], "{q}");
    let shares: Vec<&Value> = q["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "share")
        .collect();
    assert!(
        shares
            .iter()
            .filter(|e| e["channel"] == "cli" && e["principal"] == "@node")
            .count()
            >= 4,
        "report, show, submit and list each read the incident through the gate: {q}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "decisions").count(),
        shares.len(),
        "each read decided and shared once: {q}"
    );
    // Output for people (issue 27.15): the submission and the list are sentences and a table,
    // not debug text or JSON.
    let o = accord(
        &dir,
        &[
            "obligations",
            "submit",
            &id,
            "--regime",
            "eu-dora",
            "--stage",
            "intermediate",
            "--reference",
            "BaFin-43",
            "--at",
            "2026-04-08T09:00:00Z",
        ],
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && text.contains("met: submitted 2026-04-08T09:00:00") && !text.contains('{'),
        "{text}"
    );
    let o = accord(&dir, &["obligations", "list"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.starts_with("INCIDENT") && text.contains(&id) && text.contains("Outage"),
        "{text}"
    );
    assert!(!text.contains('{') && !text.contains('"'), "{text}");
    // The template (issue 26.8): a commented TOML report that `report` reads back once filled in,
    // and whose answer lists the facts that would change an outcome.
    let template = tmp.path().join("incident.toml");
    let o = accord(
        &dir,
        &["obligations", "template", "-o", template.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&template).unwrap();
    assert!(
        text.contains("credit-institution") && text.contains("\"in-cert-in\" ="),
        "{text}"
    );
    let filled = text
        .replacen("name = \"\"", "name = \"Example Bank AG\"", 1)
        .replacen("home_jurisdiction = \"\"", "home_jurisdiction = \"DE\"", 1)
        .replacen(
            "# entity_types = []",
            "entity_types = [\"credit-institution\"]",
            1,
        );
    std::fs::write(&template, filled).unwrap();
    let o = accord(&dir, &["obligations", "report", template.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        text.contains("facts that would change an outcome if supplied:")
            && text.contains("assessments.major"),
        "{text}"
    );
    // A reportable key no regime asks is refused, naming the key.
    std::fs::write(
        &report,
        r#"{"organisation":{"name":"x","home_jurisdiction":"IN"},"assessments":{"reportable":{"in-certin":true}}}"#,
    )
    .unwrap();
    let o = accord(&dir, &["obligations", "report", report.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("assessments.reportable.in-certin"));
    // A report that is not one is refused with where.
    std::fs::write(&report, r#"{"organisation":{"name":"x"},"clock":{}}"#).unwrap();
    let o = accord(&dir, &["obligations", "report", report.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("report.json") && err.contains("not an incident report"),
        "{err}"
    );
}

/// `accord match` with indicators read from a collection of the node (through the policy, and
/// logged) and events on standard input: the sightings it writes are valid STIX that name the
/// indicator, the observed-data and this organisation; events outside an indicator's validity,
/// and lines that are not events, are not sightings.
#[test]
fn match_turns_indicators_and_events_into_sightings() {
    let (tmp, dir) = init();
    let file = tmp.path().join("ind.jsonl");
    let network = IND
        .replace("8e2e2d2b", "9e2e2d2b")
        .replace("MODIFIED", "2016-04-06T20:03:00.000Z")
        .replace("NAME", "scan then lookup")
        .replace(
            "[ipv4-addr:value = '198.51.100.3']",
            "[network-traffic:dst_ref.value ISSUBSET '203.0.113.0/24'] FOLLOWEDBY [domain-name:value = 'evil.example']",
        );
    std::fs::write(
        &file,
        format!("{}\n{network}\n", indicator("2016-04-06T20:03:00.000Z", "c2")),
    )
    .unwrap();
    assert!(accord(&dir, &["import", file.to_str().unwrap()]).status.success());
    let events = [
        r#"{"type":"ipv4-addr","value":"198.51.100.3","timestamp":"2026-02-01T00:00:00Z"}"#,
        r#"{"type":"ipv4-addr","value":"198.51.100.3","timestamp":"2015-02-01T00:00:00Z"}"#,
        r#"{"timestamp":"2026-02-01T00:00:01Z","objects":{"a":{"type":"ipv4-addr","value":"203.0.113.9"},"b":{"type":"network-traffic","dst_ref":"a","protocols":["tcp"]}}}"#,
        r#"{"type":"domain-name","value":"evil.example","timestamp":"2026-02-01T00:00:05Z"}"#,
        r#"{"type":"ipv4-addr","value":"198.51.100.4","timestamp":"2026-02-01T00:00:06Z"}"#,
        "not an event",
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_accord"))
        .args([
            "--data-dir",
            dir.to_str().unwrap(),
            "--json",
            "match",
            "--indicators",
            "default",
            "--events",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(events.join("\n").as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("2 indicators compiled"), "{stderr}");
    assert!(stderr.contains("line 6: not JSON"), "{stderr}");
    assert!(stderr.contains("1 outside validity"), "{stderr}");
    let bundle = json_out(&o);
    let objects = bundle["objects"].as_array().unwrap();
    let sightings: Vec<&Value> = objects.iter().filter(|o| o["type"] == "sighting").collect();
    assert_eq!(sightings.len(), 2, "{bundle:#}");
    let identity = objects
        .iter()
        .find(|o| o["type"] == "identity")
        .expect("identity");
    for s in &sightings {
        assert_eq!(s["count"], 1);
        assert_eq!(s["where_sighted_refs"][0], identity["id"]);
        for r in s["observed_data_refs"].as_array().unwrap() {
            assert!(
                objects
                    .iter()
                    .any(|o| o["id"] == *r && o["type"] == "observed-data"),
                "{r}"
            );
        }
    }
    let chain = sightings
        .iter()
        .find(|s| s["sighting_of_ref"] == "indicator--9e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
        .expect("the FOLLOWEDBY indicator");
    assert_eq!(chain["observed_data_refs"].as_array().unwrap().len(), 2);
    assert_eq!(chain["first_seen"], "2026-02-01T00:00:01.000000Z");
    assert_eq!(chain["last_seen"], "2026-02-01T00:00:05.000000Z");
    // What it wrote is valid STIX 2.1.
    let out = tmp.path().join("sightings.json");
    std::fs::write(&out, &o.stdout).unwrap();
    let v = accord(&dir, &["validate", out.to_str().unwrap()]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    // With --ingest, the sightings go through the import path into the node.
    let events_file = tmp.path().join("events.jsonl");
    std::fs::write(&events_file, events.join("\n")).unwrap();
    let o = accord(
        &dir,
        &[
            "match",
            "--indicators",
            "default",
            "--events",
            events_file.to_str().unwrap(),
            "--ingest",
            "default",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let exported = accord(&dir, &["export", "--type", "sighting", "--format", "jsonl"]);
    let stored: Vec<Value> = String::from_utf8_lossy(&exported.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(
        stored
            .iter()
            .all(|s| s["where_sighted_refs"][0] == identity["id"])
    );
    // Reading the indicators was an export for this organisation, logged as one.
    let q = accord(&dir, &["--json", "audit", "query", "--kind", "share"]);
    assert!(
        String::from_utf8_lossy(&q.stdout).contains("indicator--9e2e2d2b"),
        "{}",
        String::from_utf8_lossy(&q.stdout)
    );
}

/// Two nodes: A signs what it exports; B, with A's key pinned, admits it and quarantines (and
/// logs) a copy altered in transit, an unsigned object and one signed by an unpinned node; after
/// A rotates its key and B accepts the statement, objects signed with the new key are admitted.
#[test]
fn partners_exchange_signed_objects_and_quarantine_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, rogue) = (
        tmp.path().join("node-a"),
        tmp.path().join("node-b"),
        tmp.path().join("rogue"),
    );
    for d in [&a, &b, &rogue] {
        assert!(accord(d, &["init"]).status.success());
    }
    let key = |d: &Path| {
        String::from_utf8(accord(d, &["keys", "show"]).stdout)
            .unwrap()
            .trim()
            .to_owned()
    };
    let key_a = key(&a);
    let name_a = key_a.split('+').next().unwrap().to_owned();
    let config = b.join("accord.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[[partners]]\nname = \"{name_a}\"\norganisation = \"partner-csirt\"\nkeys = [\"{key_a}\"]\nreliability = \"B\"\n"
    ));
    std::fs::write(&config, text).unwrap();

    let file = tmp.path().join("ind.jsonl");
    std::fs::write(
        &file,
        format!("{}\n", indicator("2016-04-06T20:03:00.000Z", "from A")),
    )
    .unwrap();
    assert!(accord(&a, &["import", file.to_str().unwrap()]).status.success());
    assert!(
        accord(&rogue, &["import", file.to_str().unwrap()])
            .status
            .success()
    );
    let export = |d: &Path, out: &Path| {
        let o = accord(
            d,
            &[
                "export",
                "--sign",
                "--format",
                "jsonl",
                "-o",
                out.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(out).unwrap()
    };
    let signed = export(&a, &tmp.path().join("a.jsonl"));
    let good: Value = serde_json::from_str(signed.lines().next().unwrap()).unwrap();
    let ext = &good["extensions"][accord_provenance::EXTENSION_ID];
    assert_eq!(ext["signer"], name_a.as_str());

    let mut altered = good.clone();
    altered["name"] = Value::from("altered in transit");
    altered["modified"] = Value::from("2016-04-07T20:03:00.000Z");
    let unsigned = serde_json::from_str::<Value>(&indicator("2016-04-08T20:03:00.000Z", "unsigned")).unwrap();
    let by_rogue: Value = serde_json::from_str(
        export(&rogue, &tmp.path().join("r.jsonl"))
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let mut by_rogue = by_rogue;
    by_rogue["modified"] = Value::from("2016-04-09T20:03:00.000Z");
    let inbound = tmp.path().join("inbound.jsonl");
    std::fs::write(
        &inbound,
        [&good, &altered, &unsigned, &by_rogue]
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    let o = accord(
        &b,
        &[
            "--json",
            "import",
            "--from-partner",
            &name_a,
            inbound.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let report = json_out(&o);
    assert_eq!(report["import"]["new"], 1, "{report:#}");
    let reasons: Vec<&str> = report["quarantined"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].contains("does not match the content"), "{reasons:?}");
    assert_eq!(reasons[1], "no provenance signature");
    assert!(reasons[2].contains("not pinned"), "{reasons:?}");
    // Stored: only A's verified object, with A's signature kept.
    let stored = accord(&b, &["export", "--format", "jsonl"]);
    let stored: Vec<Value> = String::from_utf8_lossy(&stored.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0]["extensions"][accord_provenance::EXTENSION_ID]["signer"],
        name_a.as_str()
    );
    // Visible to admins, and logged.
    let q = accord(&b, &["--json", "quarantine"]);
    assert_eq!(json_out(&q).as_array().unwrap().len(), 3);
    let log = accord(&b, &["--json", "audit", "query", "--kind", "quarantine"]);
    assert!(!String::from_utf8_lossy(&log.stdout).contains("altered in transit"));
    assert_eq!(
        String::from_utf8_lossy(&log.stdout)
            .matches("\"quarantine\"")
            .count(),
        3,
        "{}",
        String::from_utf8_lossy(&log.stdout)
    );

    // Key rotation: A's new key is accepted only through the statement its old key signed.
    let statement = tmp.path().join("rotation.json");
    assert!(
        accord(&a, &["keys", "rotate", "-o", statement.to_str().unwrap()])
            .status
            .success()
    );
    assert_ne!(key(&a), key_a);
    let update = |name: &str| {
        let mut v: Value = serde_json::from_str(&indicator("2016-05-01T20:03:00.000Z", name)).unwrap();
        v["id"] = Value::from("indicator--9e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
        v
    };
    std::fs::write(&file, format!("{}\n", update("after rotation"))).unwrap();
    assert!(accord(&a, &["import", file.to_str().unwrap()]).status.success());
    let next = tmp.path().join("next.jsonl");
    export(&a, &next);
    let before = accord(
        &b,
        &[
            "--json",
            "import",
            "--from-partner",
            &name_a,
            next.to_str().unwrap(),
        ],
    );
    assert_eq!(
        json_out(&before)["quarantined"].as_array().unwrap().len(),
        2,
        "the new key is not pinned yet"
    );
    let accepted = accord(&b, &["partners", "accept-rotation", statement.to_str().unwrap()]);
    assert!(
        accepted.status.success(),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );
    // A statement for a key B never pinned is refused.
    let forged = tmp.path().join("forged.json");
    assert!(
        accord(&rogue, &["keys", "rotate", "-o", forged.to_str().unwrap()])
            .status
            .success()
    );
    assert!(
        !accord(&b, &["partners", "accept-rotation", forged.to_str().unwrap()])
            .status
            .success()
    );
    let after = accord(
        &b,
        &[
            "--json",
            "import",
            "--from-partner",
            &name_a,
            next.to_str().unwrap(),
        ],
    );
    let after = json_out(&after);
    assert_eq!(after["quarantined"].as_array().unwrap().len(), 0, "{after:#}");
    assert_eq!(after["import"]["new"], 1, "{after:#}");
}

/// A node with the OASIS examples, read by a partner and by the node itself.
fn node_with_reads() -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = init();
    assert!(
        accord(&dir, &["import", "--collection", "demo", &shared("examples")])
            .status
            .success()
    );
    for who in ["demo-partner", "@node"] {
        let out = tmp.path().join(format!("{who}.json"));
        let o = accord(&dir, &["export", "--for", who, "-o", out.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    (tmp, dir)
}

#[test]
fn audit_query_refuses_what_it_cannot_use_and_compares_instants() {
    let (_tmp, dir) = node_with_reads();
    // An option that cannot be used stops the query (exit 2), named.
    for (args, named) in [
        (&["--since", "garbage"][..], "--since"),
        (&["--until", "yesterday"], "--until"),
        (&["--since", "2026-11-30T12:00:00"], "--since"),
        (&["--until", "2026-02-30"], "--until"),
        (&["--kind", "decision,bogus"], "--kind"),
        (&["--object", ""], "--object"),
    ] {
        let o = accord(&dir, &[&["audit", "query"][..], args].concat());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(named), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    let all = json_out(&accord(&dir, &["--json", "audit", "query"]));
    let all = all["entries"].as_array().unwrap().clone();
    let at = |e: &Value| accord_stix::Timestamp::parse(e["time"].as_str().unwrap()).unwrap();
    let middle = at(&all[all.len() / 2]);
    let expected: Vec<&Value> = all.iter().filter(|e| at(e) >= middle).collect();
    assert!(!expected.is_empty() && expected.len() < all.len());
    // One instant in three spellings: one answer.
    let micros = middle.as_micros();
    let spelled = |minutes: i64| {
        let local = accord_stix::Timestamp::format_micros(micros + minutes * 60_000_000);
        let sign = if minutes < 0 { '-' } else { '+' };
        format!(
            "{}{sign}{:02}:{:02}",
            &local[..local.len() - 1],
            minutes.abs() / 60,
            minutes.abs() % 60
        )
    };
    for since in [
        accord_stix::Timestamp::format_micros(micros),
        spelled(330),
        spelled(-180),
    ] {
        let q = json_out(&accord(&dir, &["--json", "audit", "query", "--since", &since]));
        let got: Vec<&Value> = q["entries"].as_array().unwrap().iter().collect();
        assert_eq!(got, expected, "--since {since}");
        assert_eq!(q["total"], expected.len(), "--since {since}");
    }
    // --limit stops early; without --json each entry is one line of JSON.
    let o = accord(&dir, &["audit", "query", "--limit", "2"]);
    assert!(o.status.success());
    let lines: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, all[..2]);
}

#[test]
fn every_command_is_quiet_when_its_reader_goes_away() {
    let (tmp, dir) = node_with_reads();
    let feed = tmp.path().join("demo-partner.json");
    let feed = feed.to_str().unwrap();
    let cases: &[&[&str]] = &[
        &["audit", "query"],
        &["--json", "audit", "query", "--agreement", "example-bilateral"],
        &["export", "--format", "jsonl"],
        &["--json", "collections"],
        &["rules"],
        &["token", "list"],
        &["validate", feed],
        &["convert", "--to", "csv", feed],
        &["audit", "key"],
        &["--json", "policy", "check"],
    ];
    for args in cases {
        // The reader is gone before the command writes anything.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = Command::new(env!("CARGO_BIN_EXE_accord"))
            .arg("--data-dir")
            .arg(&dir)
            .args(*args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe") && !err.contains("error"),
            "{args:?}: {err}"
        );
        assert_ne!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(o.status.code().is_some(), "{args:?}: killed by a signal");
    }
    // `up` prints what to try once it listens, to nobody here: it goes on serving.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = std::fs::read_to_string(dir.join("accord.toml")).unwrap();
    let cfg = cfg
        .replace(
            "listen = \"127.0.0.1:8443\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        )
        .replace("plain_http = false", "plain_http = true");
    std::fs::write(dir.join("accord.toml"), cfg).unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut up = Command::new(env!("CARGO_BIN_EXE_accord"))
        .arg("--data-dir")
        .arg(&dir)
        .arg("up")
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = up.stderr.take().unwrap();
    let log = std::thread::spawn(move || std::io::read_to_string(log).unwrap());
    let answered = (0..600).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        // Any HTTP answer (401 here) means the server serves, after `up` printed.
        match ureq::get(&format!("http://127.0.0.1:{port}/taxii2/")).call() {
            Ok(_) | Err(ureq::Error::Status(..)) => true,
            Err(_) => false,
        }
    });
    let still_up = up.try_wait().unwrap().is_none();
    up.kill().unwrap();
    up.wait().unwrap();
    let log = log.join().unwrap();
    assert!(answered && still_up, "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

/// Runs `accord up` until it has printed what to try, and gives it with that text. The data
/// directory is given relative to where it runs, as a user would.
fn up(dir: &Path, json: bool) -> (std::process::Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_accord"));
    cmd.current_dir(dir.parent().unwrap())
        .arg("--data-dir")
        .arg(dir.file_name().unwrap());
    if json {
        cmd.arg("--json");
    }
    let mut child = cmd
        .arg("up")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut text = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        text.push_str(&line);
        text.push('\n');
        if line.starts_with("Ctrl-C") || (json && line == "}") {
            break;
        }
    }
    (child, text)
}

#[test]
fn up_prints_commands_that_work_pasted_into_a_fresh_shell() {
    let (tmp, dir) = init();
    let cfg = std::fs::read_to_string(dir.join("accord.toml")).unwrap();
    std::fs::write(
        dir.join("accord.toml"),
        cfg.replace("listen = \"127.0.0.1:8443\"", "listen = \"127.0.0.1:0\""),
    )
    .unwrap();
    let (mut first, text) = up(&dir, true);
    first.kill().unwrap();
    first.wait().unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    // `up --json` and `token create --json` name a credential alike.
    let created = json_out(&accord(
        &dir,
        &["--json", "token", "create", "--principal", "demo-analyst"],
    ));
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&v["credential"]), keys(&created), "{v}");
    let old = v["credential"]["id"].as_str().unwrap().to_owned();

    // Run again: the credential printed the first time is said to be replaced.
    let (mut server, text) = up(&dir, false);
    assert!(
        text.lines().any(|l| l.contains("REPLACED") && l.contains(&old)),
        "{text}"
    );
    // Every command line works in a fresh shell: another directory, a bare PATH, and a
    // REQUESTS_CA_BUNDLE that names another CA.
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let run = |line: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(line)
            .current_dir(&elsewhere)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
            .output()
            .unwrap()
    };
    let commands: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  /"))
        .map(str::trim)
        .collect();
    assert!(commands.len() >= 5, "{text}");
    for line in commands {
        let o = run(line);
        assert!(
            o.status.success() && !o.stdout.is_empty(),
            "{line}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let curl = text
        .lines()
        .find(|l| l.trim_start().starts_with("curl "))
        .unwrap();
    if Path::new("/usr/bin/curl").exists() {
        let o = run(curl.trim());
        let body = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success() && body.contains("\"collections\""),
            "{curl}: {body}"
        );
    }
    // The Python line names the CA in the variable that requests lets override `verify`.
    let python = text.lines().find(|l| l.contains("taxii2client")).unwrap();
    let ca = dir.join("tls").join("ca.pem");
    let ca = std::path::absolute(ca).unwrap();
    assert!(
        python
            .trim_start()
            .starts_with(&format!("REQUESTS_CA_BUNDLE={} python3", ca.display())),
        "{python}"
    );
    assert!(python.contains("pip install taxii2-client"), "{python}");
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn audit_query_options_say_what_they_do() {
    let (_tmp, dir) = init();
    let o = accord(&dir, &["audit", "query", "--help"]);
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    for option in [
        "--object",
        "--agreement",
        "--principal",
        "--kind",
        "--since",
        "--until",
        "--limit",
    ] {
        // What follows the option (and its value's name), up to the next option, is its help.
        let at = help
            .find(&format!("{option} <"))
            .unwrap_or_else(|| panic!("{option}: {help}"));
        let rest = &help[at + option.len()..];
        let rest = &rest[rest.find('>').unwrap() + 1..];
        let mut lines = rest.lines();
        let mut said = lines.next().unwrap().trim().to_owned();
        for l in lines.take_while(|l| !l.trim_start().starts_with('-') && !l.trim().is_empty()) {
            said.push_str(l.trim());
        }
        assert!(said.len() > 20, "{option} has no help: {said:?}\n{help}");
    }
}

#[test]
fn serve_listens_where_told() {
    let (_tmp, dir) = init();
    let mut server = Command::new(env!("CARGO_BIN_EXE_accord"))
        .arg("--data-dir")
        .arg(&dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let addr = BufReader::new(server.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.split("serving TAXII 2.1 on ").nth(1).map(str::to_owned))
        .expect("server address");
    server.kill().unwrap();
    server.wait().unwrap();
    let addr: std::net::SocketAddr = addr.trim().parse().unwrap();
    assert!(addr.ip().is_loopback() && addr.port() != 8443, "{addr}");
}
