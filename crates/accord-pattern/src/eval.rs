//! Evaluating a pattern against observations, with the semantics of the OASIS reference matcher
//! (`stix2-matcher`) except for the differences listed in `DIFFERENCES.md` of this crate.
//!
//! A comparison expression holds for an observation when one of its cyber observables (the
//! "root") satisfies it: AND and OR combine tests on the same root, and a test holds when any
//! value its object path selects passes it (so `!=` and `NOT` also need a value to exist).
//! Observation expressions are then solved as the reference matcher does: each observed-data
//! counts as `number_observed` separate observations, and a match binds distinct ones to each
//! `[...]`, subject to FOLLOWEDBY order, WITHIN windows and START/STOP intervals.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::sync::Arc;

use regex::Regex;
use serde_json::{Number, Value};
use unicode_normalization::UnicodeNormalization;

use crate::PatternError;
use crate::ast::{self, Comparison, Literal, Observation as Obs, Op, Qualifier, Step};
use crate::observation::Observed;

/// The most candidate bindings one observation expression may have before evaluation stops
/// with [`EvalError::TooManyBindings`] rather than exhausting memory.
pub const BINDING_LIMIT: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error(
        "more than {BINDING_LIMIT} ways to bind observations to the pattern: narrow it (WITHIN, START/STOP) or match fewer observations at once"
    )]
    TooManyBindings,
}

/// A pattern ready to evaluate: regular expressions compiled, networks parsed, sets checked.
#[derive(Debug, Clone)]
pub struct Matcher {
    root: Node,
    leaves: Vec<Expr>,
}

#[derive(Debug, Clone)]
enum Node {
    Leaf(usize),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    FollowedBy(Box<Node>, Box<Node>),
    /// Window in nanoseconds.
    Within(Box<Node>, i128),
    Repeats(Box<Node>, u64),
    StartStop(Box<Node>, i64, i64),
}

#[derive(Debug, Clone)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Test(Test),
}

#[derive(Debug, Clone)]
pub(crate) struct Test {
    // Shared: an index of many patterns holds each type and path once.
    object_type: Arc<str>,
    steps: Arc<[Step]>,
    negated: bool,
    pred: Pred,
    /// For LIKE: the longest run of the pattern without wildcards, which every match contains.
    fragment: Option<String>,
    /// Built-in STIX types that are not cyber observables never match (as in the reference
    /// matcher): observed-data refers to SCOs.
    never: bool,
}

#[derive(Debug, Clone)]
enum Pred {
    Eq(Lit),
    Neq(Lit),
    Order(Op, Lit),
    In(Vec<Lit>),
    Like(Regex),
    Matches(Regex),
    Subset(Net),
    Superset(Net),
    Exists,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Bool(bool),
    /// Nanoseconds since the epoch.
    Time(i64),
}

/// An IPv4 or IPv6 network: address bits and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    V4(u32, u8),
    V6(u128, u8),
}

impl Net {
    /// Parses `a.b.c.d`, `a.b.c.d/n`, an IPv6 address, or an IPv6 address with `/n`. An address
    /// alone is a single-host network.
    pub fn parse(s: &str) -> Option<Net> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                (a, Some(p.parse::<u8>().ok()?))
            }
            Some(_) => return None,
            None => (s, None),
        };
        match addr.parse::<std::net::IpAddr>().ok()? {
            std::net::IpAddr::V4(a) => {
                let p = prefix.unwrap_or(32);
                (p <= 32).then_some(Net::V4(u32::from(a), p))
            }
            std::net::IpAddr::V6(a) => {
                let p = prefix.unwrap_or(128);
                (p <= 128).then_some(Net::V6(u128::from(a), p))
            }
        }
    }

    /// Whether every address of `inner` lies in `self`.
    pub fn contains(self, inner: Net) -> bool {
        match (self, inner) {
            (Net::V4(a, p), Net::V4(b, q)) => p <= q && (p == 0 || (a ^ b) >> (32 - u32::from(p)) == 0),
            (Net::V6(a, p), Net::V6(b, q)) => p <= q && (p == 0 || (a ^ b) >> (128 - u32::from(p)) == 0),
            _ => false,
        }
    }
}

