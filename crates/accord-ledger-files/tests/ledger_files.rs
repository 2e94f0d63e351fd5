//! The on-disk log: concurrent group-committed appends, checkpoints and proofs that verify,
//! two writers (server and command line) on one log, a reserve of zeros ahead of the entries,
//! recovery from a torn tail and from lost derived files, and refusal to append to (or serve
//! from) a log that was tampered with.

use std::path::Path;

use accord_ledger::entry::TokenEvent;
use accord_ledger::{Event, NoteSigner, leaf_hash, verify_consistency, verify_inclusion};
use accord_ledger_files::{ENTRIES_FILE, HASHES_FILE, Ledger, LedgerError, OFFSETS_FILE};

const ORIGIN: &str = "accord.test/node";

fn signer() -> NoteSigner {
    NoteSigner::new(ORIGIN, &[3; 32]).expect("signer")
}

fn open(dir: &Path) -> Result<Ledger, LedgerError> {
    Ledger::open(dir, ORIGIN, signer())
}

fn token(i: usize) -> Event {
    Event::Token(TokenEvent {
        action: "issued".into(),
        token: format!("tok-{i}"),
        principal: "analyst".into(),
    })
}

fn verify_dir(dir: &Path) -> Result<accord_ledger::Verified, Vec<accord_ledger::Problem>> {
    let log = accord_ledger_files::DirLog::open(dir).expect("read");
    log.verify(&signer().verifier(), ORIGIN, None).expect("read")
}

#[test]
fn concurrent_appends_are_contiguous_durable_and_provable() {
    let tmp = tempfile::tempdir().expect("tmp");
    let log = open(tmp.path()).expect("open");
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut ranges = Vec::new();
                for b in 0..50 {
                    let events = (0..10)
                        .map(|i| (1_700_000_000_000_000, token(t * 1000 + b * 10 + i)))
                        .collect();
                    ranges.push(log.record_wait(events).expect("durable"));
                }
                ranges
            })
        })
        .collect();
    let mut ranges: Vec<_> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("thread"))
        .collect();
    ranges.sort_by_key(|r| r.start);
    let mut next = 0;
    for r in &ranges {
        assert_eq!(r.start, next, "no gap, no overlap");
        assert_eq!(r.end - r.start, 10);
        next = r.end;
    }
    assert_eq!(log.size(), 4000);
    let note = log.checkpoint().expect("checkpoint");
    let cp = log.verifier().open(&note).expect("signed");
    assert_eq!((cp.origin.as_str(), cp.size), (ORIGIN, 4000));
    // Entries read back are the ones hashed into the tree, at their recorded index.
    let entries = log.entries(1234, 1240).expect("entries");
    assert_eq!(entries.len(), 6);
    for (i, e) in entries.iter().enumerate() {
        let index = 1234 + i as u64;
        let entry: accord_ledger::Entry = serde_json::from_slice(e).expect("entry");
        assert_eq!(entry.index, index);
        let proof = log.inclusion_proof(index, cp.size).expect("proof");
        verify_inclusion(&leaf_hash(e), index, cp.size, &proof, &cp.root).expect("included");
    }
    // A later checkpoint is consistent with the earlier one.
    log.record_now(vec![token(9999)]).expect("durable");
    let later = log
        .verifier()
        .open(&log.checkpoint().expect("checkpoint"))
        .expect("signed");
    let proof = log.consistency_proof(cp.size, later.size).expect("proof");
    verify_consistency(cp.size, later.size, &cp.root, &later.root, &proof).expect("consistent");
    // Nothing new: no new checkpoint.
    assert_eq!(
        log.checkpoint().expect("same"),
        log.latest_checkpoint().expect("latest").1
    );
    assert!(matches!(log.entries(4000, 4002), Err(LedgerError::Range { .. })));
    let ok = verify_dir(tmp.path()).expect("verifies");
    assert_eq!((ok.size, ok.checkpoints, ok.uncovered), (4001, 2, 0));
}

