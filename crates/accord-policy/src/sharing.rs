//! The sharing model declared in the node configuration: organisations, principals, purposes,
//! sharing agreements and redaction profiles, checked for consistency before it takes effect.
//! It depends on no other module of this crate but `profile`: everything else reads it.

use std::collections::{BTreeSet, HashMap};

use accord_stix::Timestamp;
use accord_stix::markings::{PermittedActions, TlpLevel};
use serde::{Deserialize, Serialize};

use crate::profile::{Profile, builtin_profiles};

/// A problem in the model, naming the section, the entry and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{section}[{index}] {name:?}: {message}")]
pub struct ModelError {
    /// The configuration section (`organisations`, `agreements`, …).
    pub section: &'static str,
    /// The entry's position in its section (0-based), so the caller can point at its line.
    pub index: usize,
    pub name: String,
    pub message: String,
}

/// An organisation's role in the community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Csirt,
    Isac,
    Operator,
    Regulator,
    Oversight,
    LawEnforcement,
    Vendor,
    /// Publishes what it receives (a public advisory feed): only TLP:CLEAR may reach it.
    Public,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Csirt => "csirt",
            Role::Isac => "isac",
            Role::Operator => "operator",
            Role::Regulator => "regulator",
            Role::Oversight => "oversight",
            Role::LawEnforcement => "law-enforcement",
            Role::Vendor => "vendor",
            Role::Public => "public",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub jurisdiction: String,
    #[serde(default)]
    pub sectors: Vec<String>,
    pub role: Role,
    /// Organisations this one serves (TLP:AMBER may reach them on need-to-know).
    #[serde(default)]
    pub clients: Vec<String>,
    /// The STIX `identity` id this organisation signs its objects with (`created_by_ref`).
    pub identity: Option<String>,
}

/// What a principal may declare it uses data for, and what that does in IEP terms.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Purpose {
    pub name: String,
    /// The IEP 2.0 `permitted_actions` level this purpose needs.
    pub iep_action: String,
    /// Whether the purpose notifies affected parties (bounded by IEP `affected_party_notifications`).
    #[serde(default)]
    pub notifies_affected_parties: bool,
}

/// What a principal may do with data received under an agreement once it leaves this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Onward {
    /// Onward sharing follows the TLP marking.
    #[default]
    Tlp,
    /// Objects originated by the parties may not leave the receiving organisation.
    None,
}

impl Onward {
    pub fn as_str(self) -> &'static str {
        match self {
            Onward::Tlp => "tlp",
            Onward::None => "none",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Agreement {
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    /// Organisation ids. This node's organisation must be one of them.
    pub parties: Vec<String>,
    /// TLP levels that may flow under the agreement.
    pub tlp: Vec<String>,
    /// Purposes the recipients may use the data for.
    pub purposes: Vec<String>,
    /// Legal bases for transfers of personal data (e.g. "gdpr-6-1-e", "nis2-art-29").
    #[serde(default)]
    pub legal_bases: Vec<String>,
    /// Personal-data categories that may be included.
    #[serde(default)]
    pub data_categories: Vec<String>,
    /// Redaction profile applied to what leaves under this agreement.
    pub redaction_profile: String,
    /// Longest the recipient may keep the data, in days (stated in decisions for the recipient).
    #[serde(default)]
    pub max_retention_days: Option<u32>,
    #[serde(default)]
    pub onward_sharing: Onward,
    /// RFC 3339 instants; the agreement is in force from `valid_from` until before `valid_until`.
    #[serde(default)]
    pub valid_from: Option<String>,
    #[serde(default)]
    pub valid_until: Option<String>,
}

/// Policy settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// TLP for objects that carry none. AMBER out of the box: unmarked data stays with this
    /// organisation and its clients until someone marks it.
    pub default_tlp: String,
    /// Redaction profile for disclosures outside this organisation that rely on no agreement
    /// (TLP:CLEAR to anyone, TLP:AMBER to clients).
    pub default_redaction_profile: String,
    /// Purpose of principals that declare no purposes (and no `default_purpose`).
    pub default_purpose: String,
    /// Files of operator Cedar policies (relative to the data directory), added to the shipped ones.
    pub policy_files: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            default_tlp: "amber".into(),
            default_redaction_profile: "strict".into(),
            default_purpose: "situational-awareness".into(),
            policy_files: Vec::new(),
        }
    }
}