impl Matcher {
    /// Prepares `pattern` for evaluation. Fails, naming the byte position of the object path,
    /// on a set mixing literal types, an invalid network for ISSUBSET/ISSUPERSET, or a regular
    /// expression the Rust `regex` dialect cannot compile.
    pub fn new(pattern: &Obs) -> Result<Matcher, PatternError> {
        let mut leaves = Vec::new();
        let root = node(pattern, &mut leaves)?;
        Ok(Matcher { root, leaves })
    }

    /// How many `[...]` observation expressions the pattern has.
    pub fn leaf_count(&self) -> usize {
        self.leaves.len()
    }

    /// Whether the comparison expression of `[...]` number `leaf` holds for `obs`.
    pub fn leaf_matches(&self, leaf: usize, obs: &Observed) -> bool {
        self.leaves
            .get(leaf)
            .is_some_and(|e| obs.objects.iter().any(|(_, root)| e.holds(obs, root)))
    }

    /// Whether the pattern matches `observations`; on a match, the observations bound to it
    /// (indices into `observations`, ascending).
    pub fn find(&self, observations: &[Observed]) -> Result<Option<Vec<usize>>, EvalError> {
        // One `[...]` without qualifiers: the first observation it holds for is the match.
        if let Node::Leaf(k) = self.root {
            return Ok(observations
                .iter()
                .position(|o| self.leaf_matches(k, o))
                .map(|i| vec![i]));
        }
        let hits: Vec<Vec<u32>> = (0..self.leaves.len())
            .map(|leaf| {
                (0..observations.len())
                    .filter(|&i| self.leaf_matches(leaf, &observations[i]))
                    .filter_map(|i| u32::try_from(i).ok())
                    .collect()
            })
            .collect();
        let spans: Vec<Span> = observations.iter().map(Span::of).collect();
        self.solve(&spans, &hits)
    }

    /// Like [`Matcher::find`], given only the observations' time spans and which of them each
    /// `[...]` holds for (`hits[leaf]`, ascending indices into `spans`).
    pub fn solve(&self, spans: &[Span], hits: &[Vec<u32>]) -> Result<Option<Vec<usize>>, EvalError> {
        let solver = Solver { obs: spans, hits };
        let found = solver.bindings(&self.root, true)?;
        Ok(found
            .into_iter()
            .next()
            .map(|b| b.iter().map(|&(o, _)| o as usize).collect()))
    }

    /// Whether the pattern matches `observations`.
    pub fn matches(&self, observations: &[Observed]) -> Result<bool, EvalError> {
        Ok(self.find(observations)?.is_some())
    }
}

/// A test that must hold when a comparison expression holds, in a form an index can look up.
#[derive(Debug)]
pub(crate) enum Anchor<'a> {
    /// The path selects a value equal to this literal.
    Eq(&'a Test, &'a Lit),
    /// The path selects an address inside this network.
    Within(&'a Test, Net),
    /// The path selects a value containing this text (a fixed part of a LIKE pattern).
    Contains(&'a Test, String),
    /// The path selects a value this regular expression finds a match in.
    Regex(&'a Test, &'a Regex),
    /// Nothing indexable: every object of this type is a candidate.
    Type(&'a str),
}

impl Matcher {
    /// Whether the pattern is one `[...]` without qualifiers: it matches one observation alone.
    pub fn is_single(&self) -> bool {
        matches!(self.root, Node::Leaf(_))
    }

    /// Anchors of `[...]` number `leaf`: whenever it holds for an object, one of them does.
    pub(crate) fn anchors(&self, leaf: usize) -> Vec<Anchor<'_>> {
        self.leaves.get(leaf).map(Expr::anchors).unwrap_or_default()
    }
}

/// Types and paths already held, for sharing between patterns.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    types: HashSet<Arc<str>>,
    paths: HashSet<Arc<[Step]>>,
}

impl Matcher {
    /// Makes this pattern's types and paths the pool's copies.
    pub(crate) fn share(&mut self, pool: &mut Pool) {
        for e in &mut self.leaves {
            e.share(pool);
        }
    }
}

