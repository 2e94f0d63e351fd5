//! Data minimisation on egress: finds personal data in STIX content and drops, generalises,
//! pseudonymises (keyed HMAC, stable per agreement) or masks it according to a redaction profile,
//! keeping references consistent when a deterministic SCO id changes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use hmac::{Hmac, Mac};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::handling::HANDLING_EXTENSION_ID;

/// What to do with one category of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transform {
    Keep,
    /// Remove the value (or the whole object when the object is the personal data).
    Drop,
    /// IP addresses only: IPv4 to its /24, IPv6 to its /48.
    Generalise,
    /// Replace with HMAC-SHA-256 of the value under the agreement's key: stable, so recipients
    /// can correlate, but not reversible without the key.
    Pseudonymise,
    /// Replace with a fixed placeholder.
    Mask,
}

/// Whether a property's string may name an individual: not identifiers, references, timestamps
/// or patterns.
fn names_may_occur_in(key: &str) -> bool {
    !(matches!(
        key,
        "id" | "type" | "spec_version" | "pattern" | "created" | "modified"
    ) || key.ends_with("_ref")
        || key.ends_with("_refs"))
}

impl Transform {
    pub fn as_str(self) -> &'static str {
        match self {
            Transform::Keep => "keep",
            Transform::Drop => "drop",
            Transform::Generalise => "generalise",
            Transform::Pseudonymise => "pseudonymise",
            Transform::Mask => "mask",
        }
    }
}

/// A redaction profile: one transform per category of personal data.
/// Categories a profile does not mention get the `strict` transform.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Profile {
    pub name: String,
    /// `email-addr` objects and e-mail addresses in free text.
    pub email: Transform,
    /// Phone numbers in free text.
    pub phone: Transform,
    /// `user-account` objects.
    pub user_account: Transform,
    /// `identity` objects with `identity_class: individual`, and `display_name`s of e-mail addresses.
    pub individual: Transform,
    /// `contact_information`, and custom `x_…` properties naming people or contacts.
    pub contact: Transform,
    /// Victims: `where_sighted_refs` of sightings.
    pub victim: Transform,
    /// IP addresses in objects whose handling declares `network-identifier` personal data.
    pub network: Transform,
    /// User-info and query strings of URLs.
    pub url: Transform,
    /// User names in home-directory paths.
    pub home_directory: Transform,
}

impl Default for Profile {
    /// The `strict` transforms, unnamed.
    fn default() -> Self {
        Profile {
            name: String::new(),
            email: Transform::Pseudonymise,
            phone: Transform::Mask,
            user_account: Transform::Pseudonymise,
            individual: Transform::Mask,
            contact: Transform::Mask,
            victim: Transform::Drop,
            network: Transform::Generalise,
            url: Transform::Mask,
            home_directory: Transform::Pseudonymise,
        }
    }
}

/// The profiles every node has: `strict` (the defaults above) and `none` (keep everything, for
/// agreements whose legal basis covers full disclosure).
pub fn builtin_profiles() -> Vec<(String, Profile)> {
    let strict = Profile {
        name: "strict".into(),
        ..Profile::default()
    };
    let none = Profile {
        name: "none".into(),
        email: Transform::Keep,
        phone: Transform::Keep,
        user_account: Transform::Keep,
        individual: Transform::Keep,
        contact: Transform::Keep,
        victim: Transform::Keep,
        network: Transform::Keep,
        url: Transform::Keep,
        home_directory: Transform::Keep,
    };
    vec![("strict".into(), strict), ("none".into(), none)]
}