/// A principal as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PrincipalSpec {
    pub name: String,
    pub organisation: String,
    #[serde(default)]
    pub roles: Vec<String>,
    /// Purposes this principal may declare; empty means its default purpose only.
    #[serde(default)]
    pub purposes: Vec<String>,
    /// The purpose of its requests that declare none. Required when it may declare several
    /// purposes; with exactly one, that one; with none, `policy.default_purpose`.
    #[serde(default)]
    pub default_purpose: Option<String>,
}

/// A category of personal data, as agreements and the handling extension name it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataCategory {
    pub name: String,
    /// What it covers (shown to operators; the policy matches names only).
    #[serde(default)]
    pub description: String,
}

/// The personal-data categories Accord knows; an operator's `[[data_categories]]` add to them.
/// The special categories of GDPR Art. 9 and Art. 10 are named as the articles name them.
pub const BUILTIN_DATA_CATEGORIES: [(&str, &str); 20] = [
    ("email", "e-mail addresses of natural persons"),
    ("phone", "telephone numbers"),
    ("name", "names of natural persons"),
    ("contact", "postal addresses and other contact details"),
    ("user-account", "account names, user ids and credentials"),
    (
        "network-identifier",
        "IP and MAC addresses, host names and other identifiers of a person's device or connection",
    ),
    (
        "online-identifier",
        "cookie, device and advertising identifiers; URLs carrying user information",
    ),
    ("location", "location data"),
    ("victim", "that a named person or organisation was affected"),
    ("financial", "payment card and bank account data"),
    (
        "government-identifier",
        "national identity, passport, tax and social security numbers",
    ),
    ("health", "data concerning health (GDPR Art. 9)"),
    ("genetic", "genetic data (GDPR Art. 9)"),
    (
        "biometric",
        "biometric data used to identify a person (GDPR Art. 9)",
    ),
    ("racial-or-ethnic-origin", "racial or ethnic origin (GDPR Art. 9)"),
    ("political-opinions", "political opinions (GDPR Art. 9)"),
    (
        "religious-or-philosophical-beliefs",
        "religious or philosophical beliefs (GDPR Art. 9)",
    ),
    ("trade-union-membership", "trade union membership (GDPR Art. 9)"),
    (
        "sex-life-or-sexual-orientation",
        "sex life or sexual orientation (GDPR Art. 9)",
    ),
    (
        "criminal-offences",
        "criminal convictions and offences (GDPR Art. 10)",
    ),
];

/// Everything the model is built from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSpec {
    pub node_organisation: String,
    pub organisations: Vec<Organisation>,
    pub purposes: Vec<Purpose>,
    /// Personal-data categories beyond [`BUILTIN_DATA_CATEGORIES`].
    pub data_categories: Vec<DataCategory>,
    pub agreements: Vec<Agreement>,
    pub profiles: Vec<Profile>,
    pub settings: Settings,
    pub principals: Vec<PrincipalSpec>,
}

/// The purposes Accord knows when the configuration declares none.
pub fn default_purposes() -> Vec<Purpose> {
    let p = |name: &str, action: &str, notifies: bool| Purpose {
        name: name.into(),
        iep_action: action.into(),
        notifies_affected_parties: notifies,
    };
    vec![
        p("situational-awareness", "none", false),
        p("detection", "internally-visible-actions", false),
        p("incident-response", "internally-visible-actions", false),
        p("research", "internally-visible-actions", false),
        p("victim-notification", "externally-visible-indirect-actions", true),
        p("law-enforcement", "externally-visible-indirect-actions", false),
        p("blocking", "externally-visible-direct-actions", false),
    ]
}

/// The rank of an IEP `permitted_actions` value (0 none … 4 externally-visible-direct-actions).
pub fn action_rank(action: PermittedActions) -> i64 {
    match action {
        PermittedActions::None => 0,
        PermittedActions::ContactForInstruction => 1,
        PermittedActions::InternallyVisibleActions => 2,
        PermittedActions::ExternallyVisibleIndirectActions => 3,
        PermittedActions::ExternallyVisibleDirectActions => 4,
    }
}

/// Parses a TLP level name as written in configuration and the Cedar facts.
pub fn parse_tlp(s: &str) -> Option<TlpLevel> {
    Some(match s {
        "clear" | "white" => TlpLevel::Clear,
        "green" => TlpLevel::Green,
        "amber" => TlpLevel::Amber,
        "amber+strict" => TlpLevel::AmberStrict,
        "red" => TlpLevel::Red,
        _ => return None,
    })
}

/// The principal that stands for the node's own operator (e.g. `accord export`).
pub const NODE_PRINCIPAL: &str = "@node";

