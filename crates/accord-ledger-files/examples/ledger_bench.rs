//! Transparency-log benchmark: durable group-committed appends per second (many concurrent
//! writers, one entry each, and request-sized batches), inclusion-proof generation on a
//! million-entry tree, full verification of a million-entry log from its files, and reopening it.
//!
//! `cargo run --release -p accord-ledger-files --example ledger_bench -- [DIR]`

use std::time::Instant;

use accord_ledger::entry::Decision;
use accord_ledger::{Event, NoteSigner};
use accord_ledger_files::Ledger;

/// The allocator the `accord` binary uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ORIGIN: &str = "accord.bench/node";

fn decision(i: u64) -> Event {
    Event::Decision(Decision {
        principal: "partner-node".into(),
        action: "read".into(),
        purpose: Some("detection".into()),
        object: format!("indicator--{:08x}-0000-4000-8000-000000000000", i),
        version: "2026-11-26T19:00:00.000Z".into(),
        hash: format!("{:064x}", i),
        effect: "allow".into(),
        reasons: vec!["tlp-green-community".into()],
        agreement: Some("example-bilateral".into()),
        profile: Some("strict".into()),
        policy: "30335425948a7ba2".into(),
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let signer = || NoteSigner::new(ORIGIN, &[1; 32]);

    // 1. Many concurrent writers, one entry per append (the worst case for fsync).
    let log = Ledger::open(&dir.join("single"), ORIGIN, signer()?)?;
    let (threads, per) = (256u64, 400u64);
    let t = Instant::now();
    std::thread::scope(|s| {
        for w in 0..threads {
            let log = log.clone();
            s.spawn(move || {
                for i in 0..per {
                    let _ = log.record_wait(vec![(0, decision(w * per + i))]);
                }
            });
        }
    });
    let n = threads * per;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "single-entry appends, {threads} writers: {n} entries in {secs:.2} s = {:.0} durable entries/s",
        n as f64 / secs
    );

    // 1b. The same from async tasks, as the server's request handlers record (one task per request).
    let log = Ledger::open(&dir.join("single-async"), ORIGIN, signer()?)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?;
    let t = Instant::now();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..threads)
            .map(|w| {
                let log = log.clone();
                tokio::spawn(async move {
                    for i in 0..per {
                        let _ = log.record(vec![(0, decision(w * per + i))]).durable().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    });
    let secs = t.elapsed().as_secs_f64();
    println!(
        "single-entry appends, {threads} async tasks on 2 threads: {n} entries in {secs:.2} s = {:.0} durable entries/s",
        n as f64 / secs
    );

    // 2. Request-sized batches (a page of decisions), 8 writers.
    let log = Ledger::open(&dir.join("batched"), ORIGIN, signer()?)?;
    let (writers, batches, size) = (8u64, 125u64, 1000u64);
    let t = Instant::now();
    std::thread::scope(|s| {
        for w in 0..writers {
            let log = log.clone();
            s.spawn(move || {
                for b in 0..batches {
                    let events = (0..size)
                        .map(|i| (0, decision((w * batches + b) * size + i)))
                        .collect();
                    let _ = log.record_wait(events);
                }
            });
        }
    });
    let n = writers * batches * size;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "batched appends (1000/request), {writers} writers: {n} entries in {secs:.2} s = {:.0} durable entries/s",
        n as f64 / secs
    );
    log.checkpoint()?;
    let size = log.size();

    // 3. Inclusion proofs in the million-entry tree.
    let rounds = 100_000u64;
    let t = Instant::now();
    let mut total = 0usize;
    for i in 0..rounds {
        total += log.inclusion_proof((i * 7919) % size, size)?.len();
    }
    let per_proof = t.elapsed().as_secs_f64() / rounds as f64 * 1e6;
    println!(
        "inclusion proof, tree of {size}: {per_proof:.2} µs each ({} hashes on average)",
        total as u64 / rounds
    );

    // 4. Full verification from the files, as `accord audit verify DATA_DIR` does it.
    let key = log.verifier();
    drop(log);
    let t = Instant::now();
    let files = accord_ledger_files::DirLog::open(&dir.join("batched"))?;
    let verified = files
        .verify(&key, ORIGIN, None)?
        .map_err(|p| format!("{}", p[0]))?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "full verification of {} entries ({} MB, {} checkpoint): {secs:.2} s",
        verified.size,
        files.len() / 1_000_000,
        verified.checkpoints
    );

    // 5. Reopening it, as a node does when it starts: what the latest checkpoint covers is
    //    trusted through its synced hashes and offsets, not read again.
    let t = Instant::now();
    let reopened = Ledger::open(&dir.join("batched"), ORIGIN, signer()?)?;
    println!(
        "reopening the log of {} entries: {:.3} s",
        reopened.size(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
