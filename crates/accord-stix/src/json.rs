//! Strict JSON reading for untrusted input: duplicate keys are errors, and every error says where.

use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A JSON syntax or structure error with its position inside the document that was read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at byte {offset} (line {line}, column {column})")]
pub struct JsonError {
    pub message: String,
    /// Byte offset from the start of the document.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in bytes.
    pub column: usize,
}

impl JsonError {
    /// Builds the error from serde_json's line/column, converting to a byte offset in `input`.
    pub(crate) fn from_serde(err: &serde_json::Error, input: &[u8]) -> Self {
        let (line, column) = (err.line().max(1), err.column());
        let mut message = err.to_string();
        let suffix = format!(" at line {} column {}", err.line(), err.column());
        if let Some(stripped) = message.strip_suffix(&suffix) {
            message = stripped.to_owned();
        }
        let offset = offset_of(input, line, column);
        JsonError {
            message,
            offset,
            line,
            column,
        }
    }

    /// Shifts a position computed inside an embedded item to the enclosing document.
    pub fn shifted(mut self, base_offset: usize, base_line: usize, base_column: usize) -> Self {
        self.offset += base_offset;
        if self.line == 1 {
            self.column += base_column.saturating_sub(1);
        }
        self.line += base_line.saturating_sub(1);
        self
    }
}

fn offset_of(input: &[u8], line: usize, column: usize) -> usize {
    let mut start = 0;
    if line > 1 {
        let mut seen = 1;
        for (i, b) in input.iter().enumerate() {
            if *b == b'\n' {
                seen += 1;
                if seen == line {
                    start = i + 1;
                    break;
                }
            }
        }
    }
    (start + column.saturating_sub(1)).min(input.len())
}

/// Returns the 1-based line and column of a byte offset.
pub fn line_col(input: &[u8], offset: usize) -> (usize, usize) {
    let upto = &input[..offset.min(input.len())];
    let line = upto.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = upto.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    (line, offset - line_start + 1)
}

/// Checks UTF-8 first, so that the error names the exact byte rather than a later symptom.
pub(crate) fn check_utf8(input: &[u8]) -> Result<&str, JsonError> {
    std::str::from_utf8(input).map_err(|e| {
        let offset = e.valid_up_to();
        let (line, column) = line_col(input, offset);
        JsonError {
            message: "invalid UTF-8".into(),
            offset,
            line,
            column,
        }
    })
}

/// Parses one JSON value, rejecting duplicate object keys, invalid UTF-8 and trailing data.
/// Nesting deeper than serde_json's recursion limit (128) is an error, never a stack overflow.
pub fn parse_value(input: &[u8]) -> Result<Value, JsonError> {
    // UTF-8 is checked once here, so the deserializer can read from a str without re-checking.
    let text = check_utf8(input)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let value = ValueSeed { at: &Loc::Root }
        .deserialize(&mut de)
        .map_err(|e| JsonError::from_serde(&e, input))?;
    de.end().map_err(|e| JsonError::from_serde(&e, input))?;
    Ok(value)
}

/// A location inside a JSON document, kept as a chain on the stack so that reading costs no allocation.
#[derive(Debug, Clone, Copy)]
enum Loc<'a> {
    Root,
    Key(&'a Loc<'a>, &'a str),
    Index(&'a Loc<'a>, usize),
}

impl fmt::Display for Loc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loc::Root => f.write_str("$"),
            Loc::Key(parent, key) => {
                parent.fmt(f)?;
                write_key(f, key)
            }
            Loc::Index(parent, i) => {
                parent.fmt(f)?;
                write!(f, "[{i}]")
            }
        }
    }
}

/// Writes `.key`, or `['key']` (with `'` and `\` escaped) when the key is not a plain identifier.
pub(crate) fn write_key(f: &mut impl fmt::Write, key: &str) -> fmt::Result {
    let plain = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !key.as_bytes()[0].is_ascii_digit();
    if plain {
        write!(f, ".{key}")
    } else {
        f.write_str("['")?;
        for c in key.chars() {
            match c {
                '\'' => f.write_str("\\'")?,
                '\\' => f.write_str("\\\\")?,
                c => f.write_char(c)?,
            }
        }
        f.write_str("']")
    }
}

struct ValueSeed<'a> {
    at: &'a Loc<'a>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("number at {} is not finite", self.at)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        loop {
            let at = Loc::Index(self.at, out.len());
            match seq.next_element_seed(ValueSeed { at: &at })? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<std::borrow::Cow<'de, str>>()? {
            if map.contains_key(key.as_ref()) {
                let at = Loc::Key(self.at, &key);
                return Err(de::Error::custom(format!("duplicate key {key:?} at {at}")));
            }
            let at = Loc::Key(self.at, &key);
            let value = access.next_value_seed(ValueSeed { at: &at })?;
            map.insert(key.into_owned(), value);
        }
        Ok(Value::Object(map))
    }
}

/// Reads the top level of a document as (key, raw value) pairs without parsing the values,
/// rejecting duplicate keys. Used to split bundles without building every object twice.
pub(crate) fn top_level_members(
    input: &str,
) -> Result<Vec<(String, &serde_json::value::RawValue)>, serde_json::Error> {
    struct Members;
    impl<'de> Visitor<'de> for Members {
        type Value = Vec<(String, &'de serde_json::value::RawValue)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
            let mut out: Self::Value = Vec::new();
            while let Some(key) = access.next_key::<String>()? {
                if out.iter().any(|(k, _)| *k == key) {
                    return Err(de::Error::custom(format!("duplicate key {key:?} at $")));
                }
                let raw = access.next_value()?;
                out.push((key, raw));
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_str(input);
    let members = de.deserialize_map(Members)?;
    de.end()?;
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_rejected_with_path() {
        let err = parse_value(br#"{"a": {"b": 1, "b": 2}}"#).unwrap_err();
        assert!(err.message.contains("duplicate key \"b\" at $.a.b"), "{err}");
        assert_eq!(err.line, 1);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let mut s = "[".repeat(100_000);
        s.push_str(&"]".repeat(100_000));
        let err = parse_value(s.as_bytes()).unwrap_err();
        assert!(err.message.contains("recursion limit"), "{err}");
    }

    #[test]
    fn invalid_utf8_names_the_byte() {
        let err = parse_value(b"{\"a\": \"x\xff\"}").unwrap_err();
        assert_eq!(err.offset, 8);
        assert_eq!(err.message, "invalid UTF-8");
    }

    #[test]
    fn offsets_follow_lines() {
        let err = parse_value(b"{\n  \"a\": trux\n}").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.offset > 4);
    }
}
