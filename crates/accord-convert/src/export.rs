//! STIX indicators to the formats defenders run: plain blocklists, CSV, Suricata rules, Zeek
//! Intel files and MISP events. Whatever a format cannot express is reported per indicator.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use accord_pattern::parse;
use accord_stix::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Problem;
use crate::ioc::{Ioc, Kind, iocs};

/// What to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// One value per line, of these kinds only.
    Blocklist(Vec<Kind>),
    Csv,
    /// Suricata rules. A rule's sid is derived from what it is for (the indicator's id, the
    /// protocol, the kind and the value), in this range, so that the next export of the same
    /// indicator replaces its rules instead of adding copies (see [`SidRange`]).
    Suricata(SidRange),
    /// A Zeek Intel framework file, `source` in `meta.source`.
    Zeek {
        source: String,
    },
    /// One MISP event holding an attribute per value.
    Misp {
        info: String,
        date: String,
        timestamp: i64,
    },
}

/// The sids Suricata rules are numbered in: `first` to `last`, both included. A rule's key is the
/// JSON array `[indicator id, protocol, kind, value]`; its sid is the key's hash in the range, or
/// the next free sid when another rule has that one (see `assign_sids`), never its position in the
/// input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SidRange {
    first: u32,
    last: u32,
}

impl SidRange {
    /// 9,000,000 to 9,999,999.
    pub const DEFAULT: SidRange = SidRange {
        first: 9_000_000,
        last: 9_999_999,
    };

    /// A range of Suricata's 32-bit sids; sid 0 is not one.
    pub fn new(first: u32, last: u32) -> Result<SidRange, String> {
        if first == 0 {
            return Err(format!(
                "sid range {first}-{last} starts at 0, which is not a sid"
            ));
        }
        if first > last {
            return Err(format!(
                "sid range {first}-{last} is empty: its first sid is above its last"
            ));
        }
        Ok(SidRange { first, last })
    }

    pub fn first(self) -> u32 {
        self.first
    }

    pub fn last(self) -> u32 {
        self.last
    }

    /// How many sids the range holds.
    fn size(self) -> u64 {
        u64::from(self.last - self.first) + 1
    }

    /// The sid a rule with this key is given unless another rule has it: the first 8 bytes of
    /// the key's SHA-256 (big-endian) modulo the range's size, counted from its first sid.
    fn home(self, key: &str) -> u32 {
        let digest = Sha256::digest(key.as_bytes());
        let mut head = [0u8; 8];
        head.copy_from_slice(&digest[..8]);
        let offset = u64::from_be_bytes(head) % self.size();
        // offset < size, so first + offset <= last: it fits.
        self.first + u32::try_from(offset).unwrap_or(0)
    }

    /// The sid after `sid`, wrapping from the last to the first.
    fn next(self, sid: u32) -> u32 {
        if sid >= self.last { self.first } else { sid + 1 }
    }
}

impl fmt::Display for SidRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

/// `FIRST-LAST`, e.g. `9000000-9999999`.
impl FromStr for SidRange {
    type Err = String;

    fn from_str(s: &str) -> Result<SidRange, String> {
        let (first, last) = s
            .split_once('-')
            .ok_or_else(|| format!("sid range {s:?} is not FIRST-LAST"))?;
        let sid = |x: &str| {
            x.parse::<u32>()
                .map_err(|_| format!("{x:?} in sid range {s:?} is not a sid (1 to {})", u32::MAX))
        };
        SidRange::new(sid(first)?, sid(last)?)
    }
}

/// The converted text, and what could not be converted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Converted {
    pub text: String,
    /// Indicators read (those of other types are ignored).
    pub indicators: usize,
    /// Values written (lines, rules or attributes).
    pub written: usize,
    /// Values left out of a blocklist because they are of a kind not asked for.
    pub skipped: usize,
    pub problems: Vec<Problem>,
}

