//! The load client of `bench/taxii.sh`: drives any TAXII 2.1 server (accord and medallion alike)
//! through this crate's client, and prints what it measured as one JSON line.
//!
//! ```text
//! taxii-load ingest API_ROOT COLLECTION USER PASSWORD CORPUS COUNT ENVELOPE
//!     posts COUNT objects of CORPUS (one JSON object per line) in envelopes of ENVELOPE, then
//!     waits until every status is complete: objects/s, and objects/s of each successive 100,000
//! taxii-load page API_ROOT COLLECTION USER PASSWORD LIMIT
//!     reads the whole collection page by page, parsing each page: objects/s
//! ```
//!
//! A compiled client keeps its own share of this two-core machine small, so that the server's
//! rate is what is measured: 3.5–4 µs of CPU per object posted and 4–6 ms per page of 1,000 read,
//! where the Python client it replaced took 12–15 µs and about 9 ms (BENCHMARKS.md).

use std::io::BufRead;
use std::time::{Duration, Instant};

use accord_sync::{Auth, Client, Endpoint};
use serde_json::json;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn client(api_root: &str, user: &str, password: &str) -> Result<Client> {
    Ok(Client::new(Endpoint {
        api_root: api_root.to_owned(),
        auth: Auth::Basic {
            user: user.to_owned(),
            password: password.to_owned(),
        },
        ca: None,
        identity: None,
        min_interval: Duration::ZERO,
        timeout: Duration::from_secs(600),
    })?)
}

fn ingest(c: &Client, collection: &str, corpus: &str, count: usize, envelope: usize) -> Result<()> {
    let lines = std::io::BufReader::new(std::fs::File::open(corpus)?).lines();
    let (mut statuses, mut segments) = (Vec::new(), Vec::new());
    let mut batch = Vec::with_capacity(envelope);
    let mut sent = 0;
    let start = Instant::now();
    let mut segment = start;
    for line in lines {
        batch.push(line?);
        if batch.len() < envelope && sent + batch.len() < count {
            continue;
        }
        statuses.push(c.add_objects(collection, &batch)?.id);
        sent += batch.len();
        batch.clear();
        if sent % 100_000 == 0 {
            segments.push((100_000.0 / segment.elapsed().as_secs_f64()).round() as u64);
            segment = Instant::now();
        }
        if sent >= count {
            break;
        }
    }
    // Every request is processed when every status is complete; they complete in order, so the
    // last one is waited for first. Polled every 5 ms: coarser polling adds visibly to short runs.
    let mut failures = 0;
    statuses.rotate_right(1);
    for id in &statuses {
        loop {
            let status = c.status(id)?;
            if status.status == "complete" {
                failures += status.failure_count;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"objects": sent, "seconds": seconds, "per_second": sent as f64 / seconds,
               "failures": failures, "segments_per_100k": segments})
    );
    Ok(())
}

fn page(c: &Client, collection: &str, limit: usize) -> Result<()> {
    let (mut objects, mut next, mut first_page) = (0, None, None);
    let start = Instant::now();
    loop {
        let page = c.objects(collection, None, next.as_deref(), limit)?;
        first_page.get_or_insert_with(|| start.elapsed().as_secs_f64());
        objects += page.objects.len();
        match page.next {
            Some(n) if page.more => next = Some(n),
            _ => break,
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"objects": objects, "seconds": seconds, "per_second": objects as f64 / seconds,
               "first_page_seconds": first_page})
    );
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| -> Result<usize> {
        let text = args.get(i).ok_or("missing argument")?;
        Ok(text.parse().map_err(|e| format!("argument {text:?}: {e}"))?)
    };
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["ingest", root, coll, user, pass, corpus, _, _] => {
            ingest(&client(root, user, pass)?, coll, corpus, number(6)?, number(7)?)
        }
        ["page", root, coll, user, pass, _] => page(&client(root, user, pass)?, coll, number(5)?),
        _ => Err(
            "usage: taxii-load ingest API_ROOT COLLECTION USER PASSWORD CORPUS COUNT ENVELOPE\n       \
                  taxii-load page API_ROOT COLLECTION USER PASSWORD LIMIT"
                .into(),
        ),
    }
}
