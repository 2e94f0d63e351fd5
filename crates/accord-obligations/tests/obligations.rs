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
    let pack = pack();
    let mut failures = Vec::new();
    for s in &scenarios() {
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

fn scenarios() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/scenarios.json"))
        .expect("scenarios");
    serde_json::from_str(&text).expect("json")
}

/// The path of every member of every object in `v`, at every depth (`/a/b`).
fn member_paths(v: &Value, at: &str, out: &mut Vec<String>) {
    if let Value::Object(m) = v {
        for (k, child) in m {
            let here = format!("{at}/{k}");
            out.push(here.clone());
            member_paths(child, &here, out);
        }
    }
}

/// Each regime's applicability and the stages it gives (None: the report does not evaluate).
fn outcomes(pack: &Pack, report: &Value, now: jiff::Timestamp) -> Option<Vec<(String, String, Vec<String>)>> {
    let report = Report::from_value(report.clone()).ok()?;
    let t = evaluate(pack, &report, &[], now).ok()?;
    let t = serde_json::to_value(t).expect("serialises");
    Some(
        t["regimes"]
            .as_array()
            .expect("regimes")
            .iter()
            .map(|r| {
                let stages = r["obligations"]
                    .as_array()
                    .expect("obligations")
                    .iter()
                    .map(|o| o["stage"].as_str().unwrap_or_default().to_owned())
                    .collect();
                (
                    r["id"].as_str().unwrap_or_default().to_owned(),
                    r["applicability"]["state"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    stages,
                )
            })
            .collect(),
    )
}

/// Issue 26.7: unknown is not no. Removing any one fact from any scenario never turns a regime
/// that applies or cannot be determined into "not applicable", nor drops a stage it gave: it may
/// become "cannot determine", or stay as it was if the fact did not matter.
#[test]
fn removing_a_fact_never_makes_a_regime_not_applicable() {
    let pack = pack();
    let mut failures = Vec::new();
    let mut removals = 0;
    for s in scenarios() {
        let name = s["name"].as_str().unwrap_or_default();
        let now: jiff::Timestamp = s["now"].as_str().and_then(|t| t.parse().ok()).expect("now");
        let before =
            outcomes(&pack, &s["report"], now).unwrap_or_else(|| panic!("{name}: does not evaluate"));
        let mut paths = Vec::new();
        member_paths(&s["report"], "", &mut paths);
        for path in paths {
            let mut report = s["report"].clone();
            let (parent, key) = path.rsplit_once('/').expect("a member path");
            let removed = report
                .pointer_mut(parent)
                .and_then(Value::as_object_mut)
                .and_then(|m| m.remove(key));
            assert!(removed.is_some(), "{name}: {path}");
            // A report without a required member (the organisation's name) is an error, not an
            // outcome; that is allowed.
            let Some(after) = outcomes(&pack, &report, now) else {
                continue;
            };
            removals += 1;
            for ((id, was, stages), (_, is, now_stages)) in before.iter().zip(&after) {
                if was != "not-applicable" && is == "not-applicable" {
                    failures.push(format!(
                        "{name}: without {path}, {id} went from {was} to not applicable"
                    ));
                }
                if was == "applies" && is == "applies" {
                    for st in stages.iter().filter(|st| !now_stages.contains(st)) {
                        failures.push(format!("{name}: without {path}, {id} lost its stage {st}"));
                    }
                }
            }
        }
    }
    assert!(removals > 100, "only {removals} removals were evaluated");
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
        "jp-appi",
        "ca-pipeda",
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
    for id in [
        "au-soci",
        "sg-cybersecurity-act",
        "br-lgpd",
        "us-circia",
        "jp-appi",
        "ca-pipeda",
    ] {
        let r = pack.regimes.iter().find(|r| r.id == id).expect("regime");
        assert!(!r.unconfirmed.is_empty(), "{id} should list what is unconfirmed");
    }
    for id in ["us-federal", "br-national", "de-national"] {
        assert!(!pack.calendars[id].source.is_empty(), "{id}");
    }
    // DORA's relief needs the calendar of every member state; each names its source, covers
    // years beyond 2028, and is marked unconfirmed unless the shared material confirms it.
    for country in [
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT",
        "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    ] {
        let c = pack
            .calendar_for(country)
            .unwrap_or_else(|| panic!("no holiday calendar for {country}"));
        assert!(!c.source.is_empty() && c.years().1 > 2028, "{}", c.id);
        assert!(
            c.id == "de-national" || c.status.as_deref() == Some("unconfirmed"),
            "{} should be marked unconfirmed",
            c.id
        );
    }
}

/// Calendars are rules now: for 2025-2028 they give exactly the dates listed by hand before
/// (`tests/data/calendars-2025-2028.json`), and Easter (both computations) matches published dates.
#[test]
fn calendar_rules_reproduce_the_hand_listed_dates() {
    let pack = pack();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/calendars-2025-2028.json"
    ))
    .expect("fixture");
    let want: std::collections::BTreeMap<String, Vec<String>> = serde_json::from_str(&text).expect("json");
    for (id, dates) in want {
        let got: Vec<String> = pack.calendars[&id]
            .holidays()
            .filter(|(d, _)| (2025..=2028).contains(&d.year()))
            .map(|(d, _)| d.to_string())
            .collect();
        assert_eq!(got, dates, "{id}");
    }
    use accord_obligations::calendar::{easter, orthodox_easter};
    for (y, want) in [(2025, "2025-04-20"), (2030, "2030-04-21"), (2035, "2035-03-25")] {
        assert_eq!(easter(y).expect("easter").to_string(), want);
    }
    for (y, want) in [(2025, "2025-04-20"), (2026, "2026-04-12"), (2030, "2030-04-28")] {
        assert_eq!(orthodox_easter(y).expect("easter").to_string(), want);
    }
    // Moved when on a weekend: US Independence Day 2026 (a Saturday) is observed Friday 3 July;
    // Latvia's 4 May 2030 (a Saturday) is given on Monday 6 May.
    let on = |cal: &str, d: &str| {
        pack.calendars[cal]
            .holiday(d.parse().expect("date"))
            .map(str::to_owned)
    };
    assert!(on("us-federal", "2026-07-03").is_some() && on("us-federal", "2026-07-04").is_none());
    assert!(on("lv-national", "2030-05-06").is_some());
    // A rule with an unknown weekday is an error naming the file and the rule.
    let bad = "id = \"xx-test\"\nname = \"x\"\ntime_zone = \"UTC\"\nsource = \"x\"\nweekend = []\nyears = [2025, 2026]\nrules = [{ name = \"Odd\", weekday = \"funday\", on_or_after = \"01-01\" }]\n";
    let e = accord_obligations::Calendar::parse("ops/xx.toml", bad)
        .expect_err("bad rule")
        .to_string();
    assert!(
        e.contains("ops/xx.toml") && e.contains("Odd") && e.contains("funday"),
        "{e}"
    );
}

