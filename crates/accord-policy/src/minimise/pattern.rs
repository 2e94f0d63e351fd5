//! Personal data inside indicator patterns. A STIX pattern is parsed with `accord-pattern`; each
//! comparison whose object path leads (through references, as the STIX model types them) to a
//! property `PERSONAL_DATA` lists gets that property's transform, every other string literal is
//! treated as free text, and the canonical pattern is printed back. A STIX pattern that does not
//! parse cannot be minimised, so the indicator is withheld wherever a profile applies; patterns
//! in other languages (Snort, YARA, Sigma…) are minimised as free text.

use accord_pattern::{Comparison, Literal, ObjectPath, Observation, Op, Step, Test};
use accord_stix::spec::{self, Kind};
use serde_json::{Map, Value};

use super::Minimiser;
use super::detect::{Holds, PERSONAL_DATA, Property, When, declares_network};
use super::transform::{Hits, generalise_ip};
use crate::profile::{Category, Transform};

/// What minimisation makes of a pattern.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Minimised {
    Unchanged,
    /// The new pattern, and what it hid.
    Rewritten(String, Hits),
    /// The indicator cannot be released: the pattern does not parse, or a value in it is of a
    /// category the profile drops (a pattern without its subject would match something else).
    Withhold(&'static str),
}

/// Recorded as the category of a pattern that could not be read.
pub const UNREADABLE: &str = "unreadable-pattern";

impl Minimiser<'_> {
    /// Minimises `o`'s `pattern`, if it has one.
    pub(super) fn pattern(&self, o: &Map<String, Value>) -> Minimised {
        let Some(text) = o.get("pattern").and_then(Value::as_str) else {
            return Minimised::Unchanged;
        };
        let mut hits = Hits::default();
        if o.get("pattern_type").and_then(Value::as_str) != Some("stix") {
            return match self.free(text, &mut hits) {
                Some(new) => Minimised::Rewritten(new, hits),
                None => Minimised::Unchanged,
            };
        }
        // A profile that keeps everything looks for nothing; any other cannot tell that a
        // pattern it cannot read holds nothing it transforms.
        if self.profile.keeps_everything() {
            return Minimised::Unchanged;
        }
        let Ok(mut tree) = accord_pattern::parse(text) else {
            return Minimised::Withhold(UNREADABLE);
        };
        let network = declares_network(o);
        if let Err(category) = self.observation(&mut tree, network, &mut hits) {
            return Minimised::Withhold(category);
        }
        if hits.is_empty() {
            return Minimised::Unchanged;
        }
        let new = tree.to_string();
        // INVARIANT: what leaves parses; a rewrite that would not is withheld instead.
        if accord_pattern::parse(&new).is_err() {
            return Minimised::Withhold(UNREADABLE);
        }
        Minimised::Rewritten(new, hits)
    }

    fn observation(&self, o: &mut Observation, network: bool, hits: &mut Hits) -> Result<(), &'static str> {
        match o {
            Observation::Simple(c) => self.comparison(c, network, hits),
            Observation::And(a, b) | Observation::Or(a, b) | Observation::FollowedBy(a, b) => {
                self.observation(a, network, hits)?;
                self.observation(b, network, hits)
            }
            Observation::Qualified(inner, _) => self.observation(inner, network, hits),
        }
    }

    fn comparison(&self, c: &mut Comparison, network: bool, hits: &mut Hits) -> Result<(), &'static str> {
        match c {
            Comparison::And(a, b) | Comparison::Or(a, b) => {
                self.comparison(a, network, hits)?;
                self.comparison(b, network, hits)
            }
            Comparison::Test(Test::Exists(_)) => Ok(()),
            Comparison::Test(Test::Compare { path, op, value, .. }) => {
                let personal = personal_property(path, network)
                    .filter(|(rule_category, _)| self.profile.transform(*rule_category) != Transform::Keep)
                    .map(|(_, prop)| prop);
                let op = *op;
                match value {
                    Literal::Str(s) => self.literal(s, personal, op, hits),
                    Literal::Set(items) => items.iter_mut().try_for_each(|item| match item {
                        Literal::Str(s) => self.literal(s, personal, op, hits),
                        _ => Ok(()),
                    }),
                    _ => Ok(()),
                }
            }
        }
    }

    /// One string literal: the transform of its property where that holds personal data, and
    /// the free-text detectors everywhere else.
    fn literal(
        &self,
        s: &mut String,
        personal: Option<&'static Property>,
        op: Op,
        hits: &mut Hits,
    ) -> Result<(), &'static str> {
        let Some(prop) = personal else {
            if let Some(n) = self.free(s, hits) {
                *s = n;
            }
            return Ok(());
        };
        let (category, t) = (prop.category, self.profile.transform(prop.category));
        if t != Transform::Keep {
            hits.value(s, category);
        }
        // LIKE and MATCHES compare with a pattern, not a value: it is replaced as a whole.
        let whole = matches!(op, Op::Like | Op::Matches);
        let new = match prop.holds {
            _ if t == Transform::Keep => None,
            // A path that may lead to an address or a domain name: only an address is one.
            Holds::IpAddress if !whole && !is_address(s) => return self.literal(s, None, op, hits),
            Holds::Paths => self.text(s, false, hits),
            // Credentials and the like are never shown, not even transformed.
            Holds::Removed => return Err(category.as_str()),
            Holds::Url if !whole => match self.url(s, t) {
                Some(u) => {
                    hits.add(category, t);
                    Some(u)
                }
                None => None,
            },
            _ if t == Transform::Drop => return Err(category.as_str()),
            Holds::IpAddress if !whole => {
                hits.add(category, t);
                Some(generalise_ip(s))
            }
            Holds::EmailAddress if !whole => {
                hits.add(category, t);
                Some(self.email(s, t))
            }
            _ => {
                hits.add(category, t);
                Some(self.value(s, category, t))
            }
        };
        if let Some(n) = new {
            *s = if op == Op::Matches { regex::escape(&n) } else { n };
        }
        Ok(())
    }
}

