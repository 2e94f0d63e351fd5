//! MISP events and IOC lists (CSV or one value per line) to STIX 2.1 indicators whose patterns
//! Accord's parser accepts. What cannot be converted is reported per attribute or line.

use serde_json::{Map, Value, json};

use crate::Problem;
use crate::ioc::{Ioc, Kind, quote};

/// Indicators made from an import, and what could not be.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Imported {
    /// The indicators, then the TLP marking definitions they refer to.
    pub objects: Vec<Value>,
    pub problems: Vec<Problem>,
}

/// The kinds of value a MISP attribute type holds (empty: not convertible).
pub fn misp_kinds(ty: &str) -> &'static [Kind] {
    match ty {
        "ip-dst" | "ip-src" => &[Kind::Ipv4, Kind::Ipv6, Kind::Cidr],
        "domain" | "hostname" => &[Kind::Domain],
        "url" | "link" => &[Kind::Url],
        "md5" => &[Kind::Md5],
        "sha1" => &[Kind::Sha1],
        "sha256" => &[Kind::Sha256],
        "sha512" => &[Kind::Sha512],
        "email" | "email-src" | "email-dst" => &[Kind::Email],
        "filename" => &[Kind::FileName],
        _ => &[],
    }
}

/// Common ways feeds defang values: `hxxp`, `[.]`, `(.)`, `[:]`, `[@]`.
pub fn refang(s: &str) -> String {
    let mut v = s
        .trim()
        .replace("[.]", ".")
        .replace("(.)", ".")
        .replace("[:]", ":")
        .replace("[@]", "@");
    for (from, to) in [
        ("hxxps://", "https://"),
        ("hxxp://", "http://"),
        ("fxp://", "ftp://"),
    ] {
        if v.to_ascii_lowercase().starts_with(from) {
            v = format!("{to}{}", &v[from.len()..]);
        }
    }
    v
}

/// Options shared by the importers.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    /// RFC 3339 time the indicators are created at (and valid from, unless the input says).
    pub now: String,
    /// TLP level for values whose input gives none (`clear`, `green`, `amber`, `amber+strict`, `red`).
    pub tlp: Option<String>,
    /// `created_by_ref` for the indicators.
    pub created_by: Option<String>,
}

fn tlp_marking(level: &str) -> Option<&'static accord_stix::markings::TlpMarking> {
    let level = match level.to_ascii_lowercase().as_str() {
        "white" => "clear".to_owned(),
        l => l.to_owned(),
    };
    accord_stix::markings::TLP_MARKINGS
        .iter()
        .find(|m| m.version == accord_stix::markings::TlpVersion::V2 && m.level.as_str() == level)
}

struct Builder<'d> {
    defaults: &'d Defaults,
    out: Imported,
    markings: Vec<&'static str>,
}

impl<'d> Builder<'d> {
    fn new(defaults: &'d Defaults) -> Self {
        Builder {
            defaults,
            out: Imported::default(),
            markings: Vec::new(),
        }
    }

    fn problem(&mut self, item: String, reason: String) {
        self.out.problems.push(Problem { item, reason });
    }

    /// An indicator for `pattern`; `extra` adds or overrides properties.
    fn indicator(&mut self, id: String, pattern: String, tlp: Option<&str>, extra: Map<String, Value>) {
        let when = self.defaults.now.clone();
        let mut o = json!({
            "type": "indicator",
            "spec_version": "2.1",
            "id": id,
            "created": when,
            "modified": when,
            "pattern": pattern,
            "pattern_type": "stix",
            "pattern_version": "2.1",
            "valid_from": when,
        });
        if let Some(by) = &self.defaults.created_by {
            o["created_by_ref"] = Value::from(by.clone());
        }
        if let Value::Object(m) = &mut o {
            m.extend(extra);
        }
        if let Some(m) = tlp.or(self.defaults.tlp.as_deref()).and_then(tlp_marking) {
            o["object_marking_refs"] = json!([m.id]);
            if !self.markings.contains(&m.id) {
                self.markings.push(m.id);
            }
        }
        self.out.objects.push(o);
    }

    fn finish(mut self) -> Imported {
        for id in self.markings {
            if let Some(m) = accord_stix::markings::tlp_by_id(id) {
                self.out.objects.push(m.definition());
            }
        }
        self.out
    }
}

fn rfc3339(epoch: i64) -> Option<String> {
    Some(accord_stix::Timestamp::format_micros(
        epoch.checked_mul(1_000_000)?,
    ))
}