impl Profile {
    /// Checks that each category uses a transform that makes sense for it.
    pub fn check(&self) -> Result<(), String> {
        use Transform::*;
        if self.name.is_empty() {
            return Err("a redaction profile needs a name".into());
        }
        let text: &[Transform] = &[Keep, Drop, Pseudonymise, Mask];
        let rules: [(&str, Transform, &[Transform]); 9] = [
            ("email", self.email, text),
            ("phone", self.phone, text),
            ("user_account", self.user_account, text),
            ("individual", self.individual, text),
            ("contact", self.contact, text),
            ("victim", self.victim, &[Keep, Drop]),
            ("network", self.network, &[Keep, Drop, Generalise]),
            ("url", self.url, text),
            ("home_directory", self.home_directory, text),
        ];
        for (field, t, allowed) in rules {
            if !allowed.contains(&t) {
                let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
                return Err(format!(
                    "{field} = {:?} is not one of {}",
                    t.as_str(),
                    names.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// One redaction, recorded with its reason (what kind of data, never the value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redaction {
    pub object: String,
    pub path: String,
    pub category: &'static str,
    pub transform: Transform,
}

/// The object as a whole is withheld (it is itself the personal data, or it depends on an
/// object that is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withheld(pub Vec<Redaction>);

/// What happens to a referenced object.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    Same,
    Renamed(String),
    Dropped,
}

/// Types whose redaction can change their id or withhold them, so references to them need
/// checking: the personal SCOs and individuals, a file (its id covers its directory), and the
/// relationships, sightings and containers that are withheld when what they relate or hold is.
const REDACTABLE: [&str; 15] = [
    "email-addr",
    "user-account",
    "identity",
    "ipv4-addr",
    "ipv6-addr",
    "url",
    "directory",
    "file",
    "relationship",
    "sighting",
    "observed-data",
    "report",
    "grouping",
    "note",
    "opinion",
];

/// Properties whose loss makes the referring object meaningless.
const REQUIRED_REFS: [&str; 3] = ["source_ref", "target_ref", "sighting_of_ref"];

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}").expect("regex")
});
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){2,4}",
        r"|\(\d{2,4}\)[ .-]?\d{3,4}[ .-]?\d{3,4}",
        r"|\b\d{3} \d{3} \d{4}\b",
        r"|\b0\d{2,4}[ /-]\d{3,8}\b",
    ))
    .expect("regex")
});
static HOME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(/home/|/Users/|[A-Z]:\\Users\\|[A-Z]:/Users/)([^/\\\s:*?<>|]+)").expect("regex")
});

/// Applies one profile with one key.
pub struct Minimiser<'a> {
    profile: &'a Profile,
    key: [u8; 32],
    fates: RefCell<HashMap<String, Fate>>,
    /// Names of individuals (from `identity` objects), found wherever else they are written.
    people: &'a People,
}

/// Names of individuals, matched as whole words, ignoring ASCII case.
#[derive(Debug)]
pub struct People(Option<aho_corasick::AhoCorasick>);

impl People {
    pub fn new(names: &[String]) -> People {
        let names: Vec<&String> = names.iter().filter(|n| n.chars().count() >= 3).collect();
        if names.is_empty() {
            return People(None);
        }
        People(
            aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                .build(names)
                .ok(),
        )
    }

    /// The whole-word occurrences in `text`, as byte ranges.
    fn find(&self, text: &str) -> Vec<std::ops::Range<usize>> {
        let Some(ac) = &self.0 else { return Vec::new() };
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        ac.find_iter(text)
            .filter(|m| !word(text[..m.start()].chars().next_back()) && !word(text[m.end()..].chars().next()))
            .map(|m| m.range())
            .collect()
    }
}

impl std::fmt::Debug for Minimiser<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minimiser")
            .field("profile", &self.profile.name)
            .finish_non_exhaustive()
    }
}

/// The per-agreement pseudonymisation key, derived from the node's master key.
pub fn agreement_key(master: &[u8; 32], agreement: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(master).expect("HMAC takes any key length");
    mac.update(b"accord pseudonym key\0");
    mac.update(agreement.as_bytes());
    mac.finalize().into_bytes().into()
}

struct Ctx {
    id: String,
    records: Vec<Redaction>,
}

impl Ctx {
    fn note(&mut self, path: &str, category: &'static str, transform: Transform) {
        self.records.push(Redaction {
            object: self.id.clone(),
            path: path.to_owned(),
            category,
            transform,
        });
    }
}

