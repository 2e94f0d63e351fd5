//! The obligations engine against a table of scenarios computed by hand from the legal texts
//! (`tests/data/scenarios.json`, each expectation annotated with its article), the shipped rule
//! pack's validation, and bad rule files and reports.

use accord_obligations::{Pack, Report, Submission, evaluate};
use serde_json::Value;

fn pack() -> Pack {
    Pack::shipped().unwrap_or_else(|e| panic!("the shipped rule pack does not load: {e}"))
}

#[test]
fn scenarios_give_the_hand_computed_deadlines() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/scenarios.json"))
        .expect("scenarios");
    let scenarios: Vec<Value> = serde_json::from_str(&text).expect("json");
    let pack = pack();
    let mut failures = Vec::new();
    for s in &scenarios {
        let name = s["name"].as_str().unwrap_or_default();
        let report: Report =
            serde_json::from_value(s["report"].clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let submissions: Vec<Submission> =
            serde_json::from_value(s.get("submissions").cloned().unwrap_or(Value::Array(vec![])))
                .expect("submissions");
        let now = s["now"].as_str().and_then(|t| t.parse().ok()).expect("now");
        let timeline = serde_json::to_value(evaluate(&pack, &report, &submissions, now).expect("evaluates"))
            .expect("serialises");
        for e in s["expect"].as_array().into_iter().flatten() {
            let regime = timeline["regimes"]
                .as_array()
                .and_then(|r| r.iter().find(|r| r["id"] == e["regime"]))
                .unwrap_or_else(|| panic!("{name}: no regime {}", e["regime"]));
            let mut check = |what: &str, got: &Value, want: &Value| {
                if got != want {
                    failures.push(format!(
                        "{name}: {} {what}: got {got}, want {want} ({})",
                        e["regime"], e["why"]
                    ));
                }
            };
            if let Some(want) = e.get("applicability") {
                check("applicability", &regime["applicability"]["state"], want);
            }
            if let Some(want) = e.get("reason_contains").and_then(Value::as_str) {
                let reasons = regime["reasons"].to_string();
                check(
                    "reasons",
                    &Value::Bool(reasons.contains(want)),
                    &Value::Bool(true),
                );
            }
            if e.get("stage").is_none() {
                if let Some(want) = e.get("needs") {
                    check("needs", &regime["applicability"]["needs"], want);
                }
                continue;
            }
            let Some(o) = regime["obligations"]
                .as_array()
                .and_then(|o| o.iter().find(|o| o["stage"] == e["stage"]))
            else {
                failures.push(format!(
                    "{name}: {} has no stage {} ({})",
                    e["regime"], e["stage"], regime
                ));
                continue;
            };
            for key in ["deadline_utc", "deadline_local", "projected", "status"] {
                if let Some(want) = e.get(key) {
                    check(key, &o[key], want);
                }
            }
            if let Some(want) = e.get("tracking") {
                check("tracking", &o["tracking"]["state"], want);
            }
            if let Some(want) = e.get("needs") {
                check("needs", &o["tracking"]["needs"], want);
            }
            if let Some(want) = e.get("waiting_on") {
                check("waiting on", &o["tracking"]["on"], want);
            }
            if let Some(want) = e.get("adjusted").and_then(Value::as_str) {
                let got = o["adjusted"].as_str().unwrap_or_default();
                if !got.contains(want) {
                    failures.push(format!("{name}: adjusted {got:?} does not mention {want:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_shipped_pack_covers_the_required_regimes_with_citations() {
    let pack = pack();
    for id in [
        "eu-nis2",
        "eu-gdpr",
        "eu-dora",
        "eu-cra",
        "us-sec-8k",
        "us-hipaa",
        "us-nydfs",
        "us-banking",
        "us-circia",
        "uk-nis",
        "in-cert-in",
        "in-dpdp",
        "au-soci",
        "au-ransomware",
        "sg-cybersecurity-act",
        "br-lgpd",
    ] {
        let r = pack
            .regimes
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("{id} missing"));
        assert!(
            !r.citation.is_empty() && r.stages.iter().all(|s| !s.citation.is_empty()),
            "{id}"
        );
    }
    let circia = pack.regimes.iter().find(|r| r.id == "us-circia").expect("circia");
    assert_eq!(circia.status, accord_obligations::Status::Draft);
    // Facts marked UNCONFIRMED in the sources are marked so in the pack.
    for id in ["au-soci", "sg-cybersecurity-act", "br-lgpd", "us-circia"] {
        let r = pack.regimes.iter().find(|r| r.id == id).expect("regime");
        assert!(!r.unconfirmed.is_empty(), "{id} should list what is unconfirmed");
    }
    for id in ["us-federal", "br-national", "de-national"] {
        assert!(!pack.calendars[id].source.is_empty(), "{id}");
    }
}

#[test]
fn adding_a_clock_event_later_recomputes_the_timeline() {
    let pack = pack();
    let mut report: Report = serde_json::from_value(serde_json::json!({
        "organisation": {"name": "Bank", "home_jurisdiction": "DE", "time_zone": "Europe/Berlin", "entity_types": ["financial-entity"]},
        "clocks": {"aware": "2026-05-05T08:00:00Z"},
        "assessments": {"major": true}
    }))
    .expect("report");
    let now = "2026-05-05T09:00:00Z".parse().expect("now");
    let stage = |t: &accord_obligations::Timeline| {
        t.obligations()
            .into_iter()
            .find(|o| o.regime == "eu-dora" && o.stage == "initial")
            .cloned()
            .expect("initial")
    };
    let before = stage(&evaluate(&pack, &report, &[], now).expect("evaluates"));
    assert!(
        matches!(before.tracking, accord_obligations::Tracking::Waiting { .. }),
        "{before:?}"
    );
    report.clocks.classified_major = Some("2026-05-05T10:00:00Z".into());
    let after = stage(&evaluate(&pack, &report, &[], now).expect("evaluates"));
    assert_eq!(after.deadline_utc.as_deref(), Some("2026-05-05T14:00:00Z"));
    assert!(after.summary.contains("Competent authority"), "{}", after.summary);
}

#[test]
fn bad_rule_files_and_reports_are_rejected_with_where() {
    let base =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/eu-nis2.toml")).expect("rule");
    // Not TOML: path and line.
    let broken = base.replacen("status = \"in-force\"", "status = in-force", 1);
    let e = Pack::from_files(&[("ops/nis2-cz.toml", &broken)], &[])
        .expect_err("rejected")
        .to_string();
    assert!(e.starts_with("ops/nis2-cz.toml") && e.contains("line 5"), "{e}");
    // A condition on a field the report does not have.
    let unknown = base.replacen("assessments.significant", "assessments.significance", 1);
    let e = Pack::from_files(&[("ops/x.toml", &unknown)], &[])
        .expect_err("rejected")
        .to_string();
    assert!(
        e.contains("unknown field \"assessments.significance\"") && e.starts_with("ops/x.toml:"),
        "{e}"
    );
    // An unknown clock event, named with its stage and line.
    let event = base.replacen(
        "from = \"aware\" }\ncontent = [\"suspected",
        "from = \"awareness\" }\ncontent = [\"suspected",
        1,
    );
    let e = Pack::from_files(&[("ops/y.toml", &event)], &[])
        .expect_err("rejected")
        .to_string();
    assert!(
        e.contains("stage early-warning") && e.contains("awareness") && e.starts_with("ops/y.toml:"),
        "{e}"
    );
    // No citation.
    let uncited = base.replacen("citation = \"Art. 23(4)(a)\"", "citation = \"\"", 1);
    assert!(Pack::from_files(&[("ops/z.toml", &uncited)], &[]).is_err());
    // An operator file replaces the shipped regime of the same id (a national transposition).
    let mut pack = pack();
    let cz = base.replacen(
        "deadline = { months = 1, after_stage = \"notification\" }",
        "deadline = { days = 30, after_stage = \"notification\" }",
        1,
    );
    pack.add(&[("ops/nis2-cz.toml", &cz)], &[]).expect("override");
    assert_eq!(pack.regimes.iter().filter(|r| r.id == "eu-nis2").count(), 1);
    // A report time that is not RFC 3339 names its field.
    let report: Report = serde_json::from_value(serde_json::json!({
        "organisation": {"name": "x", "home_jurisdiction": "DE", "time_zone": "Europe/Berlin", "entity_types": ["nis2-essential"]},
        "clocks": {"aware": "yesterday"}, "assessments": {"significant": true}
    }))
    .expect("report");
    let e = evaluate(&pack, &report, &[], "2026-01-01T00:00:00Z".parse().expect("now"))
        .expect_err("bad time")
        .to_string();
    assert!(e.contains("clocks.aware") && e.contains("yesterday"), "{e}");
    // A business-day deadline in a year the calendar does not cover is an error, not a guess.
    let report: Report = serde_json::from_value(serde_json::json!({
        "organisation": {"name": "x", "home_jurisdiction": "US", "time_zone": "America/New_York", "entity_types": ["sec-registrant"]},
        "clocks": {"determined_material": "2031-01-06T12:00:00Z"}, "assessments": {"material": true}
    }))
    .expect("report");
    let e = evaluate(&pack, &report, &[], "2031-01-06T13:00:00Z".parse().expect("now"))
        .expect_err("no data")
        .to_string();
    assert!(e.contains("us-federal") && e.contains("2031"), "{e}");
}

#[test]
fn the_report_round_trips_through_a_stix_incident_and_matches_its_schema() {
    let report: Report = serde_json::from_value(serde_json::json!({
        "organisation": {"name": "Grid operator", "home_jurisdiction": "DE", "time_zone": "Europe/Berlin",
                          "sectors": ["energy"], "entity_types": ["nis2-essential"], "attributes": {"annual_turnover_aud": 1}},
        "affected_jurisdictions": ["DE", "FR"],
        "clocks": {"detected": "2026-01-01T00:00:00Z", "aware": "2026-01-01T01:00:00Z"},
        "incident_types": ["ransomware"],
        "impact": {"services": ["distribution"], "users_affected": 10, "duration_hours": 2.5, "financial_loss": 1000.0, "currency": "EUR"},
        "personal_data": {"breach": false},
        "cross_border_impact": true,
        "assessments": {"significant": true, "reportable": {"in-cert-in": false}},
        "status": "open",
        "linked": ["indicator--6f6d4f6b-1a80-4ba6-8c49-2e0c3d3f6a71"]
    }))
    .expect("report");
    let id = "incident--6f6d4f6b-1a80-4ba6-8c49-2e0c3d3f6a71";
    let incident = report.to_incident(
        id,
        "Ransomware at the grid operator",
        "2026-01-01T02:00:00.000Z",
        "2026-01-01T02:00:00.000Z",
    );
    let back = Report::from_incident(incident.as_object().expect("object")).expect("reads back");
    assert_eq!(back.incident.as_deref(), Some(id));
    assert_eq!(
        Report {
            incident: None,
            ..back
        },
        report
    );
    // Every property the code reads is in the JSON schema, and the schema has no other.
    let schema: Value = serde_json::from_str(accord_obligations::INCIDENT_EXTENSION_SCHEMA).expect("schema");
    let ext = &incident["extensions"][accord_obligations::INCIDENT_EXTENSION_ID];
    let mut from_code: Vec<&str> = ext.as_object().expect("ext").keys().map(String::as_str).collect();
    from_code.sort_unstable();
    let mut from_schema: Vec<&str> = schema["properties"]
        .as_object()
        .expect("props")
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "incident")
        .collect();
    from_schema.sort_unstable();
    assert_eq!(from_code, from_schema);
    for (section, value) in ext.as_object().expect("ext") {
        if let (Some(props), Some(obj)) = (
            schema["properties"][section]["properties"].as_object(),
            value.as_object(),
        ) {
            for k in obj.keys() {
                assert!(props.contains_key(k), "{section}.{k} is not in the schema");
            }
        }
    }
    let def: Value =
        serde_json::from_str(accord_obligations::INCIDENT_EXTENSION_DEFINITION).expect("definition");
    assert_eq!(def["id"], accord_obligations::INCIDENT_EXTENSION_ID);
    // Not an incident, or no extension: a clear error.
    let e = Report::from_incident(
        serde_json::json!({"type": "incident", "id": id})
            .as_object()
            .expect("o"),
    )
    .expect_err("no ext");
    assert!(
        e.to_string().contains("no Accord incident-report extension"),
        "{e}"
    );
}

mod invariants {
    use accord_obligations::{Pack, Report, evaluate};
    use jiff::Timestamp;
    use proptest::prelude::*;
    use std::sync::LazyLock;

    static PACK: LazyLock<Pack> = LazyLock::new(|| Pack::shipped().expect("pack"));

    fn deadline(report: serde_json::Value, regime: &str, stage: &str, now: Timestamp) -> Timestamp {
        let report: Report = serde_json::from_value(report).expect("report");
        let t = evaluate(&PACK, &report, &[], now).expect("evaluates");
        let o = t
            .obligations()
            .into_iter()
            .find(|o| o.regime == regime && o.stage == stage)
            .cloned()
            .expect("stage");
        o.deadline_utc.expect("deadline").parse().expect("timestamp")
    }

    /// Any instant from 2025 to late 2028 (the calendars' years, with room for the deadline).
    fn instant() -> impl Strategy<Value = Timestamp> {
        (1_735_689_600i64..1_853_000_000).prop_map(|s| Timestamp::from_second(s).expect("in range"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// SEC: the deadline is 17:30 New York time on a US federal business day, after the
        /// determination, and never more than four business days (plus weekends and holidays) later.
        #[test]
        fn sec_deadlines_land_on_business_days(t in instant()) {
            let report = serde_json::json!({"organisation": {"name": "x", "home_jurisdiction": "US", "entity_types": ["sec-registrant"]},
                "clocks": {"determined_material": t.to_string()}, "assessments": {"material": true}});
            let d = deadline(report, "us-sec-8k", "form-8k", t);
            let local = d.in_tz("America/New_York").expect("tz");
            let cal = &PACK.calendars["us-federal"];
            prop_assert!(cal.is_working_day(local.date()).expect("covered"));
            prop_assert_eq!((local.hour(), local.minute()), (17, 30));
            prop_assert!(d > t);
            prop_assert!(d.duration_since(t).as_hours() <= 24 * 11);
        }

        /// DORA: the initial notification is never due before classification nor later than four
        /// hours after it unless moved by the relief, and a moved one is at 12:00 on a working day.
        #[test]
        fn dora_initial_is_bounded_and_relief_lands_on_working_days(aware in instant(), lag_minutes in 0i64..4000) {
            let classified = aware.checked_add(jiff::SignedDuration::from_mins(lag_minutes)).expect("add");
            let report = serde_json::json!({"organisation": {"name": "x", "home_jurisdiction": "DE", "time_zone": "Europe/Berlin", "entity_types": ["financial-entity"]},
                "clocks": {"aware": aware.to_string(), "classified_major": classified.to_string()}, "assessments": {"major": true}});
            let d = deadline(report, "eu-dora", "initial", classified);
            prop_assert!(d >= classified);
            // RTS 2025/301 Art. 5(1)(a): 4 h from classification, at the latest 24 h from
            // awareness, unless that has passed when the incident is classified.
            let (c4, a24) = (classified + jiff::SignedDuration::from_hours(4), aware + jiff::SignedDuration::from_hours(24));
            let raw = if a24 >= classified { std::cmp::min(c4, a24) } else { c4 };
            let local = d.in_tz("Europe/Berlin").expect("tz");
            prop_assert!(PACK.calendars["de-national"].is_working_day(local.date()).expect("covered"));
            if d != raw {
                prop_assert_eq!((local.hour(), local.minute()), (12, 0));
                prop_assert!(d > raw);
            }
        }

        /// LGPD: three business days, on a Brazilian working day.
        #[test]
        fn lgpd_deadlines_land_on_working_days(t in instant()) {
            let report = serde_json::json!({"organisation": {"name": "x", "home_jurisdiction": "BR", "entity_types": ["data-controller"]},
                "clocks": {"aware": t.to_string()}, "personal_data": {"breach": true, "risk": true}});
            let d = deadline(report, "br-lgpd", "anpd", t);
            let local = d.in_tz("America/Sao_Paulo").expect("tz");
            prop_assert!(PACK.calendars["br-national"].is_working_day(local.date()).expect("covered"));
            prop_assert!(d > t);
        }
    }
}
