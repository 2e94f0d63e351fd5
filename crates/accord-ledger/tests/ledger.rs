//! The ledger core against a naive recursive reference of RFC 9162 (every tree size 1..=257,
//! every leaf), the Go sumdb/note test vector, and whole-log verification of tampered logs.

use accord_ledger::entry::{ConfigChange, Decision};
use accord_ledger::merkle::{Hash, empty_root};
use accord_ledger::verify::{LogInput, Where};
use accord_ledger::{
    Checkpoint, Entry, Event, NoteSigner, ProofError, Tree, VerifierKey, leaf_hash, node_hash,
    verify_consistency, verify_inclusion, verify_log,
};
use proptest::prelude::*;

// ---- the reference: RFC 9162 §2.1 written as literally as possible over D[lo..hi] (subtree
// hashes memoised only so that every pair of sizes can be checked in seconds) ----

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

struct Reference<'a> {
    d: &'a [Vec<u8>],
    memo: std::cell::RefCell<std::collections::HashMap<(usize, usize), Hash>>,
}

impl Reference<'_> {
    fn new(d: &[Vec<u8>]) -> Reference<'_> {
        Reference {
            d,
            memo: Default::default(),
        }
    }

    fn mth(&self, lo: usize, hi: usize) -> Hash {
        if let Some(h) = self.memo.borrow().get(&(lo, hi)) {
            return *h;
        }
        let h = match hi - lo {
            0 => empty_root(),
            1 => leaf_hash(&self.d[lo]),
            n => {
                let k = k_of(n);
                node_hash(&self.mth(lo, lo + k), &self.mth(lo + k, hi))
            }
        };
        self.memo.borrow_mut().insert((lo, hi), h);
        h
    }

    fn path(&self, m: usize, lo: usize, hi: usize) -> Vec<Hash> {
        let n = hi - lo;
        if n == 1 {
            return vec![];
        }
        let k = k_of(n);
        if m < k {
            let mut p = self.path(m, lo, lo + k);
            p.push(self.mth(lo + k, hi));
            p
        } else {
            let mut p = self.path(m - k, lo + k, hi);
            p.push(self.mth(lo, lo + k));
            p
        }
    }

    fn subproof(&self, m: usize, lo: usize, hi: usize, b: bool) -> Vec<Hash> {
        let n = hi - lo;
        if m == n {
            return if b { vec![] } else { vec![self.mth(lo, hi)] };
        }
        let k = k_of(n);
        if m <= k {
            let mut p = self.subproof(m, lo, lo + k, b);
            p.push(self.mth(lo + k, hi));
            p
        } else {
            let mut p = self.subproof(m - k, lo + k, hi, false);
            p.push(self.mth(lo, lo + k));
            p
        }
    }
}

fn data(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("entry {i}").into_bytes()).collect()
}

#[test]
#[allow(clippy::needless_range_loop)] // indices are the point: leaf m of size n
fn roots_and_inclusion_proofs_match_the_reference_for_every_size_and_leaf() {
    let d = data(257);
    let r = Reference::new(&d);
    let mut tree = Tree::new();
    for (i, e) in d.iter().enumerate() {
        tree.push(leaf_hash(e));
        let n = i + 1;
        let root = r.mth(0, n);
        assert_eq!(tree.root(), root, "root of size {n}");
        for m in 0..n {
            let proof = tree.inclusion_proof(m as u64, n as u64).expect("proof");
            assert_eq!(proof, r.path(m, 0, n), "inclusion proof of leaf {m} in size {n}");
            verify_inclusion(&leaf_hash(&d[m]), m as u64, n as u64, &proof, &root)
                .unwrap_or_else(|e| panic!("leaf {m} in size {n}: {e}"));
            // The wrong leaf, or the right leaf at the wrong index, must not verify.
            assert!(verify_inclusion(&leaf_hash(b"other"), m as u64, n as u64, &proof, &root).is_err());
            if n > 1 {
                let other = ((m + 1) % n) as u64;
                assert!(verify_inclusion(&leaf_hash(&d[m]), other, n as u64, &proof, &root).is_err());
            }
        }
    }
    // A tree built in one go equals one built leaf by leaf.
    let bulk = Tree::from_leaves(d.iter().map(|e| leaf_hash(e)).collect());
    for n in 0..=257u64 {
        assert_eq!(bulk.root_at(n), tree.root_at(n));
    }
    assert_eq!(tree.root_at(0), Ok(empty_root()));
    assert!(matches!(
        tree.root_at(258),
        Err(ProofError::SizeOutOfRange { .. })
    ));
    assert!(matches!(
        tree.inclusion_proof(5, 5),
        Err(ProofError::IndexOutOfRange { .. })
    ));
}

