//! Matching many indicators against a stream of observations at a cost per event that does not
//! grow with the number of indicators. Each `[...]` of each pattern is reduced to anchors
//! (tests that must hold when it does); anchors are indexed by the object type and path they
//! read: equality as a hash table, ISSUBSET as a table per prefix length, LIKE by its fixed text
//! in an Aho-Corasick automaton, MATCHES in a regex set. Everything else (negations, orderings,
//! EXISTS) falls back to every object of the type being a candidate. Candidates are then checked
//! with the exact evaluator, so the index only decides what is worth checking.
//!
//! Patterns of several `[...]` or with qualifiers keep, per indicator, the most recent
//! observations that satisfied one of their parts ([`PENDING`]), and are solved again when a new
//! one arrives; a match consumes the observations bound to it.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;

use aho_corasick::AhoCorasick;
use regex::RegexSet;
use rustc_hash::FxHasher;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use crate::ast::Step;
use crate::eval::{Anchor, EvalError, Lit, Matcher, Net, Pool, Span, Val, latin1, walk};
use crate::observation::Observed;

/// How many recent observations a pattern of several parts keeps while it waits for the rest.
pub const PENDING: usize = 64;

/// One indicator in the index.
#[derive(Debug)]
pub struct Entry {
    pub id: Box<str>,
    pub matcher: Matcher,
}

/// A hash table whose keys are already hashes.
#[derive(Debug, Default, Clone, Copy)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Table<V> = HashMap<u64, V, BuildHasherDefault<Prehashed>>;

/// Indexed parts (positions in `Index::parts`) under one key: the part itself, or with the top
/// bit set, the position of a list of parts in `Lists` (most keys have one part, so the common
/// case costs four bytes).
type Refs = u32;
const LIST: u32 = 1 << 31;

#[derive(Debug, Default)]
struct Lists(Vec<Vec<u32>>);

impl Lists {
    fn insert(&mut self, table: &mut Table<Refs>, h: u64, r: u32) {
        match table.get_mut(&h) {
            Some(v) if *v & LIST != 0 => self.0[(*v & !LIST) as usize].push(r),
            Some(v) => {
                let n = u32::try_from(self.0.len()).unwrap_or(u32::MAX >> 1);
                self.0.push(vec![*v, r]);
                *v = n | LIST;
            }
            None => {
                table.insert(h, r);
            }
        }
    }

    fn get<'a>(&'a self, v: &'a Refs) -> &'a [u32] {
        if *v & LIST != 0 {
            self.0.get((*v & !LIST) as usize).map_or(&[], Vec::as_slice)
        } else {
            std::slice::from_ref(v)
        }
    }
}

#[derive(Debug, Default)]
struct PathSlot {
    steps: Vec<Step>,
    /// Whether any equality on this path is with a timestamp (strings are then also read as
    /// timestamps).
    times: bool,
    /// ISSUBSET networks by prefix length: (family, prefix) → masked address → parts.
    nets: HashMap<(u8, u8), Table<Refs>>,
    contains: Option<(AhoCorasick, Vec<u32>)>,
    regexes: Option<(RegexSet, Vec<u32>)>,
}

#[derive(Debug, Default)]
struct TypeSlot {
    paths: Vec<u32>,
    /// Parts with nothing indexable: checked against every object of the type.
    scan: Vec<u32>,
}

/// The compiled index of many indicators.
#[derive(Debug, Default)]
pub struct Index {
    entries: Vec<Entry>,
    /// (entry, part) for every indexed part.
    parts: Vec<(u32, u32)>,
    types: HashMap<String, TypeSlot>,
    paths: Vec<PathSlot>,
    equal: Table<Refs>,
    lists: Lists,
}

/// Builds an [`Index`].
#[derive(Debug, Default)]
pub struct IndexBuilder {
    index: Index,
    pool: Pool,
    path_ids: HashMap<(String, Vec<Step>), u32>,
    contains: HashMap<u32, (Vec<String>, Vec<u32>)>,
    regexes: HashMap<u32, (Vec<String>, Vec<u32>)>,
}

