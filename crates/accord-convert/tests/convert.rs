//! Conversion against expected files (`tests/data/expected`, rewritten with `UPDATE_EXPECT=1`),
//! the MISP round trip, IOC-list import, and property tests of value quoting.

use accord_convert::{Defaults, Format, Ioc, Kind, export, from_list, from_misp};
use proptest::prelude::*;
use serde_json::Value;

fn data(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture")
}

/// Compares with the expected file, or writes it when UPDATE_EXPECT is set.
fn expect(name: &str, got: &str) {
    let path = format!("{}/tests/data/expected/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, got).expect("write expected");
        return;
    }
    let want =
        std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing {path}; run with UPDATE_EXPECT=1"));
    assert_eq!(got, want, "{name} differs from {path}");
}

fn indicators() -> Vec<Value> {
    let bundle: Value = serde_json::from_str(&data("indicators.json")).expect("json");
    bundle["objects"].as_array().expect("objects").clone()
}

fn render(c: &accord_convert::Converted) -> String {
    let mut s = c.text.clone();
    s.push_str(&format!(
        "\n# {} indicators, {} written, {} of other kinds skipped, not converted:\n",
        c.indicators, c.written, c.skipped
    ));
    for p in &c.problems {
        s.push_str(&format!("# {p}\n"));
    }
    s
}

#[test]
fn every_format_against_its_expected_file() {
    let objects = indicators();
    let cases = [
        (
            "blocklist-ip.txt",
            Format::Blocklist(vec![Kind::Ipv4, Kind::Ipv6]),
        ),
        ("blocklist-cidr.txt", Format::Blocklist(vec![Kind::Cidr])),
        ("blocklist-domain.txt", Format::Blocklist(vec![Kind::Domain])),
        ("blocklist-url.txt", Format::Blocklist(vec![Kind::Url])),
        (
            "blocklist-hash.txt",
            Format::Blocklist(vec![Kind::Md5, Kind::Sha1, Kind::Sha256, Kind::Sha512]),
        ),
        ("indicators.csv", Format::Csv),
        ("suricata.rules", Format::Suricata { sid_base: 9_000_000 }),
        (
            "zeek.intel",
            Format::Zeek {
                source: "accord-test".into(),
            },
        ),
    ];
    for (name, format) in cases {
        expect(name, &render(&export(&objects, &format)));
    }
    // Every indicator that is not written is named with a reason.
    let c = export(&objects, &Format::Csv);
    assert_eq!(c.indicators, 18);
    for n in [12, 13, 14, 15, 16, 18] {
        let id = format!("indicator--{n:08}-0000-4000-8000-000000000000");
        assert!(
            c.problems.iter().any(|p| p.item == id),
            "{id} not reported: {:?}",
            c.problems
        );
    }
}

#[test]
fn misp_export_is_an_event_with_an_attribute_per_value() {
    let format = Format::Misp {
        info: "test".into(),
        date: "2026-11-26".into(),
        timestamp: 1_795_000_000,
    };
    let c = export(&indicators(), &format);
    let mut event: Value = serde_json::from_str(&c.text).expect("json");
    // The event's own uuid is random.
    event["Event"]["uuid"] = Value::from("(random)");
    // Key order depends on serde_json's features in the build: compare in sorted order.
    let canonical = accord_stix::jcs::to_canonical_string(&event);
    let event: Value = serde_json::from_str(&canonical).expect("json");
    expect(
        "misp.json",
        &render(&accord_convert::Converted {
            text: serde_json::to_string_pretty(&event).expect("json") + "\n",
            ..c
        }),
    );
}

fn misp_attributes(doc: &Value) -> Vec<Value> {
    let event = &doc["Event"];
    let mut all: Vec<Value> = event["Attribute"].as_array().cloned().unwrap_or_default();
    for o in event["Object"].as_array().into_iter().flatten() {
        all.extend(o["Attribute"].as_array().cloned().unwrap_or_default());
    }
    all
}