impl Expr {
    fn share(&mut self, pool: &mut Pool) {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.share(pool);
                b.share(pool);
            }
            Expr::Test(t) => t.share(pool),
        }
    }

    fn anchors(&self) -> Vec<Anchor<'_>> {
        match self {
            Expr::Or(a, b) => {
                let mut v = a.anchors();
                v.extend(b.anchors());
                v
            }
            // Either side's anchors will do: take the side that avoids type scans, then the one
            // with fewer anchors.
            Expr::And(a, b) => {
                let (x, y) = (a.anchors(), b.anchors());
                let scans = |v: &[Anchor]| v.iter().filter(|a| matches!(a, Anchor::Type(_))).count();
                if (scans(&x), x.len()) <= (scans(&y), y.len()) {
                    x
                } else {
                    y
                }
            }
            Expr::Test(t) => {
                let ty = || vec![Anchor::Type(&t.object_type)];
                if t.never {
                    return Vec::new();
                }
                if t.negated {
                    return ty();
                }
                match &t.pred {
                    Pred::Eq(l) => vec![Anchor::Eq(t, l)],
                    Pred::In(set) => set.iter().map(|l| Anchor::Eq(t, l)).collect(),
                    Pred::Subset(n) => vec![Anchor::Within(t, *n)],
                    Pred::Like(_) => match &t.fragment {
                        Some(f) => vec![Anchor::Contains(t, f.clone())],
                        None => ty(),
                    },
                    Pred::Matches(re) => vec![Anchor::Regex(t, re)],
                    _ => ty(),
                }
            }
        }
    }
}

impl Test {
    fn share(&mut self, pool: &mut Pool) {
        match pool.types.get(&self.object_type) {
            Some(t) => self.object_type = t.clone(),
            None => {
                pool.types.insert(self.object_type.clone());
            }
        }
        match pool.paths.get(&self.steps) {
            Some(p) => self.steps = p.clone(),
            None => {
                pool.paths.insert(self.steps.clone());
            }
        }
    }

    pub(crate) fn object_type(&self) -> &str {
        &self.object_type
    }

    pub(crate) fn steps(&self) -> &[Step] {
        &self.steps
    }
}

fn node(o: &Obs, leaves: &mut Vec<Expr>) -> Result<Node, PatternError> {
    let pair = |a: &Obs, b: &Obs, leaves: &mut Vec<Expr>| -> Result<(Box<Node>, Box<Node>), PatternError> {
        Ok((Box::new(node(a, leaves)?), Box::new(node(b, leaves)?)))
    };
    Ok(match o {
        Obs::Simple(c) => {
            leaves.push(expr(c)?);
            Node::Leaf(leaves.len() - 1)
        }
        Obs::And(a, b) => {
            let (a, b) = pair(a, b, leaves)?;
            Node::And(a, b)
        }
        Obs::Or(a, b) => {
            let (a, b) = pair(a, b, leaves)?;
            Node::Or(a, b)
        }
        Obs::FollowedBy(a, b) => {
            let (a, b) = pair(a, b, leaves)?;
            Node::FollowedBy(a, b)
        }
        Obs::Qualified(inner, q) => {
            let inner = Box::new(node(inner, leaves)?);
            match q {
                // Rounded to the nanosecond; the parser guarantees a positive number.
                Qualifier::Within(n) => Node::Within(inner, (n.value * 1e9).round() as i128),
                Qualifier::Repeats(n) => Node::Repeats(inner, *n),
                Qualifier::StartStop(a, b) => Node::StartStop(inner, a.nanos, b.nanos),
            }
        }
    })
}

fn expr(c: &Comparison) -> Result<Expr, PatternError> {
    Ok(match c {
        Comparison::And(a, b) => Expr::And(Box::new(expr(a)?), Box::new(expr(b)?)),
        Comparison::Or(a, b) => Expr::Or(Box::new(expr(a)?), Box::new(expr(b)?)),
        Comparison::Test(t) => Expr::Test(test(t)?),
    })
}

