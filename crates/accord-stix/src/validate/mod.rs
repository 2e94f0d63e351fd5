//! Validation of one STIX 2.1 object against the spec's MUST rules (errors) and SHOULD rules and
//! open vocabularies (warnings). Each finding names the object id, the JSON path and the rule.
//!
//! The validator interprets the tables of [`crate::spec`] and [`crate::vocab`]; the modules here
//! hold what the tables cannot say:
//!
//! - `report`: the output: [`Severity`], [`Rule`], [`Finding`], [`Report`];
//! - `cx`: the walk's state (JSON path, findings);
//! - `driver`: one object's walk: type resolution, `type` and `id`, properties present and
//!   missing, then the rules below;
//! - `kinds`: property checks by `spec::Kind`, custom property names, vocabularies, hashes;
//! - `refs`: references, custom `*_ref(s)`, the UUID version of ids and deterministic SCO ids;
//! - `time`: timestamp form and precision, start/end orders, `modified >= created`;
//! - `numbers`: integers that RFC 8785 cannot carry exactly;
//! - `embedded`: external references, kill chain phases, MIME parts;
//! - `extensions`: the `extensions` property and extension-definitions;
//! - `marking`: marking-definitions (TLP, IEP) and granular markings;
//! - `sdo`, `sco`: co-constraints particular to one type.

use serde_json::Value;

mod cx;
mod driver;
mod embedded;
mod extensions;
mod kinds;
mod marking;
mod numbers;
mod refs;
mod report;
mod sco;
mod sdo;
mod time;

pub use kinds::is_lang_tag;
pub use marking::resolve_selector;
pub use report::{Finding, Report, Rule, Severity};

use cx::{Cx, kind_name};

/// Validates one object on its own (no other marking definition is known). Never panics,
/// whatever the input.
pub fn validate(value: &Value) -> Report {
    validate_in(value, &|_| false)
}

/// Validates one object of an input in which `defined_marking` tells the marking-definition ids
/// defined (a marking reference that is neither a fixed TLP id nor defined is a warning).
pub fn validate_in(value: &Value, defined_marking: &dyn Fn(&str) -> bool) -> Report {
    let Some(obj) = value.as_object() else {
        let mut cx = Cx::new(value, defined_marking);
        cx.err(
            Rule::NotAnObject,
            format!("expected a JSON object, found {}", kind_name(value)),
        );
        return cx.finish(None);
    };
    let mut cx = Cx::new(value, defined_marking);
    let object_id = obj.get("id").and_then(Value::as_str).map(str::to_owned);
    driver::validate_object(obj, &mut cx);
    cx.finish(object_id)
}
