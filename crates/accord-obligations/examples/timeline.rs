//! Prints the timeline of a report given as JSON on stdin (for trying rule files by hand).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = accord_obligations::Report::from_value(serde_json::from_reader(std::io::stdin())?)?;
    let pack = accord_obligations::Pack::shipped()?;
    let now: jiff::Timestamp = std::env::args()
        .nth(1)
        .map_or_else(|| Ok(jiff::Timestamp::now()), |t| t.parse())?;
    let t = accord_obligations::evaluate(&pack, &report, &[], now)?;
    println!("{}", serde_json::to_string_pretty(&t)?);
    Ok(())
}
