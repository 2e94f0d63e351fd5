//! Conversion against expected files (`tests/data/expected`, rewritten with `UPDATE_EXPECT=1`),
//! the MISP round trip, IOC-list import, Suricata sids, and property tests of value quoting and
//! sid ranges.

use std::collections::{BTreeMap, HashSet};

use accord_convert::{Defaults, Format, Ioc, Kind, SidRange, export, from_list, from_misp};
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
        ("suricata.rules", Format::Suricata(SidRange::DEFAULT)),
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

/// Each Suricata rule of `objects`, without its sid (its indicator, protocol and match), with the
/// sid it was given.
fn sids(objects: &[Value], range: SidRange) -> BTreeMap<String, u32> {
    let c = export(objects, &Format::Suricata(range));
    let mut out = BTreeMap::new();
    for line in c.text.lines() {
        let (rule, sid) = line.rsplit_once("; sid:").expect("a sid");
        let sid: u32 = sid
            .strip_suffix("; rev:1;)")
            .expect("rev")
            .parse()
            .expect("a number");
        assert!(
            (range.first()..=range.last()).contains(&sid),
            "{sid} outside {range}"
        );
        assert!(out.insert(rule.to_owned(), sid).is_none(), "{rule} twice");
    }
    assert_eq!(out.len(), c.written);
    let unique: HashSet<u32> = out.values().copied().collect();
    assert_eq!(unique.len(), out.len(), "a sid given twice: {out:?}");
    out
}

/// A rule's sid depends on the rule, not on where its indicator is in the input or what else is
/// exported with it, so a new export replaces the rules of the last one.
#[test]
fn suricata_sids_follow_the_indicator_not_its_position() {
    let objects = indicators();
    let all = sids(&objects, SidRange::DEFAULT);
    assert_eq!(all.len(), 14);
    let mut reversed = objects.clone();
    reversed.reverse();
    assert_eq!(sids(&reversed, SidRange::DEFAULT), all);
    // Alone, or with others, each indicator's rules keep their sids.
    for o in &objects {
        for (rule, sid) in sids(std::slice::from_ref(o), SidRange::DEFAULT) {
            assert_eq!(all[&rule], sid, "{rule}");
        }
    }
    // The sid is SHA-256 of [id, protocol, kind, value] in the range, as documented: operators'
    // rule sets depend on it staying so.
    let rule = "alert ip any any <> [198.51.100.7] any (msg:\"ACCORD ipv4 C2 server (indicator--00000001-0000-4000-8000-000000000000)\"; metadata:stix_id indicator--00000001-0000-4000-8000-000000000000";
    let key = r#"["indicator--00000001-0000-4000-8000-000000000000","ip","ipv4","198.51.100.7"]"#;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(key.as_bytes());
    let head = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    assert_eq!(u64::from(all[rule]), 9_000_000 + head % 1_000_000);
}

/// Rules whose sids collide are given the next free sid in the order of their keys, so the
/// result is the same whatever the order of the input; a range too small for the rules is
/// reported rule by rule.
#[test]
fn suricata_sid_collisions_are_resolved_the_same_in_any_order() {
    let objects = indicators();
    let mut reversed = objects.clone();
    reversed.reverse();
    let mut rotated = objects.clone();
    rotated.rotate_left(5);
    // 14 rules in 16 sids: collisions are certain.
    let small = SidRange::new(4_294_967_280, u32::MAX).expect("range");
    let got = sids(&objects, small);
    assert_eq!(got.len(), 14);
    assert_eq!(sids(&reversed, small), got);
    assert_eq!(sids(&rotated, small), got);
    // 14 rules in 4 sids: 4 are written, the 10 others reported as without a sid.
    let tiny = SidRange::new(7, 10).expect("range");
    let c = export(&objects, &Format::Suricata(tiny));
    let no_sid: Vec<_> = c
        .problems
        .iter()
        .filter(|p| {
            p.reason
                .contains("no sid left in the range 7-10 (4 sids for 14 rules)")
        })
        .collect();
    assert_eq!((c.written, no_sid.len()), (4, 10), "{:?}", c.problems);
    assert_eq!(sids(&reversed, tiny), sids(&objects, tiny));
}

/// Two versions of an indicator in one input give its rules once, as the newer version says.
#[test]
fn suricata_rules_of_two_versions_are_written_once() {
    let older = serde_json::json!({
        "type": "indicator", "spec_version": "2.1", "id": "indicator--0000000a-0000-4000-8000-000000000000",
        "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z", "name": "old name",
        "pattern": "[ipv4-addr:value = '192.0.2.9']", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"
    });
    let mut newer = older.clone();
    newer["modified"] = "2026-02-01T00:00:00.5Z".into();
    newer["name"] = "new name".into();
    for input in [
        vec![older.clone(), newer.clone()],
        vec![newer.clone(), older.clone()],
    ] {
        let c = export(&input, &Format::Suricata(SidRange::DEFAULT));
        assert_eq!(c.written, 1, "{}", c.text);
        assert_eq!(c.text.lines().count(), 1, "{}", c.text);
        assert!(c.text.contains("new name"), "{}", c.text);
    }
    // Without an id there is nothing to derive a sid from.
    let mut anonymous = older;
    anonymous.as_object_mut().expect("object").remove("id");
    let c = export(&[anonymous], &Format::Suricata(SidRange::DEFAULT));
    assert_eq!((c.written, c.text.as_str()), (0, ""));
    assert!(c.problems[0].reason.contains("without an id"), "{:?}", c.problems);
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

    /// A sid range reads as FIRST-LAST with 1 <= FIRST <= LAST <= 2^32-1, and prints back the
    /// same; anything else is an error that quotes it.
    #[test]
    fn sid_ranges_parse_exactly(first in any::<u64>(), last in any::<u64>(), junk in "\\PC{0,12}") {
        let text = format!("{first}-{last}");
        match text.parse::<SidRange>() {
            Ok(r) => {
                prop_assert!(1 <= first && first <= last && last <= u64::from(u32::MAX));
                prop_assert_eq!((u64::from(r.first()), u64::from(r.last())), (first, last));
                prop_assert_eq!(r.to_string(), text);
            }
            Err(e) => {
                prop_assert!(first == 0 || first > last || last > u64::from(u32::MAX), "{}", e);
                prop_assert!(e.contains(&text), "{}", e);
            }
        }
        if let Err(e) = junk.parse::<SidRange>() {
            prop_assert!(e.contains(&junk) || e.contains(&format!("{junk:?}")), "{}", e);
        }
    }
}
