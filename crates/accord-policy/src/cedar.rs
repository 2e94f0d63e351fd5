//! The Cedar side of the decision point: the schema and the shipped policies, operator policy
//! files (parsed, validated, checked against the model), and the translation of the facts
//! (`facts.rs`) into Cedar entities and a request context. Nothing here derives a fact.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::LazyLock;

use accord_stix::markings::TlpLevel;
use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Policy, PolicyId, PolicySet,
    Request as CedarRequest, RestrictedExpression, Schema, ValidationMode, Validator,
};
use serde_json::Value;

use crate::decision::{Action, Reason};
use crate::facts::DisclosureFacts;
use crate::sharing::{AgreementInForce, Model, ModelError, Onward};

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

/// The schema the facts are given to Cedar in (`policies/accord.cedarschema`).
pub fn schema() -> Result<&'static Schema, PolicyError> {
    SHIPPED_SET
        .as_ref()
        .map(|(schema, ..)| schema)
        .map_err(|e| PolicyError::Internal(e.clone()))
}

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

/// The policies in force: the shipped ones and the operator's, validated against the schema.
pub(crate) struct Policies {
    set: PolicySet,
    /// Policy id → (display id, reason text).
    about: HashMap<PolicyId, (String, String)>,
    authorizer: Authorizer,
    schema: Schema,
    /// Whether any policy reads `resource.stix_type`.
    reads_type: bool,
}