#[test]
fn a_log_past_its_first_chunk_forgets_old_leaf_hashes_and_reads_them_back_checked() {
    // The tree keeps leaf hashes in chunks of 65,536 and frees the complete ones at each
    // checkpoint; proofs and reads then take them from the hashes file, checked against the tree.
    let tmp = tempfile::tempdir().expect("tmp");
    let log = open(tmp.path()).expect("open");
    let n = 66_000;
    for b in 0..n / 1_000 {
        let events = (0..1_000)
            .map(|i| (1_700_000_000_000_000, token(b * 1_000 + i)))
            .collect();
        log.record_wait(events).expect("durable");
    }
    let note = log.checkpoint().expect("checkpoint");
    let cp = signer().verifier().open(&note).expect("signed");
    assert_eq!(cp.size, n as u64);
    for index in [0, 1, 40_000, 65_535, 65_536, n as u64 - 1] {
        let entry = log.entries(index, index + 1).expect("entry").remove(0);
        let leaf = log.leaf(index).expect("leaf").expect("in the log");
        assert_eq!(leaf, leaf_hash(&entry), "entry {index}");
        let proof = log.inclusion_proof(index, cp.size).expect("proof");
        verify_inclusion(&leaf, index, cp.size, &proof, &cp.root).expect("verifies");
    }
    let proof = log.consistency_proof(3, cp.size).expect("proof");
    let early = accord_ledger::Tree::from_leaves(
        log.entries(0, 3)
            .expect("entries")
            .iter()
            .map(|e| leaf_hash(e))
            .collect(),
    );
    verify_consistency(3, cp.size, &early.root(), &cp.root, &proof).expect("consistent");
    assert_eq!(log.leaf(n as u64).expect("leaf"), None);

    // An altered stored hash is refused, not served.
    let hashes = tmp.path().join(HASHES_FILE);
    let mut bytes = std::fs::read(&hashes).expect("hashes");
    bytes[40_001 * 32] ^= 1;
    std::fs::write(&hashes, &bytes).expect("write");
    assert!(matches!(
        log.leaf(40_001),
        Err(LedgerError::Proof(accord_ledger::ProofError::LeafMismatch {
            first: 40_000
        }))
    ));
    assert!(log.inclusion_proof(40_000, cp.size).is_err());
    assert!(log.entries(40_000, 40_002).is_err());
    // Leaves still held are unaffected.
    assert!(log.entries(65_536, 65_540).is_ok());
}

#[test]
fn two_writers_share_one_log() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = open(tmp.path()).expect("open");
    server.record_now(vec![token(1)]).expect("durable");
    // The command line opens the same log while the server runs (another lock holder).
    let cli = open(tmp.path()).expect("second open");
    assert_eq!(cli.record_now(vec![token(2), token(3)]).expect("durable"), 1..3);
    assert_eq!(server.record_now(vec![token(4)]).expect("durable"), 3..4);
    assert_eq!(cli.record_now(vec![token(5)]).expect("durable"), 4..5);
    // Groups in a row from each writer (which then need not measure the derived files again).
    assert_eq!(server.record_now(vec![token(6)]).expect("durable"), 5..6);
    assert_eq!(server.record_now(vec![token(7)]).expect("durable"), 6..7);
    assert_eq!(cli.record_now(vec![token(8)]).expect("durable"), 7..8);
    assert_eq!(cli.record_now(vec![token(9)]).expect("durable"), 8..9);
    let n = 9;
    let cp = server
        .verifier()
        .open(&server.checkpoint().expect("cp"))
        .expect("signed");
    assert_eq!(cp.size, n);
    assert_eq!(verify_dir(tmp.path()).expect("verifies").size, n);
    // Each writer kept the derived files whole, the other's entries included: every entry can
    // be read alone, from either process and after a reopen.
    let reopened = open(tmp.path()).expect("reopen");
    for log in [&server, &cli, &reopened] {
        for i in 0..n {
            assert_eq!(log.entries(i, i + 1).expect("one entry").len(), 1);
        }
    }
    for (file, width) in [(OFFSETS_FILE, 8), (HASHES_FILE, 32)] {
        assert_eq!(
            std::fs::metadata(tmp.path().join(file))
                .expect("derived file")
                .len(),
            n * width,
            "{file}"
        );
    }
}

