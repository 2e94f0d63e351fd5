//! Detection: what is personal data, and where. A table (`PERSONAL_DATA`) says which STIX
//! types and properties hold which category, the way `accord_stix::spec` tables the STIX model;
//! detectors find e-mail addresses, phone numbers, URLs with user-info or queries, home
//! directories and names of individuals in every other string an object holds (`walks_top`,
//! `walks_into`: free text, custom properties, extensions, external references) and in
//! patterns. `Minimiser::needs` asks all of them without changing anything.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::Minimiser;
use crate::handling::HANDLING_EXTENSION_ID;
use crate::profile::{Category, Transform};

/// When a rule applies to an object of its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// `identity_class` is `individual`.
    Individual,
    /// The object's handling declares `network-identifier` personal data (an address is only
    /// personal when someone says whose it is).
    DeclaredNetwork,
}

/// How a property holds personal data, which decides how it is rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    /// The whole string is the datum: pseudonymised, masked or dropped as a unit.
    Value,
    /// An e-mail address: pseudonymised as an address, so that it still reads as one.
    EmailAddress,
    /// An IP address or network: generalised to its /24 (IPv4) or /48 (IPv6).
    IpAddress,
    /// A URL: its user-info and query are personal; dropping them withholds the object.
    Url,
    /// Removed whenever the rule applies (credentials, an individual's details, victims).
    Removed,
    /// A path or command line: user names of home directories in it.
    Paths,
    /// Embedded observables (`objects` of STIX 2.0-style observed-data): their IP addresses.
    EmbeddedAddresses,
}

/// One property holding personal data.
#[derive(Debug, Clone, Copy)]
pub struct Property {
    pub name: &'static str,
    /// Whose transform applies to it (and what its redactions are recorded as).
    pub category: Category,
    pub holds: Holds,
}

/// Where objects of one STIX type hold personal data.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub stix_type: &'static str,
    pub when: When,
    /// The rule applies only when the profile does not keep this category.
    pub category: Category,
    /// The object is itself the personal data: dropping the category withholds it.
    pub personal_object: bool,
    /// In the order they are redacted (the order redactions are recorded in).
    pub properties: &'static [Property],
}

const fn prop(name: &'static str, category: Category, holds: Holds) -> Property {
    Property {
        name,
        category,
        holds,
    }
}

/// Which STIX types and properties hold personal data. Free text, contact properties and names
/// of individuals are looked for in every object besides (see `walks_top`, `is_contact_key`).
pub const PERSONAL_DATA: [Rule; 10] = {
    use Category as C;
    use Holds as H;
    const ADDRESS: &[Property] = &[prop("value", C::Network, H::IpAddress)];
    [
        Rule {
            stix_type: "email-addr",
            when: When::Always,
            category: C::Email,
            personal_object: true,
            properties: &[
                prop("value", C::Email, H::EmailAddress),
                prop("display_name", C::Individual, H::Value),
            ],
        },
        Rule {
            stix_type: "user-account",
            when: When::Always,
            category: C::UserAccount,
            personal_object: true,
            properties: &[
                prop("user_id", C::UserAccount, H::Value),
                prop("account_login", C::UserAccount, H::Value),
                prop("display_name", C::UserAccount, H::Value),
                prop("credential", C::UserAccount, H::Removed),
            ],
        },
        Rule {
            stix_type: "identity",
            when: When::Individual,
            category: C::Individual,
            personal_object: true,
            properties: &[
                prop("name", C::Individual, H::Value),
                prop("contact_information", C::Individual, H::Removed),
                prop("description", C::Individual, H::Removed),
            ],
        },
        Rule {
            stix_type: "ipv4-addr",
            when: When::DeclaredNetwork,
            category: C::Network,
            personal_object: true,
            properties: ADDRESS,
        },
        Rule {
            stix_type: "ipv6-addr",
            when: When::DeclaredNetwork,
            category: C::Network,
            personal_object: true,
            properties: ADDRESS,
        },
        Rule {
            stix_type: "observed-data",
            when: When::DeclaredNetwork,
            category: C::Network,
            personal_object: false,
            properties: &[prop("objects", C::Network, H::EmbeddedAddresses)],
        },
        Rule {
            stix_type: "url",
            when: When::Always,
            category: C::Url,
            personal_object: false,
            properties: &[prop("value", C::Url, H::Url)],
        },
        // Victims take only keep or drop (`Profile::check`): applying is removing.
        Rule {
            stix_type: "sighting",
            when: When::Always,
            category: C::Victim,
            personal_object: false,
            properties: &[prop("where_sighted_refs", C::Victim, H::Removed)],
        },
        Rule {
            stix_type: "directory",
            when: When::Always,
            category: C::HomeDirectory,
            personal_object: false,
            properties: &[prop("path", C::HomeDirectory, H::Paths)],
        },
        Rule {
            stix_type: "process",
            when: When::Always,
            category: C::HomeDirectory,
            personal_object: false,
            properties: &[
                prop("cwd", C::HomeDirectory, H::Paths),
                prop("command_line", C::HomeDirectory, H::Paths),
            ],
        },
    ]
};

