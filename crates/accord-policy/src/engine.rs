//! The policy decision point: `decide(principal, object version, purpose)` evaluated in Cedar
//! over the facts of the model and the object's handling, deny by default, with reasons, and
//! memoised by (principal, handling class).

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Mutex};

use accord_stix::Timestamp;
use accord_stix::markings::{PermittedActions, TlpLevel};
use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Policy, PolicyId, PolicySet,
    Request as CedarRequest, RestrictedExpression, Schema, ValidationMode, Validator,
};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::handling::{Handling, MarkingSource};
use crate::model::{AgreementInForce, Model, ModelError, Onward, PrincipalSpec, Relation, Role, action_rank};

type FxHashMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<rustc_hash::FxHasher>>;

const SCHEMA: &str = include_str!("../policies/accord.cedarschema");
/// The policies Accord ships: TLP 2.0, IEP 2.0 and the base constraints.
pub const SHIPPED: [(&str, &str); 3] = [
    ("tlp.cedar", include_str!("../policies/tlp.cedar")),
    ("iep.cedar", include_str!("../policies/iep.cedar")),
    ("base.cedar", include_str!("../policies/base.cedar")),
];

/// A policy file that could not take effect.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: policy {policy}: {message}")]
    Invalid {
        file: String,
        policy: String,
        message: String,
    },
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("internal policy error: {0}")]
    Internal(String),
}

/// A file of Cedar policies.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

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

    fn deny(policy: &str, text: String) -> Decision {
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

/// The facts Cedar sees about an object (or one marked part of it): the handling class.
/// Everything that can change a decision is in here, and nothing else, so decisions can be
/// memoised by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Facts {
    /// Only when an operator policy reads `resource.stix_type` (the shipped ones do not), so
    /// that types do not multiply the classes to evaluate.
    pub stix_type: Option<String>,
    pub tlp: Option<TlpLevel>,
    pub tlp_defaulted: bool,
    pub originated_here: bool,
    /// The originator, only when an agreement with it forbids onward sharing.
    pub restricted_originator: Option<String>,
    pub iep: Option<crate::handling::IepTerms>,
    pub legal_basis: Option<String>,
    pub data_categories: BTreeSet<String>,
    /// Declared, else the originator's.
    pub origin_jurisdiction: Option<String>,
    pub unknown_marking: bool,
    pub expired: bool,
    pub named_recipient: bool,
}

/// The outcome of evaluating one handling class for one principal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassOutcome {
    pub allowed: bool,
    pub agreement: Option<String>,
    pub reasons: Arc<Vec<Reason>>,
    pub relation: Relation,
}

/// One Cedar evaluation, for `explain`.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub agreement: Option<String>,
    pub allowed: bool,
    pub policies: Vec<Reason>,
    pub context: Value,
}

/// A decision with the facts and evaluations that produced it.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub policy_version: String,
    pub decision: Decision,
    pub handling: Handling,
    pub principal: Value,
    pub object: Value,
    pub evaluations: Vec<Evaluation>,
    /// What minimisation changes on the way out (filled in by callers that run egress).
    pub redactions: Vec<crate::minimise::Redaction>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct MemoKey {
    principal: String,
    action: Action,
    purpose: String,
    encrypted: bool,
    /// The agreements in force for this recipient (validity changes with time).
    agreements: Vec<usize>,
    facts: Facts,
}

/// The decision point. Cheap to share (`Arc`); rebuilt as a whole when the configuration changes.
pub struct Engine {
    model: Arc<Model>,
    policies: PolicySet,
    /// Policy id → (display id, reason text).
    about: HashMap<PolicyId, (String, String)>,
    authorizer: Authorizer,
    memo: Option<Mutex<FxHashMap<MemoKey, Arc<ClassOutcome>>>>,
    /// Whether any policy reads `resource.stix_type`.
    reads_type: bool,
    /// Identifies the configuration and policies in force (set by the caller, e.g. a hash).
    version: String,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("policies", &self.about.len())
            .field("memo", &self.memo.is_some())
            .finish_non_exhaustive()
    }
}