impl IndexBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an indicator; returns its number.
    pub fn add(&mut self, id: String, mut matcher: Matcher) -> u32 {
        matcher.share(&mut self.pool);
        let entry = u32::try_from(self.index.entries.len()).unwrap_or(u32::MAX);
        for part in 0..matcher.leaf_count() {
            let r = u32::try_from(self.index.parts.len()).unwrap_or(u32::MAX);
            self.index
                .parts
                .push((entry, u32::try_from(part).unwrap_or(u32::MAX)));
            for anchor in matcher.anchors(part) {
                self.anchor(anchor, r);
            }
        }
        self.index.entries.push(Entry {
            id: id.into_boxed_str(),
            matcher,
        });
        entry
    }

    fn path(&mut self, ty: &str, steps: &[Step]) -> u32 {
        if let Some(&p) = self.path_ids.get(&(ty.to_owned(), steps.to_vec())) {
            return p;
        }
        let p = u32::try_from(self.index.paths.len()).unwrap_or(u32::MAX);
        self.index.paths.push(PathSlot {
            steps: steps.to_vec(),
            ..PathSlot::default()
        });
        self.index.types.entry(ty.to_owned()).or_default().paths.push(p);
        self.path_ids.insert((ty.to_owned(), steps.to_vec()), p);
        p
    }

    fn anchor(&mut self, anchor: Anchor<'_>, r: u32) {
        match anchor {
            Anchor::Type(ty) => self.index.types.entry(ty.to_owned()).or_default().scan.push(r),
            Anchor::Eq(t, lit) => {
                let p = self.path(t.object_type(), t.steps());
                if matches!(lit, Lit::Time(_)) {
                    self.index.paths[p as usize].times = true;
                }
                let h = literal_key(p, lit);
                self.index.lists.insert(&mut self.index.equal, h, r);
            }
            Anchor::Within(t, net) => {
                let p = self.path(t.object_type(), t.steps());
                let (family, prefix, bits) = net_key(net);
                let table = self.index.paths[p as usize]
                    .nets
                    .entry((family, prefix))
                    .or_default();
                self.index.lists.insert(table, bits, r);
            }
            Anchor::Contains(t, text) => {
                let p = self.path(t.object_type(), t.steps());
                let e = self.contains.entry(p).or_default();
                e.0.push(text);
                e.1.push(r);
            }
            Anchor::Regex(t, re) => {
                let p = self.path(t.object_type(), t.steps());
                let e = self.regexes.entry(p).or_default();
                e.0.push(re.as_str().to_owned());
                e.1.push(r);
            }
        }
    }

    /// Compiles the automata and regex sets.
    pub fn build(mut self) -> Result<Index, String> {
        for (p, (texts, refs)) in self.contains {
            let ac = AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::Standard)
                .build(&texts)
                .map_err(|e| format!("building the LIKE automaton: {e}"))?;
            self.index.paths[p as usize].contains = Some((ac, refs));
        }
        for (p, (sources, refs)) in self.regexes {
            let set = RegexSet::new(&sources).map_err(|e| format!("building the MATCHES set: {e}"))?;
            self.index.paths[p as usize].regexes = Some((set, refs));
        }
        Ok(self.index)
    }
}

const STR: u8 = 0;
const BYTES: u8 = 1;
const NUM: u8 = 2;
const BOOL: u8 = 3;
const TIME: u8 = 4;

fn key(path: u32, kind: u8, bytes: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    path.hash(&mut h);
    kind.hash(&mut h);
    bytes.hash(&mut h);
    h.finish()
}

/// Numbers that are equal get one key: integral values as integers, others by their bits.
fn number_key(path: u32, n: NumKey) -> u64 {
    match n {
        NumKey::Int(i) => key(path, NUM, &i.to_le_bytes()),
        NumKey::Float(f) if f.fract() == 0.0 && f.abs() < 1e38 => key(path, NUM, &(f as i128).to_le_bytes()),
        NumKey::Float(f) => key(path, NUM, &f.to_bits().to_le_bytes()),
    }
}

enum NumKey {
    Int(i128),
    Float(f64),
}

fn literal_key(path: u32, lit: &Lit) -> u64 {
    match lit {
        Lit::Str(s) => key(path, STR, s.as_bytes()),
        Lit::Bytes(b) => key(path, BYTES, b),
        Lit::Int(i) => number_key(path, NumKey::Int(i128::from(*i))),
        Lit::Float(f) => number_key(path, NumKey::Float(*f)),
        Lit::Bool(b) => key(path, BOOL, &[u8::from(*b)]),
        Lit::Time(t) => key(path, TIME, &t.to_le_bytes()),
    }
}

