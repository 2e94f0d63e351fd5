//! The egress gate: every object version a principal receives (TAXII reads, and `accord export`)
//! passes `accord_policy::disclose` here. The gate supplies what the pure policy core cannot
//! read itself: marking definitions, referenced objects and names of individuals from the store.
//! The decision point inside it is replaced as a whole when the configuration is reloaded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use accord_audit::{AuditError, AuditLog};
use accord_ledger::Event;
use accord_ledger::entry::{Change, Decisions, Redaction as Redacted, Share, Shared, Version};
use accord_policy::engine::{Decision, Request};
use accord_policy::{Engine, Outcome};
use accord_stix::ContentHash;
use accord_stix::markings::{Marking, TlpLevel, classify};
use accord_store::{Query, Store, StoreError, StoredObject, VersionFilter};
use serde_json::{Map, Value};

/// How long the names of individuals in a collection are reused before they are read again.
const PEOPLE_TTL: Duration = Duration::from_secs(2);
/// Most identities read from a collection to learn names of individuals.
const PEOPLE_LIMIT: usize = 10_000;

/// Names of individuals in one collection, and when they were read.
type People = (Instant, Arc<Vec<String>>);

/// What a configuration puts in force, replaced as one.
#[derive(Clone)]
struct InForce {
    engine: Arc<Engine>,
    /// TLP of unmarked objects, per collection (where the configuration sets one).
    defaults: Arc<HashMap<String, TlpLevel>>,
    /// Counts replacements, so that a decision taken earlier can be known to still hold.
    generation: u64,
}

/// The decision point and its lookups.
pub struct Gate {
    in_force: RwLock<InForce>,
    /// Derives each agreement's pseudonymisation key.
    key: [u8; 32],
    /// Marking definitions cannot be versioned (STIX 2.1 §7.2.1), so a cached one never goes stale.
    markings: Mutex<HashMap<String, Option<Marking>>>,
    people: Mutex<HashMap<String, People>>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate").finish_non_exhaustive()
    }
}

/// What may leave: the released versions (redacted ones re-serialised, with their new hash and,
/// for SCOs whose identifying value changed, their new id), one outcome per input version, and
/// the audit entries that record the decisions and redactions. The versions are handed out only
/// by [`Released::disclose`], once those entries and the share entry are durable.
#[derive(Debug, Default)]
pub struct Released {
    objects: Vec<StoredObject>,
    pub outcomes: Vec<Outcome>,
    /// Decisions that came out the same share one entry (a page holds a handful of outcomes).
    decisions: Vec<Decisions>,
    /// Redactions, one entry per redacted version.
    events: Vec<Event>,
    shared: Vec<Shared>,
}

/// Merges decision entries into `groups`: those that came out the same become one.
fn merge(groups: &mut Vec<Decisions>, more: Vec<Decisions>) {
    for d in more {
        let same = |g: &&mut Decisions| {
            (
                &g.effect,
                &g.reasons,
                &g.agreement,
                &g.profile,
                &g.principal,
                &g.action,
                &g.purpose,
                &g.policy,
            ) == (
                &d.effect,
                &d.reasons,
                &d.agreement,
                &d.profile,
                &d.principal,
                &d.action,
                &d.purpose,
                &d.policy,
            )
        };
        match groups.iter_mut().find(same) {
            Some(g) => g.objects.extend(d.objects),
            None => groups.push(d),
        }
    }
}

/// Where released versions go, for the share entry.
#[derive(Debug, Clone)]
pub struct Recipient<'a> {
    pub principal: &'a str,
    /// taxii, export or sync.
    pub channel: &'a str,
    pub collection: &'a str,
    pub purpose: Option<&'a str>,
}

impl Released {
    /// How many versions may leave.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// For each released version, in order: the stored original's hash when the version is a
    /// redacted copy (its id may differ too, for an SCO whose identifying value changed).
    pub fn originals(&self) -> Vec<Option<ContentHash>> {
        self.shared
            .iter()
            .map(|s| s.original.as_deref().and_then(ContentHash::from_hex))
            .collect()
    }