/// What an indicator says about itself, for the formats' metadata fields.
#[derive(Debug, Clone)]
struct Meta<'a> {
    id: &'a str,
    name: Option<&'a str>,
    description: Option<&'a str>,
    valid_from: Option<&'a str>,
    valid_until: Option<&'a str>,
    /// Which of two versions of an indicator is the newer (an unreadable time counts as oldest).
    modified: Option<Timestamp>,
    confidence: Option<i64>,
    tlp: Option<&'static str>,
    object: &'a Value,
}

impl<'a> Meta<'a> {
    fn of(o: &'a Value) -> Meta<'a> {
        let s = |k: &str| o.get(k).and_then(Value::as_str);
        Meta {
            id: s("id").unwrap_or("(indicator without id)"),
            name: s("name"),
            description: s("description"),
            valid_from: s("valid_from"),
            valid_until: s("valid_until"),
            modified: s("modified").and_then(|m| Timestamp::parse(m).ok()),
            confidence: o.get("confidence").and_then(Value::as_i64),
            tlp: o
                .get("object_marking_refs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|m| accord_stix::markings::tlp_by_id(m.as_str()?))
                .map(|t| t.level.as_str())
                .next(),
            object: o,
        }
    }

    fn label(&self) -> String {
        match self.name {
            Some(n) => format!("{n} ({})", self.id),
            None => self.id.to_owned(),
        }
    }
}

/// Converts the indicators among `objects`.
pub fn export(objects: &[Value], format: &Format) -> Converted {
    let mut out = Converted::default();
    let mut writer = Writer::new(format);
    for o in objects {
        if o.get("type").and_then(Value::as_str) != Some("indicator") {
            continue;
        }
        out.indicators += 1;
        let meta = Meta::of(o);
        let problem = |reason: String| Problem {
            item: meta.id.to_owned(),
            reason,
        };
        if o.get("pattern_type").and_then(Value::as_str) != Some("stix") {
            out.problems.push(problem("pattern_type is not stix".into()));
            continue;
        }
        let Some(text) = o.get("pattern").and_then(Value::as_str) else {
            out.problems.push(problem("no pattern".into()));
            continue;
        };
        let values = match parse(text)
            .map_err(|e| format!("pattern {e}"))
            .and_then(|p| iocs(&p))
        {
            Ok(v) => v,
            Err(reason) => {
                out.problems
                    .push(problem(format!("not a list of values: {reason}")));
                continue;
            }
        };
        for (nth, ioc) in values.iter().enumerate() {
            if let Format::Blocklist(kinds) = format
                && !kinds.contains(&ioc.kind)
            {
                out.skipped += 1;
                continue;
            }
            match writer.write(&meta, ioc, nth) {
                Ok(n) => out.written += n,
                Err(reason) => out
                    .problems
                    .push(problem(format!("{} {:?}: {reason}", ioc.kind, ioc.value))),
            }
        }
    }
    out.text = writer.finish(&mut out);
    out
}

struct Writer<'f> {
    format: &'f Format,
    text: String,
    seen: HashSet<(Kind, String)>,
    rules: Vec<Rule>,
    /// Where each rule's key is in `rules`.
    rule_keys: HashMap<String, usize>,
    attributes: Vec<Value>,
}

/// A Suricata rule waiting for its sid.
struct Rule {
    /// What the rule is for: its indicator's id, protocol, and the kind and value it matches.
    key: String,
    /// The indicator's version, so that the newer of two versions in the input gives the rule.
    modified: Option<Timestamp>,
    /// The indicator and value, to name a rule that gets no sid.
    item: String,
    value: String,
    /// The rule, without `sid:…; rev:1;)`.
    head: String,
}

impl<'f> Writer<'f> {
    fn new(format: &'f Format) -> Self {
        let text = match format {
            Format::Csv => {
                "indicator_id,name,kind,value,valid_from,valid_until,tlp,confidence\r\n".to_owned()
            }
            Format::Zeek { .. } => "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\n".to_owned(),
            _ => String::new(),
        };
        Writer {
            format,
            text,
            seen: Default::default(),
            rules: Vec::new(),
            rule_keys: HashMap::new(),
            attributes: Vec::new(),
        }
    }