/// Issue 26.8: `assessments.reportable` is checked against the rule pack: a key no regime asks,
/// and a value the regime does not take, are errors naming the key.
#[test]
fn reportable_assessments_and_entity_types_are_checked_against_the_pack() {
    let pack = pack();
    let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().expect("now");
    let check = |reportable: Value| {
        let report = Report::from_value(serde_json::json!({
            "organisation": {"name": "x", "home_jurisdiction": "IN", "entity_types": []},
            "assessments": {"reportable": reportable}
        }))
        .expect("report");
        evaluate(&pack, &report, &[], now).map(|_| ())
    };
    let e = check(serde_json::json!({"in-certin": true}))
        .expect_err("typo")
        .to_string();
    assert!(
        e.contains("assessments.reportable.in-certin") && e.contains("in-cert-in"),
        "{e}"
    );
    let e = check(serde_json::json!({"au-soci": true}))
        .expect_err("wrong type")
        .to_string();
    assert!(
        e.contains("assessments.reportable.au-soci") && e.contains("\"significant\""),
        "{e}"
    );
    let e = check(serde_json::json!({"in-cert-in": "yes"}))
        .expect_err("wrong type")
        .to_string();
    assert!(
        e.contains("assessments.reportable.in-cert-in") && e.contains("true or false"),
        "{e}"
    );
    let e = check(serde_json::json!({"eu-gdpr": true}))
        .expect_err("no assessment")
        .to_string();
    assert!(e.contains("assessments.reportable.eu-gdpr"), "{e}");
    check(serde_json::json!({"au-soci": "relevant", "jp-appi": ["unlawful-purpose", "property-damage"], "in-cert-in": false}))
        .expect("well-formed answers");
    // An entity type outside the vocabulary is an error naming it, not a silent no.
    let report = Report::from_value(serde_json::json!({
        "organisation": {"name": "x", "home_jurisdiction": "DE", "entity_types": ["credit-institutions"]}
    }))
    .expect("report");
    let e = evaluate(&pack, &report, &[], now)
        .expect_err("unknown type")
        .to_string();
    assert!(
        e.contains("organisation.entity_types") && e.contains("credit-institutions"),
        "{e}"
    );
    // The field that carried two legal tests is refused with what to give instead.
    let e = Report::from_value(serde_json::json!({
        "organisation": {"name": "x", "home_jurisdiction": "DE"}, "personal_data": {"breach": true, "risk": true}
    }))
    .expect_err("split")
    .to_string();
    assert!(
        e.contains("personal_data.risk")
            && e.contains("risk_to_rights")
            && e.contains("relevant_risk_or_damage"),
        "{e}"
    );
    // A rule file reading another regime's assessment, or naming an entity type the vocabulary
    // lacks, or testing presence: errors naming the file.
    let nis2 =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/eu-nis2.toml")).expect("rule");
    let other = nis2.replacen(
        "field = \"assessments.significant\"",
        "field = \"assessments.reportable.in-cert-in\"",
        1,
    );
    let e = Pack::from_files(&[("ops/a.toml", &other)], &[])
        .expect_err("other's key")
        .to_string();
    assert!(
        e.contains("ops/a.toml") && e.contains("its own assessment"),
        "{e}"
    );
    let typo = nis2.replacen("\"nis2-essential\", \"nis2-important\"", "\"nis2-esential\"", 1);
    let e = Pack::from_files(&[("ops/b.toml", &typo)], &[])
        .expect_err("typo")
        .to_string();
    assert!(e.contains("ops/b.toml") && e.contains("nis2-esential"), "{e}");
    let exists = nis2.replacen(
        "{ field = \"assessments.significant\", equals = true",
        "{ field = \"assessments.significant\", exists = true",
        1,
    );
    let e = Pack::from_files(&[("ops/c.toml", &exists)], &[])
        .expect_err("exists")
        .to_string();
    assert!(e.contains("exists") && e.contains("unknown"), "{e}");
}