/// The checked model.
#[derive(Debug, Clone)]
pub struct Model {
    pub node_organisation: String,
    pub organisations: HashMap<String, Organisation>,
    pub purposes: HashMap<String, Purpose>,
    /// The personal-data categories agreements and objects may name.
    pub data_categories: BTreeSet<String>,
    pub agreements: Vec<AgreementInForce>,
    pub profiles: HashMap<String, Profile>,
    pub settings: Settings,
    pub default_tlp: TlpLevel,
    pub principals: HashMap<String, PrincipalSpec>,
    /// STIX identity id → organisation id.
    pub identities: HashMap<String, String>,
}

/// An agreement with its validity parsed.
#[derive(Debug, Clone)]
pub struct AgreementInForce {
    pub agreement: Agreement,
    pub from: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub tlp: BTreeSet<TlpLevel>,
}

impl AgreementInForce {
    pub fn in_force(&self, now: Timestamp) -> bool {
        self.from.is_none_or(|f| f <= now) && self.until.is_none_or(|u| now < u)
    }
    pub fn binds(&self, a: &str, b: &str) -> bool {
        let parties = &self.agreement.parties;
        parties.iter().any(|p| p == a) && parties.iter().any(|p| p == b)
    }
}

fn is_jurisdiction(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())
}

impl Model {
    /// Checks every reference and value; the first problem is returned.
    pub fn build(spec: ModelSpec) -> Result<Model, ModelError> {
        let err = |section: &'static str, index: usize, name: &str, message: String| ModelError {
            section,
            index,
            name: name.to_owned(),
            message,
        };
        let mut organisations = HashMap::new();
        let mut identities = HashMap::new();
        for (i, o) in spec.organisations.iter().enumerate() {
            if !is_jurisdiction(&o.jurisdiction) {
                return Err(err(
                    "organisations",
                    i,
                    &o.id,
                    format!(
                        "jurisdiction {:?} is not an ISO 3166-1 alpha-2 code (two capital letters)",
                        o.jurisdiction
                    ),
                ));
            }
            if let Some(identity) = &o.identity {
                match accord_stix::id::parse_identifier(identity) {
                    Ok(id) if id.type_name == "identity" => {}
                    _ => {
                        return Err(err(
                            "organisations",
                            i,
                            &o.id,
                            format!("identity {identity:?} is not an identity--<uuid> id"),
                        ));
                    }
                }
                if identities.insert(identity.clone(), o.id.clone()).is_some() {
                    return Err(err(
                        "organisations",
                        i,
                        &o.id,
                        format!("identity {identity:?} is used twice"),
                    ));
                }
            }
            if organisations.insert(o.id.clone(), o.clone()).is_some() {
                return Err(err("organisations", i, &o.id, "is declared twice".into()));
            }
        }
        for (i, o) in spec.organisations.iter().enumerate() {
            if let Some(c) = o.clients.iter().find(|c| !organisations.contains_key(*c)) {
                return Err(err(
                    "organisations",
                    i,
                    &o.id,
                    format!("unknown client organisation {c:?}"),
                ));
            }
        }
        if !organisations.contains_key(&spec.node_organisation) {
            return Err(err(
                "node",
                0,
                "organisation",
                format!(
                    "node.organisation {:?} is not declared in [[organisations]]",
                    spec.node_organisation
                ),
            ));
        }

        let declared = if spec.purposes.is_empty() {
            default_purposes()
        } else {
            spec.purposes.clone()
        };
        let mut purposes = HashMap::new();
        for (i, p) in declared.into_iter().enumerate() {
            if PermittedActions::parse(&p.iep_action).is_none() {
                return Err(err(
                    "purposes",
                    i,
                    &p.name,
                    format!(
                        "iep_action {:?} is not one of {}",
                        p.iep_action,
                        PermittedActions::VALUES.join(", ")
                    ),
                ));
            }
            let name = p.name.clone();
            if purposes.insert(name.clone(), p).is_some() {
                return Err(err("purposes", i, &name, "is declared twice".into()));
            }
        }

        let mut data_categories: BTreeSet<String> = BUILTIN_DATA_CATEGORIES
            .iter()
            .map(|(n, _)| (*n).to_owned())
            .collect();
        for (i, c) in spec.data_categories.iter().enumerate() {
            if c.name.is_empty() {
                return Err(err(
                    "data_categories",
                    i,
                    &c.name,
                    "name must not be empty".into(),
                ));
            }
            if !data_categories.insert(c.name.clone()) {
                return Err(err(
                    "data_categories",
                    i,
                    &c.name,
                    "is already a category (built in or declared above)".into(),
                ));
            }
        }