/// MISP event JSON: `{"Event": …}`, a list of those, or a `{"response": [...]}` search result.
/// Attributes of object templates are converted too; `filename|md5` (and sha1, sha256) become
/// one pattern on the file's name and hash.
pub fn from_misp(doc: &Value, defaults: &Defaults) -> Imported {
    let mut b = Builder::new(defaults);
    let events: Vec<&Value> = match doc {
        Value::Array(list) => list.iter().collect(),
        Value::Object(m) if m.contains_key("response") => m["response"]
            .as_array()
            .map(|l| l.iter().collect())
            .unwrap_or_default(),
        v => vec![v],
    };
    for (e, wrapper) in events.iter().enumerate() {
        let Some(event) = wrapper.get("Event").or(Some(*wrapper)).filter(|v| v.is_object()) else {
            b.problem(format!("event {e}"), "not a MISP event".into());
            continue;
        };
        let event_tlp = tlp_tag(event);
        let mut attributes: Vec<&Value> = event
            .get("Attribute")
            .and_then(Value::as_array)
            .map(|l| l.iter().collect())
            .unwrap_or_default();
        for object in event
            .get("Object")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            attributes.extend(
                object
                    .get("Attribute")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            );
        }
        if attributes.is_empty() {
            b.problem(format!("event {e}"), "has no attributes".into());
        }
        for a in attributes {
            misp_attribute(&mut b, a, event_tlp.as_deref());
        }
    }
    b.finish()
}

fn tlp_tag(v: &Value) -> Option<String> {
    v.get("Tag")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("name")?.as_str()?.strip_prefix("tlp:").map(str::to_owned))
        .next()
}

fn misp_attribute(b: &mut Builder, a: &Value, event_tlp: Option<&str>) {
    let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("");
    let (ty, value, uuid) = (s("type"), s("value"), s("uuid"));
    let item = format!("attribute {}", if uuid.is_empty() { value } else { uuid });
    let pattern = if let Some(hash) = ty.strip_prefix("filename|") {
        let (name, digest) = value.split_once('|').unwrap_or((value, ""));
        let key = match hash {
            "md5" => "MD5",
            "sha1" => "SHA-1",
            "sha256" => "SHA-256",
            _ => {
                b.problem(item, format!("MISP type {ty} is not converted"));
                return;
            }
        };
        format!(
            "[file:name = {} AND file:hashes.'{key}' = {}]",
            quote(name),
            quote(digest)
        )
    } else {
        let kinds = misp_kinds(ty);
        if kinds.is_empty() {
            b.problem(item, format!("MISP type {ty:?} has no STIX pattern here"));
            return;
        }
        let ioc = match Ioc::detect(value) {
            Some(i) if kinds.contains(&i.kind) => i,
            // Names and e-mail addresses are taken as written.
            _ if matches!(kinds, [Kind::FileName] | [Kind::Email]) && !value.is_empty() => Ioc {
                kind: kinds[0],
                value: value.to_owned(),
            },
            _ => {
                b.problem(item, format!("{value:?} is not a valid {ty} value"));
                return;
            }
        };
        ioc.pattern()
    };
    if let Err(e) = accord_pattern::parse(&pattern) {
        b.problem(item, format!("the pattern {pattern} does not parse: {e}"));
        return;
    }
    let id = uuid::Uuid::parse_str(uuid).unwrap_or_else(|_| uuid::Uuid::new_v4());
    let mut extra = Map::new();
    let comment = s("comment");
    extra.insert("name".into(), Value::from(format!("{ty}: {value}")));
    if !comment.is_empty() {
        extra.insert("description".into(), Value::from(comment));
    }
    let to_ids = match a.get("to_ids") {
        Some(Value::Bool(v)) => *v,
        Some(Value::String(v)) => v == "1" || v == "true",
        _ => true,
    };
    extra.insert(
        "indicator_types".into(),
        json!([if to_ids { "malicious-activity" } else { "unknown" }]),
    );
    extra.insert("x_misp_type".into(), Value::from(ty));
    extra.insert("x_misp_category".into(), Value::from(s("category")));
    extra.insert("x_misp_to_ids".into(), Value::from(to_ids));
    let when = a
        .get("timestamp")
        .and_then(|t| t.as_str().and_then(|s| s.parse().ok()).or_else(|| t.as_i64()))
        .and_then(rfc3339);
    if let Some(w) = when {
        for k in ["created", "modified", "valid_from"] {
            extra.insert(k.into(), Value::from(w.clone()));
        }
    }
    let tlp = tlp_tag(a).or_else(|| event_tlp.map(str::to_owned));
    b.indicator(format!("indicator--{id}"), pattern, tlp.as_deref(), extra);
}