impl<'a> Minimiser<'a> {
    /// `people` are names of individuals known to the caller (identities in the page and the
    /// store); they are redacted wherever they occur, as whole words, not only in their identity.
    pub fn new(profile: &'a Profile, key: [u8; 32], people: &'a People) -> Self {
        Minimiser {
            profile,
            key,
            fates: RefCell::new(HashMap::new()),
            people,
        }
    }

    /// Replaces names of individuals in every string of the object except identifiers,
    /// references, timestamps and patterns.
    fn scrub_people(&self, v: &mut Value, key: &str, cx: &mut Ctx, path: &mut String) {
        match v {
            Value::String(s) => {
                if !names_may_occur_in(key) {
                    return;
                }
                let found = self.people.find(s);
                if found.is_empty() {
                    return;
                }
                let t = self.profile.individual;
                let mut new = String::with_capacity(s.len());
                let mut at = 0;
                for r in found {
                    new.push_str(&s[at..r.start]);
                    match t {
                        Transform::Pseudonymise => {
                            let p = self.pseudonym("individual", &s[r.clone()].to_lowercase());
                            new.push_str(&format!("individual-{p}"));
                        }
                        Transform::Drop => {}
                        _ => new.push_str("[individual redacted]"),
                    }
                    at = r.end;
                }
                new.push_str(&s[at..]);
                *s = new;
                cx.note(path, "individual", t);
            }
            Value::Array(a) => {
                let len = path.len();
                for (i, x) in a.iter_mut().enumerate() {
                    path.push_str(&format!("[{i}]"));
                    self.scrub_people(x, key, cx, path);
                    path.truncate(len);
                }
            }
            Value::Object(m) => {
                let len = path.len();
                for (k, x) in m.iter_mut() {
                    path.push('.');
                    path.push_str(k);
                    self.scrub_people(x, k, cx, path);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }

    fn pseudonym(&self, category: &str, value: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(category.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..8])
    }

    /// Whether `text_field` could change this text (no allocation).
    fn text_may_change(&self, text: &str, free_text: bool) -> bool {
        let p = self.profile;
        (free_text && p.email != Transform::Keep && EMAIL.is_match(text))
            || (free_text && p.phone != Transform::Keep && PHONE.is_match(text))
            || (p.home_directory != Transform::Keep && HOME.is_match(text))
    }

    /// Whether any string of `v` (outside identifiers, references, timestamps and patterns)
    /// names a known individual.
    fn mentions_people(&self, v: &Value, key: &str) -> bool {
        match v {
            Value::String(s) => names_may_occur_in(key) && !self.people.find(s).is_empty(),
            Value::Array(a) => a.iter().any(|x| self.mentions_people(x, key)),
            Value::Object(m) => m.iter().any(|(k, x)| self.mentions_people(x, k)),
            _ => false,
        }
    }

    /// Whether `apply` could change or withhold `o`: a read-only pass over exactly what `apply`
    /// looks at, so that objects without personal data are released without being copied.
    pub fn needs(&self, o: &Map<String, Value>, resolve: &dyn Fn(&str) -> Option<Value>) -> bool {
        use Transform::Keep;
        let p = self.profile;
        // One pass: collect what the type rules need, and check contacts and free text on the way.
        let (mut ty, mut class, mut value, mut network) = ("", None, None, false);
        let (mut embedded, mut victims) = (false, false);
        let mut home = false;
        for (k, v) in o {
            match k.as_str() {
                "type" => ty = v.as_str().unwrap_or_default(),
                "identity_class" => class = v.as_str(),
                "value" => value = v.as_str(),
                "objects" => embedded = true,
                "where_sighted_refs" => victims = true,
                "extensions" => {
                    network = v
                        .get(HANDLING_EXTENSION_ID)
                        .and_then(|h| h.get("personal_data_categories"))
                        .and_then(Value::as_array)
                        .is_some_and(|a| a.iter().any(|c| c == "network-identifier"));
                }
                "path" | "cwd" | "command_line" => {
                    home |= v.as_str().is_some_and(|t| self.text_may_change(t, false));
                }
                _ => {}
            }
            if let Some(t) = v.as_str()
                && ((p.contact != Keep && is_contact_key(k))
                    || (is_free_text(k) && self.text_may_change(t, true)))
            {
                return true;
            }
        }
        let by_type = match ty {
            "email-addr" => p.email != Keep,
            "user-account" => p.user_account != Keep,
            "identity" => class == Some("individual") && p.individual != Keep,
            "ipv4-addr" | "ipv6-addr" => p.network != Keep && network,
            "observed-data" => p.network != Keep && embedded && network,
            "url" => p.url != Keep && value.is_some_and(|v| v.contains('@') || v.contains('?')),
            "sighting" => p.victim == Transform::Drop && victims,
            "directory" | "process" => home,
            _ => false,
        };
        if by_type {
            return true;
        }
        if self.people.0.is_some()
            && p.individual != Keep
            && o.iter().any(|(k, v)| self.mentions_people(v, k))
        {
            return true;
        }
        self.references_change(o, resolve)
    }

    /// Whether any reference of `o` (or of its extensions) points at an object whose id
    /// redaction changes or which it withholds.
    fn references_change(&self, o: &Map<String, Value>, resolve: &dyn Fn(&str) -> Option<Value>) -> bool {
        o.iter().any(|(k, v)| {
            if k.ends_with("_ref") {
                v.as_str().is_some_and(|t| self.fate(t, resolve) != Fate::Same)
            } else if k.ends_with("_refs") {
                v.as_array().is_some_and(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .any(|t| self.fate(t, resolve) != Fate::Same)
                })
            } else if k == "extensions" {
                v.as_object().is_some_and(|exts| {
                    exts.values()
                        .filter_map(Value::as_object)
                        .any(|e| self.references_change(e, resolve))
                })
            } else {
                false
            }
        })
    }

    /// Minimises `object` in place. `resolve` looks up objects it references (from the same page
    /// or the store), so that references to redacted SCOs follow their new ids.
    pub fn apply(
        &self,
        object: &mut Map<String, Value>,
        resolve: &dyn Fn(&str) -> Option<Value>,
    ) -> Result<Vec<Redaction>, Withheld> {
        let mut cx = Ctx {
            id: object
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            records: Vec::new(),
        };
        if self.redact(object, &mut cx, resolve) {
            Ok(cx.records)
        } else {
            Err(Withheld(cx.records))
        }
    }

    /// Redacts the object's own content. Returns false when the whole object must be withheld.
    fn own(&self, o: &mut Map<String, Value>, cx: &mut Ctx, path: &str) -> bool {
        let p = self.profile;
        let ty = type_of(o);
        let categories = declared_categories(o);
        match ty.as_str() {
            "email-addr" if p.email != Transform::Keep => {
                if p.email == Transform::Drop {
                    cx.note(path, "email", Transform::Drop);
                    return false;
                }
                if let Some(v) = o.get("value").and_then(Value::as_str) {
                    let new = self.email(v, p.email);
                    o.insert("value".into(), new.into());
                    cx.note(&format!("{path}.value"), "email", p.email);
                }
                if o.contains_key("display_name") && p.individual != Transform::Keep {
                    self.scalar(o, "display_name", "individual", p.individual, cx, path);
                }
            }
            "user-account" if p.user_account != Transform::Keep => {
                if p.user_account == Transform::Drop {
                    cx.note(path, "user-account", Transform::Drop);
                    return false;
                }
                for field in ["user_id", "account_login", "display_name"] {
                    self.scalar(o, field, "user-account", p.user_account, cx, path);
                }
                if o.remove("credential").is_some() {
                    cx.note(&format!("{path}.credential"), "user-account", Transform::Drop);
                }
            }
            "identity"
                if o.get("identity_class").and_then(Value::as_str) == Some("individual")
                    && p.individual != Transform::Keep =>
            {
                if p.individual == Transform::Drop {
                    cx.note(path, "individual", Transform::Drop);
                    return false;
                }
                self.scalar(o, "name", "individual", p.individual, cx, path);
                for field in ["contact_information", "description"] {
                    if o.remove(field).is_some() {
                        cx.note(&format!("{path}.{field}"), "individual", Transform::Drop);
                    }
                }
            }
            "ipv4-addr" | "ipv6-addr" if categories.iter().any(|c| c == "network-identifier") => {
                match p.network {
                    Transform::Keep => {}
                    Transform::Drop => {
                        cx.note(path, "network", Transform::Drop);
                        return false;
                    }
                    t => {
                        if let Some(v) = o.get("value").and_then(Value::as_str) {
                            let g = generalise_ip(v);
                            o.insert("value".into(), g.into());
                            cx.note(&format!("{path}.value"), "network", t);
                        }
                    }
                }
            }
            "observed-data" if categories.iter().any(|c| c == "network-identifier") => {
                // STIX 2.0-style embedded observables carry the IPs inline.
                if let Some(Value::Object(embedded)) = o.get_mut("objects") {
                    let keys: Vec<String> = embedded.keys().cloned().collect();
                    for k in keys {
                        let Some(Value::Object(inner)) = embedded.get_mut(&k) else {
                            continue;
                        };
                        let is_ip = matches!(
                            inner.get("type").and_then(Value::as_str),
                            Some("ipv4-addr" | "ipv6-addr")
                        );
                        if !is_ip || p.network == Transform::Keep {
                            continue;
                        }
                        let at = format!("{path}.objects.{k}");
                        if p.network == Transform::Drop {
                            embedded.remove(&k);
                            cx.note(&at, "network", Transform::Drop);
                        } else if let Some(v) = inner.get("value").and_then(Value::as_str) {
                            let g = generalise_ip(v);
                            inner.insert("value".into(), g.into());
                            cx.note(&format!("{at}.value"), "network", p.network);
                        }
                    }
                }
            }
            "url" if p.url != Transform::Keep => {
                if let Some(v) = o.get("value").and_then(Value::as_str)
                    && let Some(new) = self.url(v, p.url)
                {
                    if p.url == Transform::Drop {
                        cx.note(path, "url", Transform::Drop);
                        return false;
                    }
                    o.insert("value".into(), new.into());
                    cx.note(&format!("{path}.value"), "url", p.url);
                }
            }
            "sighting" if p.victim == Transform::Drop && o.remove("where_sighted_refs").is_some() => {
                cx.note(&format!("{path}.where_sighted_refs"), "victim", Transform::Drop);
            }
            _ => {}
        }
        if ty == "directory" {
            self.text_field(o, "path", cx, path, false);
        }
        if ty == "process" {
            for f in ["cwd", "command_line"] {
                self.text_field(o, f, cx, path, false);
            }
        }
        // Contact details and free text, on every object.
        if p.contact != Transform::Keep {
            let keys: Vec<String> = o.keys().filter(|k| is_contact_key(k)).cloned().collect();
            for k in keys {
                if o.get(&k).is_some_and(Value::is_string) {
                    self.scalar(o, &k, "contact", p.contact, cx, path);
                }
            }
        }
        let free: Vec<String> = o.keys().filter(|k| is_free_text(k)).cloned().collect();
        for k in free {
            self.text_field(o, &k, cx, path, true);
        }
        if self.people.0.is_some() && p.individual != Transform::Keep {
            let mut whole = Value::Object(std::mem::take(o));
            self.scrub_people(&mut whole, "", cx, &mut path.to_owned());
            if let Value::Object(m) = whole {
                *o = m;
            }
        }
        true
    }

    /// Redacts the object's content, then its references; then, if an ID-contributing property
    /// changed, derives the SCO's new deterministic id. False when the object is withheld.
    fn redact(
        &self,
        o: &mut Map<String, Value>,
        cx: &mut Ctx,
        resolve: &dyn Fn(&str) -> Option<Value>,
    ) -> bool {
        let ty = type_of(o);
        let spec = accord_stix::spec::type_spec(&ty).filter(|s| !s.id_contributing.is_empty());
        let before: Vec<Option<Value>> = spec
            .map(|s| s.id_contributing.iter().map(|p| o.get(*p).cloned()).collect())
            .unwrap_or_default();
        if !self.own(o, cx, "$") || !self.references(o, cx, resolve) {
            return false;
        }
        if let Some(spec) = spec
            && spec
                .id_contributing
                .iter()
                .zip(&before)
                .any(|(p, b)| o.get(*p) != b.as_ref())
            && let Some(id) = accord_stix::id::deterministic_sco_id(&ty, o, spec.id_contributing)
        {
            o.insert("id".into(), id.into());
            cx.note("$.id", "derived-id", Transform::Pseudonymise);
        }
        true
    }

    /// Replaces a whole string property.
    fn scalar(
        &self,
        o: &mut Map<String, Value>,
        field: &str,
        category: &'static str,
        t: Transform,
        cx: &mut Ctx,
        path: &str,
    ) {
        let Some(v) = o.get(field).and_then(Value::as_str) else {
            return;
        };
        let at = format!("{path}.{field}");
        match t {
            Transform::Keep => return,
            Transform::Drop => {
                o.remove(field);
            }
            Transform::Pseudonymise | Transform::Generalise => {
                let new = format!("{category}-{}", self.pseudonym(category, &v.to_lowercase()));
                o.insert(field.into(), new.into());
            }
            Transform::Mask => {
                o.insert(field.into(), format!("[{category} redacted]").into());
            }
        }
        cx.note(&at, category, t);
    }

    fn email(&self, v: &str, t: Transform) -> String {
        match t {
            Transform::Pseudonymise => format!("p-{}@pseudonym.invalid", self.pseudonym("email", v)),
            Transform::Drop => String::new(),
            _ => "redacted@redacted.invalid".into(),
        }
    }

    /// The URL without its personal parts, or `None` when it has none.
    fn url(&self, v: &str, t: Transform) -> Option<String> {
        let (scheme, rest) = v.split_once("://")?;
        let (authority_end, _) = rest
            .char_indices()
            .find(|(_, c)| matches!(c, '/' | '?' | '#'))
            .unwrap_or((rest.len(), ' '));
        let (authority, tail) = rest.split_at(authority_end);
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (path_part, query) = match tail.split_once('?') {
            Some((p, q)) => (p, Some(q.split('#').next().unwrap_or_default())),
            None => (tail.split('#').next().unwrap_or_default(), None),
        };
        if userinfo.is_none() && query.is_none_or(str::is_empty) {
            return None;
        }
        let mut out = format!("{scheme}://");
        if let (Some(u), Transform::Pseudonymise) = (userinfo, t) {
            out.push_str(&format!("u-{}@", self.pseudonym("url-user", u)));
        }
        out.push_str(host);
        out.push_str(path_part);
        if let (Some(q), Transform::Pseudonymise) = (query, t)
            && !q.is_empty()
        {
            out.push_str(&format!("?q-{}", self.pseudonym("url-query", q)));
        }
        Some(out)
    }

    /// Redacts e-mail addresses and phone numbers (free text only) and home-directory user
    /// names inside a string property.
    fn text_field(&self, o: &mut Map<String, Value>, field: &str, cx: &mut Ctx, path: &str, free_text: bool) {
        let Some(text) = o.get(field).and_then(Value::as_str) else {
            return;
        };
        let p = self.profile;
        if !self.text_may_change(text, free_text) {
            return;
        }
        let at = format!("{path}.{field}");
        let mut out = text.to_owned();
        if free_text && p.email != Transform::Keep && EMAIL.is_match(&out) {
            out = EMAIL
                .replace_all(&out, |c: &regex::Captures<'_>| match p.email {
                    Transform::Mask => "[email redacted]".to_owned(),
                    t => self.email(&c[0], t),
                })
                .into_owned();
            cx.note(&at, "email", p.email);
        }
        if free_text && p.phone != Transform::Keep && PHONE.is_match(&out) {
            let mut hit = false;
            out = PHONE
                .replace_all(&out, |c: &regex::Captures<'_>| {
                    let digits = c[0].bytes().filter(u8::is_ascii_digit).count();
                    if !(8..=15).contains(&digits) {
                        return c[0].to_owned();
                    }
                    hit = true;
                    match p.phone {
                        Transform::Pseudonymise => format!("phone-{}", self.pseudonym("phone", &c[0])),
                        Transform::Drop => String::new(),
                        _ => "[phone redacted]".to_owned(),
                    }
                })
                .into_owned();
            if hit {
                cx.note(&at, "phone", p.phone);
            }
        }
        if p.home_directory != Transform::Keep && HOME.is_match(&out) {
            let mut hit = false;
            out = HOME
                .replace_all(&out, |c: &regex::Captures<'_>| {
                    let user = &c[2];
                    if matches!(
                        user.to_ascii_lowercase().as_str(),
                        "public" | "default" | "shared" | "all users"
                    ) {
                        return c[0].to_owned();
                    }
                    hit = true;
                    let replacement = match p.home_directory {
                        Transform::Pseudonymise => format!("user-{}", self.pseudonym("home", user)),
                        Transform::Drop => String::new(),
                        _ => "[user]".to_owned(),
                    };
                    format!("{}{replacement}", &c[1])
                })
                .into_owned();
            if hit {
                cx.note(&at, "home-directory", p.home_directory);
            }
        }
        if out != text {
            o.insert(field.into(), out.into());
        }
    }

    /// Rewrites references to objects whose ids change, and removes references to withheld ones.
    /// Returns false when a required reference is lost.
    fn references(
        &self,
        o: &mut Map<String, Value>,
        cx: &mut Ctx,
        resolve: &dyn Fn(&str) -> Option<Value>,
    ) -> bool {
        let ty = type_of(o);
        let keys: Vec<String> = o
            .keys()
            .filter(|k| k.ends_with("_ref") || k.ends_with("_refs") || *k == "extensions")
            .cloned()
            .collect();
        for k in keys {
            if k.ends_with("_ref") {
                let Some(target) = o.get(&k).and_then(Value::as_str).map(str::to_owned) else {
                    continue;
                };
                match self.fate(&target, resolve) {
                    Fate::Same => {}
                    Fate::Renamed(new) => {
                        o.insert(k.clone(), new.into());
                        cx.note(&format!("$.{k}"), "reference", Transform::Pseudonymise);
                    }
                    Fate::Dropped => {
                        o.remove(&k);
                        cx.note(&format!("$.{k}"), "reference", Transform::Drop);
                        if REQUIRED_REFS.contains(&k.as_str()) {
                            return false;
                        }
                    }
                }
            } else if k.ends_with("_refs") {
                let Some(Value::Array(list)) = o.get(&k) else {
                    continue;
                };
                let mut out = Vec::with_capacity(list.len());
                let mut changed = false;
                for item in list {
                    let Some(target) = item.as_str() else {
                        out.push(item.clone());
                        continue;
                    };
                    match self.fate(target, resolve) {
                        Fate::Same => out.push(item.clone()),
                        Fate::Renamed(new) => {
                            changed = true;
                            out.push(new.into());
                        }
                        Fate::Dropped => changed = true,
                    }
                }
                if changed {
                    cx.note(&format!("$.{k}"), "reference", Transform::Pseudonymise);
                    if out.is_empty() {
                        o.remove(&k);
                        if k == "object_refs"
                            && matches!(
                                ty.as_str(),
                                "observed-data" | "report" | "grouping" | "note" | "opinion"
                            )
                        {
                            return false;
                        }
                    } else {
                        o.insert(k.clone(), Value::Array(out));
                    }
                }
            } else if let Some(Value::Object(inner)) = o.get_mut(&k) {
                // Extensions carry references too (e.g. email-message body parts, file archives).
                if k == "extensions" {
                    let names: Vec<String> = inner.keys().cloned().collect();
                    for n in names {
                        if let Some(Value::Object(ext)) = inner.get_mut(&n) {
                            let mut sub = std::mem::take(ext);
                            self.references(&mut sub, cx, resolve);
                            *ext = sub;
                        }
                    }
                }
            }
        }
        true
    }

    fn fate(&self, target: &str, resolve: &dyn Fn(&str) -> Option<Value>) -> Fate {
        let Some((ty, _)) = target.split_once("--") else {
            return Fate::Same;
        };
        if !REDACTABLE.contains(&ty) {
            return Fate::Same;
        }
        if let Some(f) = self.fates.borrow().get(target) {
            return f.clone();
        }
        // Provisional, so that a reference cycle ends here.
        self.fates.borrow_mut().insert(target.to_owned(), Fate::Same);
        let fate = match resolve(target) {
            Some(Value::Object(mut obj)) => {
                let mut cx = Ctx {
                    id: target.to_owned(),
                    records: Vec::new(),
                };
                if !self.redact(&mut obj, &mut cx, resolve) {
                    Fate::Dropped
                } else {
                    match obj.get("id").and_then(Value::as_str) {
                        Some(new) if new != target => Fate::Renamed(new.to_owned()),
                        _ => Fate::Same,
                    }
                }
            }
            // Cannot see the target: an id derived from an e-mail address or account would let a
            // recipient confirm a guess, so the reference goes unless those are kept.
            _ => match ty {
                "email-addr" if self.profile.email != Transform::Keep => Fate::Dropped,
                "user-account" if self.profile.user_account != Transform::Keep => Fate::Dropped,
                _ => Fate::Same,
            },
        };
        self.fates.borrow_mut().insert(target.to_owned(), fate.clone());
        fate
    }
}

