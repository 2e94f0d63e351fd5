//! Tokens of the patterning language, each with its byte position. Keywords are
//! case-insensitive (as in the OASIS grammar); whitespace and `/* */` and `//` comments are skipped.

use base64::Engine as _;

use crate::PatternError;
use crate::ast::{Number, Timestamp};

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    LBrack,
    RBrack,
    LParen,
    RParen,
    Colon,
    Dot,
    Comma,
    Star,
    Eq,
    Neq,
    Lt,
    Le,
    Gt,
    Ge,
    Keyword(Kw),
    /// An identifier; `true` when it contains a hyphen (allowed in object types only).
    Ident(String, bool),
    Str(String),
    Int(i64, String),
    Float(Number),
    Hex(Vec<u8>),
    Binary(Vec<u8>),
    Timestamp(Timestamp),
    Bool(bool),
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kw {
    And,
    Or,
    Not,
    FollowedBy,
    Like,
    Matches,
    IsSubset,
    IsSuperset,
    In,
    Exists,
    Start,
    Stop,
    Seconds,
    Within,
    Repeats,
    Times,
}

const KEYWORDS: &[(&str, Kw)] = &[
    ("AND", Kw::And),
    ("OR", Kw::Or),
    ("NOT", Kw::Not),
    ("FOLLOWEDBY", Kw::FollowedBy),
    ("LIKE", Kw::Like),
    ("MATCHES", Kw::Matches),
    ("ISSUBSET", Kw::IsSubset),
    ("ISSUPERSET", Kw::IsSuperset),
    ("IN", Kw::In),
    ("EXISTS", Kw::Exists),
    ("START", Kw::Start),
    ("STOP", Kw::Stop),
    ("SECONDS", Kw::Seconds),
    ("WITHIN", Kw::Within),
    ("REPEATS", Kw::Repeats),
    ("TIMES", Kw::Times),
];

impl Tok {
    /// How a token is named in "expected …, found …".
    pub fn describe(&self) -> String {
        match self {
            Tok::Keyword(k) => KEYWORDS
                .iter()
                .find(|(_, x)| x == k)
                .map_or("keyword", |(n, _)| n)
                .to_owned(),
            Tok::Ident(s, _) => format!("identifier {s:?}"),
            Tok::Str(_) => "a string".into(),
            Tok::Int(_, t) => format!("number {t}"),
            Tok::Float(n) => format!("number {}", n.text),
            Tok::Hex(_) => "a hex literal".into(),
            Tok::Binary(_) => "a binary literal".into(),
            Tok::Timestamp(t) => format!("timestamp {}", t.text),
            Tok::Bool(b) => b.to_string(),
            Tok::End => "the end of the pattern".into(),
            Tok::LBrack => "'['".into(),
            Tok::RBrack => "']'".into(),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Colon => "':'".into(),
            Tok::Dot => "'.'".into(),
            Tok::Comma => "','".into(),
            Tok::Star => "'*'".into(),
            Tok::Eq => "'='".into(),
            Tok::Neq => "'!='".into(),
            Tok::Lt => "'<'".into(),
            Tok::Le => "'<='".into(),
            Tok::Gt => "'>'".into(),
            Tok::Ge => "'>='".into(),
        }
    }
}

fn err(at: usize, message: impl Into<String>) -> PatternError {
    PatternError {
        at,
        message: message.into(),
    }
}