#[test]
fn writers_keeping_a_reserve_share_one_log_and_a_crash_beyond_it_is_cut() {
    let tmp = tempfile::tempdir().expect("tmp");
    let entries = tmp.path().join(ENTRIES_FILE);
    let zeros_from = |bytes: &[u8]| bytes.iter().position(|&b| b == 0);
    // Two long-running writers on one log, each keeping a reserve smaller than a few groups: it
    // runs out and is written afresh many times, by either, and each appends into the other's.
    let (a, b) = (open(tmp.path()).expect("open"), open(tmp.path()).expect("open"));
    a.reserve(1024);
    b.reserve(1024);
    let mut n = 0;
    for round in 0..40 {
        let (writer, k) = if round % 3 == 0 { (&b, 2) } else { (&a, 1) };
        let events = (n..n + k).map(token).collect();
        assert_eq!(
            writer.record_now(events).expect("durable"),
            n as u64..(n + k) as u64,
            "round {round}"
        );
        n += k;
    }
    // The command line opens the log while they run (which cuts the reserve) and appends plainly.
    let cli = open(tmp.path()).expect("open");
    assert_eq!(
        cli.record_now(vec![token(n)]).expect("durable"),
        n as u64..n as u64 + 1
    );
    assert_eq!(
        a.record_now(vec![token(n + 1)]).expect("durable"),
        n as u64 + 1..n as u64 + 2
    );
    n += 2;
    let n64 = n as u64;
    let bytes = std::fs::read(&entries).expect("read");
    let end = zeros_from(&bytes).expect("a reserve while the writers run");
    assert!(
        bytes[end..].iter().all(|&z| z == 0),
        "only zeros after the entries"
    );
    assert_eq!(bytes[..end].iter().filter(|&&c| c == b'\n').count(), n);
    assert_eq!(verify_dir(tmp.path()).expect("verifies").size, n64);
    for log in [&a, &b] {
        log.checkpoint().expect("takes in the other's entries");
        let all = log.entries(0, n64).expect("every entry");
        for (i, e) in all.iter().enumerate() {
            let text = String::from_utf8_lossy(e);
            assert!(text.contains(&format!("\"tok-{i}\"")), "entry {i}: {text}");
        }
    }
    // Closing cuts the reserve: a stopped node's file is exactly its entries.
    a.close().expect("close");
    b.close().expect("close");
    let bytes = std::fs::read(&entries).expect("read");
    assert_eq!(zeros_from(&bytes), None);
    assert_eq!(bytes.last(), Some(&b'\n'));

    // A writer that dies with its reserve in place, after a power loss tore a group that was
    // never acknowledged: a line beyond the first zero. Readers stop at the zero; opening the
    // log cuts everything after the entries.
    let c = open(tmp.path()).expect("open");
    c.reserve(4096);
    assert_eq!(c.record_now(vec![token(n)]).expect("durable"), n64..n64 + 1);
    drop(c);
    let n64 = n64 + 1;
    let mut bytes = std::fs::read(&entries).expect("read");
    let end = zeros_from(&bytes).expect("the reserve is left");
    let stray = b"{\"index\":999,\"kind\":\"token\"}\n";
    bytes[end + 100..end + 100 + stray.len()].copy_from_slice(stray);
    std::fs::write(&entries, &bytes).expect("write");
    assert_eq!(verify_dir(tmp.path()).expect("verifies").size, n64);
    let log = open(tmp.path()).expect("recovers");
    assert_eq!(log.size(), n64);
    assert_eq!(std::fs::metadata(&entries).expect("entries").len(), end as u64);
    assert_eq!(log.record_now(vec![token(n + 1)]).expect("durable"), n64..n64 + 1);
    assert_eq!(verify_dir(tmp.path()).expect("verifies").size, n64 + 1);
}

