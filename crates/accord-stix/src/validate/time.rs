//! Timestamps and versioning: the form and precision of timestamp properties, and the order of
//! start/end pairs (`modified` not before `created`, `last_seen` not before `first_seen`, ...).

use serde_json::{Map, Value};

use super::cx::Cx;
use super::report::Rule;
use crate::spec::{Category, TypeSpec};
use crate::timestamp::Timestamp;

/// A timestamp property; `millis`: `created`/`modified`, which need millisecond precision.
pub(super) fn check_timestamp(value: &Value, millis: bool, cx: &mut Cx<'_>) {
    match value.as_str() {
        Some(s) => match Timestamp::parse(s) {
            Ok(t) if millis && t.fraction_digits < 3 => cx.err(
                Rule::TimestampPrecision,
                format!("{s:?} must be precise to the millisecond (at least 3 fractional digits)"),
            ),
            Ok(_) => {}
            Err(e) => cx.err(Rule::Timestamp, e.to_string()),
        },
        None => cx.expected("a timestamp string", value),
    }
}

/// A new version is not older than the object it versions: `modified >= created`, for the types
/// that are versioned that way (SDOs, SROs, extension-definition and language-content).
pub(super) fn check_versioning(obj: &Map<String, Value>, spec: &TypeSpec, type_name: &str, cx: &mut Cx<'_>) {
    if matches!(spec.category, Category::Sdo | Category::Sro)
        || type_name == "extension-definition"
        || type_name == "language-content"
    {
        order(obj, "created", "modified", false, cx);
    }
}

/// Checks `later >= earlier` (or `>` when `strict`). Either one missing or malformed is not an
/// order problem: other rules report that.
pub(super) fn order(
    obj: &Map<String, Value>,
    earlier: &str,
    later: &'static str,
    strict: bool,
    cx: &mut Cx<'_>,
) {
    if let (Some(a), Some(b)) = (ts(obj, earlier), ts(obj, later)) {
        let bad = if strict { b <= a } else { b < a };
        if bad {
            let rel = if strict { "later than" } else { "at or after" };
            cx.at_key(later, |cx| {
                cx.err(Rule::TimestampOrder, format!("{later} must be {rel} {earlier}"))
            });
        }
    }
}

fn ts(obj: &Map<String, Value>, key: &str) -> Option<Timestamp> {
    obj.get(key)
        .and_then(Value::as_str)
        .and_then(|s| Timestamp::parse(s).ok())
}
