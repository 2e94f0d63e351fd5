//! Redaction profiles: the categories of personal data a profile names, and the transform it
//! applies to each. Part of the sharing model (an agreement names its profile); minimisation
//! interprets them.

use serde::{Deserialize, Serialize};

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

/// A category of personal data: one setting of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Email,
    Phone,
    UserAccount,
    Individual,
    Contact,
    Victim,
    Network,
    Url,
    HomeDirectory,
}

impl Category {
    /// Every category, in the order profiles are checked (and their fields declared).
    pub const ALL: [Category; 9] = [
        Category::Email,
        Category::Phone,
        Category::UserAccount,
        Category::Individual,
        Category::Contact,
        Category::Victim,
        Category::Network,
        Category::Url,
        Category::HomeDirectory,
    ];

    /// The name recorded in redactions (and the ledger).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Email => "email",
            Category::Phone => "phone",
            Category::UserAccount => "user-account",
            Category::Individual => "individual",
            Category::Contact => "contact",
            Category::Victim => "victim",
            Category::Network => "network",
            Category::Url => "url",
            Category::HomeDirectory => "home-directory",
        }
    }

    /// The profile's field for this category, as written in the configuration.
    pub fn field(self) -> &'static str {
        match self {
            Category::UserAccount => "user_account",
            Category::HomeDirectory => "home_directory",
            c => c.as_str(),
        }
    }

    /// The transforms that make sense for this category.
    pub fn transforms(self) -> &'static [Transform] {
        use Transform::*;
        match self {
            Category::Victim => &[Keep, Drop],
            Category::Network => &[Keep, Drop, Generalise],
            _ => &[Keep, Drop, Pseudonymise, Mask],
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
    /// The transform this profile applies to `category`.
    pub fn transform(&self, category: Category) -> Transform {
        match category {
            Category::Email => self.email,
            Category::Phone => self.phone,
            Category::UserAccount => self.user_account,
            Category::Individual => self.individual,
            Category::Contact => self.contact,
            Category::Victim => self.victim,
            Category::Network => self.network,
            Category::Url => self.url,
            Category::HomeDirectory => self.home_directory,
        }
    }

    /// Whether the profile keeps every category as it is (as `none` does).
    pub fn keeps_everything(&self) -> bool {
        Category::ALL
            .iter()
            .all(|c| self.transform(*c) == Transform::Keep)
    }

    /// Checks that each category uses a transform that makes sense for it.
    pub fn check(&self) -> Result<(), String> {
        if self.name.is_empty() {
            return Err("a redaction profile needs a name".into());
        }
        for c in Category::ALL {
            let (t, allowed) = (self.transform(c), c.transforms());
            if !allowed.contains(&t) {
                let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
                return Err(format!(
                    "{} = {:?} is not one of {}",
                    c.field(),
                    t.as_str(),
                    names.join(", ")
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_the_configuration_names() {
        let json = serde_json::to_value(Profile::default()).unwrap_or_default();
        for c in Category::ALL {
            assert!(json.get(c.field()).is_some(), "{}", c.field());
        }
        let bad = Profile {
            name: "x".into(),
            victim: Transform::Mask,
            ..Profile::default()
        };
        assert_eq!(
            bad.check(),
            Err("victim = \"mask\" is not one of keep, drop".into())
        );
    }
}
