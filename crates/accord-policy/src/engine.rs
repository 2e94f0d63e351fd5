//! The policy decision point: `decide(principal, object version, purpose)`. The facts are
//! derived in Rust (`facts.rs`), evaluated in Cedar (`cedar.rs`), deny by default, with
//! reasons, and memoised by case (principal, request and handling class).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::cedar::{Input, Policies, PolicyError, Source};
use crate::decision::{Decision, Effect, PartRedaction, Reason, Request};
use crate::facts::{Case, DisclosureFacts, ObjectFacts, agreements_in_force};
use crate::handling::{Handling, MarkingSource};
use crate::minimise::Redaction;
use crate::sharing::{Model, PrincipalSpec, Relation};

type FxHashMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<rustc_hash::FxHasher>>;

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
    pub redactions: Vec<Redaction>,
}

/// The decision point. Cheap to share (`Arc`); rebuilt as a whole when the configuration changes.
pub struct Engine {
    model: Arc<Model>,
    policies: Policies,
    memo: Option<Mutex<FxHashMap<Case, Arc<ClassOutcome>>>>,
    /// Whether each Cedar request is checked against the schema first (tests).
    validate: bool,
    /// Identifies the configuration and policies in force (set by the caller, e.g. a hash).
    version: String,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("policies", &self.policies.len())
            .field("memo", &self.memo.is_some())
            .finish_non_exhaustive()
    }
}

/// Memoised classes kept before the table is cleared (bounds memory under adversarial input).
const MEMO_LIMIT: usize = 100_000;

impl Engine {
    /// Builds the decision point from the model, the shipped policies and the operator's files.
    /// A file that does not parse, or that fails validation against the schema (unknown
    /// attribute, entity type or action), or that names an entity the model does not know, is
    /// rejected with the file and position.
    pub fn new(model: Model, operator: &[Source]) -> Result<Engine, PolicyError> {
        let policies = Policies::load(&model, operator)?;
        Ok(Engine {
            model: Arc::new(model),
            policies,
            memo: Some(Mutex::new(FxHashMap::default())),
            validate: false,
            version: String::new(),
        })
    }

    /// Turns memoisation off (benchmarks, and tests that compare both).
    pub fn without_memo(mut self) -> Self {
        self.memo = None;
        self
    }

    /// Checks the entities and context of every Cedar request against the schema before it is
    /// evaluated; one that does not conform is denied with an `evaluation-error` reason. The
    /// policies are validated against the schema when loaded; this checks the facts given to
    /// them (tests; it costs time).
    pub fn validating(mut self) -> Self {
        self.validate = true;
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
        // An unknown principal or purpose is denied before any policy is asked.
        let setup = match model.principals.get(req.principal) {
            None => Err(Decision::deny(
                "unknown-principal",
                format!("unknown principal {:?}", req.principal),
            )),
            Some(principal) => {
                // A request that declares no purpose uses the principal's default purpose.
                let purpose = req
                    .purpose
                    .unwrap_or_else(|| model.default_purpose(principal))
                    .to_owned();
                if model.purposes.contains_key(&purpose) {
                    let candidates = agreements_in_force(model, &principal.organisation, req.now);
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

    /// Evaluates one case, from the engine's memo when it holds it.
    // INVARIANT: the memo is keyed by the whole case, and `evaluate` reads nothing else (the
    // model is fixed for the engine's life): decisions depend only on their facts.
    fn class(&self, case: Case, trace: Option<&mut Vec<Evaluation>>) -> Arc<ClassOutcome> {
        if trace.is_none()
            && let Some(hit) = self
                .memo
                .as_ref()
                .and_then(|m| m.lock().ok()?.get(&case).cloned())
        {
            return hit;
        }
        let outcome = Arc::new(self.evaluate(&case, trace));
        if let Some(memo) = &self.memo
            && let Ok(mut m) = memo.lock()
        {
            if m.len() >= MEMO_LIMIT {
                m.clear();
            }
            m.insert(case, outcome.clone());
        }
        outcome
    }

    /// Derives the facts of `case`, then asks Cedar under each agreement in force in turn (the
    /// first that allows is the one the disclosure relies on), then relying on no agreement.
    fn evaluate(&self, case: &Case, mut trace: Option<&mut Vec<Evaluation>>) -> ClassOutcome {
        // INVARIANT: deny by default. Anything short of a Cedar permit (no facts, an error
        // building or evaluating the request, no agreement under which a policy permits)
        // denies, with a reason.
        let Some(facts) = DisclosureFacts::derive(&self.model, case) else {
            return ClassOutcome {
                allowed: false,
                agreement: None,
                reasons: Arc::new(vec![Reason {
                    policy: "evaluation-error".into(),
                    text: "the request names what the model does not hold".into(),
                }]),
                relation: Relation::Other,
            };
        };
        // INVARIANT: an agreement only adds. The disclosure relying on no agreement is always
        // tried too, so what the relation alone gives (CLEAR to anyone, AMBER to a declared
        // client, …) is never taken away by an agreement whose terms are narrower.
        let runs = facts.agreements.iter().map(|a| Some(*a)).chain([None]);
        let mut denials = Vec::new();
        for run in runs {
            let agreement = run.map(|a| a.agreement.id.clone());
            let input = Input::new(&facts, run);
            let result = input
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|i| self.policies.authorize(i, self.validate));
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
                    agreement: agreement.clone(),
                    allowed,
                    policies: policies.clone(),
                    context: input.as_ref().map_or(Value::Null, Input::context_json),
                });
            }
            if allowed {
                return ClassOutcome {
                    allowed: true,
                    // A read by this node's own organisation relies on no partner agreement, even
                    // when one was in the context: none is named, so the log never lists an own
                    // read as gone to a partner under it.
                    agreement: agreement.filter(|_| facts.relation != Relation::Own),
                    reasons: Arc::new(policies),
                    relation: facts.relation,
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
            relation: facts.relation,
        }
    }
}

/// What a request looks up once: the principal, its purpose and the agreements in force.
type Setup<'e> = (&'e PrincipalSpec, String, Vec<usize>);

/// Decisions for one request (see [`Engine::decider`]).
pub struct Decider<'e> {
    engine: &'e Engine,
    req: Request<'e>,
    setup: Result<Setup<'e>, Decision>,
    local: RefCell<FxHashMap<ObjectFacts, Arc<ClassOutcome>>>,
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
        let setup = match &self.setup {
            Ok(s) => s,
            Err(denied) => return denied.clone(),
        };
        let model = &self.engine.model;
        let base = ObjectFacts::of(
            handling,
            model,
            setup.0,
            self.req.now,
            self.engine.policies.reads_type(),
        );
        let whole = self.class(setup, base.clone(), trace.as_deref_mut());
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
            let outcome = self.class(setup, base.part(level), trace.as_deref_mut());
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

    /// One handling class for this request: from the local memo, else from the engine.
    fn class(
        &self,
        setup: &Setup<'_>,
        facts: ObjectFacts,
        trace: Option<&mut Vec<Evaluation>>,
    ) -> Arc<ClassOutcome> {
        let (principal, purpose, candidates) = setup;
        if trace.is_none()
            && let Some(hit) = self.local.borrow().get(&facts)
        {
            return hit.clone();
        }
        let case = Case {
            principal: principal.name.clone(),
            action: self.req.action,
            purpose: purpose.clone(),
            encrypted: self.req.encrypted,
            agreements: candidates.clone(),
            object: facts.clone(),
        };
        let outcome = self.engine.class(case, trace);
        self.local.borrow_mut().insert(facts, outcome.clone());
        outcome
    }
}