#[test]
fn a_torn_tail_is_cut_and_tampering_stops_the_log_from_opening() {
    let tmp = tempfile::tempdir().expect("tmp");
    {
        let log = open(tmp.path()).expect("open");
        for i in 0..20 {
            log.record_now(vec![token(i)]).expect("durable");
        }
        log.close().expect("close");
    }
    // A crash mid-write: half an entry line, and its hash missing.
    let entries = tmp.path().join(ENTRIES_FILE);
    let mut bytes = std::fs::read(&entries).expect("read");
    bytes.extend_from_slice(b"{\"index\":20,\"kind\":\"tok");
    std::fs::write(&entries, &bytes).expect("write");
    let log = open(tmp.path()).expect("recovers");
    assert_eq!(log.size(), 20);
    // Five entries the latest checkpoint (of 20) does not cover.
    for i in 20..25 {
        assert_eq!(
            log.record_now(vec![token(i)]).expect("durable"),
            i as u64..i as u64 + 1
        );
    }
    drop(log);
    assert!(verify_dir(tmp.path()).is_ok());
    let text = std::fs::read_to_string(&entries).expect("read");

    // A changed entry after the latest checkpoint: every such entry is checked at open.
    std::fs::write(&entries, text.replacen("tok-22", "tok-23", 1)).expect("write");
    match open(tmp.path()) {
        Err(LedgerError::Broken { problem, .. }) => assert!(problem.starts_with("entry 22:"), "{problem}"),
        other => panic!("expected a broken log, got {other:?}"),
    }
    // A changed entry the checkpoint covers: open trusts the synced leaf hashes there (it does
    // not read the covered entries, so that it takes the same time for any size of log), but the
    // entry is refused when read, and `audit verify` names it.
    std::fs::write(&entries, text.replacen("tok-7", "tok-8", 1)).expect("write");
    let log = open(tmp.path()).expect("opens");
    match log.entries(0, 25) {
        Err(LedgerError::Broken { problem, .. }) => assert!(problem.starts_with("entry 7:"), "{problem}"),
        other => panic!("expected an altered entry, got {other:?}"),
    }
    assert_eq!(log.entries(8, 25).expect("the others").len(), 17);
    let problems = verify_dir(tmp.path()).expect_err("altered");
    assert!(problems[0].to_string().starts_with("entry 7:"), "{problems:?}");
    drop(log);
    std::fs::write(&entries, &text).expect("restore");

    // A changed hash the checkpoint covers: the hashes no longer give its root, so every entry is
    // read and the one whose hash changed is named.
    let hashes = tmp.path().join(HASHES_FILE);
    let mut h = std::fs::read(&hashes).expect("read");
    h[32 * 3] ^= 1;
    std::fs::write(&hashes, &h).expect("write");
    match open(tmp.path()) {
        Err(LedgerError::Broken { problem, .. }) => assert!(problem.starts_with("entry 3:"), "{problem}"),
        other => panic!("expected a broken log, got {other:?}"),
    }
    h[32 * 3] ^= 1;
    // Derived files a crash left stale after the checkpoint (a hash after it zeroed), or lost
    // (no offsets, as a log written before they were kept): recomputed from the entries.
    h[32 * 22..32 * 23].fill(0);
    std::fs::write(&hashes, &h).expect("write");
    let offsets = tmp.path().join(OFFSETS_FILE);
    let ends = std::fs::read(&offsets).expect("read");
    assert_eq!(ends.len(), 25 * 8);
    std::fs::remove_file(&offsets).expect("remove");
    let log = open(tmp.path()).expect("recomputes");
    assert_eq!(log.entries(0, 25).expect("entries").len(), 25);
    drop(log);
    assert_eq!(std::fs::read(&offsets).expect("rebuilt"), ends);
    h[32 * 22..32 * 23].copy_from_slice(&leaf_hash(text.lines().nth(22).expect("line").as_bytes()));
    assert_eq!(std::fs::read(&hashes).expect("rebuilt"), h);
    assert!(verify_dir(tmp.path()).is_ok());

    // A damaged offsets file under the checkpoint (an end moved, still in order): the entries it
    // misplaces are refused when read, not served wrong; removing the file has the next open
    // rebuild it from the entries.
    let mut moved = ends.clone();
    moved[5 * 8] ^= 1;
    std::fs::write(&offsets, &moved).expect("write");
    let log = open(tmp.path()).expect("opens");
    match log.entries(6, 25) {
        Err(LedgerError::Broken { problem, .. }) => assert!(problem.contains("offsets"), "{problem}"),
        other => panic!("expected a refused read, got {other:?}"),
    }
    drop(log);
    std::fs::remove_file(&offsets).expect("remove");
    assert_eq!(
        open(tmp.path())
            .expect("rebuilds")
            .entries(0, 25)
            .expect("entries")
            .len(),
        25
    );
    assert_eq!(std::fs::read(&offsets).expect("rebuilt"), ends);

    // Another key cannot take over the log.
    let other = NoteSigner::new(ORIGIN, &[4; 32]).expect("signer");
    assert!(matches!(
        Ledger::open(tmp.path(), ORIGIN, other),
        Err(LedgerError::Identity { .. })
    ));
    assert!(open(tmp.path()).is_ok());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// What a crash can leave: acknowledged entries were synced, so only an unfinished,
    /// unacknowledged line can follow them; the hashes and offsets after the latest checkpoint
    /// were not synced, so they may be cut anywhere or (on some file systems) zeroed. Whatever of
    /// that happened, the log opens with exactly the acknowledged entries, serves them, verifies,
    /// and its derived files are whole again.
    #[test]
    fn a_crash_loses_only_what_was_not_acknowledged(
        covered in 0usize..30,
        after in 0usize..10,
        torn in 0usize..40,
        hash_cut in proptest::prelude::any::<proptest::sample::Index>(),
        offsets_cut in proptest::prelude::any::<proptest::sample::Index>(),
        zeroed in proptest::prelude::any::<bool>(),
    ) {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path();
        {
            let log = open(dir).expect("open");
            for i in 0..covered {
                log.record_now(vec![token(i)]).expect("durable");
            }
            if covered > 0 {
                log.checkpoint().expect("checkpoint");
            }
            for i in covered..covered + after {
                log.record_now(vec![token(i)]).expect("durable");
            }
        }
        let size = covered + after;
        let entries = dir.join(ENTRIES_FILE);
        let mut bytes = std::fs::read(&entries).expect("read");
        let line = format!("{{\"index\":{size},\"kind\":\"token\",\"time\":\"2026-11-27T00:00:00Z\"}}");
        bytes.extend_from_slice(&line.as_bytes()[..torn.min(line.len() - 1)]);
        std::fs::write(&entries, &bytes).expect("write");
        let hashes = dir.join(HASHES_FILE);
        let mut h = std::fs::read(&hashes).expect("read");
        if zeroed {
            h[covered * 32..].fill(0);
        } else {
            h.truncate(covered * 32 + hash_cut.index(h.len() - covered * 32 + 1));
        }
        std::fs::write(&hashes, &h).expect("write");
        let offsets = dir.join(OFFSETS_FILE);
        let mut o = std::fs::read(&offsets).expect("read");
        o.truncate(covered * 8 + offsets_cut.index(o.len() - covered * 8 + 1));
        std::fs::write(&offsets, &o).expect("write");

        let log = open(dir).expect("recovers");
        proptest::prop_assert_eq!(log.size(), size as u64);
        proptest::prop_assert_eq!(log.entries(0, size as u64).expect("served").len(), size);
        drop(log);
        proptest::prop_assert!(verify_dir(dir).is_ok());
        proptest::prop_assert_eq!(std::fs::metadata(&hashes).expect("hashes").len(), size as u64 * 32);
        proptest::prop_assert_eq!(std::fs::metadata(&offsets).expect("offsets").len(), size as u64 * 8);
    }
}

