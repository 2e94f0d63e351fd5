//! The transparency log's pure core: RFC 9162 Merkle hashing and proofs, C2SP signed
//! checkpoints, the ledger entry format, and verification of a whole log against signed
//! checkpoints. No I/O: where the log is stored is the business of `accord-ledger-files`.

pub mod chunked;
pub mod entry;
pub mod merkle;
pub mod note;
pub mod verify;

pub use chunked::ChunkedVec;
pub use entry::{Entry, Event};
pub use merkle::{
    Hash, Leaves, ProofError, Tree, leaf_hash, node_hash, verify_consistency, verify_inclusion,
};
pub use note::{Checkpoint, NoteError, NoteSigner, VerifierKey};
pub use verify::{Checker, Problem, Signed, Verified, verify_log};