#[test]
fn a_tree_past_its_storage_chunks_gives_the_reference_roots_and_proofs() {
    // Each level is stored in chunks of 65,536 hashes: leaves 0..65,536 and the rest lie in
    // different chunks, and the upper levels cross theirs further up.
    let n = 2 * 65_536 + 3;
    let d: Vec<Vec<u8>> = (0..n).map(|i| format!("entry {i}").into_bytes()).collect();
    let leaves: Vec<Hash> = d.iter().map(|e| leaf_hash(e)).collect();
    let mut pushed = Tree::new();
    for leaf in &leaves {
        pushed.push(*leaf);
    }
    let bulk = Tree::from_leaves(leaves.clone().into());
    let r = Reference::new(&d);
    for size in [1, 65_535, 65_536, 65_537, 131_072, 131_073, n] {
        let root = r.mth(0, size);
        assert_eq!(pushed.root_at(size as u64), Ok(root), "size {size}");
        assert_eq!(bulk.root_at(size as u64), Ok(root), "size {size}");
        for m in [0, 65_535, 65_536, size - 1] {
            if m < size {
                let proof = pushed.inclusion_proof(m as u64, size as u64).expect("proof");
                assert_eq!(proof, r.path(m, 0, size), "leaf {m} in size {size}");
                assert_eq!(bulk.inclusion_proof(m as u64, size as u64), Ok(proof));
            }
        }
    }
    assert_eq!(
        pushed.leaves(65_530..65_540).copied().collect::<Vec<_>>(),
        leaves[65_530..65_540]
    );
    assert_eq!(bulk.leaf(n as u64 - 1), leaves.last().copied());
    assert_eq!(bulk.leaf(n as u64), None);
}

#[test]
fn a_tree_built_from_an_odd_number_of_full_chunks_grows_like_one_built_leaf_by_leaf() {
    // Three full chunks and a few more: the third chunk has no partner on the level above, and
    // the levels built in one go must take later pushes exactly as pushed levels do.
    let n = 3 * 65_536 + 5;
    let leaves: Vec<Hash> = (0..n + 70_000)
        .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
        .collect();
    let mut pushed = Tree::new();
    for leaf in &leaves[..n] {
        pushed.push(*leaf);
    }
    let mut bulk = Tree::from_leaves(leaves[..n].iter().copied().collect());
    for size in [1, 65_536, 131_072, 196_608, 196_609, n] {
        assert_eq!(
            bulk.root_at(size as u64),
            pushed.root_at(size as u64),
            "size {size}"
        );
    }
    for leaf in &leaves[n..] {
        pushed.push(*leaf);
        bulk.push(*leaf);
    }
    let all = leaves.len() as u64;
    for size in [n as u64 + 1, 262_144, 262_145, all] {
        assert_eq!(bulk.root_at(size), pushed.root_at(size), "size {size}");
    }
    assert_eq!(
        bulk.inclusion_proof(200_000, all),
        pushed.inclusion_proof(200_000, all)
    );
    assert_eq!(
        bulk.consistency_proof(n as u64, all),
        pushed.consistency_proof(n as u64, all)
    );
}

/// Leaf hashes kept outside the tree, as the hashes file keeps them.
struct Stored(Vec<Hash>);

impl accord_ledger::Leaves for Stored {
    fn pair(&self, first: u64) -> Option<[Hash; 2]> {
        let first = usize::try_from(first).ok()?;
        Some([*self.0.get(first)?, *self.0.get(first + 1)?])
    }
}

