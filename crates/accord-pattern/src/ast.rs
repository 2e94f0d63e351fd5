//! The pattern syntax tree. Parentheses are not kept: the tree's shape is the grouping, and the
//! printer puts back the parentheses precedence requires.

/// A whole pattern: observation expressions joined by AND, OR and FOLLOWEDBY, with qualifiers.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// `[ comparison ]`
    Simple(Comparison),
    And(Box<Observation>, Box<Observation>),
    Or(Box<Observation>, Box<Observation>),
    FollowedBy(Box<Observation>, Box<Observation>),
    Qualified(Box<Observation>, Qualifier),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Qualifier {
    /// `WITHIN n SECONDS` (n > 0, integer or decimal, kept as written).
    Within(Number),
    /// `REPEATS n TIMES` (n ≥ 1).
    Repeats(u64),
    /// `START t'…' STOP t'…'`
    StartStop(Timestamp, Timestamp),
}

/// A number as written, with its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Number {
    pub text: String,
    pub value: f64,
}

/// A timestamp literal: its text and instant (nanoseconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    pub text: String,
    pub nanos: i64,
}

/// Comparison expressions inside one observation's brackets.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    And(Box<Comparison>, Box<Comparison>),
    Or(Box<Comparison>, Box<Comparison>),
    Test(Test),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// `path [NOT] op literal`
    Compare {
        path: ObjectPath,
        negated: bool,
        op: Op,
        value: Literal,
    },
    /// `EXISTS path`
    Exists(ObjectPath),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Neq,
    Gt,
    Lt,
    Ge,
    Le,
    In,
    Like,
    Matches,
    IsSubset,
    IsSuperset,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Neq => "!=",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::In => "IN",
            Op::Like => "LIKE",
            Op::Matches => "MATCHES",
            Op::IsSubset => "ISSUBSET",
            Op::IsSuperset => "ISSUPERSET",
        }
    }
}

/// `type:property.step[0].step[*]`
#[derive(Debug, Clone, Eq)]
pub struct ObjectPath {
    pub object_type: String,
    pub steps: Vec<Step>,
    /// Byte position in the pattern (for warnings); not part of what the path means.
    pub at: usize,
}

impl PartialEq for ObjectPath {
    fn eq(&self, other: &Self) -> bool {
        self.object_type == other.object_type && self.steps == other.steps
    }
}

impl std::hash::Hash for ObjectPath {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.object_type.hash(state);
        self.steps.hash(state);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    Key(String),
    Index(i64),
    /// `[*]`
    Any,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Int(i64),
    Float(Number),
    Str(String),
    Bool(bool),
    Hex(Vec<u8>),
    Binary(Vec<u8>),
    Timestamp(Timestamp),
    Set(Vec<Literal>),
}