    /// Writes one value; returns how many lines, rules or attributes it became.
    fn write(&mut self, meta: &Meta, ioc: &Ioc, nth: usize) -> Result<usize, String> {
        match self.format {
            Format::Blocklist(_) => {
                if ioc.value.contains(['\n', '\r']) {
                    return Err("a line break cannot be written in a one-per-line list".into());
                }
                if self.seen.insert((ioc.kind, ioc.value.clone())) {
                    self.text.push_str(&ioc.value);
                    self.text.push('\n');
                }
                Ok(1)
            }
            Format::Csv => {
                let row = [
                    meta.id,
                    meta.name.unwrap_or(""),
                    ioc.kind.as_str(),
                    &ioc.value,
                    meta.valid_from.unwrap_or(""),
                    meta.valid_until.unwrap_or(""),
                    meta.tlp.unwrap_or(""),
                    &meta.confidence.map(|c| c.to_string()).unwrap_or_default(),
                ];
                let cells: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
                self.text.push_str(&cells.join(","));
                self.text.push_str("\r\n");
                Ok(1)
            }
            Format::Suricata(_) => {
                let Some(id) = meta.object.get("id").and_then(Value::as_str) else {
                    return Err("an indicator without an id: a rule's sid is derived from it".into());
                };
                let mut added = 0;
                for (proto, direction, body) in suricata(ioc)? {
                    let rule = Rule {
                        key: json!([id, proto, ioc.kind.as_str(), ioc.value]).to_string(),
                        modified: meta.modified,
                        item: meta.id.to_owned(),
                        value: format!("{} {:?}", ioc.kind, ioc.value),
                        head: format!(
                            "alert {proto} {direction} (msg:\"{}\"; {body}metadata:stix_id {id}; ",
                            escape_msg(&format!("ACCORD {} {}", ioc.kind, meta.label())),
                        ),
                    };
                    // The same rule twice (two versions of an indicator, or a value repeated in
                    // its pattern) is written once, as the newer version gives it.
                    match self.rule_keys.get(&rule.key) {
                        Some(&i) => {
                            if rule.modified > self.rules[i].modified {
                                self.rules[i] = rule;
                            }
                        }
                        None => {
                            self.rule_keys.insert(rule.key.clone(), self.rules.len());
                            self.rules.push(rule);
                            added += 1;
                        }
                    }
                }
                Ok(added)
            }
            Format::Zeek { source } => {
                let (value, kind) = match ioc.kind {
                    Kind::Ipv4 | Kind::Ipv6 => (ioc.value.clone(), "Intel::ADDR"),
                    Kind::Cidr => (ioc.value.clone(), "Intel::SUBNET"),
                    Kind::Domain => (ioc.value.clone(), "Intel::DOMAIN"),
                    // Zeek's URLs have no scheme.
                    Kind::Url => (
                        ioc.value
                            .split_once("://")
                            .map_or(ioc.value.as_str(), |(_, r)| r)
                            .to_owned(),
                        "Intel::URL",
                    ),
                    Kind::Email => (ioc.value.clone(), "Intel::EMAIL"),
                    Kind::FileName => (ioc.value.clone(), "Intel::FILE_NAME"),
                    _ => (ioc.value.to_ascii_lowercase(), "Intel::FILE_HASH"),
                };
                let desc = meta.label();
                if [&value, &desc, source]
                    .iter()
                    .any(|f| f.contains(['\t', '\n', '\r']))
                {
                    return Err("a tab or line break cannot be written in a Zeek Intel file".into());
                }
                let dash = |s: &str| {
                    if s.is_empty() {
                        "-".to_owned()
                    } else {
                        s.to_owned()
                    }
                };
                self.text
                    .push_str(&format!("{value}\t{kind}\t{}\t{}\n", dash(source), dash(&desc)));
                Ok(1)
            }
            Format::Misp { .. } => {
                self.attributes.push(misp_attribute(meta, ioc, nth));
                Ok(1)
            }
        }
    }

