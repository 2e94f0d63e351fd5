//! Transforms: what a redaction profile does to the personal data `detect` finds (drop,
//! generalise, pseudonymise with the agreement's key, or mask), applied to one object's own
//! content: the properties its type holds personal data in, then every string of every other
//! property it may hide in (custom `x_…` properties, extensions, external references, free
//! text), then names of individuals. Patterns are `pattern`'s business, references
//! `references`'.

use std::net::{Ipv4Addr, Ipv6Addr};

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use super::detect::{
    EMAIL, HOME, Holds, PERSONAL_DATA, PHONE, Property, URL, is_contact_key, is_contact_word,
    names_may_occur_in, rule_for, walks_into, walks_top,
};
use super::pattern::Minimised;
use super::{Ctx, Minimiser, type_of};
use crate::handling::HANDLING_EXTENSION_ID;
use crate::profile::{Category, Transform};

/// The categories a rewrite hid, each once with its transform (what is recorded), and the
/// values it replaced (never recorded: their hashes are looked for, `hashes_of_redacted`).
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Hits {
    found: Vec<(Category, Transform)>,
    values: Vec<(String, Category)>,
}

impl Hits {
    pub(super) fn add(&mut self, category: Category, t: Transform) {
        if !self.found.contains(&(category, t)) {
            self.found.push((category, t));
        }
    }

    /// `value`, of `category`, was replaced.
    pub(super) fn value(&mut self, value: &str, category: Category) {
        self.values.push((value.to_owned(), category));
    }

    pub(super) fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    fn note(self, cx: &mut Ctx, at: &str) {
        for (c, t) in self.found {
            cx.note(at, c.as_str(), t);
        }
        cx.redacted.extend(self.values);
    }
}

/// The parts of a URL that identify a person: its user-info and its (non-empty) query; `None`
/// when it has neither, or is not a URL with an authority.
pub(super) struct UrlParts<'v> {
    scheme: &'v str,
    userinfo: Option<&'v str>,
    host: &'v str,
    path: &'v str,
    query: Option<&'v str>,
}

pub(super) fn url_parts(v: &str) -> Option<UrlParts<'_>> {
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
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q.split('#').next().unwrap_or_default())),
        None => (tail.split('#').next().unwrap_or_default(), None),
    };
    if userinfo.is_none() && query.is_none_or(str::is_empty) {
        return None;
    }
    Some(UrlParts {
        scheme,
        userinfo,
        host,
        path,
        query,
    })
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

