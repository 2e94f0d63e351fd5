//! Parses (and checks) every pattern of a file, one per line, repeatedly; prints patterns/s.
//! `cargo run --release -p accord-pattern --example parse_bench -- patterns.txt`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: parse_bench FILE")?;
    let text = std::fs::read_to_string(path)?;
    let patterns: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let rounds = 20;
    let start = std::time::Instant::now();
    let (mut ok, mut warnings) = (0usize, 0usize);
    for _ in 0..rounds {
        for p in &patterns {
            if let Ok(tree) = accord_pattern::parse(p) {
                ok += 1;
                warnings += accord_pattern::check(&tree).len();
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let n = patterns.len() * rounds;
    println!(
        "{{\"patterns\": {n}, \"valid\": {ok}, \"warnings\": {warnings}, \"seconds\": {secs:.3}, \"per_second\": {:.0}}}",
        n as f64 / secs
    );
    Ok(())
}
