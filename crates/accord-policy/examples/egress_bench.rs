//! Benchmark of the decision point and minimisation: 100,000 mixed objects decided and redacted
//! for each of 10 partners (pages of 1,000, as TAXII reads them), then decisions per second with
//! and without memoisation. Run: `cargo run --release -p accord-policy --example egress_bench`.

use std::collections::HashMap;

// The allocator the `accord` binary uses, so the numbers are those of a running node.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::Instant;

use accord_policy::decision::{Action, Request};
use accord_policy::{Engine, Model, disclose};
use accord_stix::Timestamp;
use serde_json::{Map, Value, json};

const TLP: [&str; 5] = [
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
];
const JURISDICTIONS: [&str; 5] = ["DE", "FR", "NL", "US", "JP"];

fn model() -> Model {
    let mut orgs = vec![
        json!({"id": "home", "name": "Home", "jurisdiction": "DE", "role": "csirt",
        "identity": "identity--00000000-0000-4000-8000-000000000000", "clients": ["p8", "p9"]}),
    ];
    let mut agreements = Vec::new();
    let mut principals = Vec::new();
    for i in 0..10 {
        orgs.push(json!({"id": format!("p{i}"), "name": format!("Partner {i}"),
            "jurisdiction": JURISDICTIONS[i % 5], "role": if i == 7 { "public" } else { "csirt" },
            "identity": format!("identity--00000000-0000-4000-8000-{:012}", i + 1)}));
        if i < 8 {
            agreements.push(json!({"id": format!("a{i}"), "parties": ["home", format!("p{i}")],
                "tlp": if i % 2 == 0 { json!(["clear", "green", "amber"]) } else { json!(["clear", "green"]) },
                "purposes": ["detection", "situational-awareness"], "legal_bases": ["gdpr-6-1-e"],
                "data_categories": if i % 3 == 0 { json!(["email"]) } else { json!(["email", "network-identifier"]) },
                "redaction_profile": if i == 4 { "none" } else { "strict" }}));
        }
        principals.push(json!({"name": format!("partner{i}"), "organisation": format!("p{i}"), "purposes": ["detection"]}));
    }
    let spec = json!({"node_organisation": "home", "organisations": orgs, "agreements": agreements, "principals": principals});
    Model::build(serde_json::from_value(spec).expect("spec")).expect("model")
}

/// A reproducible mix: indicators of every TLP from several originators, SCOs with personal data,
/// individuals, sightings and notes with e-mail addresses and phone numbers in free text.
fn objects(n: usize) -> Vec<Map<String, Value>> {
    (0..n)
        .map(|i| {
            let uuid = format!("{:08x}-0000-4000-8000-{:012x}", i / 7, i);
            let mut o = match i % 7 {
                0..=2 => json!({"type": "indicator", "spec_version": "2.1", "id": format!("indicator--{uuid}"),
                    "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
                    "pattern": format!("[ipv4-addr:value = '198.51.{}.{}']", i % 256, (i / 256) % 256),
                    "pattern_type": "stix", "valid_from": "2025-01-01T00:00:00Z",
                    "description": "C2 node of the campaign, seen on several victims"}),
                3 => json!({"type": "email-addr", "spec_version": "2.1", "id": format!("email-addr--{uuid}"),
                    "value": format!("user{i}@victim.example"), "display_name": format!("User {i}")}),
                4 => json!({"type": "identity", "spec_version": "2.1", "id": format!("identity--{uuid}"),
                    "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
                    "name": format!("Person {i}"), "identity_class": "individual", "contact_information": format!("p{i}@mail.example")}),
                5 => json!({"type": "note", "spec_version": "2.1", "id": format!("note--{uuid}"),
                    "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
                    "content": format!("Reported by analyst{i}@soc.example, call +49 30 {:04} {:04}; dump in /home/user{i}/tmp", i % 10000, i % 7919),
                    "object_refs": [format!("indicator--{:08x}-0000-4000-8000-{:012x}", i / 7, i - 5)]}),
                _ => json!({"type": "sighting", "spec_version": "2.1", "id": format!("sighting--{uuid}"),
                    "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
                    "sighting_of_ref": format!("indicator--{:08x}-0000-4000-8000-{:012x}", i / 7, i - 6),
                    "where_sighted_refs": [format!("identity--{:08x}-0000-4000-8000-{:012x}", i / 7, i - 2)]}),
            };
            o["object_marking_refs"] = json!([TLP[(i / 7) % 5]]);
            if i % 3 == 0 {
                o["created_by_ref"] = format!("identity--00000000-0000-4000-8000-{:012}", i % 11).into();
            }
            o.as_object().cloned().unwrap_or_default()
        })
        .collect()
}

/// A partner reading over TLS with its default purpose.
fn read_request(principal: &str, now: Timestamp) -> Request<'_> {
    Request {
        principal,
        action: Action::Read,
        purpose: None,
        encrypted: true,
        now,
        default_tlp: None,
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let objects = objects(n);
    let now = Timestamp::parse("2026-06-01T00:00:00Z").expect("time");
    let markings: HashMap<String, accord_stix::markings::Marking> = HashMap::new();
    let key = [7u8; 32];

    // One partner's share: every page of the collection decided and redacted for it.
    let serve = |engine: &Engine, p: usize| -> (usize, usize) {
        let principal = format!("partner{p}");
        let req = read_request(&principal, now);
        let (mut released, mut redacted) = (0, 0);
        for page in objects.chunks(1000) {
            let d = disclose(engine, &req, page, &markings, &key, &|_| None, &[]);
            released += d.objects.len();
            redacted += d
                .outcomes
                .iter()
                .filter(|o| !o.redactions.is_empty() && o.decision.allowed())
                .count();
        }
        (released, redacted)
    };
    for parallel in [false, true] {
        let engine = Engine::new(model(), &[]).expect("engine");
        let start = Instant::now();
        let results: Vec<(usize, usize)> = if parallel {
            use rayon::prelude::*;
            (0..10).into_par_iter().map(|p| serve(&engine, p)).collect()
        } else {
            (0..10).map(|p| serve(&engine, p)).collect()
        };
        let total = start.elapsed();
        let (released, redacted) = results.iter().fold((0, 0), |a, r| (a.0 + r.0, a.1 + r.1));
        println!(
            "decide+redact ({}): {n} objects x 10 partners in {:.3} s ({:.0} objects/s); released {released}, redacted {redacted}",
            if parallel {
                "partners in parallel on all cores"
            } else {
                "one core"
            },
            total.as_secs_f64(),
            (n * 10) as f64 / total.as_secs_f64()
        );
    }

    for (label, engine) in [
        ("memoised", Engine::new(model(), &[]).expect("engine")),
        (
            "not memoised",
            Engine::new(model(), &[]).expect("engine").without_memo(),
        ),
    ] {
        let sample = if label == "memoised" { n } else { n.min(20_000) };
        let start = Instant::now();
        let mut allowed = 0usize;
        for (i, o) in objects.iter().take(sample).enumerate() {
            let principal = format!("partner{}", i % 10);
            let req = read_request(&principal, now);
            allowed += usize::from(engine.decide(&req, o, &markings).allowed());
        }
        let t = start.elapsed().as_secs_f64();
        println!(
            "decisions {label}: {sample} in {t:.3} s = {:.0} decisions/s ({allowed} allowed)",
            sample as f64 / t
        );
    }
}