impl Policies {
    /// The shipped policies and the operator's files. A file that does not parse, or that
    /// fails validation against the schema (unknown attribute, entity type or action), or that
    /// names an entity the model does not know, is rejected with the file and position.
    pub(crate) fn load(model: &Model, operator: &[Source]) -> Result<Policies, PolicyError> {
        let shipped = SHIPPED_SET
            .as_ref()
            .map_err(|e| PolicyError::Internal(e.clone()))?;
        let (schema, mut set, mut about) = shipped.clone();
        for source in operator {
            add_source(&mut set, &mut about, source, Some(model))?;
            let validation = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
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
        Ok(Policies {
            set,
            about,
            authorizer: Authorizer::new(),
            schema,
            reads_type: operator.iter().any(|s| s.text.contains("stix_type")),
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.about.len()
    }

    pub(crate) fn reads_type(&self) -> bool {
        self.reads_type
    }

    /// One Cedar evaluation: allowed?, and the determining policies with their reasons, sorted.
    /// With `validate`, the entities and context are first checked against the schema (the
    /// policies were validated against it when loaded; this checks the other half).
    pub(crate) fn authorize(&self, input: &Input<'_>, validate: bool) -> Result<(bool, Vec<Reason>), String> {
        let (request, entities) = input.request(validate.then_some(&self.schema))?;
        let response = self.authorizer.is_authorized(&request, &self.set, &entities);
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
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fact<'a> {
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

/// One Cedar request built from the facts and the agreement tried: its entities and context.
pub(crate) struct Input<'a> {
    action: Action,
    principal: &'a str,
    entities: [Entity; 4],
    /// Cedar gets it as restricted expressions, `explain` as JSON.
    context: [(&'static str, Fact<'a>); 11],
}

/// The agreement id Cedar sees when the disclosure relies on none.
const NO_AGREEMENT: &str = "none";

impl<'a> Input<'a> {
    /// Translates `facts`, under `agreement` (`None`: relying on no agreement).
    pub(crate) fn new(
        facts: &DisclosureFacts<'a>,
        agreement: Option<&'a AgreementInForce>,
    ) -> Result<Self, String> {
        let f = facts.object;
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
        )?;
        let org = facts.organisation;
        let org_uid = euid("Organisation", &org.id);
        let organisation = entity(
            "Organisation",
            &org.id,
            vec![
                ("jurisdiction", text(&org.jurisdiction)),
                ("role", text(org.role.as_str())),
                ("sectors", texts(&org.sectors)),
            ],
            None,
        )?;
        let principal = entity(
            "Principal",
            &facts.principal.name,
            vec![
                (
                    "organisation",
                    RestrictedExpression::new_entity_uid(org_uid.clone()),
                ),
                ("roles", texts(&facts.principal.roles)),
                ("purposes", texts(&facts.principal_purposes)),
            ],
            Some(org_uid),
        )?;
        let terms = agreement.map(|a| &a.agreement);
        let agreement_id = terms.map_or(NO_AGREEMENT, |a| a.id.as_str());
        let no_terms: &[String] = &[];
        let agreement_entity = entity(
            "Agreement",
            agreement_id,
            vec![
                (
                    "tlp",
                    RestrictedExpression::new_set(
                        agreement
                            .into_iter()
                            .flat_map(|a| a.tlp.iter())
                            .map(|t| text(t.as_str())),
                    ),
                ),
                ("purposes", texts(terms.map_or(no_terms, |a| &a.purposes))),
                ("legal_bases", texts(terms.map_or(no_terms, |a| &a.legal_bases))),
                (
                    "data_categories",
                    texts(terms.map_or(no_terms, |a| &a.data_categories)),
                ),
                (
                    "onward_sharing",
                    text(terms.map_or(Onward::Tlp, |a| a.onward_sharing).as_str()),
                ),
            ],
            None,
        )?;
        let context = [
            ("purpose", Fact::Text(&facts.purpose.name)),
            ("purpose_action", Fact::Number(facts.purpose_action)),
            (
                "purpose_notifies",
                Fact::Flag(facts.purpose.notifies_affected_parties),
            ),
            ("relation", Fact::Text(facts.relation.as_str())),
            ("public_recipient", Fact::Flag(facts.public_recipient)),
            ("named_recipient", Fact::Flag(f.named_recipient)),
            ("has_agreement", Fact::Flag(agreement.is_some())),
            ("agreement", Fact::Agreement(agreement_id)),
            ("cross_border", Fact::Flag(facts.cross_border)),
            ("encrypted", Fact::Flag(facts.encrypted)),
            ("onward_blocked", Fact::Flag(facts.onward_blocked)),
        ];
        Ok(Input {
            action: facts.action,
            principal: &facts.principal.name,
            entities: [object, organisation, principal, agreement_entity],
            context,
        })
    }

    /// The context as JSON, for `explain`.
    pub(crate) fn context_json(&self) -> Value {
        self.context
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.json()))
            .collect()
    }

    /// The Cedar request and entities. With a schema, Cedar checks both against it (every
    /// attribute present, of its declared type, and none undeclared).
    pub(crate) fn request(&self, schema: Option<&Schema>) -> Result<(CedarRequest, Entities), String> {
        let entities =
            Entities::from_entities(self.entities.iter().cloned(), schema).map_err(|e| e.to_string())?;
        let context = Context::from_pairs(
            self.context
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.expression())),
        )
        .map_err(|e| e.to_string())?;
        let request = CedarRequest::new(
            euid("Principal", self.principal),
            EntityUid::from_type_name_and_id(ACTION_TYPE.clone(), EntityId::new(self.action.as_str())),
            euid("Object", "object"),
            context,
            schema,
        )
        .map_err(|e| e.to_string())?;
        Ok((request, entities))
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::*;
    use crate::facts::{Case, ObjectFacts};
    use crate::handling::IepTerms;

