//! The canonical text of a pattern: keywords in capitals, single spaces, parentheses only where
//! precedence needs them, strings with `\'` and `\\` escapes. Parsing it gives the same tree.

use std::fmt::{self, Display, Write};

use base64::Engine as _;

use crate::ast::{Comparison, Literal, ObjectPath, Observation, Qualifier, Step, Test};

fn rank(o: &Observation) -> u8 {
    match o {
        Observation::FollowedBy(..) => 0,
        Observation::Or(..) => 1,
        Observation::And(..) => 2,
        Observation::Qualified(..) | Observation::Simple(_) => 3,
    }
}

fn obs(f: &mut fmt::Formatter<'_>, o: &Observation, min: u8) -> fmt::Result {
    let paren = rank(o) < min;
    if paren {
        f.write_char('(')?;
    }
    match o {
        Observation::Simple(c) => {
            f.write_char('[')?;
            cmp(f, c, 0)?;
            f.write_char(']')?;
        }
        // Left-associative: the right operand of the same operator needs parentheses.
        Observation::FollowedBy(a, b) => bin(f, a, "FOLLOWEDBY", b, 0)?,
        Observation::Or(a, b) => bin(f, a, "OR", b, 1)?,
        Observation::And(a, b) => bin(f, a, "AND", b, 2)?,
        Observation::Qualified(inner, q) => {
            // A qualifier applies to one observation expression: anything looser is parenthesised.
            obs(f, inner, 3)?;
            match q {
                Qualifier::Within(n) => write!(f, " WITHIN {} SECONDS", n.text)?,
                Qualifier::Repeats(n) => write!(f, " REPEATS {n} TIMES")?,
                Qualifier::StartStop(a, b) => write!(f, " START t'{}' STOP t'{}'", a.text, b.text)?,
            }
        }
    }
    if paren {
        f.write_char(')')?;
    }
    Ok(())
}

fn bin(f: &mut fmt::Formatter<'_>, a: &Observation, op: &str, b: &Observation, r: u8) -> fmt::Result {
    obs(f, a, r)?;
    write!(f, " {op} ")?;
    obs(f, b, r + 1)
}

fn cmp(f: &mut fmt::Formatter<'_>, c: &Comparison, min: u8) -> fmt::Result {
    let r = match c {
        Comparison::Or(..) => 0,
        Comparison::And(..) => 1,
        Comparison::Test(_) => 2,
    };
    let paren = r < min;
    if paren {
        f.write_char('(')?;
    }
    match c {
        Comparison::Or(a, b) => {
            cmp(f, a, 0)?;
            f.write_str(" OR ")?;
            cmp(f, b, 1)?;
        }
        Comparison::And(a, b) => {
            cmp(f, a, 1)?;
            f.write_str(" AND ")?;
            cmp(f, b, 2)?;
        }
        Comparison::Test(Test::Exists(p)) => write!(f, "EXISTS {p}")?,
        Comparison::Test(Test::Compare {
            path,
            negated,
            op,
            value,
        }) => {
            write!(f, "{path} ")?;
            if *negated {
                f.write_str("NOT ")?;
            }
            write!(f, "{} {value}", op.as_str())?;
        }
    }
    if paren {
        f.write_char(')')?;
    }
    Ok(())
}

fn quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('\'')?;
    for ch in s.chars() {
        if ch == '\'' || ch == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(ch)?;
    }
    f.write_char('\'')
}

fn plain_key(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        // A keyword reads back as a property name only in lower case (e.g. network-traffic:start).
        && (!crate::is_keyword(s) || s.bytes().all(|b| !b.is_ascii_uppercase()))
}

impl Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object_type)?;
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::Key(k) => {
                    if i > 0 {
                        f.write_char('.')?;
                    }
                    if plain_key(k) {
                        f.write_str(k)?;
                    } else {
                        quoted(f, k)?;
                    }
                }
                Step::Index(n) => write!(f, "[{n}]")?,
                Step::Any => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Int(n) => write!(f, "{n}"),
            Literal::Float(n) => f.write_str(&n.text),
            Literal::Str(s) => quoted(f, s),
            Literal::Bool(b) => f.write_str(if *b { "true" } else { "false" }),
            Literal::Hex(h) => {
                f.write_str("h'")?;
                for b in h {
                    write!(f, "{b:02x}")?;
                }
                f.write_char('\'')
            }
            Literal::Binary(b) => write!(f, "b'{}'", base64::engine::general_purpose::STANDARD.encode(b)),
            Literal::Timestamp(t) => write!(f, "t'{}'", t.text),
            Literal::Set(items) => {
                f.write_char('(')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_char(')')
            }
        }
    }
}

impl Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        obs(f, self, 0)
    }
}

impl Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        cmp(f, self, 0)
    }
}