/// Memoised classes kept before the table is cleared (bounds memory under adversarial input).
const MEMO_LIMIT: usize = 100_000;

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

type PolicyTable = (Schema, PolicySet, HashMap<PolicyId, (String, String)>);

/// The schema and the shipped policies, parsed and validated once per process.
static SHIPPED_SET: LazyLock<Result<PolicyTable, String>> = LazyLock::new(|| {
    let (schema, _) = Schema::from_cedarschema_str(SCHEMA).map_err(|e| format!("schema: {e}"))?;
    let mut policies = PolicySet::new();
    let mut about = HashMap::new();
    for (name, text) in SHIPPED {
        let source = Source {
            name: name.to_owned(),
            text: text.to_owned(),
        };
        add_source(&mut policies, &mut about, &source, None).map_err(|e| e.to_string())?;
    }
    let validation = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
    if let Some(e) = validation.validation_errors().next() {
        return Err(format!("shipped policies: {e}"));
    }
    Ok((schema, policies, about))
});

/// Parses one file of policies into the set, each renamed `file#id` so that ids stay unique
/// across files. Operator files (with a model) may only name entities the model knows.
fn add_source(
    policies: &mut PolicySet,
    about: &mut HashMap<PolicyId, (String, String)>,
    source: &Source,
    model: Option<&Model>,
) -> Result<(), PolicyError> {
    let set = PolicySet::from_str(&source.text).map_err(|e| {
        let offset = miette::Diagnostic::labels(&e)
            .and_then(|mut l| l.next())
            .map_or(0, |l| l.offset());
        let (line, column) = line_col(&source.text, offset);
        PolicyError::Parse {
            file: source.name.clone(),
            line,
            column,
            message: e.to_string(),
        }
    })?;
    let mut ordered: Vec<&Policy> = set.policies().collect();
    ordered.sort_by_key(|p| p.id().to_string());
    for p in ordered {
        let name = p
            .annotation("id")
            .map_or_else(|| p.id().to_string(), str::to_owned);
        let reason = p.annotation("reason").unwrap_or_default().to_owned();
        let id = PolicyId::new(format!("{}#{name}", source.name));
        if let Some(model) = model {
            check_literals(p, model, &source.name, &name)?;
        }
        policies
            .add(p.new_id(id.clone()))
            .map_err(|e| PolicyError::Invalid {
                file: source.name.clone(),
                policy: name.clone(),
                message: e.to_string(),
            })?;
        about.insert(id, (name, reason));
    }
    Ok(())
}

impl Engine {
    /// Builds the decision point from the model, the shipped policies and the operator's files.
    /// A file that does not parse, or that fails validation against the schema (unknown
    /// attribute, entity type or action), or that names an entity the model does not know, is
    /// rejected with the file and position.
    pub fn new(model: Model, operator: &[Source]) -> Result<Engine, PolicyError> {
        let shipped = SHIPPED_SET
            .as_ref()
            .map_err(|e| PolicyError::Internal(e.clone()))?;
        let (schema, mut policies, mut about) = shipped.clone();
        for source in operator {
            add_source(&mut policies, &mut about, source, Some(&model))?;
            let validation = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
            if let Some(e) = validation.validation_errors().next() {
                return Err(PolicyError::Invalid {
                    file: source.name.clone(),
                    policy: e.to_string(),
                    message: miette::Diagnostic::help(e)
                        .map(|h| h.to_string())
                        .unwrap_or_default(),
                });
            }
        }
        Ok(Engine {
            model: Arc::new(model),
            policies,
            about,
            authorizer: Authorizer::new(),
            memo: Some(Mutex::new(FxHashMap::default())),
            reads_type: operator.iter().any(|s| s.text.contains("stix_type")),
            version: String::new(),
        })
    }