fn net_key(net: Net) -> (u8, u8, u64) {
    match net {
        Net::V4(a, p) => (4, p, u64::from(mask4(a, p))),
        Net::V6(a, p) => {
            let m = mask6(a, p);
            (6, p, (m >> 64) as u64 ^ (m as u64).rotate_left(17))
        }
    }
}

fn mask4(a: u32, p: u8) -> u32 {
    if p == 0 {
        0
    } else {
        a & (u32::MAX << (32 - u32::from(p)))
    }
}

fn mask6(a: u128, p: u8) -> u128 {
    if p == 0 {
        0
    } else {
        a & (u128::MAX << (128 - u32::from(p)))
    }
}

/// Per-stream scratch space: which parts are already candidates for the current observation.
#[derive(Debug, Default)]
struct Seen {
    stamp: Vec<u32>,
    now: u32,
    list: Vec<u32>,
}

impl Seen {
    fn reset(&mut self, parts: usize) {
        if self.stamp.len() < parts {
            self.stamp.resize(parts, 0);
        }
        self.now = self.now.wrapping_add(1);
        if self.now == 0 {
            self.stamp.fill(0);
            self.now = 1;
        }
        self.list.clear();
    }
    fn add(&mut self, refs: &[u32]) {
        for &r in refs {
            if let Some(s) = self.stamp.get_mut(r as usize)
                && *s != self.now
            {
                *s = self.now;
                self.list.push(r);
            }
        }
    }
}

impl Index {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entry(&self, i: u32) -> Option<&Entry> {
        self.entries.get(i as usize)
    }

    /// Adds to `seen` every part that might hold for one of `obs`'s objects.
    fn candidates(&self, obs: &Observed, seen: &mut Seen) {
        for (_, object) in &obs.objects {
            let Some(slot) = object
                .get("type")
                .and_then(Value::as_str)
                .and_then(|t| self.types.get(t))
            else {
                continue;
            };
            seen.add(&slot.scan);
            for &p in &slot.paths {
                let path = &self.paths[p as usize];
                walk(obs, Val::Json(object), &path.steps, &mut |v| {
                    self.lookup(p, path, &v, seen);
                    false
                });
            }
        }
    }

    fn lookup(&self, p: u32, path: &PathSlot, v: &Val, seen: &mut Seen) {
        let mut eq = |h: u64| {
            if let Some(refs) = self.equal.get(&h) {
                seen.add(self.lists.get(refs));
            }
        };
        let text: Option<std::borrow::Cow<str>> = match v {
            Val::Json(Value::String(s)) => {
                eq(key(p, STR, s.as_bytes()));
                if let Some(b) = latin1(s) {
                    eq(key(p, BYTES, &b));
                }
                if path.times
                    && let Ok(t) = accord_stix::Timestamp::parse(s)
                {
                    eq(key(p, TIME, &t.as_nanos_saturating().to_le_bytes()));
                }
                Some(std::borrow::Cow::Borrowed(s.as_str()))
            }
            Val::Json(Value::Number(n)) => {
                let k = match (n.as_i64(), n.as_u64(), n.as_f64()) {
                    (Some(i), _, _) => NumKey::Int(i128::from(i)),
                    (_, Some(u), _) => NumKey::Int(i128::from(u)),
                    (_, _, Some(f)) => NumKey::Float(f),
                    _ => return,
                };
                eq(number_key(p, k));
                None
            }
            Val::Json(Value::Bool(b)) => {
                eq(key(p, BOOL, &[u8::from(*b)]));
                None
            }
            Val::Bytes(b) => {
                eq(key(p, BYTES, b));
                let s: String = b.iter().map(|&c| char::from(c)).collect();
                eq(key(p, STR, s.as_bytes()));
                Some(std::borrow::Cow::Owned(s))
            }
            _ => None,
        };
        let Some(text) = text else { return };
        if !path.nets.is_empty()
            && let Some(net) = Net::parse(&text)
        {
            let (family, prefix) = match net {
                Net::V4(_, q) => (4, q),
                Net::V6(_, q) => (6, q),
            };
            for (&(f, p), table) in &path.nets {
                if f != family || p > prefix {
                    continue;
                }
                let bits = match net {
                    Net::V4(a, _) => net_key(Net::V4(a, p)).2,
                    Net::V6(a, _) => net_key(Net::V6(a, p)).2,
                };
                if let Some(refs) = table.get(&bits) {
                    seen.add(self.lists.get(refs));
                }
            }
        }
        if path.contains.is_none() && path.regexes.is_none() {
            return;
        }
        let normal: String = text.nfc().collect();
        if let Some((ac, refs)) = &path.contains {
            for m in ac.find_overlapping_iter(&normal) {
                seen.add(std::slice::from_ref(&refs[m.pattern().as_usize()]));
            }
        }
        if let Some((set, refs)) = &path.regexes {
            for i in set.matches(&normal).iter() {
                seen.add(std::slice::from_ref(&refs[i]));
            }
        }
    }
}

