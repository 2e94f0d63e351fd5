//! Batch verification of Ed25519 signatures, with the terms of each distinct key merged.
//!
//! This is the batch equation `ed25519_dalek::verify_batch` checks, written with
//! curve25519-dalek's own point and scalar types: for random 128-bit `z_i`,
//!
//! `(-Σ z_i·s_i)·B + Σ z_i·R_i + Σ_keys (Σ_{i signed by A} z_i·k_i)·A == 0`, `k_i = H(R_i ‖ A ‖ M_i)`.
//!
//! ed25519-dalek adds one point per signature for its key; an envelope from a partner is almost
//! all signed by one key, so summing the coefficients per key first leaves the multiscalar
//! multiplication with about half the points (a third less time per signature measured here).
//! A forged signature passes with probability about 2^-128; any failure (including a point that
//! does not decompress or a non-canonical `s`) makes the whole batch fail, and the caller then
//! checks each signature alone.

use std::collections::HashMap;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha512};

/// Whether every `signatures[i]` is a valid signature of `messages[i]` by `keys[i]`. Slices of
/// different lengths, or no way to draw random numbers, count as failure.
pub(crate) fn verify_batch(messages: &[&[u8]], signatures: &[Signature], keys: &[VerifyingKey]) -> bool {
    let n = signatures.len();
    if messages.len() != n || keys.len() != n {
        return false;
    }
    let mut random = vec![0u8; 16 * n];
    if getrandom::fill(&mut random).is_err() {
        return false;
    }
    // Points: the base point, one per distinct key, then every R.
    let mut scalars = vec![Scalar::ZERO];
    let mut points = vec![Some(ED25519_BASEPOINT_POINT)];
    let mut key_slot: HashMap<[u8; 32], usize> = HashMap::new();
    let mut rs = Vec::with_capacity(n);
    let mut zs = Vec::with_capacity(n);
    for (((message, signature), key), z) in messages
        .iter()
        .zip(signatures)
        .zip(keys)
        .zip(random.chunks_exact(16))
    {
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*signature.s_bytes())) else {
            return false;
        };
        let mut z_bytes = [0u8; 32];
        z_bytes[..16].copy_from_slice(z);
        let z = Scalar::from_bytes_mod_order(z_bytes);
        let k = Scalar::from_bytes_mod_order_wide(
            &Sha512::new()
                .chain_update(signature.r_bytes())
                .chain_update(key.as_bytes())
                .chain_update(message)
                .finalize()
                .into(),
        );
        let slot = *key_slot.entry(key.to_bytes()).or_insert_with(|| {
            scalars.push(Scalar::ZERO);
            points.push(Some(key.to_edwards()));
            points.len() - 1
        });
        scalars[0] -= z * s;
        scalars[slot] += z * k;
        rs.push(CompressedEdwardsY(*signature.r_bytes()).decompress());
        zs.push(z);
    }
    scalars.extend(zs);
    points.extend(rs);
    EdwardsPoint::optional_multiscalar_mul(scalars, points).is_some_and(|sum: EdwardsPoint| sum.is_identity())
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};
    use proptest::prelude::*;

    use super::*;

    fn keys() -> Vec<SigningKey> {
        (1..=3u8).map(|i| SigningKey::from_bytes(&[i; 32])).collect()
    }

    /// `n` messages signed by keys chosen by `who`.
    fn batch(n: usize, who: &[u8]) -> (Vec<Vec<u8>>, Vec<Signature>, Vec<VerifyingKey>) {
        let signers = keys();
        let messages: Vec<Vec<u8>> = (0..n).map(|i| format!("{{\"n\":{i}}}").into_bytes()).collect();
        let chosen: Vec<&SigningKey> = (0..n)
            .map(|i| &signers[usize::from(who[i % who.len()]) % 3])
            .collect();
        let signatures = messages.iter().zip(&chosen).map(|(m, k)| k.sign(m)).collect();
        (
            messages,
            signatures,
            chosen.iter().map(|k| k.verifying_key()).collect(),
        )
    }

    fn check(messages: &[Vec<u8>], signatures: &[Signature], keys: &[VerifyingKey]) -> bool {
        let slices: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        verify_batch(&slices, signatures, keys)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Valid signatures by any mix of keys pass together.
        #[test]
        fn valid_batches_pass(n in 1usize..40, who in proptest::collection::vec(0u8..3, 1..5)) {
            let (m, s, k) = batch(n, &who);
            prop_assert!(check(&m, &s, &k));
        }

        /// One changed bit anywhere (message, R, s, or a signature credited to another key)
        /// fails the batch, as checking that signature alone does.
        #[test]
        fn one_change_fails(
            n in 1usize..40,
            who in proptest::collection::vec(0u8..3, 1..5),
            at in any::<prop::sample::Index>(),
            bit in 0usize..8,
            what in 0u8..4,
        ) {
            let (mut m, mut s, mut k) = batch(n, &who);
            let i = at.index(n);
            match what {
                0 => { let b = at.index(m[i].len()); m[i][b] ^= 1 << bit; }
                1 | 2 => {
                    let mut bytes = s[i].to_bytes();
                    bytes[at.index(32) + if what == 1 { 0 } else { 32 }] ^= 1 << bit;
                    s[i] = Signature::from_bytes(&bytes);
                }
                _ => k[i] = keys()[(usize::from(who[i % who.len()]) + 1) % 3].verifying_key(),
            }
            prop_assert!(k[i].verify_strict(&m[i], &s[i]).is_err());
            prop_assert!(!check(&m, &s, &k));
        }
    }

    #[test]
    fn lengths_must_agree_and_empty_passes() {
        let (m, s, k) = batch(3, &[0]);
        assert!(!check(&m[..2], &s, &k));
        assert!(!check(&m, &s[..2], &k));
        assert!(check(&[], &[], &[]));
    }
}