    /// Turns memoisation off (benchmarks, and tests that compare both).
    pub fn without_memo(mut self) -> Self {
        self.memo = None;
        self
    }

    /// Labels the engine with the version of the configuration it was built from.
    pub fn with_version(mut self, version: String) -> Self {
        self.version = version;
        self
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Derives the handling of `object` and decides its disclosure.
    pub fn decide(
        &self,
        req: &Request<'_>,
        object: &Map<String, Value>,
        markings: &dyn MarkingSource,
    ) -> Decision {
        self.decider(req).decide(object, markings)
    }

    /// `decide`, with the facts and every Cedar evaluation behind it.
    pub fn explain(
        &self,
        req: &Request<'_>,
        object: &Map<String, Value>,
        markings: &dyn MarkingSource,
    ) -> Explanation {
        let handling = Handling::derive(object, &self.model, markings, req.default_tlp);
        let mut evaluations = Vec::new();
        let decision = self.decider(req).run(&handling, Some(&mut evaluations));
        let principal = self.model.principals.get(req.principal).map_or(Value::Null, |p| {
            json!({"name": p.name, "organisation": p.organisation, "roles": p.roles,
                   "purposes": self.model.principal_purposes(p)})
        });
        Explanation {
            policy_version: self.version.clone(),
            decision,
            object: json!({"id": object.get("id"), "type": handling.stix_type}),
            handling,
            principal,
            evaluations,
            redactions: Vec::new(),
        }
    }

    /// Prepares decisions for one request: the principal, purpose and agreements in force are
    /// looked up once, and class decisions are memoised locally (then in the engine).
    pub fn decider<'e>(&'e self, req: &Request<'e>) -> Decider<'e> {
        let model = &self.model;
        let setup = match model.principals.get(req.principal) {
            None => Err(Decision::deny(
                "unknown-principal",
                format!("unknown principal {:?}", req.principal),
            )),
            Some(principal) => {
                // A request that declares no purpose uses the principal's first declared one.
                let purpose = req
                    .purpose
                    .map(str::to_owned)
                    .or_else(|| principal.purposes.first().cloned())
                    .unwrap_or_else(|| model.settings.default_purpose.clone());
                if model.purposes.contains_key(&purpose) {
                    let org = &principal.organisation;
                    let candidates = model
                        .agreements
                        .iter()
                        .enumerate()
                        .filter(|(_, a)| a.in_force(req.now) && a.binds(&model.node_organisation, org))
                        .map(|(i, _)| i)
                        .collect();
                    Ok((principal, purpose, candidates))
                } else {
                    Err(Decision::deny(
                        "unknown-purpose",
                        format!("unknown purpose {purpose:?}"),
                    ))
                }
            }
        };
        Decider {
            engine: self,
            req: req.clone(),
            setup,
            local: RefCell::new(FxHashMap::default()),
        }
    }

    /// Evaluates one handling class, trying each agreement in force in turn (the first that
    /// allows is the one the disclosure relies on).
    fn class(
        &self,
        req: &Request<'_>,
        purpose: &str,
        candidates: &[usize],
        facts: Facts,
        trace: Option<&mut Vec<Evaluation>>,
    ) -> Arc<ClassOutcome> {
        let key = MemoKey {
            principal: req.principal.to_owned(),
            action: req.action,
            purpose: purpose.to_owned(),
            encrypted: req.encrypted,
            agreements: candidates.to_vec(),
            facts,
        };
        if trace.is_none()
            && let Some(hit) = self.memo.as_ref().and_then(|m| m.lock().ok()?.get(&key).cloned())
        {
            return hit;
        }
        let outcome = Arc::new(self.evaluate(req, &key, trace));
        if let Some(memo) = &self.memo
            && let Ok(mut m) = memo.lock()
        {
            if m.len() >= MEMO_LIMIT {
                m.clear();
            }
            m.insert(key, outcome.clone());
        }
        outcome
    }

    fn evaluate(
        &self,
        req: &Request<'_>,
        key: &MemoKey,
        mut trace: Option<&mut Vec<Evaluation>>,
    ) -> ClassOutcome {
        let model = &self.model;
        let principal = &model.principals[req.principal];
        let org = &model.organisations[&principal.organisation];
        let relation = model.relation(&org.id, req.now);
        let purpose = &model.purposes[&key.purpose];
        let f = &key.facts;
        let node_j = &model.node_org().jurisdiction;
        let cross_border = org.jurisdiction != *node_j
            || f.origin_jurisdiction
                .as_ref()
                .is_some_and(|o| *o != org.jurisdiction);
        // Objects from a party whose agreement says onward sharing "none" stay in this organisation
        // (the originator itself may have them back).
        let onward_blocked = relation != Relation::Own
            && !f.originated_here
            && f.restricted_originator.as_ref().is_some_and(|o| o != &org.id);
        let object = entity(
            "Object",
            "object",
            vec![
                ("stix_type", text(f.stix_type.as_deref().unwrap_or_default())),
                ("tlp", text(f.tlp.map_or("unknown", TlpLevel::as_str))),
                ("tlp_defaulted", RestrictedExpression::new_bool(f.tlp_defaulted)),
                (
                    "originated_here",
                    RestrictedExpression::new_bool(f.originated_here),
                ),
                ("iep", RestrictedExpression::new_bool(f.iep.is_some())),
                (
                    "iep_permitted_actions",
                    RestrictedExpression::new_long(f.iep.as_ref().map_or(4, |i| i.permitted_actions)),
                ),
                (
                    "iep_affected_party_notifications",
                    text(f.iep.as_ref().map_or("may", |i| i.affected_party_notifications)),
                ),
                (
                    "iep_encrypt_in_transit",
                    text(f.iep.as_ref().map_or("may", |i| i.encrypt_in_transit)),
                ),
                ("legal_basis", text(f.legal_basis.as_deref().unwrap_or_default())),
                ("data_categories", texts(&f.data_categories)),
                (
                    "personal_data",
                    RestrictedExpression::new_bool(!f.data_categories.is_empty()),
                ),
                (
                    "unknown_marking",
                    RestrictedExpression::new_bool(f.unknown_marking),
                ),
                ("expired", RestrictedExpression::new_bool(f.expired)),
            ],
            None,
        );
        let org_uid = euid("Organisation", &org.id);
        let org_entity = entity(
            "Organisation",
            &org.id,
            vec![
                ("jurisdiction", text(&org.jurisdiction)),
                ("role", text(org.role.as_str())),
                ("sectors", texts(&org.sectors)),
            ],
            None,
        );
        let principal_entity = entity(
            "Principal",
            &principal.name,
            vec![
                (
                    "organisation",
                    RestrictedExpression::new_entity_uid(org_uid.clone()),
                ),
                ("roles", texts(&principal.roles)),
                ("purposes", texts(&model.principal_purposes(principal))),
            ],
            Some(org_uid),
        );
        let mut runs: Vec<Option<&AgreementInForce>> = key
            .agreements
            .iter()
            .map(|&i| Some(&model.agreements[i]))
            .collect();
        if runs.is_empty() {
            runs.push(None);
        }
        let mut denials = Vec::new();
        for run in runs {
            let agreement = run.map(|a| &a.agreement);
            let agreement_id = agreement.map_or("none", |a| a.id.as_str());
            let no_terms: &[String] = &[];
            let agreement_entity = entity(
                "Agreement",
                agreement_id,
                vec![
                    (
                        "tlp",
                        RestrictedExpression::new_set(
                            run.into_iter()
                                .flat_map(|a| a.tlp.iter())
                                .map(|t| text(t.as_str())),
                        ),
                    ),
                    ("purposes", texts(agreement.map_or(no_terms, |a| &a.purposes))),
                    (
                        "legal_bases",
                        texts(agreement.map_or(no_terms, |a| &a.legal_bases)),
                    ),
                    (
                        "data_categories",
                        texts(agreement.map_or(no_terms, |a| &a.data_categories)),
                    ),
                    (
                        "onward_sharing",
                        text(agreement.map_or(Onward::Tlp, |a| a.onward_sharing).as_str()),
                    ),
                ],
                None,
            );
            // The request context, once: Cedar gets it as restricted expressions, `explain` as JSON.
            let context = [
                ("purpose", Fact::Text(&purpose.name)),
                (
                    "purpose_action",
                    Fact::Number(PermittedActions::parse(&purpose.iep_action).map_or(4, action_rank)),
                ),
                ("purpose_notifies", Fact::Flag(purpose.notifies_affected_parties)),
                ("relation", Fact::Text(relation.as_str())),
                ("public_recipient", Fact::Flag(org.role == Role::Public)),
                ("named_recipient", Fact::Flag(f.named_recipient)),
                ("has_agreement", Fact::Flag(agreement.is_some())),
                ("agreement", Fact::Agreement(agreement_id)),
                ("cross_border", Fact::Flag(cross_border)),
                ("encrypted", Fact::Flag(req.encrypted)),
                ("onward_blocked", Fact::Flag(onward_blocked)),
            ];
            let result = self.authorize(
                req.action,
                &principal.name,
                [
                    object.clone(),
                    org_entity.clone(),
                    principal_entity.clone(),
                    agreement_entity,
                ],
                context.iter().map(|(k, v)| (*k, v.expression())).collect(),
            );
            let (allowed, policies) = match result {
                Ok(r) => r,
                Err(e) => (
                    false,
                    vec![Reason {
                        policy: "evaluation-error".into(),
                        text: e,
                    }],
                ),
            };
            if let Some(t) = trace.as_deref_mut() {
                t.push(Evaluation {
                    agreement: agreement.map(|a| a.id.clone()),
                    allowed,
                    policies: policies.clone(),
                    context: context.iter().map(|(k, v)| ((*k).to_owned(), v.json())).collect(),
                });
            }
            if allowed {
                return ClassOutcome {
                    allowed: true,
                    agreement: agreement.map(|a| a.id.clone()),
                    reasons: Arc::new(policies),
                    relation,
                };
            }
            for p in policies {
                if !denials.contains(&p) {
                    denials.push(p);
                }
            }
        }
        if denials.is_empty() {
            denials.push(Reason {
                policy: "default-deny".into(),
                text: "no policy permits this disclosure".into(),
            });
        }
        ClassOutcome {
            allowed: false,
            agreement: None,
            reasons: Arc::new(denials),
            relation,
        }
    }

    /// One Cedar request: allowed?, and the determining policies with their reasons. Entities are
    /// built in code (the policies were validated against the schema when loaded).
    fn authorize(
        &self,
        action: Action,
        principal: &str,
        entities: [Result<Entity, String>; 4],
        context: Vec<(&str, RestrictedExpression)>,
    ) -> Result<(bool, Vec<Reason>), String> {
        let entities = entities.into_iter().collect::<Result<Vec<_>, _>>()?;
        let entities = Entities::from_entities(entities, None).map_err(|e| e.to_string())?;
        let context = Context::from_pairs(context.into_iter().map(|(k, v)| (k.to_owned(), v)))
            .map_err(|e| e.to_string())?;
        let request = CedarRequest::new(
            euid("Principal", principal),
            EntityUid::from_type_name_and_id(ACTION_TYPE.clone(), EntityId::new(action.as_str())),
            euid("Object", "object"),
            context,
            None,
        )
        .map_err(|e| e.to_string())?;
        let response = self.authorizer.is_authorized(&request, &self.policies, &entities);
        if let Some(e) = response.diagnostics().errors().next() {
            return Err(format!("policy evaluation failed: {e}"));
        }
        let mut reasons: Vec<Reason> = response
            .diagnostics()
            .reason()
            .map(|id| {
                let (name, text) = self
                    .about
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| (id.to_string(), String::new()));
                Reason { policy: name, text }
            })
            .collect();
        reasons.sort_by(|a, b| a.policy.cmp(&b.policy));
        Ok((response.decision() == cedar_policy::Decision::Allow, reasons))
    }
}