/// Splits a pattern into tokens (the last is `End`).
pub fn tokens(src: &str) -> Result<Vec<(usize, Tok)>, PatternError> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if src[i..].starts_with("/*") {
            let end = src[i + 2..]
                .find("*/")
                .ok_or_else(|| err(i, "unterminated comment"))?;
            i += end + 4;
            continue;
        }
        if src[i..].starts_with("//") {
            i = src[i..].find('\n').map_or(b.len(), |n| i + n);
            continue;
        }
        if let Some(ch) = src[i..]
            .chars()
            .next()
            .filter(|ch| !ch.is_ascii() && ch.is_whitespace())
        {
            i += ch.len_utf8();
            continue;
        }
        let start = i;
        let two = b.get(i + 1).copied();
        let simple = match (c, two) {
            (b'[', _) => Some((Tok::LBrack, 1)),
            (b']', _) => Some((Tok::RBrack, 1)),
            (b'(', _) => Some((Tok::LParen, 1)),
            (b')', _) => Some((Tok::RParen, 1)),
            (b':', _) => Some((Tok::Colon, 1)),
            (b',', _) => Some((Tok::Comma, 1)),
            (b'*', _) => Some((Tok::Star, 1)),
            (b'=', Some(b'=')) => Some((Tok::Eq, 2)),
            (b'=', _) => Some((Tok::Eq, 1)),
            (b'!', Some(b'=')) => Some((Tok::Neq, 2)),
            (b'<', Some(b'>')) => Some((Tok::Neq, 2)),
            (b'<', Some(b'=')) => Some((Tok::Le, 2)),
            (b'<', _) => Some((Tok::Lt, 1)),
            (b'>', Some(b'=')) => Some((Tok::Ge, 2)),
            (b'>', _) => Some((Tok::Gt, 1)),
            (b'.', Some(d)) if !d.is_ascii_digit() => Some((Tok::Dot, 1)),
            (b'.', None) => Some((Tok::Dot, 1)),
            _ => None,
        };
        if let Some((tok, len)) = simple {
            out.push((start, tok));
            i += len;
            continue;
        }
        if c == b'\'' {
            let (s, next) = string(src, i)?;
            out.push((start, Tok::Str(s)));
            i = next;
            continue;
        }
        if matches!(c, b'h' | b'b' | b't') && two == Some(b'\'') {
            let (body, next) = string(src, i + 1)?;
            let tok = match c {
                b'h' => {
                    if body.len() % 2 != 0 || !body.bytes().all(|x| x.is_ascii_hexdigit()) {
                        return Err(err(start, "a hex literal needs pairs of hex digits"));
                    }
                    Tok::Hex(
                        (0..body.len())
                            .step_by(2)
                            .filter_map(|k| u8::from_str_radix(&body[k..k + 2], 16).ok())
                            .collect(),
                    )
                }
                b'b' => Tok::Binary(
                    base64::engine::general_purpose::STANDARD
                        .decode(&body)
                        .map_err(|e| err(start, format!("a binary literal must be base64: {e}")))?,
                ),
                _ => Tok::Timestamp(timestamp(&body).ok_or_else(|| {
                    err(
                        start,
                        format!("{body:?} is not a timestamp of the form YYYY-MM-DDTHH:MM:SS[.s]Z"),
                    )
                })?),
            };
            out.push((start, tok));
            i = next;
            continue;
        }
        if c.is_ascii_digit()
            || ((c == b'+' || c == b'-' || c == b'.') && two.is_some_and(|d| d.is_ascii_digit() || d == b'.'))
        {
            let mut j = i;
            if c == b'+' || c == b'-' {
                j += 1;
            }
            let digits = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let int_part = &src[digits..j];
            let text = if j < b.len() && b[j] == b'.' {
                let frac = j + 1;
                j += 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                if j == frac {
                    return Err(err(start, "a decimal point needs digits after it"));
                }
                let text = &src[start..j];
                let value: f64 = text
                    .parse()
                    .map_err(|_| err(start, format!("{text:?} is not a number")))?;
                out.push((
                    start,
                    Tok::Float(Number {
                        text: text.to_owned(),
                        value,
                    }),
                ));
                i = j;
                continue;
            } else {
                &src[start..j]
            };
            if int_part.len() > 1 && int_part.starts_with('0') {
                return Err(err(
                    start,
                    format!("{text:?}: an integer may not have leading zeros"),
                ));
            }
            let value: i64 = text
                .trim_start_matches('+')
                .parse()
                .map_err(|_| err(start, format!("{text:?} does not fit a 64-bit integer")))?;
            out.push((start, Tok::Int(value, text.to_owned())));
            i = j;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'-') {
                j += 1;
            }
            let word = &src[i..j];
            let tok = if let Some((_, k)) = KEYWORDS.iter().find(|(n, _)| n.eq_ignore_ascii_case(word)) {
                Tok::Keyword(*k)
            } else if word.eq_ignore_ascii_case("true") {
                Tok::Bool(true)
            } else if word.eq_ignore_ascii_case("false") {
                Tok::Bool(false)
            } else {
                Tok::Ident(word.to_owned(), word.contains('-'))
            };
            out.push((start, tok));
            i = j;
            continue;
        }
        let ch = src[i..].chars().next().unwrap_or('?');
        return Err(err(start, format!("unexpected character {ch:?}")));
    }
    out.push((b.len(), Tok::End));
    Ok(out)
}

/// A quoted string starting at `at` (the quote): `\'` and `\\` are its only escapes.
fn string(src: &str, at: usize) -> Result<(String, usize), PatternError> {
    let mut out = String::new();
    let mut chars = src[at + 1..].char_indices();
    while let Some((k, ch)) = chars.next() {
        match ch {
            '\'' => return Ok((out, at + 1 + k + 1)),
            '\\' => match chars.next() {
                Some((_, e @ ('\'' | '\\'))) => out.push(e),
                Some((n, other)) => {
                    return Err(err(
                        at + 1 + n - 1,
                        format!("unknown escape \\{other} (only \\' and \\\\ are allowed)"),
                    ));
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(err(at, "unterminated string"))
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, validated as a real instant (leap days, ranges).
fn timestamp(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    let shape = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[b.len() - 1] == b'Z'
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&k| b[k].is_ascii_digit())
        && (b.len() == 20
            || (b[19] == b'.' && b.len() > 21 && b[20..b.len() - 1].iter().all(u8::is_ascii_digit)));
    if !shape {
        return None;
    }
    let t = accord_stix::Timestamp::parse(text).ok()?;
    Some(Timestamp {
        text: text.to_owned(),
        nanos: t.as_nanos_saturating(),
    })
}