    fn model() -> Model {
        let spec = json!({
            "node_organisation": "home",
            "organisations": [
                {"id": "home", "name": "Home", "jurisdiction": "DE", "role": "csirt", "clients": ["bank"], "sectors": ["government"]},
                {"id": "bank", "name": "Bank", "jurisdiction": "DE", "role": "operator"},
                {"id": "abroad", "name": "Abroad", "jurisdiction": "FR", "role": "csirt"},
                {"id": "news", "name": "News", "jurisdiction": "DE", "role": "public"}
            ],
            "agreements": [
                {"id": "a1", "parties": ["home", "abroad"], "tlp": ["clear", "green"], "purposes": ["detection"],
                 "legal_bases": ["gdpr-6-1-e"], "data_categories": ["email"], "redaction_profile": "strict"},
                {"id": "a2", "parties": ["home", "abroad"], "tlp": [], "purposes": [], "redaction_profile": "none",
                 "onward_sharing": "none"}
            ],
            "principals": [
                {"name": "analyst", "organisation": "home", "roles": ["analyst"], "purposes": ["detection", "blocking"], "default_purpose": "detection"},
                {"name": "teller", "organisation": "bank"},
                {"name": "partner", "organisation": "abroad", "purposes": ["detection"]},
                {"name": "reporter", "organisation": "news"}
            ]
        });
        Model::build(serde_json::from_value(spec).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Handling classes at the edges of what the schema declares: no TLP (an unknown part),
    /// IEP terms, empty and full sets, empty strings.
    fn objects() -> Vec<ObjectFacts> {
        let plain = ObjectFacts {
            stix_type: None,
            tlp: Some(TlpLevel::Green),
            tlp_defaulted: false,
            originated_here: false,
            restricted_originator: None,
            iep: None,
            legal_basis: None,
            data_categories: BTreeSet::new(),
            origin_jurisdiction: None,
            unknown_marking: false,
            expired: false,
            named_recipient: false,
        };
        vec![
            plain.clone(),
            plain.part(None),
            ObjectFacts {
                stix_type: Some("indicator".into()),
                tlp: Some(TlpLevel::Red),
                tlp_defaulted: true,
                originated_here: true,
                restricted_originator: Some("abroad".into()),
                iep: Some(IepTerms {
                    permitted_actions: 2,
                    affected_party_notifications: "must-not",
                    encrypt_in_transit: "must",
                    attribution_must_not: true,
                }),
                legal_basis: Some("gdpr-6-1-e".into()),
                data_categories: ["email".to_owned(), "health".to_owned()].into(),
                origin_jurisdiction: Some("FR".into()),
                unknown_marking: true,
                expired: true,
                named_recipient: true,
            },
        ]
    }

    /// The entities and context built for a representative set of requests conform to the
    /// schema (Cedar checks every attribute's presence and type, and that none is undeclared).
    #[test]
    fn entities_and_context_conform_to_the_schema() {
        let model = model();
        let schema = schema().unwrap_or_else(|e| panic!("{e}"));
        let mut checked = 0;
        for principal in [
            "analyst",
            "teller",
            "partner",
            "reporter",
            crate::sharing::NODE_PRINCIPAL,
        ] {
            let org = &model.principals[principal].organisation;
            let agreements = crate::facts::agreements_in_force(
                &model,
                org,
                accord_stix::Timestamp::parse("2026-01-01T00:00:00Z").unwrap_or_else(|e| panic!("{e}")),
            );
            for action in [Action::Read, Action::Export, Action::Push] {
                for object in objects() {
                    let case = Case {
                        principal: principal.into(),
                        action,
                        purpose: "detection".into(),
                        encrypted: action != Action::Push,
                        agreements: agreements.clone(),
                        object,
                    };
                    let facts =
                        DisclosureFacts::derive(&model, &case).unwrap_or_else(|| panic!("{principal}"));
                    let runs: Vec<Option<&AgreementInForce>> =
                        facts.agreements.iter().copied().map(Some).chain([None]).collect();
                    for agreement in runs {
                        let input = Input::new(&facts, agreement).unwrap_or_else(|e| panic!("{e}"));
                        if let Err(e) = input.request(Some(schema)) {
                            panic!("{principal} {action:?} {agreement:?}: {e}");
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked >= 5 * 3 * 3, "{checked}");

        // The check is live: a context value of the wrong type, or an entity without an
        // attribute, is rejected.
        let case = Case {
            principal: "partner".into(),
            action: Action::Read,
            purpose: "detection".into(),
            encrypted: true,
            agreements: vec![0],
            object: objects().remove(0),
        };
        let facts = DisclosureFacts::derive(&model, &case).unwrap_or_else(|| panic!("facts"));
        let mut input =
            Input::new(&facts, facts.agreements.first().copied()).unwrap_or_else(|e| panic!("{e}"));
        assert!(input.request(Some(schema)).is_ok());
        input.context[1] = ("purpose_action", Fact::Text("four"));
        assert!(input.request(None).is_ok(), "without a schema nothing is checked");
        assert!(input.request(Some(schema)).is_err());
        let mut input = Input::new(&facts, None).unwrap_or_else(|e| panic!("{e}"));
        input.entities[0] =
            entity("Object", "object", vec![("tlp", text("green"))], None).unwrap_or_else(|e| panic!("{e}"));
        assert!(input.request(Some(schema)).is_err());
    }
}