/// One value of the request context.
enum Fact<'a> {
    Text(&'a str),
    Flag(bool),
    Number(i64),
    Agreement(&'a str),
}

impl Fact<'_> {
    fn expression(&self) -> RestrictedExpression {
        match *self {
            Fact::Text(s) => text(s),
            Fact::Flag(b) => RestrictedExpression::new_bool(b),
            Fact::Number(n) => RestrictedExpression::new_long(n),
            Fact::Agreement(id) => RestrictedExpression::new_entity_uid(euid("Agreement", id)),
        }
    }

    fn json(&self) -> Value {
        match *self {
            Fact::Text(s) | Fact::Agreement(s) => s.into(),
            Fact::Flag(b) => b.into(),
            Fact::Number(n) => n.into(),
        }
    }
}

static ACTION_TYPE: LazyLock<EntityTypeName> =
    LazyLock::new(|| EntityTypeName::from_str("Accord::Action").expect("valid type name"));
static TYPES: LazyLock<HashMap<&'static str, EntityTypeName>> = LazyLock::new(|| {
    ["Organisation", "Principal", "Agreement", "Object"]
        .into_iter()
        .map(|k| {
            (
                k,
                EntityTypeName::from_str(&format!("Accord::{k}")).expect("valid type name"),
            )
        })
        .collect()
});