    /// The released versions, in order, as they will leave: for work that must come before they
    /// are logged, such as signing them.
    pub fn objects(&self) -> &[StoredObject] {
        &self.objects
    }

    /// Sets aside, before anything is logged, the released versions whose position `send` refuses:
    /// their decisions stay (they were taken), but they are not shared.
    pub fn set_aside(&mut self, send: impl Fn(usize) -> bool) {
        let (mut objects, mut shared) = (Vec::new(), Vec::new());
        let released = std::mem::take(&mut self.objects).into_iter();
        for (i, (o, s)) in released.zip(std::mem::take(&mut self.shared)).enumerate() {
            if send(i) {
                objects.push(o);
                shared.push(s);
            }
        }
        (self.objects, self.shared) = (objects, shared);
    }

    /// Adds another batch for the same recipient (one share entry covers both, and decisions
    /// that came out the same share an entry).
    pub fn extend(&mut self, other: Released) {
        self.objects.extend(other.objects);
        self.outcomes.extend(other.outcomes);
        merge(&mut self.decisions, other.decisions);
        self.events.extend(other.events);
        self.shared.extend(other.shared);
    }

    /// Serialises the audit entries for this disclosure: decisions, redactions and the share.
    /// CPU work: do it where blocking is fine.
    pub fn seal(mut self, to: &Recipient<'_>) -> Sealed {
        let mut events: Vec<Event> = self.decisions.into_iter().map(Event::Decisions).collect();
        events.append(&mut self.events);
        self.events = events;
        let shares = !self.shared.is_empty();
        if shares {
            self.events.push(Event::Share(Share {
                principal: to.principal.to_owned(),
                channel: to.channel.to_owned(),
                collection: Some(to.collection.to_owned()),
                purpose: to.purpose.map(str::to_owned),
                objects: self.shared,
            }));
        }
        let now = accord_audit::now_micros();
        let events: Vec<(i64, Event)> = self.events.into_iter().map(|e| (now, e)).collect();
        Sealed {
            objects: self.objects,
            entries: accord_audit::prepare(&events),
            shares,
        }
    }

    /// The versions, once the decisions, redactions and the share are durably logged.
    pub fn disclose_blocking(
        self,
        log: &AuditLog,
        to: &Recipient<'_>,
    ) -> Result<Vec<StoredObject>, AuditError> {
        let sealed = self.seal(to);
        log.record_prepared_wait(sealed.entries)?;
        Ok(sealed.objects)
    }
}

/// Released versions with their serialised audit entries, waiting to be logged.
#[derive(Debug)]
pub struct Sealed {
    objects: Vec<StoredObject>,
    entries: Vec<accord_audit::Prepared>,
    /// Whether the last entry is the share.
    shares: bool,
}

impl Sealed {
    /// The versions, once their entries are durably logged. The share is dated now, when the
    /// versions leave; the decisions keep the time they were taken (earlier, for a page read ahead).
    pub async fn disclose(mut self, log: &AuditLog) -> Result<Vec<StoredObject>, AuditError> {
        if self.shares
            && let Some(share) = self.entries.last_mut()
        {
            share.restamp(&accord_stix::Timestamp::format_micros(accord_audit::now_micros()));
        }
        log.record_prepared(self.entries).durable().await?;
        Ok(self.objects)
    }
}

impl Gate {
    /// `defaults` maps collection ids to the TLP of their unmarked objects.
    pub fn new(engine: Engine, defaults: HashMap<String, TlpLevel>, key: [u8; 32]) -> Self {
        Gate {
            in_force: RwLock::new(InForce {
                engine: Arc::new(engine),
                defaults: Arc::new(defaults),
                generation: 0,
            }),
            key,
            markings: Mutex::default(),
            people: Mutex::default(),
        }
    }

