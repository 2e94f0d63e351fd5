//! The egress gate: every object version a principal receives, through any edge, is decided and
//! redacted here by the pure policy core, which the gate supplies with what it cannot read
//! itself: marking definitions, referenced objects and names of individuals from the store. The
//! decision point inside it is replaced as a whole when the configuration is reloaded. Edges do
//! not call the gate: they read through [`crate::read::Reader`], which logs what it releases.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use accord_ledger::Event;
use accord_ledger::entry::{Change, Decisions, Redaction as Redacted, Share, Shared, Version};
use accord_ledger_files::{Ledger, LedgerError};
use accord_policy::Request;
use accord_policy::egress::{Lookups, Release, ReleaseError, Stored};
use accord_policy::{Engine, Outcome};
use accord_stix::ContentHash;
use accord_stix::markings::{Marking, TlpLevel, classify};
use accord_store::{Query, Store, StoreError, StoredObject, VersionFilter};

use crate::clock::Clock;
use serde_json::{Map, Value};

/// How long the names of individuals in a collection are reused before they are read again.
const PEOPLE_TTL: Duration = Duration::from_secs(2);
/// Most identities read from a collection to learn names of individuals.
const PEOPLE_LIMIT: usize = 10_000;

/// Names of individuals in one collection, and when they were read (the node's monotonic clock).
type People = (Duration, Arc<Vec<String>>);

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
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate").finish_non_exhaustive()
    }
}

/// What may leave, decided but not yet logged: the released versions (redacted ones
/// re-serialised, with their new hash and, for SCOs whose identifying value changed, their new
/// id), one outcome per version decided, and the ledger entries that record the decisions and
/// redactions.
///
/// INVARIANT: the versions can be taken out only by [`Released::disclose_blocking`] or
/// [`Sealed::disclose`], after the decision, redaction and share entries are durable. Work that
/// must see them before (signing for a partner, setting aside what a partner cannot take) is
/// done in place, through [`Released::sign`] and [`Released::set_aside`].
#[derive(Default)]
pub struct Released {
    objects: Vec<StoredObject>,
    outcomes: Vec<Outcome>,
    /// Decisions that came out the same share one entry (a page holds a handful of outcomes).
    decisions: Vec<Decisions>,
    /// Redactions, one entry per redacted version.
    events: Vec<Event>,
    /// One per released version, in order: what the share entry lists.
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
    pub channel: Channel,
    pub collection: &'a str,
    pub purpose: Option<&'a str>,
}

/// The edge through which versions leave, as the share entry names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// TAXII objects, object and versions endpoints.
    Taxii,
    /// The TAXII manifest endpoint: ids, versions and dates, no content.
    TaxiiManifest,
    /// `accord export`.
    Export,
    /// A push to a partner node.
    Sync,
    /// Indicators read from a collection by `accord match`.
    Match,
    /// What the command line shows its operator (incident reports, corroboration).
    Cli,
    /// Quarantined objects shown to an administrator for review.
    QuarantineReview,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Taxii => "taxii",
            Channel::TaxiiManifest => "taxii-manifest",
            Channel::Export => "export",
            Channel::Sync => "sync",
            Channel::Match => "match",
            Channel::Cli => "cli",
            Channel::QuarantineReview => "quarantine-review",
        }
    }
}