impl Minimiser<'_> {
    /// Redacts the object's own content: the properties its type holds personal data in
    /// (`PERSONAL_DATA`), then contact details, free text and names of individuals anywhere.
    /// Returns false when the whole object must be withheld.
    pub(super) fn own(&self, o: &mut Map<String, Value>, cx: &mut Ctx, path: &str) -> bool {
        let p = self.profile;
        let ty = type_of(o);
        if let Some(rule) = rule_for(o, &ty) {
            let t = p.transform(rule.category);
            if t != Transform::Keep {
                if rule.personal_object && t == Transform::Drop {
                    cx.note(path, rule.category.as_str(), Transform::Drop);
                    return false;
                }
                for prop in rule.properties {
                    if !self.property(o, prop, cx, path) {
                        return false;
                    }
                }
            }
        }
        // Contact details and free text, on every object.
        if p.contact != Transform::Keep {
            let keys: Vec<String> = o.keys().filter(|k| is_contact_key(k)).cloned().collect();
            for k in keys {
                if o.get(&k).is_some_and(Value::is_string) {
                    self.scalar(o, &k, Category::Contact, p.contact, cx, path);
                }
            }
        }
        match self.pattern(o) {
            Minimised::Unchanged => {}
            Minimised::Rewritten(new, hits) => {
                o.insert("pattern".into(), new.into());
                hits.note(cx, &format!("{path}.pattern"));
            }
            Minimised::Withhold(category) => {
                cx.note(&format!("{path}.pattern"), category, Transform::Drop);
                return false;
            }
        }
        // Every other string the object holds, however deep: free text, custom properties,
        // extensions, external references.
        let structured = structured_properties(&ty);
        // In key order, so that redactions are recorded alike however the object was read.
        let mut keys: Vec<String> = o
            .keys()
            .filter(|k| walks_top(&ty, k) && !structured.contains(&k.as_str()))
            .cloned()
            .collect();
        keys.sort_unstable();
        for k in keys {
            let custom = k.starts_with("x_");
            if let Some(v) = o.get_mut(&k) {
                let mut at = format!("{path}.{k}");
                if k == "extensions" {
                    self.extensions(v, &mut at, cx);
                } else {
                    self.walk(v, &mut at, custom, cx);
                }
            }
        }
        self.hashes_of_redacted(o, cx, path);
        if self.people.any() && p.individual != Transform::Keep {
            let mut whole = Value::Object(std::mem::take(o));
            self.scrub_people(&mut whole, "", cx, &mut path.to_owned());
            if let Value::Object(m) = whole {
                *o = m;
            }
        }
        true
    }

    /// Applies the profile to one property its type's rule lists. False when the object must
    /// be withheld.
    fn property(&self, o: &mut Map<String, Value>, prop: &Property, cx: &mut Ctx, path: &str) -> bool {
        let (name, category) = (prop.name, prop.category);
        let before = o.get(name).and_then(Value::as_str).map(str::to_owned);
        let kept = self.holds(o, prop, cx, path);
        if let Some(v) = before
            && o.get(name).and_then(Value::as_str) != Some(v.as_str())
        {
            cx.redacted.push((v, category));
        }
        kept
    }

    /// `property`, by how the property holds its data.
    fn holds(&self, o: &mut Map<String, Value>, prop: &Property, cx: &mut Ctx, path: &str) -> bool {
        let (name, category) = (prop.name, prop.category);
        let t = self.profile.transform(category);
        match prop.holds {
            Holds::Value => self.scalar(o, name, category, t, cx, path),
            Holds::EmailAddress => {
                if let Some(v) = o.get(name).and_then(Value::as_str) {
                    let new = self.email(v, t);
                    o.insert(name.into(), new.into());
                    cx.note(&format!("{path}.{name}"), category.as_str(), t);
                }
            }
            Holds::IpAddress => {
                if let Some(v) = o.get(name).and_then(Value::as_str) {
                    let g = generalise_ip(v);
                    o.insert(name.into(), g.into());
                    cx.note(&format!("{path}.{name}"), category.as_str(), t);
                }
            }
            Holds::Url => {
                if let Some(v) = o.get(name).and_then(Value::as_str)
                    && let Some(new) = self.url(v, t)
                {
                    if t == Transform::Drop {
                        cx.note(path, category.as_str(), Transform::Drop);
                        return false;
                    }
                    o.insert(name.into(), new.into());
                    cx.note(&format!("{path}.{name}"), category.as_str(), t);
                }
            }
            Holds::Removed => {
                if o.remove(name).is_some() {
                    cx.note(&format!("{path}.{name}"), category.as_str(), Transform::Drop);
                }
            }
            Holds::Paths => self.text_field(o, name, cx, path, false),
            Holds::EmbeddedAddresses => {
                let Some(Value::Object(embedded)) = o.get_mut(name) else {
                    return true;
                };
                let keys: Vec<String> = embedded.keys().cloned().collect();
                for k in keys {
                    let Some(Value::Object(inner)) = embedded.get_mut(&k) else {
                        continue;
                    };
                    let is_ip = matches!(
                        inner.get("type").and_then(Value::as_str),
                        Some("ipv4-addr" | "ipv6-addr")
                    );
                    if !is_ip {
                        continue;
                    }
                    let at = format!("{path}.{name}.{k}");
                    if t == Transform::Drop {
                        embedded.remove(&k);
                        cx.note(&at, category.as_str(), Transform::Drop);
                    } else if let Some(v) = inner.get("value").and_then(Value::as_str) {
                        let g = generalise_ip(v);
                        inner.insert("value".into(), g.into());
                        cx.note(&format!("{at}.value"), category.as_str(), t);
                    }
                }
            }
        }
        true
    }

    /// Replaces names of individuals in every string of the object except identifiers,
    /// references, timestamps and patterns.
    fn scrub_people(&self, v: &mut Value, key: &str, cx: &mut Ctx, path: &mut String) {
        match v {
            Value::String(s) => {
                if !names_may_occur_in(key) {
                    return;
                }
                if let Some(new) = self.names(s) {
                    *s = new;
                    cx.note(path, Category::Individual.as_str(), self.profile.individual);
                }
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

    /// HMAC-SHA-256 under the agreement's key, per category (equal values of different
    /// categories do not correlate), shortened to 64 bits.
    fn pseudonym(&self, category: &str, value: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(category.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..8])
    }

    /// Replaces a whole string property.
    fn scalar(
        &self,
        o: &mut Map<String, Value>,
        field: &str,
        category: Category,
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
            _ => {
                let new = self.value(v, category, t);
                o.insert(field.into(), new.into());
            }
        }
        cx.note(&at, category.as_str(), t);
    }

    /// A whole value pseudonymised (its category's HMAC) or masked; `Drop` is the caller's.
    pub(super) fn value(&self, v: &str, category: Category, t: Transform) -> String {
        let category = category.as_str();
        match t {
            Transform::Pseudonymise | Transform::Generalise => {
                format!("{category}-{}", self.pseudonym(category, &v.to_lowercase()))
            }
            _ => format!("[{category} redacted]"),
        }
    }

    /// Names of individuals in `s` replaced, or `None` when it names none.
    pub(super) fn names(&self, s: &str) -> Option<String> {
        if self.profile.individual == Transform::Keep {
            return None;
        }
        let found = self.people.find(s);
        if found.is_empty() {
            return None;
        }
        let mut new = String::with_capacity(s.len());
        let mut at = 0;
        for r in found {
            new.push_str(&s[at..r.start]);
            match self.profile.individual {
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
        Some(new)
    }

    pub(super) fn email(&self, v: &str, t: Transform) -> String {
        match t {
            Transform::Pseudonymise => format!("p-{}@pseudonym.invalid", self.pseudonym("email", v)),
            Transform::Drop => String::new(),
            _ => "redacted@redacted.invalid".into(),
        }
    }

    /// The URL without its personal parts, or `None` when it has none.
    pub(super) fn url(&self, v: &str, t: Transform) -> Option<String> {
        let parts = url_parts(v)?;
        let mut out = format!("{}://", parts.scheme);
        if let (Some(u), Transform::Pseudonymise) = (parts.userinfo, t) {
            out.push_str(&format!("u-{}@", self.pseudonym("url-user", u)));
        }
        out.push_str(parts.host);
        out.push_str(parts.path);
        if let (Some(q), Transform::Pseudonymise) = (parts.query, t)
            && !q.is_empty()
        {
            out.push_str(&format!("?q-{}", self.pseudonym("url-query", q)));
        }
        Some(out)
    }

    /// Redacts e-mail addresses, phone numbers and URLs' personal parts (free text only) and
    /// home-directory user names inside a string property.
    fn text_field(&self, o: &mut Map<String, Value>, field: &str, cx: &mut Ctx, path: &str, free_text: bool) {
        let Some(text) = o.get(field).and_then(Value::as_str) else {
            return;
        };
        let mut hits = Hits::default();
        if let Some(new) = self.text(text, free_text, &mut hits) {
            o.insert(field.into(), new.into());
        }
        hits.note(cx, &format!("{path}.{field}"));
    }

    /// `text` with URLs' user-info and queries, e-mail addresses and phone numbers (free text
    /// only) and home-directory user names redacted; `None` when nothing is.
    pub(super) fn text(&self, text: &str, free_text: bool, hits: &mut Hits) -> Option<String> {
        if !self.text_may_change(text, free_text) {
            return None;
        }
        let p = self.profile;
        // URLs first, and what they become is left alone: a pseudonymised user-info reads as
        // an e-mail address.
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        if free_text && p.url != Transform::Keep {
            for m in URL.find_iter(text) {
                if let Some(new) = self.url(m.as_str(), p.url) {
                    hits.value(m.as_str(), Category::Url);
                    out.push_str(&self.plain(&text[at..m.start()], free_text, hits));
                    out.push_str(&new);
                    hits.add(Category::Url, p.url);
                    at = m.end();
                }
            }
        }
        out.push_str(&self.plain(&text[at..], free_text, hits));
        (out != text).then_some(out)
    }

    /// E-mail addresses and phone numbers (free text only) and home-directory user names.
    fn plain(&self, text: &str, free_text: bool, hits: &mut Hits) -> String {
        let p = self.profile;
        let mut out = text.to_owned();
        if free_text && p.email != Transform::Keep && EMAIL.is_match(&out) {
            out = EMAIL
                .replace_all(&out, |c: &regex::Captures<'_>| {
                    hits.value(&c[0], Category::Email);
                    match p.email {
                        Transform::Mask => "[email redacted]".to_owned(),
                        t => self.email(&c[0], t),
                    }
                })
                .into_owned();
            hits.add(Category::Email, p.email);
        }
        if free_text && p.phone != Transform::Keep && PHONE.is_match(&out) {
            let mut hit = false;
            out = PHONE
                .replace_all(&out, |c: &regex::Captures<'_>| {
                    // Fewer digits are dates, times or counts; more are not phone numbers.
                    let digits = c[0].bytes().filter(u8::is_ascii_digit).count();
                    if !(8..=15).contains(&digits) {
                        return c[0].to_owned();
                    }
                    hit = true;
                    hits.value(&c[0], Category::Phone);
                    match p.phone {
                        Transform::Pseudonymise => format!("phone-{}", self.pseudonym("phone", &c[0])),
                        Transform::Drop => String::new(),
                        _ => "[phone redacted]".to_owned(),
                    }
                })
                .into_owned();
            if hit {
                hits.add(Category::Phone, p.phone);
            }
        }
        if p.home_directory != Transform::Keep && HOME.is_match(&out) {
            let mut hit = false;
            out = HOME
                .replace_all(&out, |c: &regex::Captures<'_>| {
                    let user = &c[2];
                    // Shared profiles name no one.
                    if matches!(
                        user.to_ascii_lowercase().as_str(),
                        "public" | "default" | "shared" | "all users"
                    ) {
                        return c[0].to_owned();
                    }
                    hit = true;
                    hits.value(user, Category::HomeDirectory);
                    let replacement = match p.home_directory {
                        Transform::Pseudonymise => format!("user-{}", self.pseudonym("home", user)),
                        Transform::Drop => String::new(),
                        _ => "[user]".to_owned(),
                    };
                    format!("{}{replacement}", &c[1])
                })
                .into_owned();
            if hit {
                hits.add(Category::HomeDirectory, p.home_directory);
            }
        }
        out
    }

    /// Hashes of the values redacted from this object (SHA-256, as written or in lower case),
    /// wherever the object holds them: an entry of a `hashes` dictionary is removed, any other
    /// string masked. A hash of an e-mail address identifies it as well as the address does.
    fn hashes_of_redacted(&self, o: &mut Map<String, Value>, cx: &mut Ctx, path: &str) {
        if cx.redacted.is_empty() {
            return;
        }
        let mut digests: Vec<(String, Category)> = Vec::new();
        for (v, c) in &cx.redacted {
            for form in [v.clone(), v.to_lowercase()] {
                digests.push((hex::encode(<Sha256 as sha2::Digest>::digest(form.as_bytes())), *c));
            }
        }
        let found = |s: &str| {
            digests
                .iter()
                .find(|(d, _)| d.eq_ignore_ascii_case(s))
                .map(|(_, c)| *c)
        };
        fn scrub(
            v: &mut Value,
            in_hashes: bool,
            path: &mut String,
            found: &dyn Fn(&str) -> Option<Category>,
            cx: &mut Ctx,
        ) {
            match v {
                Value::Array(a) => {
                    let len = path.len();
                    for (i, x) in a.iter_mut().enumerate() {
                        path.push_str(&format!("[{i}]"));
                        scrub(x, false, path, found, cx);
                        path.truncate(len);
                    }
                }
                Value::Object(m) => {
                    let len = path.len();
                    let mut keys: Vec<String> = m.keys().cloned().collect();
                    keys.sort_unstable();
                    for k in keys {
                        path.push('.');
                        path.push_str(&k);
                        let hit = m.get(&k).and_then(Value::as_str).and_then(found);
                        match (hit, in_hashes) {
                            (Some(c), true) => {
                                m.remove(&k);
                                cx.note(path, c.as_str(), Transform::Drop);
                            }
                            (Some(c), false) => {
                                m.insert(k.clone(), format!("[{} redacted]", c.as_str()).into());
                                cx.note(path, c.as_str(), Transform::Mask);
                            }
                            (None, _) => {
                                if let Some(x) = m.get_mut(&k) {
                                    scrub(x, k == "hashes", path, found, cx);
                                }
                            }
                        }
                        path.truncate(len);
                    }
                }
                _ => {}
            }
        }
        let mut whole = Value::Object(std::mem::take(o));
        scrub(&mut whole, false, &mut path.to_owned(), &found, cx);
        if let Value::Object(m) = whole {
            *o = m;
        }
    }

    /// Minimises every string inside one property: the free-text detectors on each, and, under
    /// custom keys, whole values whose key says they are contact details.
    fn walk(&self, v: &mut Value, path: &mut String, custom: bool, cx: &mut Ctx) {
        match v {
            Value::String(s) => {
                let mut hits = Hits::default();
                if let Some(new) = self.text(s, true, &mut hits) {
                    *s = new;
                }
                hits.note(cx, path);
            }
            Value::Array(a) => {
                let len = path.len();
                for (i, x) in a.iter_mut().enumerate() {
                    path.push_str(&format!("[{i}]"));
                    self.walk(x, path, custom, cx);
                    path.truncate(len);
                }
            }
            Value::Object(m) => {
                let len = path.len();
                let contact = self.profile.contact;
                let mut keys: Vec<String> = m.keys().filter(|k| walks_into(k)).cloned().collect();
                keys.sort_unstable();
                for k in keys {
                    path.push('.');
                    path.push_str(&k);
                    let custom = custom || k.starts_with("x_");
                    if custom
                        && contact != Transform::Keep
                        && is_contact_word(&k)
                        && m.get(&k).is_some_and(Value::is_string)
                    {
                        self.scalar(m, &k, Category::Contact, contact, cx, &path[..len]);
                    } else if let Some(x) = m.get_mut(&k) {
                        self.walk(x, path, custom, cx);
                    }
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }

    /// The `extensions` dictionary: each extension but Accord's own handling extension, whose
    /// members are handling, not content; the properties of extensions the STIX model does not
    /// define are custom.
    fn extensions(&self, v: &mut Value, path: &mut String, cx: &mut Ctx) {
        let Value::Object(exts) = v else { return };
        let len = path.len();
        let mut names: Vec<String> = exts
            .keys()
            .filter(|n| *n != HANDLING_EXTENSION_ID)
            .cloned()
            .collect();
        names.sort_unstable();
        for name in names {
            let Some(ext) = exts.get_mut(&name) else { continue };
            path.push('.');
            path.push_str(&name);
            let custom = accord_stix::spec::predefined_extension(&name).is_none();
            self.walk(ext, path, custom, cx);
            path.truncate(len);
        }
    }
}

/// The properties the rule for `ty` rewrites as structured values (whether or not its rule
/// applies to this object): free-text detectors must not read them as text (a URL's user-info
/// reads as an e-mail address). Properties the rule only removes are text where it does not.
pub(super) fn structured_properties(ty: &str) -> Vec<&'static str> {
    PERSONAL_DATA
        .iter()
        .filter(|r| r.stix_type == ty)
        .flat_map(|r| r.properties)
        .filter(|p| p.holds != Holds::Removed)
        .map(|p| p.name)
        .collect()
}