/// MISP JSON → STIX → MISP JSON keeps every supported attribute: uuid, type, category, value,
/// to_ids, comment, timestamp, and its TLP (the event's when it has none of its own).
#[test]
fn misp_round_trip_keeps_every_supported_attribute() {
    let original: Value = serde_json::from_str(&data("misp-event.json")).expect("json");
    let defaults = Defaults {
        now: "2026-11-26T00:00:00.000Z".into(),
        ..Defaults::default()
    };
    let imported = from_misp(&original, &defaults);
    let problems: Vec<String> = imported.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        problems,
        [
            "attribute a0000000-0000-4000-8000-000000000014: MISP type \"text\" has no STIX pattern here",
            "attribute a0000000-0000-4000-8000-000000000015: \"not-an-ip\" is not a valid ip-dst value",
            "attribute a0000000-0000-4000-8000-000000000016: MISP type \"yara\" has no STIX pattern here",
        ]
    );
    for o in &imported.objects {
        if o["type"] == "indicator" {
            accord_pattern::parse(o["pattern"].as_str().expect("pattern")).expect("the pattern parses");
            let report = accord_stix::validate::validate(o);
            assert!(report.is_valid(), "{o}: {:?}", report.findings);
        }
    }
    let back = export(
        &imported.objects,
        &Format::Misp {
            info: "again".into(),
            date: "2026-11-26".into(),
            timestamp: 0,
        },
    );
    // filename|md5 is one pattern of two conditions: reported, not flattened.
    assert_eq!(back.problems.len(), 1, "{:?}", back.problems);
    assert!(
        back.problems[0]
            .item
            .ends_with("a0000000-0000-4000-8000-000000000013")
    );
    let again: Value = serde_json::from_str(&back.text).expect("json");
    let key = |a: &Value| {
        let tlp = a["Tag"][0]["name"].as_str().map(str::to_owned);
        (
            a["uuid"].as_str().map(str::to_owned),
            [
                &a["type"],
                &a["category"],
                &a["value"],
                &a["to_ids"],
                &a["comment"],
                &a["timestamp"],
            ]
            .map(|v| v.to_string()),
            tlp,
        )
    };
    let mut want: Vec<_> = misp_attributes(&original)
        .iter()
        .filter(|a| {
            !["text", "yara", "filename|md5"].contains(&a["type"].as_str().unwrap_or(""))
                && a["value"] != "not-an-ip"
        })
        .map(|a| {
            let mut a = a.clone();
            if a.get("Tag").is_none() {
                a["Tag"] = serde_json::json!([{"name": "tlp:green"}]);
            }
            key(&a)
        })
        .collect();
    let mut got: Vec<_> = misp_attributes(&again).iter().map(key).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn ioc_lists_become_valid_indicators() {
    let defaults = Defaults {
        now: "2026-11-26T00:00:00.000Z".into(),
        tlp: Some("green".into()),
        created_by: None,
    };
    for (file, indicators, problems) in [
        (
            "iocs.txt",
            vec![
                "[ipv4-addr:value = '198.51.100.7']",
                "[url:value = 'http://evil.example/login']",
                "[domain-name:value = 'evil.example']",
                "[email-addr:value = 'ceo@evil.example']",
                "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
                "[ipv6-addr:value ISSUBSET '2001:db8::/32']",
            ],
            vec![
                "line 8: \"what is this\" is not an IP address, network, URL, hash, e-mail address or domain name",
                "line 9: \"o'brien.example\" is not an IP address, network, URL, hash, e-mail address or domain name",
            ],
        ),
        (
            "iocs.csv",
            vec![
                "[ipv4-addr:value = '198.51.100.9']",
                "[file:name = 'invoice.pdf.exe']",
                "[domain-name:value = 'evil.example']",
            ],
            vec![
                "line 4: \"d41d8cd98f00b204e9800998ecf8427e\" is declared sha256 but looks like md5",
                "line 5: valid_from: \"not-a-time\" is not of the form YYYY-MM-DDTHH:MM:SS[.fraction]Z",
            ],
        ),
    ] {
        let out = from_list(&data(file), &defaults);
        let got: Vec<&str> = out
            .objects
            .iter()
            .filter(|o| o["type"] == "indicator")
            .map(|o| o["pattern"].as_str().expect("pattern"))
            .collect();
        assert_eq!(got, indicators, "{file}");
        let reported: Vec<String> = out.problems.iter().map(ToString::to_string).collect();
        assert_eq!(reported, problems, "{file}");
        for o in &out.objects {
            let report = accord_stix::validate::validate(o);
            assert!(report.is_valid(), "{o}: {:?}", report.findings);
            if o["type"] == "indicator" {
                let tree = accord_pattern::parse(o["pattern"].as_str().expect("pattern")).expect("parses");
                assert!(accord_pattern::check(&tree).is_empty(), "{o}");
            }
        }
    }
    let csv = from_list(&data("iocs.csv"), &defaults);
    let c2 = &csv.objects[0];
    assert_eq!(c2["description"], "seen in \"Campaign X\", twice");
    assert_eq!(c2["valid_from"], "2026-01-05T00:00:00Z");
    // The row's TLP wins over the default.
    assert_eq!(
        c2["object_marking_refs"][0],
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
    );
}

proptest! {
    /// Any value, quoted into a pattern, parses and reads back as the same value.
    #[test]
    fn quoting_round_trips(value in "\\PC{1,40}", kind in 0usize..11) {
        let kind = Kind::ALL[kind];
        prop_assume!(kind != Kind::Cidr);
        let ioc = Ioc { kind, value };
        let tree = accord_pattern::parse(&ioc.pattern()).expect("parses");
        match accord_convert::ioc::iocs(&tree) {
            Ok(v) => prop_assert_eq!(&v[0].value, &ioc.value),
            // Address kinds check the value itself.
            Err(e) => prop_assert!(matches!(kind, Kind::Ipv4 | Kind::Ipv6), "{}", e),
        }
    }
}