impl Minimiser<'_> {
    /// Text in a pattern: the free-text detectors and names of individuals.
    fn free(&self, s: &str, hits: &mut Hits) -> Option<String> {
        let mut new = self.text(s, true, hits);
        if let Some(n) = self.names(new.as_deref().unwrap_or(s)) {
            hits.add(Category::Individual, self.profile.individual);
            new = Some(n);
        }
        new
    }
}

/// Whether `s` is an IP address or network.
fn is_address(s: &str) -> bool {
    let addr = s.split_once('/').map_or(s, |(a, _)| a);
    addr.parse::<std::net::IpAddr>().is_ok()
}

/// The property `PERSONAL_DATA` lists at the end of `path` (and the category its rule applies
/// under), following references by the types the STIX model allows them to point at. A path
/// that could lead to several types takes the first personal property it can reach.
fn personal_property(path: &ObjectPath, network: bool) -> Option<(Category, &'static Property)> {
    let keys: Vec<&str> = path
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            Step::Index(_) | Step::Any => None,
        })
        .collect();
    let (last, through) = keys.split_last()?;
    let mut types: Vec<&str> = vec![path.object_type.as_str()];
    for key in through {
        let mut next = Vec::new();
        for ty in &types {
            match spec::type_spec(ty).and_then(|s| s.prop(key)).map(|p| p.kind) {
                Some(Kind::Ref(targets) | Kind::Refs(targets)) => {
                    next.extend(targets.iter().flat_map(|t| match *t {
                        spec::ANY | spec::ANY_SCO | spec::ANY_SDO | spec::ANY_SRO => {
                            PERSONAL_DATA.iter().map(|r| r.stix_type).collect::<Vec<_>>()
                        }
                        t => vec![t],
                    }))
                }
                // Inside the type (an extension, a dictionary): still its properties.
                _ => next.push(*ty),
            }
        }
        types = next;
    }
    types.iter().find_map(|ty| {
        let rule = PERSONAL_DATA.iter().find(|r| r.stix_type == *ty)?;
        let applies = match rule.when {
            When::Always => true,
            When::DeclaredNetwork => network,
            // Individuals (identities) are not observable: patterns do not name them.
            When::Individual => false,
        };
        let prop = rule.properties.iter().find(|p| p.name == *last)?;
        (applies && prop.holds != Holds::EmbeddedAddresses).then_some((rule.category, prop))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> ObjectPath {
        let tree = accord_pattern::parse(&format!("[{p} = 'x']")).unwrap_or_else(|e| panic!("{e}"));
        match tree {
            Observation::Simple(Comparison::Test(Test::Compare { path, .. })) => path,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn paths_lead_through_references_to_personal_properties() {
        let category =
            |p: &str, network: bool| personal_property(&path(p), network).map(|(_, prop)| prop.category);
        assert_eq!(category("email-addr:value", false), Some(Category::Email));
        assert_eq!(
            category("email-message:from_ref.value", false),
            Some(Category::Email)
        );
        assert_eq!(
            category("email-message:to_refs[*].value", false),
            Some(Category::Email)
        );
        assert_eq!(
            category("email-message:to_refs[0].display_name", false),
            Some(Category::Individual)
        );
        assert_eq!(
            category("process:creator_user_ref.account_login", false),
            Some(Category::UserAccount)
        );
        assert_eq!(
            category("file:parent_directory_ref.path", false),
            Some(Category::HomeDirectory)
        );
        assert_eq!(
            category("network-traffic:src_ref.value", true),
            Some(Category::Network)
        );
        assert_eq!(
            category("network-traffic:src_ref.value", false),
            None,
            "an address is personal where declared"
        );
        assert_eq!(category("file:name", false), None);
        assert_eq!(category("email-message:subject", false), None);
    }
}
