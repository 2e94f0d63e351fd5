//! Fuzzes egress: any JSON object (given a STIX type), with arbitrary markings, handling
//! extension and references, is decided and minimised for a partner under the strict profile;
//! what leaves from a valid object must pass the validator.
#![no_main]

use std::sync::LazyLock;

use accord_policy::{Action, Request};
use accord_policy::{Engine, Model};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    let spec = json!({
        "node_organisation": "home",
        "organisations": [
            {"id": "home", "name": "Home", "jurisdiction": "DE", "role": "csirt",
             "identity": "identity--00000000-0000-4000-8000-000000000001"},
            {"id": "partner", "name": "Partner", "jurisdiction": "FR", "role": "csirt"}
        ],
        "agreements": [{"id": "a", "parties": ["home", "partner"], "tlp": ["clear", "green", "amber"],
            "purposes": ["detection"], "legal_bases": ["gdpr-6-1-e"], "data_categories": ["email"],
            "redaction_profile": "strict"}],
        "principals": [{"name": "p", "organisation": "partner", "purposes": ["detection"]}]
    });
    let model = Model::build(serde_json::from_value(spec).expect("spec")).expect("model");
    Engine::new(model, &[]).expect("engine")
});

mod typed;

fuzz_target!(|data: &[u8]| {
    let Some((obj, _)) = typed::typed_object(data, "description") else { return };
    let objects = [obj.clone(), obj];
    let now = accord_stix::Timestamp::from_micros(1_800_000_000_000_000);
    let req = Request { principal: "p", action: Action::Read, purpose: None, encrypted: true, now, default_tlp: None };
    let markings = std::collections::HashMap::new();
    let resolve = |id: &str| objects.iter().find(|o| o.get("id").and_then(Value::as_str) == Some(id)).cloned().map(Value::Object);
    let out = accord_policy::disclose(&ENGINE, &req, &objects, &markings, &[3; 32], &resolve, &["Jane Doe".to_owned()]);
    // Egress never makes valid STIX invalid: what leaves from a valid object is valid.
    if accord_stix::validate(&Value::Object(objects[0].clone())).is_valid() {
        for o in &out.objects {
            let report = accord_stix::validate(&Value::Object(o.clone().into_owned()));
            assert!(report.is_valid(), "released object is invalid: {report:?}");
        }
    }
});