// Debug shows counts, never content: nothing leaves but through the ledger, not even a log line.
impl std::fmt::Debug for Released {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Released")
            .field("versions", &self.objects.len())
            .field("decided", &self.outcomes.len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed")
            .field("versions", &self.objects.len())
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl Released {
    /// How many versions may leave.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// One outcome per version decided, in order.
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// Replaces each released version's text by what `sign` makes of it (its provenance for a
    /// partner), given the stored original's hash when the version is a redacted copy. Spread
    /// over the cores. The share entry still lists the released content's hash.
    pub fn sign<E: Send>(
        &mut self,
        sign: impl Fn(&StoredObject, Option<&ContentHash>) -> Result<String, E> + Sync,
    ) -> Result<(), E> {
        use rayon::prelude::*;
        let originals: Vec<Option<ContentHash>> = self
            .shared
            .iter()
            .map(|s| s.original.as_deref().and_then(ContentHash::from_hex))
            .collect();
        let sign = |(o, original): (&mut StoredObject, &Option<ContentHash>)| {
            o.json = sign(o, original.as_ref())?;
            Ok(())
        };
        // A small page is signed faster here than handed to the pool.
        if self.objects.len() <= 32 {
            self.objects.iter_mut().zip(&originals).try_for_each(sign)
        } else {
            self.objects.par_iter_mut().zip(&originals).try_for_each(sign)
        }
    }

    /// Sets aside, before anything is logged, the released versions whose size in bytes, as they
    /// would leave, `keep` refuses: their decisions stay (they were taken), but they are not
    /// shared. Returns the id and size of each version set aside. Only sizes are shown: content
    /// leaves through the ledger or not at all.
    pub fn set_aside(&mut self, keep: impl Fn(usize) -> bool) -> Vec<(String, usize)> {
        let (mut objects, mut shared, mut aside) = (Vec::new(), Vec::new(), Vec::new());
        let released = std::mem::take(&mut self.objects).into_iter();
        for (o, s) in released.zip(std::mem::take(&mut self.shared)) {
            if keep(o.json.len()) {
                objects.push(o);
                shared.push(s);
            } else {
                aside.push((o.id, o.json.len()));
            }
        }
        (self.objects, self.shared) = (objects, shared);
        aside
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

    /// Serialises the ledger entries for this disclosure, dated `now`: decisions, redactions and
    /// the share. CPU work: do it where blocking is fine.
    pub fn seal(mut self, to: &Recipient<'_>, now: i64) -> Sealed {
        let mut events: Vec<Event> = self.decisions.into_iter().map(Event::Decisions).collect();
        events.append(&mut self.events);
        let shares = !self.shared.is_empty();
        if shares {
            events.push(Event::Share(Share {
                principal: to.principal.to_owned(),
                channel: to.channel.as_str().to_owned(),
                collection: Some(to.collection.to_owned()),
                purpose: to.purpose.map(str::to_owned),
                objects: self.shared,
            }));
        }
        let events: Vec<(i64, Event)> = events.into_iter().map(|e| (now, e)).collect();
        Sealed {
            objects: self.objects,
            entries: accord_ledger_files::prepare(&events),
            shares,
        }
    }

    /// The versions, once the decisions, redactions and the share (dated `now`) are durably
    /// logged.
    pub fn disclose_blocking(
        self,
        log: &Ledger,
        to: &Recipient<'_>,
        now: i64,
    ) -> Result<Vec<StoredObject>, LedgerError> {
        let sealed = self.seal(to, now);
        log.record_prepared_wait(sealed.entries)?;
        Ok(sealed.objects)
    }
}

/// Released versions with their serialised ledger entries, waiting to be logged.
pub struct Sealed {
    objects: Vec<StoredObject>,
    entries: Vec<accord_ledger_files::Prepared>,
    /// Whether the last entry is the share.
    shares: bool,
}

impl Sealed {
    /// The versions, once their entries are durably logged. The share is dated `now`, when the
    /// versions leave; the decisions keep the time they were taken (earlier, for a page read
    /// ahead).
    pub async fn disclose(mut self, log: &Ledger, now: i64) -> Result<Vec<StoredObject>, LedgerError> {
        if self.shares
            && let Some(share) = self.entries.last_mut()
        {
            share.restamp(&accord_stix::Timestamp::format_micros(now));
        }
        log.record_prepared(self.entries).durable().await?;
        Ok(self.objects)
    }
}

impl Gate {
    /// `defaults` maps collection ids to the TLP of their unmarked objects.
    pub fn new(
        engine: Engine,
        defaults: HashMap<String, TlpLevel>,
        key: [u8; 32],
        clock: Arc<dyn Clock>,
    ) -> Self {
        Gate {
            in_force: RwLock::new(InForce {
                engine: Arc::new(engine),
                defaults: Arc::new(defaults),
                generation: 0,
            }),
            key,
            markings: Mutex::default(),
            people: Mutex::default(),
            clock,
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
            && self.clock.elapsed().saturating_sub(at) < PEOPLE_TTL
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
            p.insert(collection.to_owned(), (self.clock.elapsed(), names.clone()));
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

    /// Decides and redacts versions read from `collection` for one request. Only the reader
    /// calls this: what it returns leaves through the ledger or not at all.
    pub(crate) fn release(
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
        let lookups = StoreLookups {
            gate: self,
            store,
            collection,
        };
        let stored: Vec<Stored<'_>> = versions
            .iter()
            .map(|v| Stored {
                id: &v.id,
                json: &v.json,
            })
            .collect();
        // INVARIANT: every version is decided by the policy core's fast path, which gives what
        // `accord_policy::disclose` gives (a property test holds the two together).
        let verdicts = accord_policy::egress::release(&engine.decider(req), &stored, &lookups, &self.key)
            .map_err(|e| match e {
                ReleaseError::Corrupt { id, error } => {
                    StoreError::Corrupt(format!("{id} in collection {collection}: {error}"))
                }
                ReleaseError::Lookup(e) => e,
            })?;
        let mut out = Released {
            objects: Vec::with_capacity(versions.len()),
            outcomes: Vec::with_capacity(versions.len()),
            ..Released::default()
        };
        for (stored, verdict) in versions.into_iter().zip(verdicts) {
            let hash = stored.hash.to_hex();
            let d = &verdict.outcome.decision;
            let decided = Version {
                id: stored.id.clone(),
                version: stored.version.clone(),
                hash: hash.clone(),
            };
            let released = match verdict.release {
                Release::Withheld => None,
                Release::Unchanged => Some(stored.clone()),
                Release::Redacted(object) => Some(redacted_version(&stored, object)),
            };
            if !verdict.outcome.redactions.is_empty() {
                out.events.push(Event::Redaction(Redacted {
                    principal: req.principal.to_owned(),
                    object: stored.id.clone(),
                    version: stored.version.clone(),
                    hash: hash.clone(),
                    released: released.as_ref().map(|r| r.hash.to_hex()),
                    agreement: d.agreement.clone(),
                    profile: d.profile.clone(),
                    changes: verdict
                        .outcome
                        .redactions
                        .iter()
                        .map(|r| Change {
                            path: r.path.clone(),
                            category: r.category.to_owned(),
                            transform: r.transform.as_str().to_owned(),
                        })
                        .collect(),
                }));
            }
            // Within one request only the outcome varies: compare it without building an entry.
            let same = |g: &&mut Decisions| {
                g.effect == d.effect.as_str()
                    && g.agreement == d.agreement
                    && g.profile == d.profile
                    && g.reasons.iter().eq(d.reasons.iter().map(|r| &r.policy))
            };
            match out.decisions.iter_mut().find(same) {
                Some(g) => g.objects.push(decided),
                None => out.decisions.push(Decisions {
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
            if let Some(r) = released {
                out.shared.push(Shared {
                    id: r.id.clone(),
                    version: r.version.clone(),
                    hash: r.hash.to_hex(),
                    original: (r.hash != stored.hash).then_some(hash),
                    agreement: d.agreement.clone(),
                });
                out.objects.push(r);
            }
            out.outcomes.push(verdict.outcome);
        }
        Ok(out)
    }
}

/// What the policy core reads from the store while it decides a batch of one collection.
struct StoreLookups<'a> {
    gate: &'a Gate,
    store: &'a dyn Store,
    collection: &'a str,
}

impl Lookups for StoreLookups<'_> {
    type Error = StoreError;

    fn marking(&self, id: &str) -> Option<Marking> {
        self.gate.marking(self.store, self.collection, id)
    }

    fn object(&self, id: &str) -> Option<Value> {
        Gate::latest(self.store, self.collection, vec![id.to_owned()])
            .ok()?
            .first()
            .and_then(|o| serde_json::from_str(&o.json).ok())
    }

    fn people(&self) -> Result<Arc<Vec<String>>, StoreError> {
        self.gate.people(self.store, self.collection)
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
