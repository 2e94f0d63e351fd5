//! The vocabulary of a decision: what is asked (`Request`, `Action`) and what is answered
//! (`Decision`, `Effect`, `Reason`), shared by the facts, the Cedar side, the engine and egress.

use std::sync::Arc;

use accord_stix::Timestamp;
use accord_stix::markings::TlpLevel;
use serde::Serialize;

/// What is being done with the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// A principal reads it (TAXII GET, UI).
    Read,
    /// It is written out of the node (`accord export`).
    Export,
    /// It is sent to a partner node (sync push).
    Push,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Export => "export",
            Action::Push => "push",
        }
    }
}

/// One disclosure to decide.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub principal: &'a str,
    pub action: Action,
    /// `None` uses the configured default purpose.
    pub purpose: Option<&'a str>,
    /// Whether the channel is encrypted (TLS).
    pub encrypted: bool,
    pub now: Timestamp,
    /// TLP of unmarked objects where they are read from (a collection of public data may be
    /// CLEAR); `None` uses the configured default.
    pub default_tlp: Option<TlpLevel>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    Allow,
    AllowWithRedaction,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::AllowWithRedaction => "allow-with-redaction",
            Effect::Deny => "deny",
        }
    }
}

/// A policy (or built-in rule) that produced a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub policy: String,
    pub text: String,
}

/// What `decide` returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub effect: Effect,
    /// Shared with the memoised class decision (cloning a decision is cheap).
    pub reasons: Arc<Vec<Reason>>,
    /// The agreement the disclosure relies on.
    pub agreement: Option<String>,
    /// The redaction profile to apply to personal data (none inside this organisation).
    pub profile: Option<String>,
    /// Granularly marked parts the recipient may not see.
    pub redact_parts: Vec<PartRedaction>,
    /// IEP `provider_attribution: must-not`: remove the producer's identity.
    pub strip_attribution: bool,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartRedaction {
    pub selectors: Vec<String>,
    pub reason: String,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.effect != Effect::Deny
    }

    /// Whether egress leaves the object as it is: nothing to remove, strip or minimise. Such a
    /// version can be released without reading more of it than its handling.
    pub fn leaves_unchanged(&self) -> bool {
        self.profile.is_none() && self.redact_parts.is_empty() && !self.strip_attribution
    }

    pub(crate) fn deny(policy: &str, text: String) -> Decision {
        Decision {
            effect: Effect::Deny,
            reasons: Arc::new(vec![Reason {
                policy: policy.into(),
                text,
            }]),
            agreement: None,
            profile: None,
            redact_parts: Vec::new(),
            strip_attribution: false,
            warnings: Vec::new(),
        }
    }
}