fn type_of(o: &Map<String, Value>) -> String {
    o.get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Whether redaction can change the id of, or withhold, objects of this type.
pub fn is_redactable(ty: &str) -> bool {
    REDACTABLE.contains(&ty)
}

fn declared_categories(o: &Map<String, Value>) -> Vec<String> {
    o.get("extensions")
        .and_then(|e| e.get(HANDLING_EXTENSION_ID))
        .and_then(|h| h.get("personal_data_categories"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn is_contact_key(k: &str) -> bool {
    k == "contact_information"
        || (k.starts_with("x_")
            && ["name", "contact", "email", "phone", "person"]
                .iter()
                .any(|w| k.contains(w)))
}

fn is_free_text(k: &str) -> bool {
    matches!(
        k,
        "description" | "content" | "abstract" | "explanation" | "objective" | "contact_information"
    ) || k.starts_with("x_")
}

/// IPv4 to its /24, IPv6 to its /48 (a CIDR value keeps the shorter of the two prefixes).
pub fn generalise_ip(v: &str) -> String {
    let (addr, prefix) = match v.split_once('/') {
        Some((a, p)) => (a, p.parse::<u8>().ok()),
        None => (v, None),
    };
    if let Ok(ip) = addr.parse::<Ipv4Addr>() {
        let bits = prefix.unwrap_or(32).min(24);
        let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
        return format!("{}/{bits}", Ipv4Addr::from(u32::from(ip) & mask));
    }
    if let Ok(ip) = addr.parse::<Ipv6Addr>() {
        let bits = prefix.unwrap_or(128).min(48);
        let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
        return format!("{}/{bits}", Ipv6Addr::from(u128::from(ip) & mask));
    }
    // Not an address: withhold the value rather than pass it through.
    "0.0.0.0/0".into()
}