/// A match of one indicator: the observations bound to it.
#[derive(Debug, Clone)]
pub struct Hit {
    pub indicator: u32,
    pub observations: Vec<Arc<Observed>>,
}

/// Counters for a stream.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StreamStats {
    pub observations: u64,
    /// Parts the index proposed.
    pub candidates: u64,
    /// Parts that held.
    pub confirmed: u64,
    pub hits: u64,
    /// Patterns of several parts that gave up on an observation (too many bindings).
    pub abandoned: u64,
}

#[derive(Debug, Default)]
struct Pending {
    /// Recent observations with the parts each satisfied.
    seen: VecDeque<(Arc<Observed>, Vec<u32>)>,
}

/// Matches a stream of observations against an [`Index`].
#[derive(Debug)]
pub struct Stream<'i> {
    index: &'i Index,
    seen: Seen,
    pending: HashMap<u32, Pending>,
    pub stats: StreamStats,
}

impl<'i> Stream<'i> {
    pub fn new(index: &'i Index) -> Self {
        Stream {
            index,
            seen: Seen::default(),
            pending: HashMap::new(),
            stats: StreamStats::default(),
        }
    }

    /// Matches one observation; appends the resulting matches to `out`.
    pub fn push(&mut self, obs: Observed, out: &mut Vec<Hit>) {
        let obs = Arc::new(obs);
        self.stats.observations += 1;
        self.seen.reset(self.index.parts.len());
        self.index.candidates(&obs, &mut self.seen);
        self.stats.candidates += self.seen.list.len() as u64;
        let mut touched: Vec<u32> = Vec::new();
        for &r in &self.seen.list {
            let (entry, part) = self.index.parts[r as usize];
            let m = &self.index.entries[entry as usize].matcher;
            if !m.leaf_matches(part as usize, &obs) {
                continue;
            }
            self.stats.confirmed += 1;
            if m.is_single() {
                self.stats.hits += 1;
                out.push(Hit {
                    indicator: entry,
                    observations: vec![obs.clone()],
                });
                continue;
            }
            let pending = self.pending.entry(entry).or_default();
            match pending.seen.back_mut() {
                Some((o, parts)) if Arc::ptr_eq(o, &obs) => parts.push(part),
                _ => {
                    if pending.seen.len() == PENDING {
                        pending.seen.pop_front();
                    }
                    pending.seen.push_back((obs.clone(), vec![part]));
                    touched.push(entry);
                }
            }
        }
        for entry in touched {
            self.solve(entry, out);
        }
    }

    fn solve(&mut self, entry: u32, out: &mut Vec<Hit>) {
        let Some(pending) = self.pending.get_mut(&entry) else {
            return;
        };
        let m = &self.index.entries[entry as usize].matcher;
        let spans: Vec<Span> = pending.seen.iter().map(|(o, _)| Span::of(o)).collect();
        let mut hits = vec![Vec::new(); m.leaf_count()];
        for (i, (_, parts)) in pending.seen.iter().enumerate() {
            for &p in parts {
                if let Some(h) = hits.get_mut(p as usize) {
                    h.push(u32::try_from(i).unwrap_or(u32::MAX));
                }
            }
        }
        match m.solve(&spans, &hits) {
            Ok(Some(bound)) => {
                self.stats.hits += 1;
                let observations = bound
                    .iter()
                    .filter_map(|&i| pending.seen.get(i).map(|(o, _)| o.clone()))
                    .collect();
                // A match uses up its observations.
                let mut i = 0;
                pending.seen.retain(|_| {
                    i += 1;
                    !bound.contains(&(i - 1))
                });
                out.push(Hit {
                    indicator: entry,
                    observations,
                });
            }
            Ok(None) => {}
            Err(EvalError::TooManyBindings) => {
                self.stats.abandoned += 1;
                pending.seen.clear();
            }
        }
    }
}