        let mut profiles = HashMap::new();
        for (name, p) in builtin_profiles() {
            profiles.insert(name, p);
        }
        for (i, p) in spec.profiles.iter().enumerate() {
            p.check().map_err(|m| err("redaction_profiles", i, &p.name, m))?;
            profiles.insert(p.name.clone(), p.clone());
        }

        let settings = spec.settings.clone();
        let default_tlp = parse_tlp(&settings.default_tlp).ok_or_else(|| {
            err(
                "policy",
                0,
                "default_tlp",
                format!("{:?} is not a TLP level", settings.default_tlp),
            )
        })?;
        if !profiles.contains_key(&settings.default_redaction_profile) {
            return Err(err(
                "policy",
                0,
                "default_redaction_profile",
                format!(
                    "unknown redaction profile {:?}",
                    settings.default_redaction_profile
                ),
            ));
        }
        if !purposes.contains_key(&settings.default_purpose) {
            return Err(err(
                "policy",
                0,
                "default_purpose",
                format!("unknown purpose {:?}", settings.default_purpose),
            ));
        }

        let mut agreements = Vec::new();
        let mut ids = BTreeSet::new();
        for (i, a) in spec.agreements.iter().enumerate() {
            let fail = |m: String| err("agreements", i, &a.id, m);
            if !ids.insert(a.id.as_str()) {
                return Err(fail("is declared twice".into()));
            }
            if let Some(p) = a.parties.iter().find(|p| !organisations.contains_key(*p)) {
                return Err(fail(format!("unknown party {p:?}")));
            }
            if !a.parties.contains(&spec.node_organisation) {
                return Err(fail(format!(
                    "this node's organisation {:?} is not a party",
                    spec.node_organisation
                )));
            }
            if a.parties.len() < 2 {
                return Err(fail("needs at least two parties".into()));
            }
            let mut tlp = BTreeSet::new();
            for t in &a.tlp {
                tlp.insert(parse_tlp(t).ok_or_else(|| fail(format!("{t:?} is not a TLP level")))?);
            }
            if let Some(p) = a.purposes.iter().find(|p| !purposes.contains_key(*p)) {
                return Err(fail(format!("unknown purpose {p:?}")));
            }
            // A misspelt category would silently deny every object carrying the real one.
            if let Some(c) = a.data_categories.iter().find(|c| !data_categories.contains(*c)) {
                return Err(fail(format!(
                    "unknown personal-data category {c:?} in data_categories (declare it in [[data_categories]], or use one of: {})",
                    data_categories
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            if !profiles.contains_key(&a.redaction_profile) {
                return Err(fail(format!(
                    "unknown redaction profile {:?}",
                    a.redaction_profile
                )));
            }
            let instant = |field: &str, v: &Option<String>| -> Result<Option<Timestamp>, ModelError> {
                v.as_deref()
                    .map(|s| Timestamp::parse(s).map_err(|e| fail(format!("{field} {s:?}: {e}"))))
                    .transpose()
            };
            let from = instant("valid_from", &a.valid_from)?;
            let until = instant("valid_until", &a.valid_until)?;
            if let (Some(f), Some(u)) = (from, until)
                && u <= f
            {
                return Err(fail("valid_until is not after valid_from".into()));
            }
            agreements.push(AgreementInForce {
                agreement: a.clone(),
                from,
                until,
                tlp,
            });
        }

        let mut principals = HashMap::new();
        for (i, p) in spec.principals.iter().enumerate() {
            if !organisations.contains_key(&p.organisation) {
                return Err(err(
                    "principals",
                    i,
                    &p.name,
                    format!("unknown organisation {:?}", p.organisation),
                ));
            }
            if let Some(x) = p.purposes.iter().find(|x| !purposes.contains_key(*x)) {
                return Err(err("principals", i, &p.name, format!("unknown purpose {x:?}")));
            }
            let mut p = p.clone();
            // The purpose of requests that declare none is never guessed from the list's order.
            match (&p.default_purpose, p.purposes.as_slice()) {
                (Some(d), []) if !purposes.contains_key(d) => {
                    return Err(err(
                        "principals",
                        i,
                        &p.name,
                        format!("unknown default_purpose {d:?}"),
                    ));
                }
                (Some(d), []) => p.purposes = vec![d.clone()],
                (Some(d), list) if !list.contains(d) => {
                    return Err(err(
                        "principals",
                        i,
                        &p.name,
                        format!("default_purpose {d:?} is not one of its purposes {list:?}"),
                    ));
                }
                (Some(_), _) => {}
                (None, []) => {}
                (None, [only]) => p.default_purpose = Some(only.clone()),
                (None, list) => {
                    return Err(err(
                        "principals",
                        i,
                        &p.name,
                        format!(
                            "may declare several purposes {list:?} but names no default_purpose for requests that declare none; set default_purpose to one of them"
                        ),
                    ));
                }
            }
            principals.insert(p.name.clone(), p);
        }

        // The node itself (exports run by its operator): its organisation, every purpose.
        principals.insert(
            NODE_PRINCIPAL.to_owned(),
            PrincipalSpec {
                name: NODE_PRINCIPAL.to_owned(),
                organisation: spec.node_organisation.clone(),
                roles: vec!["node".into()],
                purposes: {
                    let mut all: Vec<String> = purposes.keys().cloned().collect();
                    all.sort();
                    all
                },
                default_purpose: Some(settings.default_purpose.clone()),
            },
        );
        Ok(Model {
            node_organisation: spec.node_organisation,
            organisations,
            purposes,
            data_categories,
            agreements,
            profiles,
            settings,
            default_tlp,
            principals,
            identities,
        })
    }

    pub fn node_org(&self) -> &Organisation {
        // `build` checked that the node's organisation is declared.
        &self.organisations[&self.node_organisation]
    }

    /// The purposes a principal may declare.
    pub fn principal_purposes(&self, p: &PrincipalSpec) -> Vec<String> {
        if p.purposes.is_empty() {
            vec![self.settings.default_purpose.clone()]
        } else {
            p.purposes.clone()
        }
    }

    /// The purpose of a principal's requests that declare none: its `default_purpose` (set by
    /// `build` when it may declare exactly one), else `policy.default_purpose`.
    pub fn default_purpose<'a>(&'a self, p: &'a PrincipalSpec) -> &'a str {
        p.default_purpose
            .as_deref()
            .unwrap_or(&self.settings.default_purpose)
    }

    /// The personal-data categories `object`'s handling extension names that are not in the
    /// vocabulary (for a warning: no agreement can permit them, so partners are denied it).
    pub fn unknown_data_categories(
        &self,
        object: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<String> {
        object
            .get("extensions")
            .and_then(|e| e.get(accord_stix::handling::HANDLING_EXTENSION_ID))
            .and_then(|h| h.get("personal_data_categories"))
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(serde_json::Value::as_str)
            .filter(|c| !self.data_categories.contains(*c))
            .map(str::to_owned)
            .collect()
    }

    /// How the recipient organisation stands to this node's organisation.
    pub fn relation(&self, recipient: &str, now: Timestamp) -> Relation {
        self.relation_bound(
            recipient,
            self.agreements_between(recipient, now).next().is_some(),
        )
    }

    /// [`Model::relation`], given whether an agreement binding both is in force.
    pub fn relation_bound(&self, recipient: &str, bound: bool) -> Relation {
        if recipient == self.node_organisation {
            Relation::Own
        } else if self.node_org().clients.iter().any(|c| c == recipient) {
            Relation::Client
        } else if bound {
            Relation::Community
        } else {
            Relation::Other
        }
    }

    /// Whether an agreement in force with `originator` forbids onward sharing of its objects.
    pub fn restricts_onward(&self, originator: &str, now: Timestamp) -> bool {
        self.agreements.iter().any(|a| {
            a.agreement.onward_sharing == Onward::None
                && a.in_force(now)
                && a.binds(&self.node_organisation, originator)
        })
    }

    /// Agreements in force between this node's organisation and `recipient` (none when the
    /// recipient is this organisation).
    pub fn agreements_between<'a>(
        &'a self,
        recipient: &'a str,
        now: Timestamp,
    ) -> impl Iterator<Item = &'a AgreementInForce> + 'a {
        self.agreements.iter().filter(move |a| {
            recipient != self.node_organisation
                && a.in_force(now)
                && a.binds(&self.node_organisation, recipient)
        })
    }
}

/// The recipient's relation to this node's organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    #[serde(rename = "self")]
    Own,
    Client,
    Community,
    Other,
}

impl Relation {
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Own => "self",
            Relation::Client => "client",
            Relation::Community => "community",
            Relation::Other => "other",
        }
    }
}