    /// The text; rules that could not be given a sid are taken out of `out.written` and
    /// reported in `out.problems`.
    fn finish(self, out: &mut Converted) -> String {
        match self.format {
            Format::Misp {
                info,
                date,
                timestamp,
            } => {
                let event = json!({"Event": {
                    "uuid": uuid::Uuid::new_v4().to_string(),
                    "info": info,
                    "date": date,
                    "timestamp": timestamp.to_string(),
                    "threat_level_id": "4",
                    "analysis": "2",
                    "distribution": "0",
                    "published": false,
                    "Attribute": self.attributes,
                }});
                let mut s = serde_json::to_string_pretty(&event).unwrap_or_default();
                s.push('\n');
                s
            }
            Format::Suricata(range) => {
                let sids = assign_sids(*range, &self.rules);
                let mut text = String::new();
                for (rule, sid) in self.rules.iter().zip(sids) {
                    match sid {
                        Some(sid) => text.push_str(&format!("{}sid:{sid}; rev:1;)\n", rule.head)),
                        None => {
                            out.written -= 1;
                            out.problems.push(Problem {
                                item: rule.item.clone(),
                                reason: format!(
                                    "{}: no sid left in the range {range} ({} sids for {} rules)",
                                    rule.value,
                                    range.size(),
                                    self.rules.len()
                                ),
                            });
                        }
                    }
                }
                text
            }
            _ => self.text,
        }
    }
}

/// Each rule's sid, in the order of `rules`: the sid its key hashes to (`SidRange::home`), or,
/// when a rule taken earlier has it, the next free one after it (wrapping around the range).
/// `None` when the range has no sid left.
// INVARIANT: rules are taken in the order of their (distinct) keys, so the sids are a function
// of the set of rules, whatever their order in the input. Only a rule in a collision can change
// sid from one export to the next, and only when the set of rules changes.
fn assign_sids(range: SidRange, rules: &[Rule]) -> Vec<Option<u32>> {
    let mut order: Vec<usize> = (0..rules.len()).collect();
    order.sort_by(|&a, &b| rules[a].key.cmp(&rules[b].key));
    let mut taken = HashSet::new();
    let mut sids = vec![None; rules.len()];
    for i in order {
        if taken.len() as u64 == range.size() {
            break;
        }
        let mut sid = range.home(&rules[i].key);
        // Terminates: a sid is free, as the range is not full.
        while !taken.insert(sid) {
            sid = range.next(sid);
        }
        sids[i] = Some(sid);
    }
    sids
}

/// RFC 4180: quoted when it holds a comma, quote or line break.
fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn escape_msg(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| match c {
            '"' | ';' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

/// A Suricata content match: printable characters as they are, anything that would end or
/// confuse the option (quote, semicolon, backslash, pipe, non-ASCII) as `|hex|`.
fn content(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b".-_/~=&%+@,!*'()[]$:?#".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("|{b:02X}|"));
        }
    }
    out
}

/// An exact match of a sticky buffer.
fn exact(buffer: &str, value: &str) -> String {
    format!(
        "{buffer}; content:\"{}\"; bsize:{}; ",
        content(value),
        value.len()
    )
}

