//! The facts a decision depends on, derived in plain Rust, without Cedar: the object's handling
//! class (`ObjectFacts`), what is asked (`Case`, the memo key), and everything one evaluation
//! sees of the recipient, the purpose and the agreements in force (`DisclosureFacts`). The Cedar
//! side (`cedar.rs`) only translates these into entities and a context.

use std::collections::BTreeSet;

use accord_stix::Timestamp;
use accord_stix::markings::{PermittedActions, TlpLevel};
use serde::Serialize;

use crate::decision::Action;
use crate::handling::{Handling, IepTerms};
use crate::sharing::{
    AgreementInForce, Model, Organisation, PrincipalSpec, Purpose, Relation, Role, action_rank,
};

/// The facts Cedar sees about an object (or one marked part of it): the handling class.
/// Everything that can change a decision is in here, and nothing else, so decisions can be
/// memoised by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ObjectFacts {
    /// Only when an operator policy reads `resource.stix_type` (the shipped ones do not), so
    /// that types do not multiply the classes to evaluate.
    pub stix_type: Option<String>,
    /// `None` for a part whose marking this node does not know.
    pub tlp: Option<TlpLevel>,
    pub tlp_defaulted: bool,
    pub originated_here: bool,
    /// The originator, only when an agreement with it forbids onward sharing.
    pub restricted_originator: Option<String>,
    pub iep: Option<IepTerms>,
    pub legal_basis: Option<String>,
    pub data_categories: BTreeSet<String>,
    /// Declared, else the originator's.
    pub origin_jurisdiction: Option<String>,
    pub unknown_marking: bool,
    pub expired: bool,
    pub named_recipient: bool,
}

impl ObjectFacts {
    /// The facts of a whole object for `principal` at `now`. `with_type` keeps the STIX type
    /// (only when a policy reads it).
    pub fn of(
        handling: &Handling,
        model: &Model,
        principal: &PrincipalSpec,
        now: Timestamp,
        with_type: bool,
    ) -> ObjectFacts {
        ObjectFacts {
            stix_type: with_type.then(|| handling.stix_type.clone()),
            tlp: Some(handling.tlp),
            tlp_defaulted: handling.tlp_defaulted,
            originated_here: handling.originated_here,
            restricted_originator: handling
                .originator
                .as_ref()
                .filter(|o| model.restricts_onward(o, now))
                .cloned(),
            iep: handling.iep.clone(),
            legal_basis: handling.declared.legal_basis.clone(),
            data_categories: handling.declared.personal_data_categories.clone(),
            origin_jurisdiction: handling.declared.origin_jurisdiction.clone().or_else(|| {
                let o = handling.originator.as_ref()?;
                Some(model.organisations.get(o)?.jurisdiction.clone())
            }),
            unknown_marking: !handling.unknown_markings.is_empty(),
            expired: handling.expired(now),
            named_recipient: handling
                .declared
                .recipients
                .iter()
                .any(|r| r == &principal.name || r == &principal.organisation),
        }
    }

    /// The same facts for a granularly marked part at `level` (`None`: a marking this node
    /// does not know, which the policies deny).
    pub fn part(&self, level: Option<TlpLevel>) -> ObjectFacts {
        ObjectFacts {
            tlp: level,
            unknown_marking: level.is_none(),
            ..self.clone()
        }
    }
}

/// Positions (in the model) of the agreements in force at `now` between this node's
/// organisation and `organisation`. None for this node's organisation itself: its own principals
/// rely on no agreement (every agreement names it, but none is between it and itself).
pub fn agreements_in_force(model: &Model, organisation: &str, now: Timestamp) -> Vec<usize> {
    if organisation == model.node_organisation {
        return Vec::new();
    }
    model
        .agreements
        .iter()
        .enumerate()
        .filter(|(_, a)| a.in_force(now) && a.binds(&model.node_organisation, organisation))
        .map(|(i, _)| i)
        .collect()
}

/// One question for the policies: who, doing what, for which purpose, over which channel,
/// under which agreements, about which handling class. The engine memoises answers by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Case {
    pub principal: String,
    pub action: Action,
    pub purpose: String,
    pub encrypted: bool,
    /// The agreements in force for this recipient ([`agreements_in_force`]; they change with time).
    pub agreements: Vec<usize>,
    pub object: ObjectFacts,
}

/// Everything one evaluation sees, but which of the agreements is tried: plain values.
#[derive(Debug, Clone)]
pub struct DisclosureFacts<'a> {
    pub action: Action,
    pub principal: &'a PrincipalSpec,
    /// The purposes the principal may declare.
    pub principal_purposes: Vec<String>,
    pub organisation: &'a Organisation,
    pub relation: Relation,
    /// The recipient publishes what it receives (role `public`).
    pub public_recipient: bool,
    pub purpose: &'a Purpose,
    /// The IEP `permitted_actions` rank the purpose needs.
    pub purpose_action: i64,
    /// The recipient's jurisdiction differs from this node's or from the data's.
    pub cross_border: bool,
    /// The originator's agreement forbids onward sharing to this recipient.
    pub onward_blocked: bool,
    pub encrypted: bool,
    /// The agreements in force, in configuration order; each is tried in turn.
    pub agreements: Vec<&'a AgreementInForce>,
    pub object: &'a ObjectFacts,
}

impl<'a> DisclosureFacts<'a> {
    /// The facts of `case`. `None` when the case names a principal, organisation, purpose or
    /// agreement the model does not hold (the engine denies it).
    // INVARIANT: a function of the model and the case alone (no clock, no store, no lookups):
    // decisions depend only on their facts, which is what makes memoising them by case sound.
    pub fn derive(model: &'a Model, case: &'a Case) -> Option<DisclosureFacts<'a>> {
        let principal = model.principals.get(&case.principal)?;
        let org = model.organisations.get(&principal.organisation)?;
        let purpose = model.purposes.get(&case.purpose)?;
        let agreements = case
            .agreements
            .iter()
            .map(|&i| model.agreements.get(i))
            .collect::<Option<Vec<_>>>()?;
        let relation = model.relation_bound(&org.id, !agreements.is_empty());
        let f = &case.object;
        let node_j = &model.node_org().jurisdiction;
        // Reading what this organisation holds, in house, transfers nothing.
        let cross_border = relation != Relation::Own
            && (org.jurisdiction != *node_j
                || f.origin_jurisdiction
                    .as_ref()
                    .is_some_and(|o| *o != org.jurisdiction));
        // Objects from a party whose agreement says onward sharing "none" stay in this
        // organisation (the originator itself may have them back).
        let onward_blocked = relation != Relation::Own
            && !f.originated_here
            && f.restricted_originator.as_ref().is_some_and(|o| o != &org.id);
        Some(DisclosureFacts {
            action: case.action,
            principal,
            principal_purposes: model.principal_purposes(principal),
            organisation: org,
            relation,
            public_recipient: org.role == Role::Public,
            purpose,
            purpose_action: PermittedActions::parse(&purpose.iep_action).map_or(4, action_rank),
            cross_border,
            onward_blocked,
            encrypted: case.encrypted,
            agreements,
            object: f,
        })
    }
}
