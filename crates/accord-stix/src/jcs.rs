//! RFC 8785 JSON Canonicalization Scheme (JCS) and the SHA-256 content hash built on it.

use std::cmp::Ordering;
use std::fmt;

use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};

/// Largest integer magnitude that survives the IEEE 754 double conversion RFC 8785 requires.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Serializes `value` in canonical form: sorted keys (by UTF-16 code units), no whitespace,
/// ECMAScript number formatting and the minimal string escapes of RFC 8785.
pub fn to_canonical_string(value: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out);
    // Only valid UTF-8 is ever written: input strings are UTF-8 and escapes are ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends the canonical form of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(map, out),
    }
}

fn write_object(map: &Map<String, Value>, out: &mut Vec<u8>) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    // Maps iterate in UTF-8 byte order, which equals UTF-16 order unless keys mix characters above
    // U+FFFF with characters in U+E000..=U+FFFF; only then is a re-sort needed.
    if !entries.is_sorted_by(|a, b| utf16_cmp(a.0, b.0).is_le()) {
        entries.sort_unstable_by(|a, b| utf16_cmp(a.0, b.0));
    }
    out.push(b'{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(k, out);
        out.push(b':');
        write_canonical(v, out);
    }
    out.push(b'}');
}

/// The top-level members of a compact JSON object (no whitespace between tokens, as RFC 8785 text
/// and this project's log entries are), each as (raw key text, whole member text `"key":value`).
/// Strings are skipped with `memchr` rather than byte by byte, so this costs far less than a parse.
/// It does not validate: on text that is not a compact object the list is partial or meaningless,
/// so callers parse what they take (see [`select`]).
pub fn members(object: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut members = Vec::new();
    let mut depth = 0usize;
    let mut start = 1;
    let mut key_end = None;
    let mut i = 0;
    while let Some(&c) = object.get(i) {
        match c {
            b'"' => {
                // To the closing quote: the next quote not escaped by a backslash.
                let mut j = i + 1;
                loop {
                    let Some(k) = object
                        .get(j..)
                        .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
                    else {
                        return members;
                    };
                    if object[j + k] == b'"' {
                        j += k;
                        break;
                    }
                    j += k + 2;
                }
                if depth == 1 && key_end.is_none() {
                    key_end = Some(j);
                }
                i = j;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0
                    && i > start
                    && let Some(k) = key_end
                {
                    members.push((&object[start + 1..k], &object[start..i]));
                }
            }
            b',' if depth == 1 => {
                if let Some(k) = key_end.take() {
                    members.push((&object[start + 1..k], &object[start..i]));
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    members
}

/// The top-level members of canonical (RFC 8785) object text as (key, raw value text), found
/// without parsing the values. `None` when the text is not laid out as canonical text is (compact,
/// the members tiling the object, keys strictly ascending by bytes), so that a caller falls back
/// to a full parse rather than misread it; keys with escaped characters or beyond ASCII (JCS
/// orders keys unescaped, by UTF-16) may make it decline too. The values are not validated.
pub fn canonical_members(canonical: &str) -> Option<Vec<(&str, &str)>> {
    let bytes = canonical.as_bytes();
    let base = bytes.as_ptr() as usize;
    let mut out = Vec::new();
    let (mut next, mut previous): (usize, Option<&[u8]>) = (1, None);
    for (key, member) in members(bytes) {
        let at = member.as_ptr() as usize - base;
        if at != next
            || member.first() != Some(&b'"')
            || member.get(key.len() + 1..key.len() + 3) != Some(b"\":".as_slice())
            || previous.is_some_and(|p| p >= key)
        {
            return None;
        }
        next = at + member.len() + 1;
        previous = Some(key);
        let value = at + key.len() + 3;
        out.push((
            canonical.get(at + 1..value - 2)?,
            canonical.get(value..at + member.len())?,
        ));
    }
    let end = if previous.is_some() { next } else { 2 };
    (bytes.first() == Some(&b'{') && bytes.last() == Some(&b'}') && end == bytes.len()).then_some(out)
}

/// The named top-level members of canonical object text, parsed; the other members are skipped
/// unparsed. `None` where [`canonical_members`] declines, or a named member does not parse.
pub fn select(canonical: &str, names: &[&str]) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    for (key, value) in canonical_members(canonical)? {
        if names.contains(&key) {
            out.insert(key.to_owned(), serde_json::from_str(value).ok()?);
        }
    }
    Some(out)
}

/// Whether `bytes` is exactly the canonical form (RFC 8785) of the JSON value it denotes, checked
/// in one pass without building the value. Numbers other than short integers, and keys with
/// escapes, are left to the full parse-and-reserialise comparison.
pub fn is_canonical(bytes: &[u8]) -> bool {
    canonical_with_field(bytes, "").0
}

/// Whether one pass over `bytes` shows them canonical: `false` when they are not, and also when
/// only reserialising could tell (numbers other than short integers, keys with escapes), so
/// that a caller who has the parsed value writes it instead.
pub fn is_plainly_canonical(bytes: &[u8]) -> bool {
    let (ok, slow, _) = one_pass(bytes, "");
    ok && !slow
}

/// As [`is_canonical`], also giving the raw text of one top-level member's value (when `bytes` is
/// an object that has it), found in the same pass.
pub fn canonical_with_field<'a>(bytes: &'a [u8], field: &str) -> (bool, Option<&'a [u8]>) {
    let (ok, slow, found) = one_pass(bytes, field);
    (is_canonical_after(bytes, ok, slow), found)
}

/// The one-pass check: whether `bytes` passed it, whether something only reserialising can
/// decide was seen, and the span of the top-level member `field`.
fn one_pass<'a>(bytes: &'a [u8], field: &str) -> (bool, bool, Option<&'a [u8]>) {
    let mut c = Checker {
        b: bytes,
        i: 0,
        slow: false,
        field,
        found: None,
    };
    let ok = c.value(0) && c.i == bytes.len();
    (ok, c.slow, c.found.map(|(from, to)| &bytes[from..to]))
}

fn is_canonical_after(bytes: &[u8], ok: bool, slow: bool) -> bool {
    if ok && slow {
        return serde_json::from_slice::<Value>(bytes).is_ok_and(|v| {
            let mut out = Vec::with_capacity(bytes.len());
            write_canonical(&v, &mut out);
            out == bytes
        });
    }
    ok
}

/// The nesting serde_json accepts; deeper input is not JSON it could read.
const MAX_DEPTH: usize = 128;

struct Checker<'a, 'f> {
    b: &'a [u8],
    i: usize,
    /// Something the one-pass check cannot decide was seen.
    slow: bool,
    /// A top-level member whose value's span is wanted, and the span.
    field: &'f str,
    found: Option<(usize, usize)>,
}

impl<'a> Checker<'a, '_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().is_some(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => false,
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    fn object(&mut self, depth: usize) -> bool {
        self.i += 1;
        if self.eat(b'}') {
            return true;
        }
        // The previous key's raw text; None after a key with escapes (compared by the full check).
        let mut previous: Option<&'a str> = None;
        loop {
            let Some((key, escaped)) = self.string() else {
                return false;
            };
            if escaped {
                self.slow = true;
                previous = None;
            } else {
                if previous.is_some_and(|p| utf16_cmp(p, key) != Ordering::Less) {
                    return false;
                }
                previous = Some(key);
            }
            let wanted = depth == 0 && !escaped && key == self.field;
            if !self.eat(b':') {
                return false;
            }
            let from = self.i;
            if !self.value(depth + 1) {
                return false;
            }
            if wanted {
                self.found = Some((from, self.i));
            }
            if self.eat(b'}') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
        }
    }

    fn array(&mut self, depth: usize) -> bool {
        self.i += 1;
        if self.eat(b']') {
            return true;
        }
        loop {
            if !self.value(depth + 1) {
                return false;
            }
            if self.eat(b']') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
        }
    }

    /// A string in canonical form: raw UTF-8 except `"`, `\\` and control characters, which use
    /// the shortest escape. Gives its raw text and whether it had escapes.
    fn string(&mut self) -> Option<(&'a str, bool)> {
        let b = self.b;
        if !self.eat(b'"') {
            return None;
        }
        let start = self.i;
        let mut escaped = false;
        loop {
            match *b.get(self.i)? {
                b'"' => break,
                0x00..=0x1f => return None,
                b'\\' => {
                    escaped = true;
                    match *b.get(self.i + 1)? {
                        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 2,
                        b'u' => {
                            let hex = b.get(self.i + 2..self.i + 6)?;
                            let lower = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
                            if hex[0] != b'0' || hex[1] != b'0' || !lower(hex[2]) || !lower(hex[3]) {
                                return None;
                            }
                            let v = u8::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()?;
                            if v >= 0x20 || matches!(v, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                                return None;
                            }
                            self.i += 6;
                        }
                        _ => return None,
                    }
                }
                _ => self.i += 1,
            }
        }
        let text = std::str::from_utf8(&b[start..self.i]).ok()?;
        self.i += 1;
        Some((text, escaped))
    }

    /// An integer as ECMAScript prints it; anything else is left to the full comparison.
    fn number(&mut self) -> bool {
        let start = self.i;
        let negative = self.eat(b'-');
        let digits = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let n = self.i - digits;
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) || n > 15 {
            self.slow = true;
            while self
                .peek()
                .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
            {
                self.i += 1;
            }
            return self.i > start;
        }
        match (n, self.b.get(digits)) {
            (0, _) => false,
            (1, Some(b'0')) => !negative,
            (_, Some(b'0')) => false,
            _ => true,
        }
    }
}

