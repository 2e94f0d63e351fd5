//! The policy decision point. Every disclosure (TAXII read, export, sync push) is decided here,
//! per object version and per recipient, from the sharing model (organisations, principals,
//! agreements, purposes), the object's handling (TLP 1.0/2.0, IEP 2.0, the Accord handling
//! extension) and Cedar policies; deny is the default and every decision carries its reasons.
//! Personal data is minimised on the way out with the agreement's redaction profile.
//!
//! This crate does no I/O: callers pass in configuration text, policy text, and lookups.
//!
//! Modules, each using only those listed before it: `profile` (redaction profiles), `sharing`
//! (the sharing model), `handling` (an object's handling), `decision` (requests and decisions),
//! `facts` (what a decision depends on), `cedar` (the policies and the facts in Cedar's terms),
//! `minimise` (personal data found and redacted), `engine` (the decision point), `egress`
//! (decide and redact a batch; its fast path over stored text).

pub mod cedar;
pub mod decision;
pub mod egress;
pub mod engine;
pub mod facts;
pub mod handling;
pub mod minimise;
pub mod profile;
pub mod sharing;

pub use cedar::{PolicyError, Source};
pub use decision::{Action, Decision, Effect, Reason, Request};
pub use egress::{
    Disclosure, Lookups, Outcome, Release, ReleaseError, Stored, Verdict, disclose, disclose_with, release,
};
pub use engine::{Engine, Explanation};
pub use handling::{HANDLING_EXTENSION_ID, HANDLING_MEMBERS, Handling, MarkingSource};
pub use minimise::Redaction;
pub use profile::{Profile, Transform};
pub use sharing::{Model, ModelError, ModelSpec};