fn euid(kind: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(TYPES[kind].clone(), EntityId::new(id))
}

fn text(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_owned())
}

fn texts<'a>(items: impl IntoIterator<Item = &'a String>) -> RestrictedExpression {
    RestrictedExpression::new_set(items.into_iter().map(|s| text(s)))
}

fn entity(
    kind: &str,
    id: &str,
    attrs: Vec<(&str, RestrictedExpression)>,
    parent: Option<EntityUid>,
) -> Result<Entity, String> {
    Entity::new(
        euid(kind, id),
        attrs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        parent.into_iter().collect(),
    )
    .map_err(|e| e.to_string())
}

/// Decisions for one request (see [`Engine::decider`]).
pub struct Decider<'e> {
    engine: &'e Engine,
    req: Request<'e>,
    setup: Result<(&'e PrincipalSpec, String, Vec<usize>), Decision>,
    local: RefCell<FxHashMap<Facts, Arc<ClassOutcome>>>,
}

impl std::fmt::Debug for Decider<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decider")
            .field("principal", &self.req.principal)
            .finish_non_exhaustive()
    }
}

impl<'e> Decider<'e> {
    pub fn engine(&self) -> &'e Engine {
        self.engine
    }

    /// Derives the handling of `object` and decides its disclosure.
    pub fn decide(&self, object: &Map<String, Value>, markings: &dyn MarkingSource) -> Decision {
        let handling = Handling::derive(object, &self.engine.model, markings, self.req.default_tlp);
        self.run(&handling, None)
    }

    fn run(&self, handling: &Handling, mut trace: Option<&mut Vec<Evaluation>>) -> Decision {
        let (principal, purpose, candidates) = match &self.setup {
            Ok(s) => s,
            Err(denied) => return denied.clone(),
        };
        let (model, req) = (&self.engine.model, &self.req);
        let org = &principal.organisation;
        let base = Facts {
            stix_type: self.engine.reads_type.then(|| handling.stix_type.clone()),
            tlp: Some(handling.tlp),
            tlp_defaulted: handling.tlp_defaulted,
            originated_here: handling.originated_here,
            restricted_originator: handling
                .originator
                .as_ref()
                .filter(|o| model.restricts_onward(o, req.now))
                .cloned(),
            iep: handling.iep.clone(),
            legal_basis: handling.declared.legal_basis.clone(),
            data_categories: handling.declared.personal_data_categories.clone(),
            origin_jurisdiction: handling.declared.origin_jurisdiction.clone().or_else(|| {
                let o = handling.originator.as_ref()?;
                Some(model.organisations.get(o)?.jurisdiction.clone())
            }),
            unknown_marking: !handling.unknown_markings.is_empty(),
            expired: handling.expired(req.now),
            named_recipient: handling
                .declared
                .recipients
                .iter()
                .any(|r| r == &principal.name || r == org),
        };
        let whole = self.class(purpose, candidates, base.clone(), trace.as_deref_mut());
        let mut decision = Decision {
            effect: if whole.allowed {
                Effect::Allow
            } else {
                Effect::Deny
            },
            reasons: whole.reasons.clone(),
            agreement: whole.agreement.clone(),
            profile: None,
            redact_parts: Vec::new(),
            strip_attribution: false,
            warnings: handling.warnings.clone(),
        };
        if !whole.allowed {
            return decision;
        }
        for part in &handling.parts {
            let level = part.tlp.map(|t| t.max(handling.tlp));
            if level == Some(handling.tlp) {
                continue;
            }
            let facts = Facts {
                tlp: level,
                unknown_marking: level.is_none(),
                ..base.clone()
            };
            let outcome = self.class(purpose, candidates, facts, trace.as_deref_mut());
            if !outcome.allowed {
                let why = outcome
                    .reasons
                    .first()
                    .map_or_else(String::new, |r| r.text.clone());
                decision.redact_parts.push(PartRedaction {
                    selectors: part.selectors.clone(),
                    reason: format!("granular marking {}: {why}", part.marking_ref),
                });
            }
        }
        let own = whole.relation == Relation::Own;
        decision.strip_attribution = !own && handling.iep.as_ref().is_some_and(|i| i.attribution_must_not);
        if !own {
            decision.profile = Some(
                whole
                    .agreement
                    .as_deref()
                    .and_then(|id| model.agreements.iter().find(|a| a.agreement.id == id))
                    .map_or_else(
                        || model.settings.default_redaction_profile.clone(),
                        |a| a.agreement.redaction_profile.clone(),
                    ),
            );
        }
        if !decision.redact_parts.is_empty() || decision.strip_attribution {
            decision.effect = Effect::AllowWithRedaction;
        }
        decision
    }

    fn class(
        &self,
        purpose: &str,
        candidates: &[usize],
        facts: Facts,
        trace: Option<&mut Vec<Evaluation>>,
    ) -> Arc<ClassOutcome> {
        if trace.is_none()
            && let Some(hit) = self.local.borrow().get(&facts)
        {
            return hit.clone();
        }
        let outcome = self
            .engine
            .class(&self.req, purpose, candidates, facts.clone(), trace);
        self.local.borrow_mut().insert(facts, outcome.clone());
        outcome
    }
}

/// Entity literals in operator policies must name something the model knows.
fn check_literals(policy: &Policy, model: &Model, file: &str, name: &str) -> Result<(), PolicyError> {
    for e in policy.entity_literals() {
        let kind = e.type_name().basename();
        let id = e.id().unescaped();
        let known = match kind {
            "Organisation" => model.organisations.contains_key(id),
            "Principal" => model.principals.contains_key(id),
            "Agreement" => id == "none" || model.agreements.iter().any(|a| a.agreement.id == id),
            "Action" => matches!(id, "read" | "export" | "push"),
            _ => false,
        };
        if !known {
            return Err(PolicyError::Invalid {
                file: file.to_owned(),
                policy: name.to_owned(),
                message: format!("references unknown entity {e}"),
            });
        }
    }
    Ok(())
}