mod query {
    //! Oversight queries: parameters checked before anything is read, times compared as
    //! instants, answers a bounded page at a time; a property test holds them to a naive filter
    //! over the parsed entries.

    use accord_ledger::Entry;
    use accord_ledger::entry::{ConfigChange, Decisions, Ingest, Share, Shared, Version};
    use accord_ledger_files::query::{
        self, DEFAULT_LIMIT, Filter, MAX_PAGE_BYTES, Params, Recipient, merge_recipients,
    };
    use accord_stix::Timestamp;
    use proptest::prelude::*;

    use super::*;

    const OBJECTS: [&str; 3] = [
        "indicator--00000000-0000-4000-8000-000000000001",
        "indicator--00000000-0000-4000-8000-000000000002",
        "malware--00000000-0000-4000-8000-000000000003",
    ];
    const PRINCIPALS: [&str; 3] = ["analyst", "partner", "other"];
    const AGREEMENTS: [&str; 2] = ["bilateral", "community"];
    /// 2026-11-30T00:00:00Z.
    const DAY: i64 = 1_795_996_800_000_000;

    fn version(id: &str) -> Version {
        Version {
            hash: "ab".repeat(32),
            id: id.into(),
            version: "2026-01-01T00:00:00.000Z".into(),
        }
    }

    /// An event of kind `k` about `ids`, by `who`, under `agreement`.
    fn event(k: u8, ids: &[&str], who: &str, agreement: Option<&str>) -> Event {
        match k % 5 {
            0 => Event::Decisions(Decisions {
                action: "read".into(),
                agreement: agreement.map(Into::into),
                effect: "allow".into(),
                objects: ids.iter().map(|id| version(id)).collect(),
                policy: "p".into(),
                principal: who.into(),
                profile: None,
                purpose: None,
                reasons: vec!["tlp-clear".into()],
            }),
            1 => Event::Share(Share {
                channel: "taxii".into(),
                collection: Some("c1".into()),
                objects: ids
                    .iter()
                    .map(|id| Shared {
                        agreement: agreement.map(Into::into),
                        hash: "cd".repeat(32),
                        id: (*id).into(),
                        original: None,
                        version: "2026-01-01T00:00:00.000Z".into(),
                    })
                    .collect(),
                principal: who.into(),
                purpose: None,
            }),
            2 => Event::Ingest(Ingest {
                collection: "c1".into(),
                failed: 0,
                objects: ids.iter().map(|id| version(id)).collect(),
                principal: who.into(),
                status: None,
            }),
            3 => Event::Token(TokenEvent {
                action: "issued".into(),
                principal: who.into(),
                token: "tok-1".into(),
            }),
            _ => Event::Config(ConfigChange {
                config_sha256: "00".repeat(32),
                policy: "p".into(),
                reason: "start".into(),
            }),
        }
    }