fn test(t: &ast::Test) -> Result<Test, PatternError> {
    let (path, negated, pred) = match t {
        ast::Test::Exists(path) => (path, false, Pred::Exists),
        ast::Test::Compare {
            path,
            negated,
            op,
            value,
        } => {
            let fail = |message: String| PatternError { at: path.at, message };
            let text = || match value {
                Literal::Str(s) => Ok(s.nfc().collect::<String>()),
                _ => Err(fail(format!("{} needs a string", op.as_str()))),
            };
            let net = || {
                let s = text()?;
                Net::parse(&s).ok_or_else(|| fail(format!("{s:?} is not an IP address or CIDR network")))
            };
            let pred = match op {
                Op::Eq => Pred::Eq(lit(value, &fail)?),
                Op::Neq => Pred::Neq(lit(value, &fail)?),
                Op::Gt | Op::Lt | Op::Ge | Op::Le => Pred::Order(*op, lit(value, &fail)?),
                Op::In => Pred::In(set(value, &fail)?),
                Op::Like => Pred::Like(like(&text()?).map_err(|e| fail(e.to_string()))?),
                Op::Matches => Pred::Matches(Regex::new(&text()?).map_err(|e| {
                    fail(format!(
                        "MATCHES: not a regular expression in the Rust regex dialect: {e}"
                    ))
                })?),
                Op::IsSubset => Pred::Subset(net()?),
                Op::IsSuperset => Pred::Superset(net()?),
            };
            (path, *negated, pred)
        }
    };
    let never = accord_stix::spec::type_spec(&path.object_type)
        .is_some_and(|t| t.category != accord_stix::spec::Category::Sco);
    let fragment = match (t, &pred) {
        (
            ast::Test::Compare {
                value: Literal::Str(s),
                ..
            },
            Pred::Like(_),
        ) => s
            .nfc()
            .collect::<String>()
            .split(['%', '_'])
            .max_by_key(|f| f.len())
            .filter(|f| !f.is_empty())
            .map(str::to_owned),
        _ => None,
    };
    Ok(Test {
        object_type: path.object_type.as_str().into(),
        steps: path.steps.as_slice().into(),
        negated,
        pred,
        fragment,
        never,
    })
}

fn lit(l: &Literal, fail: &dyn Fn(String) -> PatternError) -> Result<Lit, PatternError> {
    Ok(match l {
        Literal::Int(i) => Lit::Int(*i),
        Literal::Float(n) => Lit::Float(n.value),
        Literal::Str(s) => Lit::Str(s.clone()),
        Literal::Bool(b) => Lit::Bool(*b),
        Literal::Hex(b) | Literal::Binary(b) => Lit::Bytes(b.clone()),
        Literal::Timestamp(t) => Lit::Time(t.nanos),
        Literal::Set(_) => return Err(fail("a set is only allowed after IN".into())),
    })
}

fn set(l: &Literal, fail: &dyn Fn(String) -> PatternError) -> Result<Vec<Lit>, PatternError> {
    let Literal::Set(items) = l else {
        return Err(fail("IN needs a set: ('a', 'b')".into()));
    };
    let items = items
        .iter()
        .map(|i| lit(i, fail))
        .collect::<Result<Vec<_>, _>>()?;
    let kind = |l: &Lit| match l {
        Lit::Int(_) | Lit::Float(_) => 0,
        Lit::Str(_) => 1,
        Lit::Bytes(_) => 2,
        Lit::Bool(_) => 3,
        Lit::Time(_) => 4,
    };
    if let Some(first) = items.first()
        && items.iter().any(|i| kind(i) != kind(first))
    {
        return Err(fail("the values of a set must all be of one type".into()));
    }
    Ok(items)
}