/// The rule for `o` (of type `ty`), if one applies to it.
pub(super) fn rule_for(o: &Map<String, Value>, ty: &str) -> Option<&'static Rule> {
    let rule = PERSONAL_DATA.iter().find(|r| r.stix_type == ty)?;
    let applies = match rule.when {
        When::Always => true,
        When::Individual => o.get("identity_class").and_then(Value::as_str) == Some("individual"),
        When::DeclaredNetwork => declares_network(o),
    };
    applies.then_some(rule)
}

/// Whether the handling extension declares `network-identifier` personal data.
pub(super) fn declares_network(o: &Map<String, Value>) -> bool {
    o.get("extensions")
        .and_then(|e| e.get(HANDLING_EXTENSION_ID))
        .and_then(|h| h.get("personal_data_categories"))
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|c| c == "network-identifier"))
}

pub(super) static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}").expect("regex")
});
pub(super) static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){2,4}",
        r"|\(\d{2,4}\)[ .-]?\d{3,4}[ .-]?\d{3,4}",
        r"|\b\d{3} \d{3} \d{4}\b",
        r"|\b0\d{2,4}[ /-]\d{3,8}\b",
    ))
    .expect("regex")
});
/// A URL with an authority, as written in text (whether it has personal parts is `url_parts`').
pub(super) static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)\b[a-z][a-z0-9+.-]*://[^\s'"<>]+"#).expect("regex"));
pub(super) static HOME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(/home/|/Users/|[A-Z]:\\Users\\|[A-Z]:/Users/)([^/\\\s:*?<>|]+)").expect("regex")
});

/// Whether a property's string may name an individual: not identifiers, references, timestamps
/// or patterns.
pub(super) fn names_may_occur_in(key: &str) -> bool {
    !(matches!(
        key,
        "id" | "type" | "spec_version" | "pattern" | "created" | "modified"
    ) || key.ends_with("_ref")
        || key.ends_with("_refs"))
}

/// Contact details, on any object.
pub(super) fn is_contact_key(k: &str) -> bool {
    k == "contact_information" || (k.starts_with("x_") && is_contact_word(k))
}

/// A custom key (an `x_…` property, or one inside a custom property or extension) that says
/// its value is a contact detail.
pub(super) fn is_contact_word(k: &str) -> bool {
    ["name", "contact", "email", "phone", "person"]
        .iter()
        .any(|w| k.contains(w))
}

/// Whether the strings of top-level property `k` of a `ty` object are searched for personal
/// data: every property but identifiers, references, timestamps, markings, hashes, binary and
/// vocabulary values, and the pattern (minimised as a pattern). Custom properties are.
pub(super) fn walks_top(ty: &str, k: &str) -> bool {
    use accord_stix::spec::Kind;
    if !names_may_occur_in(k) || !walks_into(k) {
        return false;
    }
    match accord_stix::spec::type_spec(ty).and_then(|s| s.prop(k)) {
        None => true,
        Some(p) => matches!(
            p.kind,
            Kind::Str
                | Kind::Strs
                | Kind::Dict
                | Kind::Obj(_)
                | Kind::Objs(_)
                | Kind::ExternalReferences
                | Kind::MimeParts
                | Kind::Extensions
                | Kind::Any
        ),
    }
}

/// Whether the value under `k`, inside a property being searched, is searched too: not
/// references, hashes (of content, not of text) or an extension's type.
pub(super) fn walks_into(k: &str) -> bool {
    !(k.ends_with("_ref") || k.ends_with("_refs") || matches!(k, "hashes" | "extension_type"))
}

/// Names of individuals, matched as whole words, ignoring ASCII case.
#[derive(Debug)]
pub struct People(Option<aho_corasick::AhoCorasick>);