#[test]
fn a_tree_that_forgot_its_leaves_reads_them_back_checked_and_proves_the_same() {
    let n = 2 * 65_536 + 7;
    let leaves: Vec<Hash> = (0..n + 3)
        .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
        .collect();
    let mut whole = Tree::new();
    let mut forgetful = Tree::new();
    for leaf in &leaves[..n] {
        whole.push(*leaf);
        forgetful.push(*leaf);
    }
    forgetful.forget_leaves();
    assert_eq!(forgetful.leaves_held_from(), 2 * 65_536);
    assert_eq!(forgetful.leaf(5), None);
    let store = Stored(leaves.clone());
    let size = n as u64;
    assert_eq!(forgetful.root(), whole.root());
    for i in [0, 1, 65_535, 65_536, 131_071, 131_072, size - 1] {
        assert_eq!(forgetful.leaf_from(i, &store), Ok(leaves[i as usize]), "leaf {i}");
        assert_eq!(
            forgetful.inclusion_proof_from(i, size, &store),
            whole.inclusion_proof(i, size),
            "leaf {i}"
        );
    }
    for first in [1, 2, 3, 65_537, 131_072] {
        assert_eq!(
            forgetful.consistency_proof_from(first, size, &store),
            whole.consistency_proof(first, size),
            "from {first}"
        );
    }
    // Without a store, a forgotten leaf is unavailable, never guessed.
    assert_eq!(
        forgetful.inclusion_proof(0, size),
        Err(ProofError::LeafUnavailable { index: 1 })
    );
    // A store that was altered is caught by the tree's own hash of each pair.
    let mut altered = leaves.clone();
    altered[70_001] = leaf_hash(b"forged");
    let altered = Stored(altered);
    assert_eq!(
        forgetful.leaf_from(70_000, &altered),
        Err(ProofError::LeafMismatch { first: 70_000 })
    );
    assert_eq!(
        forgetful.inclusion_proof_from(70_000, size, &altered),
        Err(ProofError::LeafMismatch { first: 70_000 })
    );
    // It grows on as before, and forgets again.
    for leaf in &leaves[n..] {
        whole.push(*leaf);
        forgetful.push(*leaf);
    }
    forgetful.forget_leaves();
    let size = leaves.len() as u64;
    assert_eq!(forgetful.root(), whole.root());
    assert_eq!(
        forgetful.inclusion_proof_from(size - 1, size, &store),
        whole.inclusion_proof(size - 1, size)
    );
}

#[test]
fn consistency_proofs_match_the_reference_for_every_pair_of_sizes() {
    let d = data(257);
    let tree = Tree::from_leaves(d.iter().map(|e| leaf_hash(e)).collect());
    let r = Reference::new(&d);
    let roots: Vec<Hash> = (0..=257).map(|n| r.mth(0, n)).collect();
    for n in 1..=257usize {
        for m in 1..=n {
            let proof = tree.consistency_proof(m as u64, n as u64).expect("proof");
            assert_eq!(proof, r.subproof(m, 0, n, true), "consistency {m}..{n}");
            verify_consistency(m as u64, n as u64, &roots[m], &roots[n], &proof)
                .unwrap_or_else(|e| panic!("consistency {m}..{n}: {e}"));
            if m < n {
                // A different old tree is not a prefix of this one.
                assert!(verify_consistency(m as u64, n as u64, &roots[m - 1], &roots[n], &proof).is_err());
                assert!(verify_consistency(m as u64, n as u64, &roots[m], &roots[n - 1], &proof).is_err());
            }
        }
    }
    assert!(matches!(
        tree.consistency_proof(0, 3),
        Err(ProofError::BadSizes { .. })
    ));
    assert!(matches!(
        tree.consistency_proof(4, 3),
        Err(ProofError::BadSizes { .. })
    ));
}

proptest! {
    /// Any single altered hash in a proof makes it fail.
    #[test]
    fn an_altered_proof_never_verifies(n in 2u64..300, seed in any::<u64>(), byte in 0usize..32) {
        let d = data(n as usize);
        let tree = Tree::from_leaves(d.iter().map(|e| leaf_hash(e)).collect());
        let m = seed % n;
        let mut proof = tree.inclusion_proof(m, n).expect("proof");
        let at = (seed as usize / 7) % proof.len();
        proof[at][byte] ^= 1;
        prop_assert!(verify_inclusion(&leaf_hash(&d[m as usize]), m, n, &proof, &tree.root()).is_err());
        let first = 1 + seed % (n - 1);
        let mut proof = tree.consistency_proof(first, n).expect("proof");
        if !proof.is_empty() {
            let at = (seed as usize / 11) % proof.len();
            proof[at][byte] ^= 1;
            let old = tree.root_at(first).expect("root");
            prop_assert!(verify_consistency(first, n, &old, &tree.root(), &proof).is_err());
        }
    }
}