    /// `micros` written in the local time of an offset of `minutes` (RFC 3339).
    fn with_offset(micros: i64, minutes: i64) -> String {
        let local = Timestamp::format_micros(micros + minutes * 60_000_000);
        let sign = if minutes < 0 { '-' } else { '+' };
        format!(
            "{}{sign}{:02}:{:02}",
            &local[..local.len() - 1],
            minutes.abs() / 60,
            minutes.abs() % 60
        )
    }

    /// Every page of the answer, followed by `next`, `limit` entries at a time.
    fn all_pages(log: &Ledger, filter: &Filter, limit: usize) -> (Vec<Entry>, Option<Vec<Recipient>>) {
        let (mut entries, mut recipients, mut from) = (Vec::new(), None::<Vec<Recipient>>, 0);
        loop {
            let page = query::page(log, filter, from, limit).expect("page");
            assert!(page.entries.len() <= limit);
            entries.extend(
                page.entries
                    .iter()
                    .map(|e| serde_json::from_slice::<Entry>(e).expect("entry")),
            );
            if let Some(r) = page.recipients {
                merge_recipients(recipients.get_or_insert_with(Vec::new), r);
            }
            match page.next {
                Some(n) => {
                    assert!(n > from, "a page moves on");
                    from = n;
                }
                None => return (entries, recipients),
            }
        }
    }