/// Issue 26.8: the template lists every fact of the schema, every entity type with its meaning,
/// and every regime's own assessment; it is TOML that reads back as a report, and that report,
/// with only the required facts filled in, leaves no regime "not applicable".
#[test]
fn the_template_documents_every_fact_and_reads_back() {
    let pack = pack();
    let text = accord_obligations::template::template(&pack);
    let schema: Value = serde_json::from_str(accord_obligations::INCIDENT_EXTENSION_SCHEMA).expect("schema");
    for (key, prop) in schema["properties"].as_object().expect("props") {
        if key == "extension_type" || key == "incident" {
            continue;
        }
        assert!(
            text.contains(&format!("{key} =")) || text.contains(&format!("[{key}]")),
            "{key} missing"
        );
        for sub in prop["properties"].as_object().into_iter().flat_map(|p| p.keys()) {
            assert!(
                text.contains(&format!("{sub} =")) || text.contains(&format!("[{key}.{sub}]")),
                "{key}.{sub} missing"
            );
        }
    }
    for t in pack.vocabulary.entity_types.values() {
        assert!(
            text.contains(&t.id) && text.contains(&t.meaning[..20]),
            "{}",
            t.id
        );
    }
    for r in pack.regimes.iter().filter(|r| r.assessment.is_some()) {
        assert!(text.contains(&format!("\"{}\" =", r.id)), "{}", r.id);
    }
    let filled = text.replacen("name = \"\"", "name = \"Example\"", 1).replacen(
        "home_jurisdiction = \"\"",
        "home_jurisdiction = \"DE\"",
        1,
    );
    let report = Report::from_toml(&filled).unwrap_or_else(|e| panic!("{e}\n{filled}"));
    let t = evaluate(&pack, &report, &[], "2026-01-01T00:00:00Z".parse().expect("now")).expect("evaluates");
    for r in &t.regimes {
        assert_ne!(
            r.applicability,
            accord_obligations::Applicability::NotApplicable,
            "{}",
            r.id
        );
    }
    assert!(
        t.missing.iter().any(|m| m.field == "organisation.entity_types"),
        "{:?}",
        t.missing
    );
    // The schema lists the same vocabulary, with the same meanings and implications.
    let listed = schema["properties"]["organisation"]["properties"]["entity_types"]["items"]["anyOf"]
        .as_array()
        .expect("anyOf");
    assert_eq!(listed.len(), pack.vocabulary.entity_types.len());
    for item in listed {
        let id = item["const"].as_str().expect("const");
        let description = item["description"].as_str().expect("description");
        let t = &pack.vocabulary.entity_types[id];
        assert!(description.starts_with(&t.meaning), "{id}");
        for i in &t.implies {
            assert!(description.contains(i.as_str()), "{id} implies {i}");
        }
    }
}