/// Rules for one value: (protocol, header after the protocol, options before metadata).
fn suricata(ioc: &Ioc) -> Result<Vec<(&'static str, String, String)>, String> {
    let any = "any any -> any any".to_owned();
    Ok(match ioc.kind {
        Kind::Ipv4 | Kind::Ipv6 | Kind::Cidr => {
            vec![("ip", format!("any any <> [{}] any", ioc.value), String::new())]
        }
        Kind::Domain => {
            let d = ioc.value.trim_end_matches('.').to_ascii_lowercase();
            vec![
                ("dns", any.clone(), format!("{}nocase; ", exact("dns.query", &d))),
                ("tls", any.clone(), format!("{}nocase; ", exact("tls.sni", &d))),
                // http.host is normalised to lower case.
                ("http", any, exact("http.host", &d)),
            ]
        }
        Kind::Url => {
            let (scheme, rest) = ioc.value.split_once("://").ok_or("a URL without a scheme")?;
            let (authority, path) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, h)| h)
                .split(':')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            if host.is_empty() {
                return Err("a URL without a host".into());
            }
            let path = path.split('#').next().unwrap_or(path);
            match scheme.to_ascii_lowercase().as_str() {
                "http" => vec![(
                    "http",
                    any,
                    format!("{}{}", exact("http.host", &host), exact("http.uri", path)),
                )],
                "https" => {
                    return Err(format!(
                        "an https URL's path is encrypted: only its host can be matched; convert the domain {host} instead"
                    ));
                }
                s => return Err(format!("{s} URLs have no Suricata rule here")),
            }
        }
        k if k.is_hash() => {
            return Err(format!(
                "Suricata rules cannot hold {k} values inline: file hashes need a filemd5/filesha256 list file (--to blocklist --kind {k} writes one)"
            ));
        }
        k => return Err(format!("{k} values have no Suricata rule here")),
    })
}

/// The MISP attribute for the `n`th value of an indicator, keeping the type, category and
/// to_ids recorded when the indicator came from MISP; the first value keeps the indicator's
/// uuid.
fn misp_attribute(meta: &Meta, ioc: &Ioc, n: usize) -> Value {
    let (default_type, category) = match ioc.kind {
        Kind::Ipv4 | Kind::Ipv6 | Kind::Cidr => ("ip-dst", "Network activity"),
        Kind::Domain => ("domain", "Network activity"),
        Kind::Url => ("url", "Network activity"),
        Kind::Md5 => ("md5", "Payload delivery"),
        Kind::Sha1 => ("sha1", "Payload delivery"),
        Kind::Sha256 => ("sha256", "Payload delivery"),
        Kind::Sha512 => ("sha512", "Payload delivery"),
        Kind::Email => ("email-src", "Payload delivery"),
        Kind::FileName => ("filename", "Payload delivery"),
    };
    let o = meta.object;
    let recorded = o.get("x_misp_type").and_then(Value::as_str);
    let ty = recorded
        .filter(|t| crate::import::misp_kinds(t).contains(&ioc.kind))
        .unwrap_or(default_type);
    let uuid = meta
        .id
        .strip_prefix("indicator--")
        .and_then(|u| uuid::Uuid::parse_str(u).ok())
        .map(|u| {
            if n == 0 {
                u
            } else {
                uuid::Uuid::new_v5(&u, ioc.value.as_bytes())
            }
        })
        .unwrap_or_else(uuid::Uuid::new_v4);
    let mut a = json!({
        "uuid": uuid.to_string(),
        "type": ty,
        "category": o.get("x_misp_category").and_then(Value::as_str).unwrap_or(category),
        "value": ioc.value,
        "to_ids": o.get("x_misp_to_ids").and_then(Value::as_bool).unwrap_or(true),
        // An indicator that came from MISP has its comment as description, and a made-up name.
        "comment": meta.description.or(if recorded.is_some() { None } else { meta.name }).unwrap_or(""),
        "distribution": "5",
    });
    if let Some(t) = o
        .get("modified")
        .and_then(Value::as_str)
        .and_then(|m| Timestamp::parse(m).ok())
    {
        a["timestamp"] = Value::from(t.seconds.to_string());
    }
    if let Some(tlp) = meta.tlp {
        a["Tag"] = json!([{ "name": format!("tlp:{tlp}") }]);
    }
    a
}