#[test]
fn signed_notes_interoperate_with_the_go_sumdb_note_vector() {
    use base64::Engine as _;
    let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    let note = format!(
        "{text}\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    );
    let key: VerifierKey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        .parse()
        .expect("vkey");
    assert_eq!(key.verify_note(&note), Ok(text));
    // The same key signs the same note byte for byte (Ed25519 is deterministic).
    let seed = base64::engine::general_purpose::STANDARD
        .decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")
        .expect("base64");
    let seed: [u8; 32] = seed[1..].try_into().expect("32 bytes");
    let signer = NoteSigner::new("PeterNeumann", &seed).expect("signer");
    assert_eq!(signer.sign_text(text), note);
    assert_eq!(signer.verifier().to_string(), key.to_string());
    // Any change to the text breaks the signature.
    let altered = note.replacen("answer", "Answer", 1);
    assert!(key.verify_note(&altered).is_err());
    // A key whose base64 contains '+' (transparency-dev/formats test key).
    let plus: VerifierKey = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
        .parse()
        .expect("a '+' in the key");
    assert_eq!(
        plus.to_string(),
        "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
    );
    // Malformed keys are refused with a reason.
    for bad in [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3",
        "a b+00000000+AA==",
    ] {
        assert!(bad.parse::<VerifierKey>().is_err(), "{bad}");
    }
}

#[test]
fn checkpoints_round_trip_and_other_keys_are_ignored() {
    let signer = NoteSigner::new("accord.example/node", &[7; 32]).expect("signer");
    let other = NoteSigner::new("accord.example/node", &[8; 32]).expect("signer");
    let cp = Checkpoint {
        origin: "accord.example/node".into(),
        size: 42,
        root: [9; 32],
    };
    let note = signer.sign(&cp);
    assert!(note.starts_with("accord.example/node\n42\nCQkJ"));
    assert_eq!(signer.verifier().open(&note), Ok(cp.clone()));
    // A note signed by another key under the same name is not ours.
    assert!(signer.verifier().open(&other.sign(&cp)).is_err());
    // A cosignature by another key is ignored; ours still decides.
    let cosigned = format!("{note}{}", other.sign(&cp).lines().last().unwrap_or_default()) + "\n";
    assert_eq!(signer.verifier().open(&cosigned), Ok(cp));
    assert!(Checkpoint::parse_body("o\n01\nAAAA\n").is_err());
}

fn entry(index: u64) -> Vec<u8> {
    let event = if index.is_multiple_of(5) {
        Event::Config(ConfigChange {
            reason: "start".into(),
            config_sha256: "ab".repeat(32),
            policy: "0123456789abcdef".into(),
        })
    } else {
        Event::Decision(Decision {
            principal: "partner".into(),
            action: "read".into(),
            purpose: Some("incident-response".into()),
            object: format!("indicator--{index:08}-0000-4000-8000-000000000000"),
            version: "2026-11-26T00:00:00.000Z".into(),
            hash: "cd".repeat(32),
            effect: "allow".into(),
            reasons: vec!["tlp-green-community".into()],
            agreement: Some("bilateral".into()),
            profile: None,
            policy: "0123456789abcdef".into(),
        })
    };
    Entry {
        index,
        time: "2026-11-26T19:00:00.000001Z".into(),
        event,
    }
    .to_canonical()
}

struct Log {
    entries: Vec<Vec<u8>>,
    hashes: Vec<Hash>,
    checkpoints: Vec<String>,
    signer: NoteSigner,
}

impl Log {
    fn new(n: u64, every: u64) -> Log {
        let signer = NoteSigner::new("accord.example/node", &[1; 32]).expect("signer");
        let (mut entries, mut tree, mut checkpoints) = (Vec::new(), Tree::new(), Vec::new());
        for i in 0..n {
            let e = entry(i);
            tree.push(leaf_hash(&e));
            entries.push(e);
            if (i + 1) % every == 0 {
                checkpoints.push(signer.sign(&Checkpoint {
                    origin: "accord.example/node".into(),
                    size: i + 1,
                    root: tree.root(),
                }));
            }
        }
        Log {
            hashes: tree.leaves(0..usize::MAX).copied().collect(),
            entries,
            checkpoints,
            signer,
        }
    }

    fn verify(
        &self,
        seen: Option<&Checkpoint>,
    ) -> Result<accord_ledger::Verified, Vec<accord_ledger::Problem>> {
        let entries: Vec<&[u8]> = self.entries.iter().map(Vec::as_slice).collect();
        let key = self.signer.verifier();
        verify_log(&LogInput {
            entries: &entries,
            stored_hashes: Some(&self.hashes),
            checkpoints: &self.checkpoints,
            key: &key,
            origin: "accord.example/node",
            seen,
        })
    }

    fn first_problem(&self) -> Where {
        match self.verify(None) {
            Ok(_) => panic!("tampering was not detected"),
            Err(problems) => problems[0].at.clone(),
        }
    }
}

#[test]
fn entries_are_canonical_json_that_round_trips() {
    let bytes = entry(3);
    let back: Entry = serde_json::from_slice(&bytes).expect("parse");
    assert_eq!(back.to_canonical(), bytes);
    let text = String::from_utf8(bytes).expect("utf-8");
    assert!(
        text.starts_with("{\"action\":\"read\",\"agreement\":\"bilateral\""),
        "{text}"
    );
}

#[test]
fn an_untouched_log_verifies() {
    let log = Log::new(100, 10);
    let ok = log.verify(None).expect("verifies");
    assert_eq!((ok.size, ok.checkpoints, ok.uncovered), (100, 10, 0));
    let seen = ok.latest.expect("latest");
    assert_eq!(seen.size, 100);
    assert!(log.verify(Some(&seen)).is_ok());
}

#[test]
fn each_kind_of_tampering_is_named_at_the_right_place() {
    // A byte flipped anywhere in an entry.
    for at in [0usize, 37, 99] {
        for pos in [0usize, 20, 60] {
            let mut log = Log::new(100, 10);
            let len = log.entries[at].len();
            log.entries[at][pos % len] ^= 0x01;
            assert_eq!(
                log.first_problem(),
                Where::Entry(at as u64),
                "entry {at} byte {pos}"
            );
        }
    }
    // A byte flipped in a stored leaf hash.
    let mut log = Log::new(100, 10);
    log.hashes[63][5] ^= 0x80;
    assert_eq!(log.first_problem(), Where::Entry(63));
    // An entry deleted (from entries and hashes alike).
    let mut log = Log::new(100, 10);
    log.entries.remove(41);
    log.hashes.remove(41);
    assert_eq!(log.first_problem(), Where::Entry(41));
    // Two entries swapped.
    let mut log = Log::new(100, 10);
    log.entries.swap(12, 70);
    log.hashes.swap(12, 70);
    assert_eq!(log.first_problem(), Where::Entry(12));
    // The tail cut off after it was checkpointed.
    let mut log = Log::new(100, 10);
    log.entries.truncate(95);
    log.hashes.truncate(95);
    assert_eq!(log.first_problem(), Where::Entry(95));
    // A checkpoint's signature replaced.
    let mut log = Log::new(100, 10);
    let forged = NoteSigner::new("accord.example/node", &[2; 32]).expect("signer");
    let body = log.checkpoints[4]
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .to_owned()
        + "\n";
    log.checkpoints[4] = forged.sign_text(&body);
    assert_eq!(log.first_problem(), Where::Checkpoint(4));
    // A log rewritten consistently (entry and hash replaced) is caught by the checkpoint.
    let mut log = Log::new(100, 10);
    let mut forged = Entry {
        index: 55,
        time: "2026-11-26T19:00:00.000001Z".into(),
        event: Event::Config(ConfigChange {
            reason: "reload".into(),
            config_sha256: "00".repeat(32),
            policy: "x".into(),
        }),
    };
    log.entries[55] = forged.to_canonical();
    log.hashes[55] = leaf_hash(&log.entries[55]);
    assert_eq!(
        log.first_problem(),
        Where::Entry(50),
        "the checkpoint range 50..60"
    );
    // ... and a rewritten log (even re-signed) is caught by a monitor that saw the old head.
    let honest = Log::new(100, 10)
        .verify(None)
        .expect("ok")
        .latest
        .expect("latest");
    let mut log = Log::new(100, 10);
    forged.index = 55;
    log.entries[55] = forged.to_canonical();
    log.hashes[55] = leaf_hash(&log.entries[55]);
    let tree = Tree::from_leaves(log.hashes.clone().into());
    log.checkpoints = (1..=10)
        .map(|k| {
            log.signer.sign(&Checkpoint {
                origin: "accord.example/node".into(),
                size: k * 10,
                root: tree.root_at(k * 10).expect("root"),
            })
        })
        .collect();
    assert!(log.verify(None).is_ok(), "self-consistent forgery");
    let problems = log.verify(Some(&honest)).expect_err("monitor catches it");
    assert_eq!(problems[0].at, Where::Seen);
}

fn oracle(entry: &Entry) -> Vec<u8> {
    let mut out = Vec::new();
    accord_stix::jcs::write_canonical(&serde_json::to_value(entry).expect("value"), &mut out);
    out
}

fn every_kind(s: &str, n: u64) -> Vec<Event> {
    use accord_ledger::entry::*;
    let o = |x: &str| (!x.is_empty()).then(|| x.to_owned());
    let v = Version {
        id: s.into(),
        version: format!("{s}v"),
        hash: "ab".into(),
    };
    vec![
        Event::Decision(Decision {
            principal: s.into(),
            action: "read".into(),
            purpose: o(s),
            object: format!("x{s}"),
            version: s.into(),
            hash: s.into(),
            effect: "deny".into(),
            reasons: vec![s.into(), String::new()],
            agreement: o(s),
            profile: None,
            policy: s.into(),
        }),
        Event::Decisions(Decisions {
            principal: s.into(),
            action: "read".into(),
            purpose: o(s),
            objects: vec![v.clone(), v.clone()],
            effect: "allow".into(),
            reasons: vec![s.into()],
            agreement: None,
            profile: o(s),
            policy: s.into(),
        }),
        Event::Share(Share {
            principal: s.into(),
            channel: "taxii".into(),
            collection: o(s),
            purpose: None,
            objects: vec![Shared {
                id: s.into(),
                version: s.into(),
                hash: s.into(),
                original: o(s),
                agreement: o(s),
            }],
        }),
        Event::Redaction(Redaction {
            principal: s.into(),
            object: s.into(),
            version: s.into(),
            hash: s.into(),
            released: o(s),
            agreement: None,
            profile: o(s),
            changes: vec![Change {
                path: s.into(),
                category: s.into(),
                transform: s.into(),
            }],
        }),
        Event::Ingest(Ingest {
            principal: s.into(),
            collection: s.into(),
            status: o(s),
            objects: vec![v.clone(), v.clone()],
            failed: n,
        }),
        Event::Deletion(Deletion {
            principal: s.into(),
            collection: s.into(),
            object: s.into(),
            versions: vec![v],
        }),
        Event::Expiry(Expiry {
            collection: s.into(),
            object: s.into(),
            version: s.into(),
            hash: s.into(),
            retention_until: s.into(),
        }),
        Event::Submission(Submission {
            at: s.into(),
            by: s.into(),
            incident: s.into(),
            reference: s.into(),
            regime: s.into(),
            stage: s.into(),
        }),
        Event::Config(ConfigChange {
            reason: s.into(),
            config_sha256: s.into(),
            policy: s.into(),
        }),
        Event::Token(TokenEvent {
            action: s.into(),
            token: s.into(),
            principal: s.into(),
        }),
        Event::Quarantine(Quarantine {
            collection: s.into(),
            hash: s.into(),
            object: s.into(),
            reason: s.into(),
            sender: s.into(),
        }),
    ]
}

proptest! {
    /// The fast serialisation of every kind of entry is exactly its RFC 8785 canonical form, for
    /// any strings (quotes, backslashes, control characters, non-ASCII, key-like text).
    #[test]
    fn entries_serialise_canonically(s in "(\\PC|[\"\\\\\u{0}-\u{1f},:{}\\[\\]])*", index in 0u64..(1 << 53), n in 0u64..(1 << 53)) {
        for event in every_kind(&s, n) {
            let entry = Entry { index, time: format!("2026-11-26T19:00:00.{s}Z"), event };
            let fast = entry.to_canonical();
            let slow = oracle(&entry);
            prop_assert_eq!(String::from_utf8_lossy(&fast), String::from_utf8_lossy(&slow));
            prop_assert!(accord_stix::jcs::is_canonical(&fast));
            let back: Entry = serde_json::from_slice(&fast).expect("parses");
            prop_assert_eq!(&back, &entry);
            // Given another time later (of another length), it is the entry with that time.
            let mut prepared = accord_ledger::entry::Prepared::new("2026-11-26T19:00:00Z", &entry.event);
            prepared.restamp(&entry.time);
            let mut restamped = Vec::new();
            prepared.write(index, &mut restamped);
            prop_assert_eq!(String::from_utf8_lossy(&restamped), String::from_utf8_lossy(&fast));
        }
    }
}
