//! The Accord side of `bench/matcher.sh`: every pattern against every observation of the file
//! `bench/matcher.py generate` wrote, first one pair at a time with the evaluator (the
//! reference matcher's way), then with the index (all patterns at once per observation).
//! Prints pairs/s for both and the matching pairs, which must agree with each other and, over
//! the first N_OBS observations, with stix2-matcher's count.
//! `pairs_bench FILE N_OBS`

use accord_pattern::{IndexBuilder, Matcher, Observed, Stream, parse};
use serde_json::Value;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: pairs_bench FILE N_OBS")?;
    let subset: usize = args.next().ok_or("usage: pairs_bench FILE N_OBS")?.parse()?;
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let patterns: Vec<Matcher> = doc["patterns"]
        .as_array()
        .ok_or("patterns")?
        .iter()
        .map(|p| Ok(Matcher::new(&parse(p.as_str().ok_or("pattern")?)?)?))
        .collect::<Result<_, Box<dyn std::error::Error>>>()?;
    let mut observations = Vec::new();
    for o in doc["observations"].as_array().ok_or("observations")? {
        observations.extend(Observed::from_stix(std::slice::from_ref(o))?);
    }

    let count = |obs: &[Observed]| -> Result<u64, accord_pattern::EvalError> {
        let mut n = 0;
        for o in obs {
            for p in &patterns {
                n += u64::from(p.matches(std::slice::from_ref(o))?);
            }
        }
        Ok(n)
    };
    let subset_matched = count(&observations[..subset.min(observations.len())])?;
    let rounds = 5;
    let start = std::time::Instant::now();
    let mut matched = 0;
    for _ in 0..rounds {
        matched = count(&observations)?;
    }
    let pairs = (patterns.len() * observations.len() * rounds) as f64;
    let naive = pairs / start.elapsed().as_secs_f64();

    let mut builder = IndexBuilder::new();
    for (i, p) in patterns.iter().enumerate() {
        builder.add(i.to_string(), p.clone());
    }
    let index = builder.build()?;
    let rounds = 50;
    let start = std::time::Instant::now();
    let mut indexed_matched = 0;
    let mut hits = Vec::new();
    for _ in 0..rounds {
        let mut stream = Stream::new(&index);
        indexed_matched = 0;
        for o in &observations {
            stream.push(o.clone(), &mut hits);
            indexed_matched += hits.len() as u64;
            hits.clear();
        }
    }
    let indexed = (patterns.len() * observations.len() * rounds) as f64 / start.elapsed().as_secs_f64();
    println!(
        "{{\"pairs\": {}, \"matched\": {matched}, \"indexed_matched\": {indexed_matched}, \"subset_matched\": {subset_matched}, \"pairs_per_second\": {naive:.0}, \"indexed_pairs_per_second\": {indexed:.0}}}",
        patterns.len() * observations.len()
    );
    Ok(())
}
