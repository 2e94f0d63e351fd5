//! The indexed matcher at scale: M generated indicators (IPs, CIDRs, domains, URLs, hashes,
//! LIKE suffixes, 10% compound) against N events read from a JSON-lines file (parsed, turned
//! into observations, matched), as `accord match` reads them. Prints one JSON line with build
//! and match times, events/s, matches and peak memory. Run it on one core:
//! `taskset -c 0 index_bench M N EVENTS_FILE` (the file is written first if it is missing).

use accord_pattern::{IndexBuilder, Matcher, Observed, Stream, parse};
use serde_json::Value;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A small deterministic generator (xorshift), so runs are reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn ip(i: u64) -> String {
    format!(
        "{}.{}.{}.{}",
        1 + (i >> 24) % 223,
        (i >> 16) & 255,
        (i >> 8) & 255,
        i & 255
    )
}
fn domain(i: u64) -> String {
    format!("d{i}.example.com")
}
fn url(i: u64) -> String {
    format!("http://u{i}.example.net/path/{}", i % 97)
}
fn sha256(i: u64) -> String {
    format!(
        "{:064x}",
        u128::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
    )
}
fn md5(i: u64) -> String {
    format!("{:032x}", u128::from(i).wrapping_mul(0x2545_f491_4f6c_dd1d))
}

/// Indicator `i` of the typical mix.
fn pattern(i: u64) -> String {
    match i % 200 {
        0..=79 => format!("[ipv4-addr:value = '{}']", ip(i)),
        80..=89 => format!(
            "[ipv4-addr:value ISSUBSET '172.{}.{}.0/24']",
            (i >> 8) & 255,
            i & 255
        ),
        90..=129 => format!("[domain-name:value = '{}']", domain(i)),
        130..=148 => format!("[url:value = '{}']", url(i)),
        149 => format!("[domain-name:value LIKE '%.bad{i}.org']"),
        150..=169 => format!("[file:hashes.'SHA-256' = '{}']", sha256(i)),
        170..=179 => format!("[file:hashes.MD5 = '{}' AND file:size = {}]", md5(i), i % 5000),
        180..=189 => format!(
            "[network-traffic:dst_ref.value = '{}' AND network-traffic:dst_port = 443]",
            ip(i)
        ),
        _ => format!(
            "[ipv4-addr:value = '{}'] AND [domain-name:value = '{}']",
            ip(i),
            domain(i)
        ),
    }
}

/// Event `k`: about 2% carry what a random indicator among the first `m` looks for; the rest
/// carry values no indicator has.
fn event(k: u64, m: u64, rng: &mut Rng) -> String {
    let ts = format!("2026-03-01T12:{:02}:{:02}Z", (k / 60) % 60, k % 60);
    let (class, i) = if rng.below(100) < 2 {
        let i = rng.below(m);
        (i % 200, i)
    } else {
        // A value space no indicator uses.
        (rng.below(200), m + rng.below(1 << 40))
    };
    let ipv4 = |i: u64| format!(r#"{{"type":"ipv4-addr","value":"{}","timestamp":"{ts}"}}"#, ip(i));
    let dom = |i: u64| {
        format!(
            r#"{{"type":"domain-name","value":"{}","timestamp":"{ts}"}}"#,
            domain(i)
        )
    };
    match class {
        0..=79 | 190..=199 => ipv4(i),
        80..=89 => format!(
            r#"{{"type":"ipv4-addr","value":"172.{}.{}.{}","timestamp":"{ts}"}}"#,
            (i >> 8) & 255,
            i & 255,
            k % 256
        ),
        90..=129 => dom(i),
        130..=148 => format!(r#"{{"type":"url","value":"{}","timestamp":"{ts}"}}"#, url(i)),
        149 => format!(r#"{{"type":"domain-name","value":"www.bad{i}.org","timestamp":"{ts}"}}"#),
        150..=179 => format!(
            r#"{{"type":"file","hashes":{{"MD5":"{}","SHA-256":"{}"}},"size":{},"timestamp":"{ts}"}}"#,
            md5(i),
            sha256(i),
            i % 5000
        ),
        _ => format!(
            r#"{{"timestamp":"{ts}","objects":{{"0":{{"type":"ipv4-addr","value":"{}"}},"1":{{"type":"network-traffic","dst_ref":"0","dst_port":443,"protocols":["tcp"]}}}}}}"#,
            ip(i)
        ),
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: index_bench M N EVENTS_FILE";
    let m: u64 = args.next().ok_or(usage)?.parse()?;
    let n: u64 = args.next().ok_or(usage)?.parse()?;
    let file = std::path::PathBuf::from(args.next().ok_or(usage)?);
    if !file.exists() {
        use std::io::Write;
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file)?);
        for k in 0..n {
            writeln!(w, "{}", event(k, m, &mut rng))?;
        }
        w.flush()?;
    }

    // For timing `accord match` end to end on the same workload.
    if let Some(path) = std::env::var_os("WRITE_INDICATORS") {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
        for i in 0..m {
            let o = serde_json::json!({
                "type": "indicator", "spec_version": "2.1",
                "id": format!("indicator--{:08x}-0000-4000-8000-{:012x}", i >> 16, i),
                "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                "pattern": pattern(i), "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
            });
            writeln!(w, "{o}")?;
        }
        w.flush()?;
    }
    let start = std::time::Instant::now();
    let mut builder = IndexBuilder::new();
    for i in 0..m {
        let matcher = Matcher::new(&parse(&pattern(i))?)?;
        builder.add(
            format!("indicator--{:08x}-0000-4000-8000-{:012x}", i >> 16, i),
            matcher,
        );
    }
    let index = builder.build()?;
    let build = start.elapsed().as_secs_f64();

    let start = std::time::Instant::now();
    let mut stream = Stream::new(&index);
    let mut hits = Vec::new();
    let mut matched = 0u64;
    let input = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&file)?);
    for line in std::io::BufRead::lines(input) {
        let mut v: Value = serde_json::from_str(&line?)?;
        let at = v
            .as_object_mut()
            .and_then(|o| o.remove("timestamp"))
            .and_then(|t| accord_stix::Timestamp::parse(t.as_str()?).ok())
            .map_or(0, |t| t.as_nanos_saturating());
        let obs = match v.as_object_mut().and_then(|o| o.remove("objects")) {
            Some(Value::Object(objects)) => {
                let mut objects: Vec<(String, Value)> = objects.into_iter().collect();
                let first = objects.remove(0);
                let mut o = Observed::event(at, first.1, objects);
                o.objects[0].0 = first.0;
                o
            }
            _ => Observed::event(at, v, Vec::new()),
        };
        stream.push(obs, &mut hits);
        matched += hits.len() as u64;
        hits.clear();
    }
    let matching = start.elapsed().as_secs_f64();
    println!(
        "{{\"indicators\": {m}, \"events\": {n}, \"build_seconds\": {build:.2}, \"match_seconds\": {matching:.2}, \"events_per_second\": {:.0}, \"matches\": {matched}, \"candidates\": {}, \"peak_rss_mib\": {}}}",
        n as f64 / matching,
        stream.stats.candidates,
        peak_rss_kib() / 1024
    );
    Ok(())
}