    #[test]
    fn bad_parameters_are_refused_and_named() {
        let cases: &[(&str, Params)] = &[
            (
                "since",
                Params {
                    since: Some("garbage".into()),
                    ..Params::default()
                },
            ),
            (
                "until",
                Params {
                    until: Some("yesterday".into()),
                    ..Params::default()
                },
            ),
            (
                "since",
                Params {
                    since: Some("2026-02-30".into()),
                    ..Params::default()
                },
            ),
            (
                "until",
                Params {
                    until: Some("2026-11-30T12:00:00".into()),
                    ..Params::default()
                },
            ),
            (
                "since",
                Params {
                    since: Some("2026-11-30 12:00:00Z".into()),
                    ..Params::default()
                },
            ),
            (
                "kind",
                Params {
                    kind: vec!["decision".into(), "bogus".into()],
                    ..Params::default()
                },
            ),
            (
                "kind",
                Params {
                    kind: vec![String::new()],
                    ..Params::default()
                },
            ),
            (
                "object",
                Params {
                    object: Some(String::new()),
                    ..Params::default()
                },
            ),
            (
                "agreement",
                Params {
                    agreement: Some(String::new()),
                    ..Params::default()
                },
            ),
        ];
        for (parameter, params) in cases {
            let e = Filter::parse(params).expect_err(parameter);
            assert_eq!(e.parameter, *parameter, "{params:?}: {e}");
        }
        for ok in [
            Params {
                since: Some("2026-11-30".into()),
                until: Some("2026-11-30".into()),
                ..Params::default()
            },
            Params {
                since: Some("2026-11-30T13:00:00+01:00".into()),
                ..Params::default()
            },
            Params {
                kind: query::KINDS.iter().map(|k| (*k).to_owned()).collect(),
                ..Params::default()
            },
        ] {
            assert!(Filter::parse(&ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn one_instant_spelled_with_any_offset_gives_one_answer() {
        let tmp = tempfile::tempdir().expect("tmp");
        let log = open(tmp.path()).expect("open");
        // Entries an hour apart across the day, UTC.
        let events = (0..24)
            .map(|h| (DAY + h * 3_600_000_000, token(h as usize)))
            .collect();
        log.record_wait(events).expect("durable");
        let count = |since: &str, until: &str| {
            let f = Filter::parse(&Params {
                since: Some(since.into()),
                until: Some(until.into()),
                ..Params::default()
            })
            .expect("filter");
            all_pages(&log, &f, DEFAULT_LIMIT).0.len()
        };
        // 10:00Z to 20:00Z, inclusive: 11 entries, however it is written.
        assert_eq!(count("2026-11-30T10:00:00Z", "2026-11-30T20:00:00Z"), 11);
        assert_eq!(
            count("2026-11-30T11:00:00+01:00", "2026-11-30T15:00:00-05:00"),
            11
        );
        assert_eq!(
            count("2026-11-30T10:00:00.000000Z", "2026-12-01T09:00:00+13:00"),
            11
        );
        // A date is its whole UTC day.
        assert_eq!(count("2026-11-30", "2026-11-30"), 24);
        assert_eq!(count("2026-11-30T23:00:00Z", "2026-12-01"), 1);
    }

    #[test]
    fn pages_are_bounded_in_entries_and_bytes() {
        let tmp = tempfile::tempdir().expect("tmp");
        let log = open(tmp.path()).expect("open");
        // Share entries of about 700 KB, and one of about 5 MB (larger than a page on its own).
        let ids: Vec<String> = (0..3000)
            .map(|i| format!("indicator--00000000-0000-4000-8000-{i:012}"))
            .collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut events: Vec<(i64, Event)> = (0..10)
            .map(|i| (DAY + i, event(1, &refs, "partner", Some("bilateral"))))
            .collect();
        let big: Vec<String> = (0..22_000)
            .map(|i| format!("indicator--00000000-0000-4000-8000-{i:012}"))
            .collect();
        let big: Vec<&str> = big.iter().map(String::as_str).collect();
        events.push((DAY + 10, event(1, &big, "partner", Some("bilateral"))));
        events.push((DAY + 11, event(1, &refs, "partner", Some("bilateral"))));
        log.record_wait(events).expect("durable");
        let f = Filter::parse(&Params {
            agreement: Some("bilateral".into()),
            ..Params::default()
        })
        .expect("filter");
        let (mut from, mut pages, mut seen) = (0, 0, Vec::new());
        loop {
            let page = query::page(&log, &f, from, DEFAULT_LIMIT).expect("page");
            let bytes: usize = page.entries.iter().map(Vec::len).sum();
            assert!(!page.entries.is_empty());
            assert!(
                bytes as u64 <= MAX_PAGE_BYTES || page.entries.len() == 1,
                "a page of {bytes} bytes in {} entries",
                page.entries.len()
            );
            // The page is JSON, and says whether there is more.
            let v: serde_json::Value = serde_json::from_slice(&page.to_json()).expect("json");
            assert_eq!(v["more"], page.next.is_some());
            seen.extend(
                v["entries"]
                    .as_array()
                    .expect("entries")
                    .iter()
                    .map(|e| e["index"].as_u64().expect("index")),
            );
            pages += 1;
            match page.next {
                Some(n) => from = n,
                None => break,
            }
        }
        assert_eq!(seen, (0..12).collect::<Vec<u64>>());
        assert!(pages >= 4, "{pages} pages");
        // The entries endpoint's bound: a run ends within its bytes, but holds one entry at least.
        assert_eq!(log.run_end(10, 1), 11);
        assert!(log.run_end(0, MAX_PAGE_BYTES) < 10);
        assert_eq!(log.run_end(12, MAX_PAGE_BYTES), 12);
    }

    /// Times of entries: within two days of DAY, to the microsecond, in no particular order.
    fn times() -> impl Strategy<Value = Vec<i64>> {
        proptest::collection::vec(0i64..2 * 86_400_000_000, 1..30)
    }

    /// A bound as text, with the instant (or date) it stands for: a time in some offset, or a
    /// date.
    fn bound() -> impl Strategy<Value = Option<(String, i64, bool)>> {
        proptest::option::of(prop_oneof![
            (0i64..2 * 86_400_000_000, -14 * 60i64..=14 * 60).prop_map(|(t, o)| (
                with_offset(DAY + t, o),
                DAY + t,
                false
            )),
            (0i64..3).prop_map(|d| {
                let day = DAY + d * 86_400_000_000;
                (Timestamp::format_micros(day)[..10].to_owned(), day, true)
            }),
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Any text as a bound or kind is answered, never a panic: a filter, or an error naming
        /// the parameter.
        #[test]
        fn any_text_is_a_filter_or_a_named_refusal(since in ".{0,40}", until in "\\PC{0,40}", kind in ".{0,12}") {
            let params = Params {
                since: Some(since),
                until: Some(until),
                kind: vec![kind],
                ..Params::default()
            };
            if let Err(e) = Filter::parse(&params) {
                prop_assert!(["since", "until", "kind"].contains(&e.parameter), "{e}");
            }
        }

        /// Whatever the entries and the filter, paging through the answer gives exactly the
        /// entries a naive filter over the parsed entries keeps, and the same recipients.
        #[test]
        fn pages_give_what_a_naive_filter_gives(
            times in times(),
            shapes in proptest::collection::vec((0u8..5, 0usize..3, 0usize..3, 0usize..3, proptest::option::of(0usize..2)), 30),
            object in proptest::option::of(0usize..3),
            agreement in proptest::option::of(0usize..2),
            principal in proptest::option::of(0usize..3),
            kinds in proptest::collection::vec(0usize..query::KINDS.len(), 0..3),
            since in bound(),
            until in bound(),
            limit in 1usize..5,
        ) {
            let tmp = tempfile::tempdir().expect("tmp");
            let log = open(tmp.path()).expect("open");
            let events: Vec<(i64, Event)> = times
                .iter()
                .zip(&shapes)
                .map(|(t, (k, a, b, who, ag))| {
                    let ids = [OBJECTS[*a], OBJECTS[*b]];
                    (DAY + t, event(*k, &ids, PRINCIPALS[*who], ag.map(|i| AGREEMENTS[i])))
                })
                .collect();
            log.record_wait(events).expect("durable");
            let params = Params {
                object: object.map(|i| OBJECTS[i].to_owned()),
                agreement: agreement.map(|i| AGREEMENTS[i].to_owned()),
                principal: principal.map(|i| PRINCIPALS[i].to_owned()),
                kind: kinds.iter().map(|i| query::KINDS[*i].to_owned()).collect(),
                since: since.as_ref().map(|b| b.0.clone()),
                until: until.as_ref().map(|b| b.0.clone()),
            };
            let filter = Filter::parse(&params).expect("filter");

            // The naive answer: every entry parsed, every criterion checked on its own.
            let all: Vec<Entry> = log
                .entries(0, log.size())
                .expect("entries")
                .iter()
                .map(|l| serde_json::from_slice(l).expect("entry"))
                .collect();
            let family = |k: &str| if k == "decisions" { "decision".to_owned() } else { k.to_owned() };
            let keep = |e: &Entry| -> bool {
                let v = serde_json::to_value(e).expect("value");
                let t = Timestamp::parse(&e.time).expect("time").as_micros();
                let after = since.as_ref().is_none_or(|(_, at, _)| t >= *at);
                let before = until.as_ref().is_none_or(|(_, at, date)| {
                    if *date { t < at + 86_400_000_000 } else { t <= *at }
                });
                let kind_ok = params.kind.is_empty()
                    || params.kind.iter().any(|k| family(k) == family(v["kind"].as_str().expect("kind")));
                let objects: Vec<&serde_json::Value> = v["objects"].as_array().map(|o| o.iter().collect()).unwrap_or_default();
                let object_ok = params.object.as_ref().is_none_or(|id| objects.iter().any(|o| o["id"] == id.as_str()));
                let agreement_ok = params.agreement.as_ref().is_none_or(|a| {
                    v["agreement"] == a.as_str()
                        || objects.iter().any(|o| {
                            o["agreement"] == a.as_str()
                                && params.object.as_ref().is_none_or(|id| o["id"] == id.as_str())
                        })
                });
                let principal_ok = params.principal.as_ref().is_none_or(|p| v["principal"] == p.as_str());
                after && before && kind_ok && object_ok && agreement_ok && principal_ok
            };
            let expected: Vec<u64> = all.iter().filter(|e| keep(e)).map(|e| e.index).collect();
            let (got, recipients) = all_pages(&log, &filter, limit);
            let got: Vec<u64> = got.iter().map(|e| e.index).collect();
            prop_assert_eq!(&got, &expected, "{:?}", params);

            // Who received objects under the agreement: the matching shares, counted.
            if let Some(a) = &params.agreement {
                let mut naive: Vec<Recipient> = Vec::new();
                for e in all.iter().filter(|e| keep(e)) {
                    if let Event::Share(s) = &e.event {
                        let n = s.objects.iter().filter(|o| o.agreement.as_ref() == Some(a)).count() as u64;
                        if n > 0 {
                            merge_recipients(&mut naive, vec![Recipient {
                                principal: s.principal.clone(),
                                objects: n,
                                first: e.time.clone(),
                                last: e.time.clone(),
                            }]);
                        }
                    }
                }
                prop_assert_eq!(recipients.unwrap_or_default(), naive);
            } else {
                prop_assert!(recipients.is_none());
            }
        }
    }
}
