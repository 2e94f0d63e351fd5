//! Indicator translation between STIX 2.1 and the formats defenders run: STIX indicators to
//! plain blocklists, CSV, Suricata rules, Zeek Intel files and MISP events; MISP events and IOC
//! lists to STIX indicators. Every indicator or line that a format cannot carry is reported with
//! the reason, never dropped silently. Pure: no I/O.

pub mod export;
pub mod import;
pub mod ioc;

pub use export::{Converted, Format, SidRange, export};
pub use import::{Defaults, Imported, from_list, from_misp};
pub use ioc::{Ioc, Kind};

/// Something that could not be converted: which indicator, attribute or line, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub item: String,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.item, self.reason)
    }
}

/// What a document given to [`to_stix`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Recognised from its content: a MISP event (or a list of them), else an IOC list.
    Auto,
    Misp,
    /// CSV with a header, or one value per line.
    List,
}

fn is_misp(doc: &serde_json::Value) -> bool {
    doc.get("Event").is_some()
        || doc.get("response").is_some()
        || doc
            .as_array()
            .is_some_and(|a| a.iter().any(|e| e.get("Event").is_some()))
}

/// Converts documents (name and text) of MISP events or IOC lists to STIX objects: indicators and
/// the marking definitions they use (each once). Problems name the document they come from. A
/// document given as MISP that is not JSON is refused whole.
pub fn to_stix(
    documents: &[(String, String)],
    input: Input,
    defaults: &Defaults,
) -> Result<Imported, Problem> {
    let mut out = Imported::default();
    for (name, text) in documents {
        let json: Option<serde_json::Value> = serde_json::from_str(text).ok();
        let imported = match (input, json) {
            (Input::Misp, Some(doc)) => from_misp(&doc, defaults),
            (Input::Misp, None) => {
                return Err(Problem {
                    item: name.clone(),
                    reason: "not a MISP JSON document".into(),
                });
            }
            (Input::Auto, Some(doc)) if is_misp(&doc) => from_misp(&doc, defaults),
            _ => from_list(text, defaults),
        };
        out.problems
            .extend(imported.problems.into_iter().map(|p| Problem {
                item: format!("{name}: {}", p.item),
                reason: p.reason,
            }));
        for obj in imported.objects {
            if obj["type"] != "marking-definition" || !out.objects.iter().any(|x| x["id"] == obj["id"]) {
                out.objects.push(obj);
            }
        }
    }
    Ok(out)
}

/// The kinds of value a blocklist lists, from their names: `ip` (IPv4 and IPv6), `hash` (every
/// hash), or one kind (`cidr`, `domain`, `url`, `email`, `filename`, `md5`, …).
pub fn blocklist_kinds(names: &[String]) -> Result<Vec<Kind>, String> {
    if names.is_empty() {
        return Err("a blocklist needs kinds (ip, cidr, domain, url, hash, email, filename)".into());
    }
    let mut kinds = Vec::new();
    for k in names {
        match k.as_str() {
            "ip" => kinds.extend([Kind::Ipv4, Kind::Ipv6]),
            "hash" => kinds.extend([Kind::Md5, Kind::Sha1, Kind::Sha256, Kind::Sha512]),
            other => {
                kinds.push(Kind::parse(other).ok_or_else(|| format!("{other:?} is not a kind of value"))?)
            }
        }
    }
    Ok(kinds)
}
