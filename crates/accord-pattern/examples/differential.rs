//! Differential check against the OASIS reference matcher: reads the corpus written by
//! `tests/pattern/generate.py` (pattern, observations, stix2-matcher's verdict), evaluates each
//! case with Accord, and fails on any disagreement that is not one of the deliberate
//! differences in `DIFFERENCES.md`.

use std::collections::BTreeMap;
use std::io::BufRead;

use accord_pattern::{Matcher, Observed, parse};
use serde_json::Value;

/// Accord's verdict on one case.
#[derive(Debug, PartialEq)]
enum Verdict {
    Match(bool),
    /// The pattern was rejected (parse or compile error).
    Rejected(String),
    /// The observations were rejected, or evaluation gave up.
    Failed(String),
}

fn accord(case: &Value) -> Verdict {
    let pattern = case["pattern"].as_str().unwrap_or_default();
    let matcher = match parse(pattern).and_then(|p| Matcher::new(&p)) {
        Ok(m) => m,
        Err(e) => return Verdict::Rejected(e.to_string()),
    };
    let input = case["input"].as_array().cloned().unwrap_or_default();
    let observed = match Observed::from_stix(&input) {
        Ok(o) => o,
        Err(e) => return Verdict::Failed(e.to_string()),
    };
    match matcher.matches(&observed) {
        Ok(m) => Verdict::Match(m),
        Err(e) => Verdict::Failed(e.to_string()),
    }
}

/// Which deliberate difference explains a disagreement, if one does.
fn explain(pattern: &str, reference: &Value, ours: &Verdict) -> Option<&'static str> {
    if let Verdict::Rejected(why) = ours
        && why.contains("is not later than START")
    {
        return Some(
            "D9: START/STOP with STOP not after START is an error, not a pattern that never matches",
        );
    }
    let error = reference.get("error").and_then(Value::as_str)?;
    if let Verdict::Rejected(_) = ours
        && (error.starts_with("ParseException") || error.contains("Nonhomogenous set"))
    {
        return Some("both reject the pattern");
    }
    if let Some(value) = error.strip_prefix("MatcherException: Invalid CIDR subnet: ")
        && !value.contains('/')
        && pattern.contains("ISSUPERSET")
    {
        return Some("D5: an address without a prefix is a one-host network for ISSUPERSET");
    }
    None
}

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: differential CORPUS.jsonl"))?;
    let file = std::io::BufReader::new(std::fs::File::open(&path)?);
    let (mut total, mut agree) = (0usize, 0usize);
    let mut explained: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut matches = 0usize;
    for line in file.lines() {
        let case: Value = serde_json::from_str(&line?)?;
        total += 1;
        let reference = &case["stix2_matcher"];
        let ours = accord(&case);
        if let (Some(m), Verdict::Match(n)) = (reference.get("match").and_then(Value::as_bool), &ours)
            && m == *n
        {
            agree += 1;
            matches += usize::from(m);
            continue;
        }
        let pattern = case["pattern"].as_str().unwrap_or_default();
        match explain(pattern, reference, &ours) {
            Some(why) => *explained.entry(why).or_default() += 1,
            None => failures.push(format!(
                "case {}: {pattern}\n  stix2-matcher: {reference}\n  accord: {ours:?}",
                case["case"]
            )),
        }
    }
    println!(
        "{total} cases: {agree} agree ({matches} match, {} do not)",
        agree - matches
    );
    for (why, n) in &explained {
        println!("  {n} differ deliberately: {why}");
    }
    if !failures.is_empty() {
        for f in failures.iter().take(20) {
            println!("{f}");
        }
        eprintln!("{} cases disagree with stix2-matcher", failures.len());
        std::process::exit(1);
    }
    if total < 5000 {
        eprintln!("the corpus has {total} cases; at least 5000 are required");
        std::process::exit(1);
    }
    Ok(())
}