/// `%` is any run of characters (newlines included), `_` any one character; nothing else is
/// special, and the whole value must match.
fn like(pattern: &str) -> Result<Regex, regex::Error> {
    let mut re = String::from("(?s)^");
    for c in pattern.chars() {
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            c => re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    re.push('$');
    Regex::new(&re)
}

/// A value an object path selected.
pub(crate) enum Val<'a> {
    Json(&'a Value),
    /// The decoded value of a `…_hex` or `…_bin` property.
    Bytes(Vec<u8>),
    /// The objects a `…_refs` list resolves to (unresolved references left out).
    Objects(Vec<&'a Value>),
}

impl Expr {
    fn holds(&self, obs: &Observed, root: &Value) -> bool {
        match self {
            Expr::And(a, b) => a.holds(obs, root) && b.holds(obs, root),
            Expr::Or(a, b) => a.holds(obs, root) || b.holds(obs, root),
            Expr::Test(t) => t.holds(obs, root),
        }
    }
}

impl Test {
    fn holds(&self, obs: &Observed, root: &Value) -> bool {
        if self.never || root.get("type").and_then(Value::as_str) != Some(&*self.object_type) {
            return false;
        }
        walk(obs, Val::Json(root), &self.steps, &mut |v| {
            self.pred.passes(&v) != self.negated
        })
    }
}

/// Follows `steps` from `v`, calling `f` on each value reached until it returns true.
pub(crate) fn walk<'a>(
    obs: &'a Observed,
    v: Val<'a>,
    steps: &[Step],
    f: &mut dyn FnMut(Val<'a>) -> bool,
) -> bool {
    let Some((step, rest)) = steps.split_first() else {
        return f(v);
    };
    match step {
        Step::Key(k) => {
            let Val::Json(Value::Object(m)) = v else {
                return false;
            };
            let Some(x) = m.get(k) else {
                return false;
            };
            let next = if k.ends_with("_hex") {
                match x.as_str().and_then(|s| hex::decode(s).ok()) {
                    Some(b) => Val::Bytes(b),
                    None => return false,
                }
            } else if k.ends_with("_bin") {
                use base64::Engine;
                match x
                    .as_str()
                    .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                {
                    Some(b) => Val::Bytes(b),
                    None => return false,
                }
            } else if k.ends_with("_ref") {
                match x.as_str().and_then(|r| obs.object(r)) {
                    Some(o) => Val::Json(o),
                    None => return false,
                }
            } else if k.ends_with("_refs") {
                let objects: Vec<&Value> = x
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| obs.object(r.as_str()?))
                    .collect();
                if objects.is_empty() {
                    return false;
                }
                Val::Objects(objects)
            } else {
                Val::Json(x)
            };
            walk(obs, next, rest, f)
        }
        Step::Index(n) => {
            let Ok(n) = usize::try_from(*n) else {
                return false;
            };
            match v {
                Val::Json(Value::Array(a)) => a.get(n).is_some_and(|x| walk(obs, Val::Json(x), rest, f)),
                Val::Objects(o) => o.get(n).is_some_and(|x| walk(obs, Val::Json(x), rest, f)),
                _ => false,
            }
        }
        Step::Any => match v {
            Val::Json(Value::Array(a)) => a.iter().any(|x| walk(obs, Val::Json(x), rest, f)),
            Val::Objects(o) => o.into_iter().any(|x| walk(obs, Val::Json(x), rest, f)),
            _ => false,
        },
    }
}

impl Pred {
    fn passes(&self, v: &Val) -> bool {
        match self {
            Pred::Eq(l) => compare(v, l) == Some(Ordering::Equal),
            Pred::Neq(l) => compare(v, l) != Some(Ordering::Equal),
            Pred::Order(op, l) => match l {
                // Booleans have no order.
                Lit::Bool(_) => false,
                l => compare(v, l).is_some_and(|o| match op {
                    Op::Lt => o.is_lt(),
                    Op::Gt => o.is_gt(),
                    Op::Le => o.is_le(),
                    _ => o.is_ge(),
                }),
            },
            Pred::In(set) => set.iter().any(|l| compare(v, l) == Some(Ordering::Equal)),
            Pred::Like(re) | Pred::Matches(re) => {
                let text = match v {
                    Val::Json(Value::String(s)) => s.nfc().collect::<String>(),
                    Val::Bytes(b) if matches!(self, Pred::Like(_)) => match std::str::from_utf8(b) {
                        Ok(s) => s.nfc().collect(),
                        Err(_) => return false,
                    },
                    // A MATCHES on binary data reads each byte as the character of that code
                    // point, as the reference matcher's bytes regex does.
                    Val::Bytes(b) => b.iter().map(|&c| char::from(c)).collect(),
                    _ => return false,
                };
                re.is_match(&text)
            }
            Pred::Subset(outer) => net_of(v).is_some_and(|inner| outer.contains(inner)),
            Pred::Superset(inner) => net_of(v).is_some_and(|outer| outer.contains(*inner)),
            Pred::Exists => true,
        }
    }
}

fn net_of(v: &Val) -> Option<Net> {
    match v {
        Val::Json(Value::String(s)) => Net::parse(s),
        _ => None,
    }
}

/// How a selected value compares with a literal; `None` when the two cannot be compared
/// (different types, or a string with characters that cannot stand for bytes).
fn compare(v: &Val, l: &Lit) -> Option<Ordering> {
    match (v, l) {
        (Val::Json(Value::Number(n)), Lit::Int(i)) => number_cmp(n, &Num::Int(i128::from(*i))),
        (Val::Json(Value::Number(n)), Lit::Float(f)) => number_cmp(n, &Num::Float(*f)),
        (Val::Json(Value::String(s)), Lit::Str(t)) => Some(s.as_str().cmp(t.as_str())),
        (Val::Json(Value::String(s)), Lit::Bytes(b)) => Some(latin1(s)?.as_slice().cmp(b)),
        (Val::Bytes(b), Lit::Str(s)) => Some(b.as_slice().cmp(latin1(s)?.as_slice())),
        (Val::Bytes(b), Lit::Bytes(c)) => Some(b.cmp(c)),
        (Val::Json(Value::Bool(b)), Lit::Bool(c)) => Some(b.cmp(c)),
        (Val::Json(Value::String(s)), Lit::Time(t)) => {
            let v = accord_stix::Timestamp::parse(s).ok()?.as_nanos_saturating();
            Some(v.cmp(t))
        }
        _ => None,
    }
}

/// A string as bytes when every character is below U+0100 (the spec's rule for comparing
/// strings with binary values).
pub(crate) fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

enum Num {
    Int(i128),
    Float(f64),
}

fn number_cmp(n: &Number, lit: &Num) -> Option<Ordering> {
    let v = if let Some(i) = n.as_i64() {
        Num::Int(i128::from(i))
    } else if let Some(u) = n.as_u64() {
        Num::Int(i128::from(u))
    } else {
        Num::Float(n.as_f64()?)
    };
    match (&v, lit) {
        (Num::Int(a), Num::Int(b)) => Some(a.cmp(b)),
        (Num::Float(a), Num::Float(b)) => a.partial_cmp(b),
        (Num::Int(a), Num::Float(b)) => int_float(*a, *b),
        (Num::Float(a), Num::Int(b)) => int_float(*b, *a).map(Ordering::reverse),
    }
}

/// Exact comparison of an integer with a float (no rounding of large integers).
fn int_float(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    // i128 covers every integer JSON gives us; floats beyond it are simply larger or smaller.
    if f >= 1.7e38 {
        return Some(Ordering::Less);
    }
    if f <= -1.7e38 {
        return Some(Ordering::Greater);
    }
    let whole = f.trunc();
    match i.cmp(&(whole as i128)) {
        Ordering::Equal => 0.0f64.partial_cmp(&(f - whole)),
        o => Some(o),
    }
}

/// A set of observations bound to a pattern: (observation index, how many of its
/// `number_observed` are used), ascending by index.
type Binding = Vec<(u32, u64)>;

/// When and how often an observation was seen: all that solving observation expressions needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub first: i64,
    pub last: i64,
    pub count: u64,
}