/// Issue 26.8: the facts that would change an outcome if supplied are listed with what each
/// decides; given facts and facts no undecided outcome reads are not.
#[test]
fn the_facts_that_would_change_an_outcome_are_listed() {
    let pack = pack();
    let report = Report::from_value(serde_json::json!({
        "organisation": {"name": "x", "home_jurisdiction": "FR", "entity_types": ["data-controller", "financial-entity"]},
        "affected_jurisdictions": [],
        "personal_data": {"breach": true},
        "assessments": {"major": true}
    }))
    .expect("report");
    let t = evaluate(&pack, &report, &[], "2026-01-01T00:00:00Z".parse().expect("now")).expect("evaluates");
    let decides = |f: &str| {
        t.missing
            .iter()
            .find(|m| m.field == f)
            .map(|m| m.decides.clone())
            .unwrap_or_default()
    };
    assert!(
        decides("personal_data.risk_to_rights").contains(&"eu-gdpr/authority".to_owned()),
        "{:?}",
        t.missing
    );
    assert!(
        decides("clocks.classified_major").contains(&"eu-dora/initial".to_owned()),
        "{:?}",
        t.missing
    );
    // NIS2 is decided (no NIS2 entity type): its significance would change nothing.
    assert!(decides("assessments.significant").is_empty(), "{:?}", t.missing);
    assert!(t.missing.iter().all(|m| m.field != "personal_data.breach"));
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
        "clocks": {"determined_material": "2036-01-07T12:00:00Z"}, "assessments": {"material": true}
    }))
    .expect("report");
    let e = evaluate(&pack, &report, &[], "2036-01-07T13:00:00Z".parse().expect("now"))
        .expect_err("no data")
        .to_string();
    assert!(e.contains("us-federal") && e.contains("2036"), "{e}");
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
        "ransom_paid": false,
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
                "clocks": {"aware": t.to_string()}, "personal_data": {"breach": true, "relevant_risk_or_damage": true}});
            let d = deadline(report, "br-lgpd", "anpd", t);
            let local = d.in_tz("America/Sao_Paulo").expect("tz");
            prop_assert!(PACK.calendars["br-national"].is_working_day(local.date()).expect("covered"));
            prop_assert!(d > t);
        }
    }
}