/// Orders strings by their UTF-16 code units, as RFC 8785 section 3.2.3 requires.
pub fn utf16_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.as_bytes().cmp(b.as_bytes());
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

fn write_number(n: &Number, out: &mut Vec<u8>) {
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() <= MAX_SAFE_INTEGER {
            out.extend_from_slice(i.to_string().as_bytes());
            return;
        }
    } else if let Some(u) = n.as_u64()
        && u <= MAX_SAFE_INTEGER
    {
        out.extend_from_slice(u.to_string().as_bytes());
        return;
    }
    // Everything else is formatted as the IEEE 754 double it denotes (RFC 8785 section 3.2.2.3).
    let f = n.as_f64().unwrap_or(0.0);
    if f == 0.0 {
        out.push(b'0');
    } else {
        let mut buf = ryu_js::Buffer::new();
        out.extend_from_slice(buf.format_finite(f).as_bytes());
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// SHA-256 over the canonical JSON of one object version: the identity of its content.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    pub fn of_canonical(canonical: &[u8]) -> Self {
        ContentHash(Sha256::digest(canonical).into())
    }

    pub fn of_value(value: &Value) -> Self {
        let mut buf = Vec::with_capacity(512);
        write_canonical(value, &mut buf);
        Self::of_canonical(&buf)
    }

    pub fn to_hex(&self) -> String {
        // Hot on every disclosure (ledger entries carry hashes); hex::encode goes char by char.
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = Vec::with_capacity(64);
        for b in self.0 {
            out.push(DIGITS[usize::from(b >> 4)]);
            out.push(DIGITS[usize::from(b & 15)]);
        }
        String::from_utf8(out).unwrap_or_default()
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(ContentHash(out))
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.to_hex())
    }
}

impl serde::Serialize for ContentHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc8785_numbers() {
        // Examples from RFC 8785 Appendix B.
        let cases = [
            (0.0_f64, "0"),
            (-0.0, "0"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (9007199254740992.0, "9007199254740992"),
            (295147905179352830000.0, "295147905179352830000"),
            (1e21, "1e+21"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (333333333.3333333, "333333333.3333333"),
        ];
        for (f, want) in cases {
            let v = Value::Number(Number::from_f64(f).unwrap());
            assert_eq!(to_canonical_string(&v), want, "{f:e}");
        }
    }

    #[test]
    fn rfc8785_sorting_example() {
        // RFC 8785 section 3.2.3: sorting by UTF-16 code units.
        let v: Value = serde_json::from_str(
            r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#,
        )
        .unwrap();
        let want = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
                    \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
                    \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
        assert_eq!(to_canonical_string(&v), want);
    }

    #[test]
    fn rfc8785_string_escapes() {
        let v = json!({"s": "\u{7f}\"\\\n\u{1}\u{2028}é"});
        assert_eq!(
            to_canonical_string(&v),
            "{\"s\":\"\u{7f}\\\"\\\\\\n\\u0001\u{2028}é\"}"
        );
    }
}