impl People {
    pub fn new(names: &[String]) -> People {
        // Shorter names would match inside ordinary words and initials.
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

    pub(super) fn any(&self) -> bool {
        self.0.is_some()
    }

    /// The whole-word occurrences in `text`, as byte ranges.
    pub(super) fn find(&self, text: &str) -> Vec<std::ops::Range<usize>> {
        let Some(ac) = &self.0 else { return Vec::new() };
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        ac.find_iter(text)
            .filter(|m| !word(text[..m.start()].chars().next_back()) && !word(text[m.end()..].chars().next()))
            .map(|m| m.range())
            .collect()
    }
}

/// The name of an `identity` with `identity_class: individual`.
pub fn individual_name(o: &Map<String, Value>) -> Option<String> {
    let (mut identity, mut individual, mut name) = (false, false, None);
    for (k, v) in o {
        match k.as_str() {
            "type" => identity = v.as_str() == Some("identity"),
            "identity_class" => individual = v.as_str() == Some("individual"),
            "name" => name = v.as_str(),
            _ => {}
        }
    }
    (identity && individual)
        .then(|| name.map(str::to_owned))
        .flatten()
}

impl Minimiser<'_> {
    /// Whether `apply` could change or withhold `o`: a read-only pass over what `apply` looks
    /// at, so that objects without personal data are released without being copied.
    // INVARIANT: never false where `apply` would change or withhold `o` (egress skips `apply`
    // when it is); it may be true where `apply` then changes nothing.
    pub fn needs(&self, o: &Map<String, Value>, resolve: &dyn Fn(&str) -> Option<Value>) -> bool {
        let p = self.profile;
        let ty = o.get("type").and_then(Value::as_str).unwrap_or_default();
        // Contacts and every string searched, on every object.
        let structured = super::transform::structured_properties(ty);
        for (k, v) in o {
            if (p.contact != Transform::Keep && is_contact_key(k) && v.is_string())
                || (walks_top(ty, k)
                    && !structured.contains(&k.as_str())
                    && self.strings_may_change(v, k == "extensions", k.starts_with("x_")))
            {
                return true;
            }
        }
        if self.pattern(o) != super::pattern::Minimised::Unchanged {
            return true;
        }
        if let Some(rule) = rule_for(o, ty) {
            let t = p.transform(rule.category);
            if t != Transform::Keep
                && ((rule.personal_object && t == Transform::Drop)
                    || rule.properties.iter().any(|prop| self.may_change(o, prop)))
            {
                return true;
            }
        }
        if self.people.any()
            && p.individual != Transform::Keep
            && o.iter().any(|(k, v)| self.mentions_people(v, k))
        {
            return true;
        }
        self.references_change(o, resolve)
    }

    /// Whether applying the profile to `prop` of `o` could change it (its rule applying).
    fn may_change(&self, o: &Map<String, Value>, prop: &Property) -> bool {
        let Some(v) = o.get(prop.name) else {
            return false;
        };
        match prop.holds {
            Holds::Value => v.is_string() && self.profile.transform(prop.category) != Transform::Keep,
            Holds::EmailAddress | Holds::IpAddress => v.is_string(),
            Holds::Url => v
                .as_str()
                .is_some_and(|u| super::transform::url_parts(u).is_some()),
            Holds::Removed => true,
            Holds::Paths => v.as_str().is_some_and(|t| self.text_may_change(t, false)),
            Holds::EmbeddedAddresses => v.as_object().is_some_and(|m| {
                m.values().any(|x| {
                    matches!(
                        x.get("type").and_then(Value::as_str),
                        Some("ipv4-addr" | "ipv6-addr")
                    )
                })
            }),
        }
    }

    /// Whether `text` could change this text (no allocation).
    pub(super) fn text_may_change(&self, text: &str, free_text: bool) -> bool {
        let p = self.profile;
        (free_text && p.email != Transform::Keep && EMAIL.is_match(text))
            || (free_text && p.phone != Transform::Keep && PHONE.is_match(text))
            || (p.home_directory != Transform::Keep && HOME.is_match(text))
            || (free_text
                && p.url != Transform::Keep
                && URL
                    .find_iter(text)
                    .any(|m| super::transform::url_parts(m.as_str()).is_some()))
    }

    /// Whether `walk` (or `extensions`, for the `extensions` dictionary) could change `v`.
    fn strings_may_change(&self, v: &Value, extensions: bool, custom: bool) -> bool {
        match v {
            Value::String(s) => self.text_may_change(s, true),
            Value::Array(a) => a.iter().any(|x| self.strings_may_change(x, false, custom)),
            Value::Object(m) => m.iter().any(|(k, x)| {
                if extensions {
                    k != HANDLING_EXTENSION_ID
                        && self.strings_may_change(
                            x,
                            false,
                            accord_stix::spec::predefined_extension(k).is_none(),
                        )
                } else {
                    let custom = custom || k.starts_with("x_");
                    walks_into(k)
                        && ((custom
                            && self.profile.contact != Transform::Keep
                            && is_contact_word(k)
                            && x.is_string())
                            || self.strings_may_change(x, false, custom))
                }
            }),
            _ => false,
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_has_one_rule_and_types_that_can_change_identity_are_checked_by_references() {
        for (i, rule) in PERSONAL_DATA.iter().enumerate() {
            assert!(
                PERSONAL_DATA[..i].iter().all(|r| r.stix_type != rule.stix_type),
                "{} twice",
                rule.stix_type
            );
            let spec = accord_stix::spec::type_spec(rule.stix_type);
            assert!(spec.is_some(), "{} is not a STIX type", rule.stix_type);
            // Redacting an id-contributing property renames the object, withholding it removes
            // it: either way references to it must be followed.
            let renames = rule
                .properties
                .iter()
                .any(|p| spec.is_some_and(|s| s.id_contributing.contains(&p.name)));
            let withholds = rule.personal_object || rule.properties.iter().any(|p| p.holds == Holds::Url);
            if renames || withholds {
                assert!(
                    super::super::is_redactable(rule.stix_type),
                    "{} is not redactable",
                    rule.stix_type
                );
            }
        }
    }
}