/// An IOC list: CSV with a header naming a `value` (or `indicator`, `ioc`) column and optionally
/// `type` (an Accord kind or a MISP type), `name`, `description` (or `comment`), `valid_from`,
/// `valid_until` and `tlp`; or one value per line (`#` starts a comment). Kinds are recognised
/// from the values, which may be defanged.
pub fn from_list(text: &str, defaults: &Defaults) -> Imported {
    let mut b = Builder::new(defaults);
    let mut lines = text.lines().enumerate().filter(|(_, l)| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    });
    let Some((first_no, first)) = lines.next() else {
        return b.finish();
    };
    let header: Vec<String> = csv_row(first)
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let column = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
    let value_col = column(&["value", "indicator", "ioc"]);
    let rows: Box<dyn Iterator<Item = (usize, &str)>> = if value_col.is_some() {
        Box::new(lines)
    } else {
        Box::new(std::iter::once((first_no, first)).chain(lines))
    };
    let (type_col, name_col, desc_col) = (
        column(&["type", "kind"]),
        column(&["name"]),
        column(&["description", "comment"]),
    );
    let (from_col, until_col, tlp_col) = (
        column(&["valid_from"]),
        column(&["valid_until"]),
        column(&["tlp"]),
    );
    for (no, line) in rows {
        let item = format!("line {}", no + 1);
        let cells = if value_col.is_some() {
            csv_row(line)
        } else {
            vec![line.to_owned()]
        };
        let cell = |c: Option<usize>| {
            c.and_then(|c| cells.get(c))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
        };
        let Some(raw) = cell(value_col.or(Some(0))) else {
            b.problem(item, "no value".into());
            continue;
        };
        let value = refang(raw);
        let declared = cell(type_col);
        let ioc = match (Ioc::detect(&value), declared) {
            (Some(i), None) => i,
            (Some(i), Some(t)) if Kind::parse(t) == Some(i.kind) || misp_kinds(t).contains(&i.kind) => i,
            (_, Some(t)) if matches!(Kind::parse(t), Some(Kind::FileName | Kind::Email)) => Ioc {
                kind: Kind::parse(t).unwrap_or(Kind::FileName),
                value: value.clone(),
            },
            (detected, Some(t)) => {
                b.problem(
                    item,
                    format!(
                        "{raw:?} is declared {t} but looks like {}",
                        detected.map_or("nothing recognised", |i| i.kind.as_str())
                    ),
                );
                continue;
            }
            (None, None) => {
                b.problem(
                    item,
                    format!(
                        "{raw:?} is not an IP address, network, URL, hash, e-mail address or domain name"
                    ),
                );
                continue;
            }
        };
        let pattern = ioc.pattern();
        if let Err(e) = accord_pattern::parse(&pattern) {
            b.problem(item, format!("the pattern {pattern} does not parse: {e}"));
            continue;
        }
        let mut extra = Map::new();
        extra.insert(
            "name".into(),
            Value::from(cell(name_col).map_or_else(|| format!("{}: {}", ioc.kind, ioc.value), str::to_owned)),
        );
        if let Some(d) = cell(desc_col) {
            extra.insert("description".into(), Value::from(d));
        }
        extra.insert("indicator_types".into(), json!(["malicious-activity"]));
        for (col, key) in [(from_col, "valid_from"), (until_col, "valid_until")] {
            if let Some(t) = cell(col) {
                match accord_stix::Timestamp::parse(t) {
                    Ok(_) => {
                        extra.insert(key.into(), Value::from(t));
                    }
                    Err(e) => {
                        b.problem(item.clone(), format!("{key}: {e}"));
                    }
                }
            }
        }
        let tlp = cell(tlp_col).map(|t| t.trim_start_matches("tlp:").trim_start_matches("TLP:").to_owned());
        b.indicator(
            format!("indicator--{}", uuid::Uuid::new_v4()),
            pattern,
            tlp.as_deref(),
            extra,
        );
    }
    b.finish()
}

fn push(cells: &mut [String], c: char) {
    if let Some(s) = cells.last_mut() {
        s.push(c);
    }
}

/// One CSV record (RFC 4180 quoting; records do not span lines here).
fn csv_row(line: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                push(&mut cells, '"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(String::new()),
            (c, _) => push(&mut cells, c),
        }
    }
    cells
}
