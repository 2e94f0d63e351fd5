//! A blank incident report with a comment on every fact: what it means, the values it takes (the
//! entity-type vocabulary, each regime's own assessment), and that a fact left out is unknown.
//! TOML, so the comments survive and a commented-out fact is simply absent. Built from the
//! extension's JSON schema and the pack in force, so it lists what the rules actually read.

use std::fmt::Write;

use serde_json::{Map, Value};

use crate::Pack;

/// Properties the reporting entity does not fill in.
const INTERNAL: &[&str] = &["extension_type", "incident"];

/// The commented blank report for `pack`.
pub fn template(pack: &Pack) -> String {
    let schema: Value = serde_json::from_str(crate::INCIDENT_EXTENSION_SCHEMA).unwrap_or_default();
    let mut out = String::from(
        "# Accord incident report. Store it with `accord obligations report FILE.toml --name NAME`.\n\
         #\n\
         # Unknown is not no: a fact left out (commented, as below) is unknown, and a regime that\n\
         # needs it shows \"cannot determine: needs FIELD\". An empty list [] or false is a no.\n\
         # Uncomment and fill in what you know; `accord obligations report` then lists the facts\n\
         # that would still change an outcome. Times are RFC 3339 strings, e.g. \"2026-05-05T08:00:00Z\".\n",
    );
    table(&mut out, pack, &schema, &schema, "");
    out
}

fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    match node
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/"))
    {
        Some(path) => root.pointer(&format!("/{path}")).unwrap_or(node),
        None => node,
    }
}

fn table(out: &mut String, pack: &Pack, root: &Value, node: &Value, path: &str) {
    let empty = Map::new();
    let props = node
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let required: Vec<&str> = node
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let is_table = |v: &Value| v.get("properties").is_some() || v.get("type") == Some(&"object".into());
    // TOML: a table's plain keys come before its sub-tables.
    for (key, prop) in props
        .iter()
        .filter(|(k, v)| !INTERNAL.contains(&k.as_str()) && !is_table(v))
    {
        let prop = resolve(root, prop);
        let _ = writeln!(out);
        comment(out, prop);
        if key == "entity_types" {
            entity_types(out, pack);
        }
        let line = format!("{key} = {}", placeholder(root, prop));
        if required.contains(&key.as_str()) {
            let _ = writeln!(out, "{line}  # required");
        } else {
            let _ = writeln!(out, "# {line}");
        }
    }
    for (key, prop) in props
        .iter()
        .filter(|(k, v)| !INTERNAL.contains(&k.as_str()) && is_table(v))
    {
        let here = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        let _ = writeln!(out, "\n[{here}]");
        comment(out, prop);
        if here == "assessments.reportable" {
            reportable(out, pack);
        } else {
            table(out, pack, root, prop, &here);
        }
    }
}

fn comment(out: &mut String, prop: &Value) {
    if let Some(d) = prop.get("description").and_then(Value::as_str) {
        for line in wrap(d, 96) {
            let _ = writeln!(out, "# {line}");
        }
    }
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let last = lines.last().map_or(0, String::len);
        if last > 0 && last + word.len() + 1 > width {
            lines.push(String::new());
        }
        if let Some(l) = lines.last_mut() {
            if !l.is_empty() {
                l.push(' ');
            }
            l.push_str(word);
        }
    }
    lines
}

fn placeholder(root: &Value, prop: &Value) -> String {
    if let Some(first) = prop.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.to_string();
    }
    match prop.get("type").and_then(Value::as_str) {
        Some("boolean") => "true  # or false".into(),
        Some("integer") | Some("number") => "0".into(),
        Some("array") => {
            let item = prop.get("items").map(|i| resolve(root, i));
            match item.and_then(|i| i.get("type")).and_then(Value::as_str) {
                Some("string") | None => "[]  # e.g. [\"…\"]".into(),
                _ => "[]".into(),
            }
        }
        _ if prop.get("format").and_then(Value::as_str) == Some("date-time") => {
            "\"2026-01-01T00:00:00Z\"".into()
        }
        _ => "\"\"".into(),
    }
}

fn entity_types(out: &mut String, pack: &Pack) {
    let _ = writeln!(
        out,
        "# The entity types (a type's implied types are derived; list only what applies):"
    );
    for t in pack.vocabulary.entity_types.values() {
        let implies = if t.implies.is_empty() {
            String::new()
        } else {
            format!(" [implies {}]", t.implies.join(", "))
        };
        let _ = writeln!(out, "#   {:<38} {}{implies}", t.id, t.meaning);
    }
}

fn reportable(out: &mut String, pack: &Pack) {
    for r in pack.regimes.iter().filter(|r| r.assessment.is_some()) {
        let Some(a) = &r.assessment else { continue };
        let _ = writeln!(out, "\n# {} ({}):", r.id, r.name);
        for line in wrap(&format!("{} ({})", a.question, a.takes()), 94) {
            let _ = writeln!(out, "#   {line}");
        }
        let example = a
            .values
            .first()
            .map_or_else(|| "true  # or false".to_owned(), |v| format!("{v:?}"));
        let _ = writeln!(out, "# \"{}\" = {example}", r.id);
    }
}
