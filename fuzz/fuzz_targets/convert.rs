//! Fuzzes indicator conversion and event input: any bytes read as a MISP event, an IOC list,
//! STIX observations and STIX indicators give converted output or per-item problems, never a
//! panic; every indicator made has a pattern that parses; Suricata sids are unique and in range.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let defaults = accord_convert::Defaults {
        now: "2026-01-01T00:00:00Z".into(),
        tlp: Some("amber".into()),
        created_by: None,
    };
    let imported = accord_convert::from_list(text, &defaults);
    let mut objects = imported.objects;
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(text) {
        objects.extend(accord_convert::from_misp(&json, &defaults).objects);
        let items = match &json {
            serde_json::Value::Array(a) => a.clone(),
            v => vec![v.clone()],
        };
        let _ = accord_pattern::Observed::from_stix(&items);
        objects.extend(items);
    }
    for o in &objects {
        if o["type"] == "indicator" && o.get("x_misp_type").is_some() {
            let p = o["pattern"].as_str().unwrap_or_default();
            assert!(accord_pattern::parse(p).is_ok(), "{p}");
        }
    }
    for format in [
        accord_convert::Format::Csv,
        accord_convert::Format::Zeek { source: "f".into() },
        accord_convert::Format::Blocklist(vec![accord_convert::Kind::Domain]),
        accord_convert::Format::Misp { info: "f".into(), date: "2026-01-01".into(), timestamp: 0 },
    ] {
        let _ = accord_convert::export(&objects, &format);
    }
    // Suricata sids are unique and in their range, also when the range is too small for the rules
    // and wraps at the largest sid.
    let range = accord_convert::SidRange::new(u32::MAX - 2, u32::MAX).expect("a range");
    let rules = accord_convert::export(&objects, &accord_convert::Format::Suricata(range));
    let mut sids = std::collections::HashSet::new();
    for line in rules.text.lines() {
        let sid = line
            .rsplit_once("; sid:")
            .and_then(|(_, s)| s.split_once(';'))
            .and_then(|(s, _)| s.parse::<u32>().ok())
            .unwrap_or_else(|| panic!("a rule without a sid: {line}"));
        assert!(sid >= range.first(), "{line}");
        assert!(sids.insert(sid), "sid {sid} twice");
    }
});
