//! The pattern parser against a table of cases (canonical text, or the byte position and text of
//! the error), every pattern in the OASIS example bundles, printed-then-parsed round trips of
//! generated trees, hostile nesting, and the semantic warnings.

use accord_pattern::{
    Comparison, IndexBuilder, Literal, Matcher, ObjectPath, Observation, Observed, Op, Qualifier, Step,
    Stream, Test, check, parse,
};
use proptest::prelude::*;
use serde_json::Value;

#[test]
fn the_case_table() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cases.json"))
        .expect("cases");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("json");
    let mut failures = Vec::new();
    for c in &cases {
        let pattern = c["pattern"].as_str().expect("pattern");
        match (parse(pattern), c.get("error")) {
            (Ok(tree), None) => {
                let printed = tree.to_string();
                if let Some(want) = c["canonical"].as_str()
                    && printed != want
                {
                    failures.push(format!("{pattern}\n  printed {printed}\n  want    {want}"));
                }
                match parse(&printed) {
                    Ok(again) if again == tree => {}
                    other => failures.push(format!(
                        "{pattern}: the printed form {printed} parses to {other:?}"
                    )),
                }
            }
            (Ok(tree), Some(e)) => failures.push(format!("{pattern}: parsed as {tree}, want error {e}")),
            (Err(e), None) => failures.push(format!("{pattern}: {e}")),
            (Err(e), Some(want)) => {
                let at = c["error_at"].as_u64().expect("error_at") as usize;
                if e.at != at || !e.message.contains(want.as_str().unwrap_or_default()) {
                    failures.push(format!("{pattern}: got {e}, want at byte {at}: …{want}…"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_pattern_in_the_oasis_examples_parses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/stix/examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("examples") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        let objects = doc["objects"].as_array().cloned().unwrap_or_default();
        for o in objects {
            if o["type"] == "indicator" && o["pattern_type"] == "stix" {
                let p = o["pattern"].as_str().expect("pattern");
                let tree = parse(p).unwrap_or_else(|e| panic!("{}: {p}: {e}", path.display()));
                assert_eq!(parse(&tree.to_string()).expect("reparses"), tree, "{p}");
                n += 1;
            }
        }
    }
    assert!(n >= 10, "only {n} patterns found");
}

#[test]
fn hostile_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("{}[a:b = 1]{}", "(".repeat(10_000), ")".repeat(10_000));
    let e = parse(&deep).expect_err("too deep");
    assert!(e.message.contains("nested deeper"), "{e}");
    let deep = format!("[{}a:b = 1{}]", "(".repeat(10_000), ")".repeat(10_000));
    assert!(parse(&deep).is_err());
    // Long flat chains are fine (no recursion per operand).
    let long = vec!["[a:b = 1]"; 5_000].join(" OR ");
    assert!(parse(&long).is_ok());
}

#[test]
fn semantic_checks_are_warnings() {
    let warnings = |p: &str| -> Vec<String> {
        check(&parse(p).expect("parses"))
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert!(warnings("[ipv4-addr:value = '1.2.3.4' AND file:hashes.'SHA-256' = 'x']").is_empty());
    assert!(warnings("[x-acme-sensor:reading > 5 AND ipv4-addr:x_score = 1]").is_empty());
    let w = warnings("[ipv4-adr:value = '1.2.3.4']");
    assert!(
        w[0].contains("at byte 1") && w[0].contains("unknown object type ipv4-adr"),
        "{w:?}"
    );
    let w = warnings("[ipv4-addr:val = '1.2.3.4']");
    assert!(w[0].contains("ipv4-addr has no property val"), "{w:?}");
    let w = warnings("[file:size = 'big']");
    assert!(w[0].contains("numeric property compared with a string"), "{w:?}");
    let w = warnings("[ipv4-addr:value = 5]");
    assert!(w[0].contains("string property compared with a number"), "{w:?}");
    let w = warnings("[indicator:name = 'x']");
    assert!(w[0].contains("not a cyber-observable"), "{w:?}");
}

fn arb_path() -> impl Strategy<Value = ObjectPath> {
    let key = prop_oneof![
        "[a-z_][a-z0-9_]{0,6}".prop_map(Step::Key),
        "[ -~]{1,8}".prop_map(Step::Key),
    ];
    let step = prop_oneof![key.clone(), (-3i64..30).prop_map(Step::Index), Just(Step::Any)];
    (
        "[a-z][a-z0-9-]{0,8}".prop_filter("object types are not keywords", |t| {
            !accord_pattern::is_keyword(t)
        }),
        key,
        prop::collection::vec(step, 0..3),
    )
        .prop_map(|(t, first, rest)| {
            let mut steps = vec![first];
            steps.extend(rest);
            ObjectPath {
                object_type: t,
                steps,
                at: 0,
            }
        })
}

fn arb_literal() -> impl Strategy<Value = Literal> {
    let scalar = prop_oneof![
        any::<i64>().prop_map(Literal::Int),
        "\\PC{0,10}".prop_map(Literal::Str),
        any::<bool>().prop_map(Literal::Bool),
        prop::collection::vec(any::<u8>(), 0..6).prop_map(Literal::Hex),
        prop::collection::vec(any::<u8>(), 0..6).prop_map(Literal::Binary),
        (0u32..1000, 0u32..100).prop_map(|(a, b)| {
            let text = format!("{a}.{b}");
            Literal::Float(accord_pattern::ast::Number {
                value: text.parse().unwrap_or(0.0),
                text,
            })
        }),
    ];
    prop_oneof![
        4 => scalar.clone(),
        1 => prop::collection::vec(scalar, 0..4).prop_map(Literal::Set),
    ]
}

fn arb_test() -> impl Strategy<Value = Comparison> {
    prop_oneof![
        arb_path().prop_map(|p| Comparison::Test(Test::Exists(p))),
        (arb_path(), any::<bool>(), arb_literal()).prop_map(|(path, negated, value)| {
            let op = match &value {
                Literal::Set(_) => Op::In,
                Literal::Str(_) => Op::Like,
                Literal::Bool(_) => Op::Eq,
                _ => Op::Ge,
            };
            Comparison::Test(Test::Compare {
                path,
                negated,
                op,
                value,
            })
        }),
    ]
}

fn arb_comparison() -> impl Strategy<Value = Comparison> {
    arb_test().prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Comparison::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Comparison::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn arb_observation() -> impl Strategy<Value = Observation> {
    arb_comparison()
        .prop_map(Observation::Simple)
        .prop_recursive(4, 16, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| Observation::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| Observation::Or(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Observation::FollowedBy(Box::new(a), Box::new(b))),
                (inner.clone(), 1u64..100)
                    .prop_map(|(a, n)| Observation::Qualified(Box::new(a), Qualifier::Repeats(n))),
                (inner, 1u32..1000).prop_map(|(a, n)| Observation::Qualified(
                    Box::new(a),
                    Qualifier::Within(accord_pattern::ast::Number {
                        text: n.to_string(),
                        value: f64::from(n)
                    })
                )),
            ]
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Printing any tree and parsing the text gives the same tree, and printing is stable.
    #[test]
    fn print_then_parse_is_the_identity(tree in arb_observation()) {
        let text = tree.to_string();
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(&back, &tree, "{}", text);
        prop_assert_eq!(back.to_string(), text);
    }

    /// Arbitrary text never panics the parser or the checks.
    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,80}") {
        if let Ok(t) = parse(&s) {
            let _ = check(&t);
        }
    }
}

/// The observations of an evaluation case in the 2.0 form (objects embedded, keyed).
fn embedded_form(observed: &[Value]) -> Vec<Value> {
    observed
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let first = o
                .get("first")
                .and_then(Value::as_str)
                .unwrap_or("2026-01-01T00:00:00Z");
            serde_json::json!({
                "type": "observed-data",
                "id": format!("observed-data--00000000-0000-4000-8000-{i:012}"),
                "first_observed": first,
                "last_observed": o.get("last").and_then(Value::as_str).unwrap_or(first),
                "number_observed": o.get("count").and_then(Value::as_u64).unwrap_or(1),
                "objects": o["objects"],
            })
        })
        .collect()
}

/// The same observations as a STIX 2.1 bundle: SCOs with ids, observed-data with object_refs.
fn bundle_form(observed: &[Value]) -> Vec<Value> {
    let mut objects = Vec::new();
    for (i, od) in embedded_form(observed).into_iter().enumerate() {
        let id = |key: &str| format!("x--{i}-{key}");
        let map = od["objects"].as_object().cloned().unwrap_or_default();
        let mut refs = Vec::new();
        for (key, sco) in map {
            let mut sco = sco.as_object().cloned().unwrap_or_default();
            for (k, v) in sco.iter_mut() {
                if k.ends_with("_ref") {
                    *v = Value::from(id(v.as_str().unwrap_or_default()));
                } else if k.ends_with("_refs") {
                    let list = v.as_array().cloned().unwrap_or_default();
                    *v = list
                        .iter()
                        .map(|r| Value::from(id(r.as_str().unwrap_or_default())))
                        .collect();
                }
            }
            sco.insert("id".into(), Value::from(id(&key)));
            refs.push(Value::from(id(&key)));
            objects.push(Value::Object(sco));
        }
        let mut od = od.as_object().cloned().unwrap_or_default();
        od.remove("objects");
        od.insert("object_refs".into(), Value::Array(refs));
        objects.push(Value::Object(od));
    }
    vec![serde_json::json!({"type": "bundle", "id": "bundle--1", "objects": objects})]
}

#[test]
fn the_evaluation_table() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/eval.json")).expect("cases");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("json");
    let mut failures = Vec::new();
    for c in &cases {
        let (note, pattern) = (
            c["note"].as_str().expect("note"),
            c["pattern"].as_str().expect("pattern"),
        );
        let tree = match (parse(pattern), c.get("parse_error").and_then(Value::as_str)) {
            (Ok(t), None) => t,
            (Err(e), Some(want)) if e.message.contains(want) => continue,
            (other, want) => {
                failures.push(format!(
                    "{note}: {pattern}: parsed {other:?}, want parse error {want:?}"
                ));
                continue;
            }
        };
        let matcher = match (Matcher::new(&tree), c.get("error").and_then(Value::as_str)) {
            (Ok(m), None) => m,
            (Err(e), Some(want)) if e.to_string().contains(want) => continue,
            (other, want) => {
                failures.push(format!(
                    "{note}: {pattern}: compiled {other:?}, want error {want:?}"
                ));
                continue;
            }
        };
        let want = c["expect"].as_bool().expect("expect");
        let observed = c["observed"].as_array().expect("observed");
        for (form, input) in [("2.0", embedded_form(observed)), ("2.1", bundle_form(observed))] {
            let obs = Observed::from_stix(&input).expect("observations");
            match matcher.matches(&obs) {
                Ok(got) if got == want => {}
                other => failures.push(format!(
                    "{note} ({form} form): {pattern}: got {other:?}, want {want}"
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Every single-observation pattern of the evaluation table against every observation in it:
/// the index must report exactly the indicators the evaluator matches one by one.
#[test]
fn the_index_finds_what_the_evaluator_finds() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/eval.json")).expect("cases");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("json");
    let mut builder = IndexBuilder::new();
    let mut matchers = Vec::new();
    let mut extra = vec![
        "[ipv4-addr:value ISSUBSET '10.0.0.0/8' OR ipv4-addr:value ISSUBSET '11.0.0.0/16']",
        "[file:name LIKE '%' AND file:size > 3]",
        "[file:name NOT LIKE 'x%']",
        "[file:hashes.MD5 IN ('x', 'y')]",
        "[x-thing:tags[*] MATCHES '^[ab]$' OR x-thing:tags[*] = 'zz']",
        "[network-traffic:src_ref.value ISSUBSET '10.0.0.0/31']",
    ];
    extra.extend(cases.iter().filter_map(|c| c["pattern"].as_str()));
    for pattern in extra {
        let Ok(m) = parse(pattern).and_then(|t| Matcher::new(&t)) else {
            continue;
        };
        if !m.is_single() {
            continue;
        }
        builder.add(pattern.to_owned(), m.clone());
        matchers.push(m);
    }
    let index = builder.build().expect("index");
    let mut stream = Stream::new(&index);
    let mut checked = 0;
    for c in &cases {
        let observed = c["observed"].as_array().cloned().unwrap_or_default();
        for obs in Observed::from_stix(&embedded_form(&observed)).expect("observations") {
            let want: Vec<u32> = (0..matchers.len() as u32)
                .filter(|&i| {
                    matchers[i as usize]
                        .matches(std::slice::from_ref(&obs))
                        .expect("eval")
                })
                .collect();
            let mut hits = Vec::new();
            stream.push(obs.clone(), &mut hits);
            let mut got: Vec<u32> = hits.iter().map(|h| h.indicator).collect();
            got.sort_unstable();
            assert_eq!(got, want, "observation {obs:?}");
            checked += want.len();
        }
    }
    assert!(checked > 60, "only {checked} matches checked");
}

#[test]
fn the_stream_solves_patterns_of_several_observations() {
    let mut builder = IndexBuilder::new();
    for p in [
        "[file:name = 'a'] FOLLOWEDBY [url:value = 'u']",
        "[ipv4-addr:value = '10.0.0.1'] REPEATS 3 TIMES WITHIN 60 SECONDS",
    ] {
        builder.add(
            p.to_owned(),
            Matcher::new(&parse(p).expect("parse")).expect("compile"),
        );
    }
    let index = builder.build().expect("index");
    let event = |secs: i64, object: Value| Observed::event(secs * 1_000_000_000, object, Vec::new());
    let file = serde_json::json!({"type": "file", "name": "a"});
    let url = serde_json::json!({"type": "url", "value": "u"});
    let ip = serde_json::json!({"type": "ipv4-addr", "value": "10.0.0.1"});
    let run = |events: Vec<Observed>| -> Vec<(u32, usize)> {
        let mut stream = Stream::new(&index);
        let mut hits = Vec::new();
        for e in events {
            stream.push(e, &mut hits);
        }
        hits.iter().map(|h| (h.indicator, h.observations.len())).collect()
    };
    assert_eq!(
        run(vec![event(0, file.clone()), event(5, url.clone())]),
        vec![(0, 2)]
    );
    assert_eq!(run(vec![event(5, url.clone()), event(6, file.clone())]), vec![]);
    // Three within a minute match once, and use those three up.
    assert_eq!(
        run((0..7).map(|i| event(i * 10, ip.clone())).collect()),
        vec![(1, 3), (1, 3)]
    );
    // Spread over more than a minute, they never do.
    assert_eq!(run((0..5).map(|i| event(i * 40, ip.clone())).collect()), vec![]);
}