impl Span {
    pub fn of(o: &Observed) -> Span {
        Span {
            first: o.first,
            last: o.last,
            count: o.count,
        }
    }
}

struct Solver<'a> {
    obs: &'a [Span],
    hits: &'a [Vec<u32>],
}

impl Solver<'_> {
    /// Every binding of `node` (or, with `one`, at most the first found). Bindings that contain
    /// another are dropped when cheap to find: they can only do worse later.
    fn bindings(&self, node: &Node, one: bool) -> Result<Vec<Binding>, EvalError> {
        let out = match node {
            Node::Leaf(k) => self
                .hits
                .get(*k)
                .into_iter()
                .flatten()
                .take(if one { 1 } else { usize::MAX })
                .map(|&o| vec![(o, 1)])
                .collect(),
            Node::Or(a, b) => {
                let mut out = self.bindings(a, one)?;
                if one && !out.is_empty() {
                    return Ok(out);
                }
                out.extend(self.bindings(b, one)?);
                out
            }
            Node::And(a, b) => {
                let (a, b) = (self.bindings(a, false)?, self.bindings(b, false)?);
                self.join(&a, &b, one, |_, _| true)?
            }
            Node::FollowedBy(a, b) => {
                let (a, b) = (self.bindings(a, false)?, self.bindings(b, false)?);
                // The left side's latest start must not be after the right side's earliest end.
                self.join(&a, &b, one, |x, y| self.latest_first(x) <= self.earliest_last(y))?
            }
            Node::Repeats(a, n) => {
                let base = self.bindings(a, false)?;
                let mut acc = base.clone();
                for i in 1..*n {
                    acc = self.join(&acc, &base, one && i + 1 == *n, |_, _| true)?;
                    if acc.is_empty() {
                        break;
                    }
                }
                acc
            }
            Node::Within(a, window) => self.filter(a, one, |b| {
                i128::from(self.latest_first(b)) <= i128::from(self.earliest_last(b)) + window
            })?,
            Node::StartStop(a, start, stop) => {
                if start >= stop {
                    Vec::new()
                } else {
                    self.filter(a, one, |b| {
                        b.iter().all(|&(o, _)| {
                            let ob = &self.obs[o as usize];
                            ob.first < *stop && ob.last >= *start
                        })
                    })?
                }
            }
        };
        Ok(prune(out))
    }

    fn filter(
        &self,
        a: &Node,
        one: bool,
        keep: impl Fn(&Binding) -> bool,
    ) -> Result<Vec<Binding>, EvalError> {
        let all = self.bindings(a, false)?;
        Ok(all
            .into_iter()
            .filter(|b| keep(b))
            .take(if one { 1 } else { usize::MAX })
            .collect())
    }

    /// Every union of one binding from each side that does not use an observation more often
    /// than it was seen, and that `ok` accepts.
    fn join(
        &self,
        a: &[Binding],
        b: &[Binding],
        one: bool,
        ok: impl Fn(&Binding, &Binding) -> bool,
    ) -> Result<Vec<Binding>, EvalError> {
        let mut out = Vec::new();
        for x in a {
            for y in b {
                if !ok(x, y) {
                    continue;
                }
                if let Some(z) = self.union(x, y) {
                    out.push(z);
                    if one {
                        return Ok(out);
                    }
                    if out.len() > BINDING_LIMIT {
                        out = prune(out);
                        if out.len() > BINDING_LIMIT {
                            return Err(EvalError::TooManyBindings);
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    fn union(&self, x: &Binding, y: &Binding) -> Option<Binding> {
        let mut z = Vec::with_capacity(x.len() + y.len());
        let (mut i, mut j) = (0, 0);
        while i < x.len() || j < y.len() {
            let next = match (x.get(i), y.get(j)) {
                (Some(&(a, m)), Some(&(b, n))) if a == b => {
                    i += 1;
                    j += 1;
                    (a, m + n)
                }
                (Some(&(a, m)), Some(&(b, _))) if a < b => {
                    i += 1;
                    (a, m)
                }
                (Some(&p), None) => {
                    i += 1;
                    p
                }
                (_, Some(&p)) => {
                    j += 1;
                    p
                }
                (None, None) => break,
            };
            if next.1 > self.obs[next.0 as usize].count {
                return None;
            }
            z.push(next);
        }
        Some(z)
    }

    fn latest_first(&self, b: &Binding) -> i64 {
        b.iter()
            .map(|&(o, _)| self.obs[o as usize].first)
            .max()
            .unwrap_or(i64::MIN)
    }

    fn earliest_last(&self, b: &Binding) -> i64 {
        b.iter()
            .map(|&(o, _)| self.obs[o as usize].last)
            .min()
            .unwrap_or(i64::MAX)
    }
}

/// Removes duplicate bindings, and (when there are few enough for the quadratic check) those
/// that contain another.
fn prune(mut set: Vec<Binding>) -> Vec<Binding> {
    set.sort_by(|a, b| {
        let size = |x: &Binding| x.iter().map(|p| p.1).sum::<u64>();
        size(a).cmp(&size(b)).then_with(|| a.cmp(b))
    });
    set.dedup();
    if set.len() > 2_000 {
        return set;
    }
    let mut kept: Vec<Binding> = Vec::with_capacity(set.len());
    for b in set {
        if !kept.iter().any(|k| contains(&b, k)) {
            kept.push(b);
        }
    }
    kept
}

/// Whether multiset `big` includes multiset `small`.
fn contains(big: &Binding, small: &Binding) -> bool {
    small
        .iter()
        .all(|(o, m)| big.binary_search_by_key(o, |p| p.0).is_ok_and(|i| big[i].1 >= *m))
}
