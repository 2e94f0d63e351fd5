//! The policy decision point. Every disclosure (TAXII read, export, sync push) is decided here,
//! per object version and per recipient, from the sharing model (organisations, principals,
//! agreements, purposes), the object's handling (TLP 1.0/2.0, IEP 2.0, the Accord handling
//! extension) and Cedar policies; deny is the default and every decision carries its reasons.
//! Personal data is minimised on the way out with the agreement's redaction profile.
//!
//! This crate does no I/O: callers pass in configuration text, policy text, and lookups.

pub mod egress;
pub mod engine;
pub mod handling;
pub mod minimise;
pub mod model;

pub use egress::{Disclosure, Outcome, disclose, disclose_with};
pub use engine::{Action, Decision, Effect, Engine, Explanation, PolicyError, Reason, Request, Source};
pub use handling::{HANDLING_EXTENSION_ID, Handling, MarkingSource};
pub use minimise::{Profile, Redaction, Transform};
pub use model::{Model, ModelError, ModelSpec};