    fn in_force(&self) -> InForce {
        match self.in_force.read() {
            Ok(f) => f.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The decision point in force.
    pub fn engine(&self) -> Arc<Engine> {
        self.in_force().engine
    }

    /// Puts a new decision point (and collection defaults) in force, atomically: a request uses
    /// the old ones or the new ones, never a mix.
    pub fn replace(&self, engine: Engine, defaults: HashMap<String, TlpLevel>) {
        let mut slot = match self.in_force.write() {
            Ok(f) => f,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = InForce {
            engine: Arc::new(engine),
            defaults: Arc::new(defaults),
            generation: slot.generation + 1,
        };
    }

    /// Changes whenever a new decision point is put in force.
    pub fn generation(&self) -> u64 {
        self.in_force().generation
    }

    /// The request with the collection's default TLP for unmarked objects, if it sets one.
    fn for_collection<'r>(
        req: &Request<'r>,
        defaults: &HashMap<String, TlpLevel>,
        collection: &str,
    ) -> Request<'r> {
        let mut req = req.clone();
        if req.default_tlp.is_none() {
            req.default_tlp = defaults.get(collection).copied();
        }
        req
    }

    fn latest(
        store: &dyn Store,
        collection: &str,
        ids: Vec<String>,
    ) -> Result<Vec<StoredObject>, StoreError> {
        let mut q = Query::new(collection);
        q.limit = ids.len().max(1);
        q.ids = ids;
        q.versions = VersionFilter::last();
        Ok(store.query(&q)?.objects)
    }

    fn marking(&self, store: &dyn Store, collection: &str, id: &str) -> Option<Marking> {
        if let Some(m) = self.markings.lock().ok().and_then(|c| c.get(id).cloned()) {
            return m;
        }
        let found = Self::latest(store, collection, vec![id.to_owned()]).ok()?;
        let marking = found
            .first()
            .and_then(|o| serde_json::from_str::<Map<String, Value>>(&o.json).ok())
            .map(|m| classify(&m));
        // Only a definition that was found is cached: one may arrive later.
        if marking.is_some()
            && let Ok(mut c) = self.markings.lock()
        {
            c.insert(id.to_owned(), marking.clone());
        }
        marking
    }

    fn people(&self, store: &dyn Store, collection: &str) -> Result<Arc<Vec<String>>, StoreError> {
        if let Some((at, names)) = self.people.lock().ok().and_then(|p| p.get(collection).cloned())
            && at.elapsed() < PEOPLE_TTL
        {
            return Ok(names);
        }
        let mut q = Query::new(collection);
        q.types = vec!["identity".into()];
        q.limit = PEOPLE_LIMIT;
        let names: Vec<String> = store
            .query(&q)?
            .objects
            .iter()
            .filter_map(|o| serde_json::from_str::<Map<String, Value>>(&o.json).ok())
            .filter_map(|o| accord_policy::egress::individual_name(&o))
            .collect();
        let names = Arc::new(names);
        if let Ok(mut p) = self.people.lock() {
            p.insert(collection.to_owned(), (Instant::now(), names.clone()));
        }
        Ok(names)
    }

    /// Explains the decision for one object version read from `collection`, including what
    /// egress would redact.
    pub fn explain(
        &self,
        store: &dyn Store,
        collection: &str,
        req: &Request<'_>,
        object: &Map<String, Value>,
    ) -> Result<accord_policy::Explanation, StoreError> {
        let markings = |id: &str| self.marking(store, collection, id);
        let in_force = self.in_force();
        let scoped = Self::for_collection(req, &in_force.defaults, collection);
        let mut explanation = in_force.engine.explain(&scoped, object, &markings);
        let json = serde_json::to_string(object).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let version = StoredObject {
            id: object
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            type_name: String::new(),
            version: String::new(),
            spec_version: None,
            date_added: 0,
            hash: ContentHash::of_canonical(json.as_bytes()),
            json,
        };
        if let Some(outcome) = self
            .release(store, collection, req, vec![version])?
            .outcomes
            .pop()
        {
            explanation.decision = outcome.decision;
            explanation.redactions = outcome.redactions;
        }
        Ok(explanation)
    }

    /// Decides and redacts versions read from `collection` for one request.
    pub fn release(
        &self,
        store: &dyn Store,
        collection: &str,
        req: &Request<'_>,
        versions: Vec<StoredObject>,
    ) -> Result<Released, StoreError> {
        if versions.is_empty() {
            return Ok(Released::default());
        }
        let in_force = self.in_force();
        let req = &Self::for_collection(req, &in_force.defaults, collection);
        let engine = &in_force.engine;
        let corrupt = |id: &str, e: serde_json::Error| {
            StoreError::Corrupt(format!("{id} in collection {collection}: {e}"))
        };
        let markings = |id: &str| self.marking(store, collection, id);
        // First decide from the handling properties alone: most objects are then either withheld
        // or released unchanged (no redaction applies) without parsing the rest of them.
        let decider = engine.decider(req);
        let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(versions.len());
        let mut full = Vec::new();
        // Within one call a decision depends only on the handling members other than the id:
        // versions that share them (one source's markings, creator and extensions) are decided
        // once.
        let mut decided: HashMap<String, Decision> = HashMap::new();
        for (i, v) in versions.iter().enumerate() {
            let members = handling_members(&v.json);
            let key = members.as_deref().map(same_handling);
            let decision = match key.as_ref().and_then(|k| decided.get(k)) {
                Some(d) => d.clone(),
                None => {
                    let head = head(&v.json, members).map_err(|e| corrupt(&v.id, e))?;
                    let d = decider.decide(&head, &markings);
                    if let Some(k) = key {
                        decided.insert(k, d.clone());
                    }
                    d
                }
            };
            let unchanged =
                decision.profile.is_none() && decision.redact_parts.is_empty() && !decision.strip_attribution;
            if !decision.allowed() || unchanged {
                outcomes.push(Some(Outcome {
                    id: v.id.clone(),
                    decision,
                    redactions: Vec::new(),
                }));
            } else {
                outcomes.push(None);
                full.push(i);
            }
        }
        let mut redacted: HashMap<usize, Map<String, Value>> = HashMap::new();
        if !full.is_empty() {
            let mut parsed = Vec::with_capacity(full.len());
            for &i in &full {
                let v = &versions[i];
                parsed.push(
                    serde_json::from_str::<Map<String, Value>>(&v.json).map_err(|e| corrupt(&v.id, e))?,
                );
            }
            let people = self.people(store, collection)?;
            let resolve = |id: &str| {
                Self::latest(store, collection, vec![id.to_owned()])
                    .ok()?
                    .first()
                    .and_then(|o| serde_json::from_str(&o.json).ok())
            };
            let disclosure =
                accord_policy::disclose_with(&decider, &parsed, &markings, &self.key, &resolve, &people);
            let mut released = disclosure.objects.into_iter();
            for (&i, outcome) in full.iter().zip(disclosure.outcomes) {
                if outcome.decision.allowed()
                    && let Some(object) = released.next()
                    && !outcome.redactions.is_empty()
                {
                    redacted.insert(i, object.into_owned());
                }
                outcomes[i] = Some(outcome);
            }
        }
        let outcomes: Vec<Outcome> = outcomes.into_iter().flatten().collect();
        let mut objects = Vec::with_capacity(versions.len());
        let mut decisions = Vec::new();
        let mut events = Vec::new();
        let mut shared = Vec::with_capacity(versions.len());
        let record = |stored: &StoredObject, outcome: &Outcome, released: Option<&StoredObject>| {
            let d = &outcome.decision;
            let hash = stored.hash.to_hex();
            let decided = Version {
                id: stored.id.clone(),
                version: stored.version.clone(),
                hash: hash.clone(),
            };
            let redacted = (!outcome.redactions.is_empty()).then(|| {
                Event::Redaction(Redacted {
                    principal: req.principal.to_owned(),
                    object: stored.id.clone(),
                    version: stored.version.clone(),
                    hash: hash.clone(),
                    released: released.map(|r| r.hash.to_hex()),
                    agreement: d.agreement.clone(),
                    profile: d.profile.clone(),
                    changes: outcome
                        .redactions
                        .iter()
                        .map(|r| Change {
                            path: r.path.clone(),
                            category: r.category.to_owned(),
                            transform: r.transform.as_str().to_owned(),
                        })
                        .collect(),
                })
            });
            let share = released.map(|r| Shared {
                id: r.id.clone(),
                version: r.version.clone(),
                hash: r.hash.to_hex(),
                original: (r.hash != stored.hash).then_some(hash),
                agreement: d.agreement.clone(),
            });
            (decided, redacted, share)
        };
        for (i, (stored, outcome)) in versions.into_iter().zip(&outcomes).enumerate() {
            let allowed = outcome.decision.allowed();
            let copy = redacted
                .remove(&i)
                .filter(|_| allowed)
                .map(|object| redacted_version(&stored, object));
            let released = allowed.then(|| copy.as_ref().unwrap_or(&stored));
            let (decided, redaction, share) = record(&stored, outcome, released);
            // Within one request only the outcome varies: compare it without building an entry.
            let d = &outcome.decision;
            let same = |g: &&mut Decisions| {
                g.effect == d.effect.as_str()
                    && g.agreement == d.agreement
                    && g.profile == d.profile
                    && g.reasons.iter().eq(d.reasons.iter().map(|r| &r.policy))
            };
            match decisions.iter_mut().find(same) {
                Some(g) => g.objects.push(decided),
                None => decisions.push(Decisions {
                    principal: req.principal.to_owned(),
                    action: req.action.as_str().to_owned(),
                    purpose: req.purpose.map(str::to_owned),
                    objects: vec![decided],
                    effect: d.effect.as_str().to_owned(),
                    reasons: d.reasons.iter().map(|r| r.policy.clone()).collect(),
                    agreement: d.agreement.clone(),
                    profile: d.profile.clone(),
                    policy: engine.version().to_owned(),
                }),
            }
            events.extend(redaction);
            shared.extend(share);
            if allowed {
                objects.push(copy.unwrap_or(stored));
            }
        }
        Ok(Released {
            objects,
            outcomes,
            decisions,
            events,
            shared,
        })
    }
}

/// A redacted copy of a stored version: its canonical JSON, new hash and (for an SCO whose
/// identifying value changed) new id.
fn redacted_version(stored: &StoredObject, object: Map<String, Value>) -> StoredObject {
    let value = Value::Object(object);
    let json = accord_stix::jcs::to_canonical_string(&value);
    StoredObject {
        id: value
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or(&stored.id)
            .to_owned(),
        type_name: stored.type_name.clone(),
        version: stored.version.clone(),
        spec_version: stored.spec_version.clone(),
        date_added: stored.date_added,
        hash: ContentHash::of_canonical(json.as_bytes()),
        json,
    }
}

/// The properties an object's handling is derived from.
const HEAD: [&str; 6] = [
    "type",
    "id",
    "object_marking_refs",
    "granular_markings",
    "extensions",
    "created_by_ref",
];

/// The raw text of the handling members of canonical object text (most of an object, a pattern
/// or a description, is skipped unparsed); `None` where `canonical_members` declines the layout.
fn handling_members(json: &str) -> Option<Vec<(&str, &str)>> {
    let mut members = accord_stix::jcs::canonical_members(json)?;
    members.retain(|(k, _)| HEAD.contains(k));
    Some(members)
}

/// What two versions decided in one call must share to be decided alike: every handling member
/// but the id, as stored (canonical, so equal values are equal text).
fn same_handling(members: &[(&str, &str)]) -> String {
    let mut key = String::new();
    for (k, v) in members.iter().filter(|(k, _)| *k != "id") {
        key.push_str(k);
        key.push('\0');
        key.push_str(v);
        key.push('\0');
    }
    key
}

/// The head of a stored version: its handling members parsed, or the whole text parsed when
/// they could not be picked out.
fn head(json: &str, members: Option<Vec<(&str, &str)>>) -> Result<Map<String, Value>, serde_json::Error> {
    if let Some(members) = members {
        return members
            .into_iter()
            .map(|(k, v)| Ok((k.to_owned(), serde_json::from_str(v)?)))
            .collect();
    }
    let mut all: Map<String, Value> = serde_json::from_str(json)?;
    all.retain(|k, _| HEAD.contains(&k.as_str()));
    Ok(all)
}
