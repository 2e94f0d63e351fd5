//! The closed vocabulary of entity types: what each means, and which types it implies (a credit
//! institution is a financial entity under DORA), as data (`vocabulary.toml`, and
//! `[[entity_types]]` in operator rule files). A report naming a type the vocabulary does not
//! have is an error, never a silent "not applicable".

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::ObligationError;

/// One entity type.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct EntityType {
    pub id: String,
    /// What it means, in words (shown in the schema and the template).
    pub meaning: String,
    /// Types an entity of this type also is.
    #[serde(default)]
    pub implies: Vec<String>,
    /// Where the meaning and the implications come from.
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct VocabularyFile {
    entity_types: Vec<EntityType>,
}

/// Entity types with those they imply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    /// The given types, then every type they imply.
    pub all: Vec<String>,
    /// Each implied type and the type it came from.
    pub implied: Vec<(String, String)>,
}

/// The entity types in force.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    pub entity_types: BTreeMap<String, EntityType>,
}

impl Vocabulary {
    /// Parses a vocabulary file; errors name the file.
    pub fn parse(path: &str, text: &str) -> Result<Vocabulary, ObligationError> {
        let file: VocabularyFile = toml::from_str(text).map_err(|e| ObligationError::File {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let mut v = Vocabulary::default();
        v.add(path, file.entity_types)?;
        Ok(v)
    }

    /// Adds (or replaces, by id) entity types; each must have a meaning.
    pub fn add(&mut self, path: &str, types: Vec<EntityType>) -> Result<(), ObligationError> {
        for t in types {
            if t.meaning.trim().is_empty() || t.source.trim().is_empty() {
                return Err(ObligationError::File {
                    path: path.to_owned(),
                    message: format!("entity type {:?} needs a meaning and a source", t.id),
                });
            }
            self.entity_types.insert(t.id.clone(), t);
        }
        Ok(())
    }

    /// The first type named (in an implication) that the vocabulary does not have.
    pub fn check(&self) -> Result<(), ObligationError> {
        for t in self.entity_types.values() {
            if let Some(missing) = t.implies.iter().find(|i| !self.entity_types.contains_key(*i)) {
                return Err(ObligationError::File {
                    path: "vocabulary".into(),
                    message: format!("entity type {:?} implies unknown type {missing:?}", t.id),
                });
            }
        }
        Ok(())
    }

    /// The given types with every type they imply. An unknown type is an error naming it.
    pub fn expand(&self, given: &[String]) -> Result<Expanded, ObligationError> {
        let mut all: Vec<String> = Vec::new();
        let mut derived = Vec::new();
        for t in given {
            if !self.entity_types.contains_key(t) {
                return Err(ObligationError::Report {
                    field: "organisation.entity_types".into(),
                    message: format!(
                        "unknown entity type {t:?} (known: {}; `accord obligations template` lists what each means)",
                        self.entity_types.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                });
            }
            if !all.contains(t) {
                all.push(t.clone());
            }
        }
        // Breadth-first over implications; a cycle ends because a type is added once.
        let mut i = 0;
        while i < all.len() {
            let from = all[i].clone();
            for implied in self
                .entity_types
                .get(&from)
                .map(|t| t.implies.as_slice())
                .unwrap_or_default()
            {
                if !all.contains(implied) {
                    all.push(implied.clone());
                    derived.push((implied.clone(), from.clone()));
                }
            }
            i += 1;
        }
        Ok(Expanded {
            all,
            implied: derived,
        })
    }
}
