//! Number precision over the whole object: integers beyond ±2^53 cannot be canonicalised without
//! loss (RFC 8785 writes numbers as IEEE 754 doubles), wherever they occur, custom properties
//! included.

use serde_json::{Map, Value};

use super::cx::Cx;
use super::report::Rule;
use crate::jcs::MAX_SAFE_INTEGER;

/// Integers beyond 2^53 cannot be canonicalised without loss (RFC 8785 uses IEEE 754 doubles).
pub(super) fn walk_numbers<'a>(obj: &'a Map<String, Value>, cx: &mut Cx<'a>) {
    /// Only numbers, and containers that may hold them, are visited.
    fn visit<'a>(v: &'a Value, cx: &mut Cx<'a>) {
        match v {
            Value::Number(n) => {
                let too_big = match (n.as_i64(), n.as_u64()) {
                    (Some(i), _) => i.unsigned_abs() > MAX_SAFE_INTEGER,
                    (None, Some(u)) => u > MAX_SAFE_INTEGER,
                    _ => false,
                };
                if too_big {
                    cx.err(
                        Rule::NumberPrecision,
                        format!("integer {n} is beyond ±2^53 and cannot be represented exactly"),
                    );
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate().filter(|(_, x)| holds_numbers(x)) {
                    cx.at_index(i, |cx| visit(item, cx));
                }
            }
            Value::Object(m) => members(m, cx),
            _ => {}
        }
    }
    fn holds_numbers(v: &Value) -> bool {
        v.is_number() || v.is_array() || v.is_object()
    }
    fn members<'a>(m: &'a Map<String, Value>, cx: &mut Cx<'a>) {
        for (k, item) in m.iter().filter(|(_, x)| holds_numbers(x)) {
            cx.at_key(k, |cx| visit(item, cx));
        }
    }
    members(obj, cx);
}
