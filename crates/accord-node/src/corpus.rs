//! A deterministic generator of realistic STIX 2.1 objects, for benchmarks and crash tests.

use std::io::Write;

use serde_json::{Value, json};

/// A small, seedable PRNG (SplitMix64): reproducible corpora without extra dependencies.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    fn uuid4(&mut self) -> uuid::Uuid {
        let bytes = (u128::from(self.next_u64()) << 64 | u128::from(self.next_u64())).to_be_bytes();
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
    fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len);
        while s.len() < len {
            s.push_str(&format!("{:016x}", self.next_u64()));
        }
        s.truncate(len);
        s
    }
}

const IDENTITY: &str = "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff";
const TLP_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";

fn sco(mut v: Value) -> Value {
    let t = v["type"].as_str().unwrap_or_default().to_owned();
    let contributing = accord_stix::spec::type_spec(&t).map_or(&[][..], |s| s.id_contributing);
    if let Some(id) = v
        .as_object()
        .and_then(|m| accord_stix::id::deterministic_sco_id(&t, m, contributing))
    {
        v["id"] = id.into();
    }
    v
}

fn timestamp(rng: &mut Rng) -> String {
    let secs = 1_600_000_000 + rng.below(150_000_000);
    let ms = rng.below(1000);
    accord_stix::Timestamp::format_micros(i64::try_from(secs * 1_000_000 + ms * 1000).unwrap_or(0))
        .replace(&format!("{:03}000Z", ms), &format!("{ms:03}Z"))
}

/// One object of a typical mix: mostly indicators and observables, some relationships and SDOs.
pub fn object(rng: &mut Rng, i: u64) -> Value {
    let t = timestamp(rng);
    let ip = format!(
        "{}.{}.{}.{}",
        1 + rng.below(223),
        rng.below(256),
        rng.below(256),
        1 + rng.below(254)
    );
    let domain = format!("host{}-{}.example{}.net", i, rng.below(1000), rng.below(50));
    match rng.below(10) {
        0..=3 => {
            let (pattern, name) = match rng.below(4) {
                0 => (format!("[ipv4-addr:value = '{ip}']"), format!("C2 address {ip}")),
                1 => (
                    format!("[domain-name:value = '{domain}']"),
                    format!("Phishing domain {domain}"),
                ),
                2 => (
                    format!("[url:value = 'https://{domain}/login.php?id={i}']"),
                    "Credential harvesting URL".into(),
                ),
                _ => (
                    format!("[file:hashes.'SHA-256' = '{}']", rng.hex(64)),
                    "Dropper sample".into(),
                ),
            };
            json!({
                "type": "indicator", "spec_version": "2.1", "id": format!("indicator--{}", rng.uuid4()),
                "created_by_ref": IDENTITY, "created": t, "modified": t, "name": name,
                "description": "Observed in a phishing campaign targeting the energy sector.",
                "indicator_types": ["malicious-activity"], "pattern": pattern, "pattern_type": "stix",
                "valid_from": t, "labels": ["campaign-2026"], "confidence": rng.below(101),
                "object_marking_refs": [TLP_GREEN],
                "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"}]
            })
        }
        4 => sco(json!({"type": "ipv4-addr", "spec_version": "2.1", "value": ip})),
        5 => sco(json!({"type": "domain-name", "spec_version": "2.1", "value": domain})),
        6 => sco(json!({
            "type": "file", "spec_version": "2.1", "name": format!("invoice-{i}.pdf.exe"),
            "size": rng.below(10_000_000), "hashes": {"SHA-256": rng.hex(64), "MD5": rng.hex(32)}
        })),
        7 => json!({
            "type": "relationship", "spec_version": "2.1", "id": format!("relationship--{}", rng.uuid4()),
            "created_by_ref": IDENTITY, "created": t, "modified": t, "relationship_type": "indicates",
            "source_ref": format!("indicator--{}", rng.uuid4()), "target_ref": format!("malware--{}", rng.uuid4())
        }),
        8 => json!({
            "type": "malware", "spec_version": "2.1", "id": format!("malware--{}", rng.uuid4()),
            "created_by_ref": IDENTITY, "created": t, "modified": t, "name": format!("Family {}", rng.below(500)),
            "is_family": true, "malware_types": ["remote-access-trojan"],
            "description": "Remote access trojan with a modular plugin system.",
            "external_references": [{"source_name": "vendor", "url": format!("https://example.com/r/{i}")}]
        }),
        _ => json!({
            "type": "sighting", "spec_version": "2.1", "id": format!("sighting--{}", rng.uuid4()),
            "created_by_ref": IDENTITY, "created": t, "modified": t, "count": 1 + rng.below(50),
            "first_seen": t, "last_seen": t, "sighting_of_ref": format!("indicator--{}", rng.uuid4()),
            "where_sighted_refs": [IDENTITY]
        }),
    }
}

/// Writes `count` objects as JSON lines; every `invalid_every`-th one (if nonzero) breaks a MUST rule.
pub fn write_jsonl(out: &mut dyn Write, count: u64, seed: u64, invalid_every: u64) -> std::io::Result<()> {
    let mut rng = Rng::new(seed);
    for i in 0..count {
        let mut v = object(&mut rng, i);
        if invalid_every > 0 && i % invalid_every == invalid_every - 1 {
            v["spec_version"] = "2.0".into();
        }
        serde_json::to_writer(&mut *out, &v)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
