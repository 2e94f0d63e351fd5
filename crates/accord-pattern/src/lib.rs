//! The STIX 2.1 patterning language (STIX 2.1 part 9): a lexer and recursive-descent parser that
//! give errors with the byte position and what was expected, a canonical printer, and semantic
//! checks (unknown STIX 2.1 object types or properties, comparisons of incompatible types) as
//! warnings. `MATCHES` uses the Rust `regex` dialect; a pattern outside its syntax is an error.
//! Pure: no I/O.

pub mod ast;
pub mod check;
pub mod eval;
pub mod index;
mod lexer;
pub mod observation;
pub mod parser;
mod print;

pub use ast::{Comparison, Literal, ObjectPath, Observation, Op, Qualifier, Step, Test};
pub use check::{Warning, check};
pub use eval::{EvalError, Matcher, Span};
pub use index::{Hit, Index, IndexBuilder, Stream, StreamStats};
pub use observation::{ObservationError, Observed};
pub use parser::parse;

/// A pattern that does not parse: where (byte offset) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {at}: {message}")]
pub struct PatternError {
    pub at: usize,
    pub message: String,
}

/// Whether `word` is a keyword of the language (case-insensitively).
pub fn is_keyword(word: &str) -> bool {
    [
        "AND",
        "OR",
        "NOT",
        "FOLLOWEDBY",
        "LIKE",
        "MATCHES",
        "ISSUBSET",
        "ISSUPERSET",
        "IN",
        "EXISTS",
        "START",
        "STOP",
        "SECONDS",
        "WITHIN",
        "REPEATS",
        "TIMES",
        "TRUE",
        "FALSE",
    ]
    .iter()
    .any(|k| k.eq_ignore_ascii_case(word))
}
