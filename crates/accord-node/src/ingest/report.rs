//! Records of rejected or warned objects, shared by `import` and `validate` output.

use accord_stix::{Finding, Rejection};
use serde::Serialize;

use super::sources::Position;

/// One object that was rejected (or, for `validate`, that has findings).
#[derive(Debug, Clone, Serialize)]
pub struct ObjectRecord {
    pub source: String,
    /// Position of the object in its source (0-based).
    pub index: usize,
    pub line: usize,
    pub column: usize,
    pub object_id: Option<String>,
    /// Why it was rejected; absent when it was accepted with warnings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub findings: Vec<Finding>,
}

impl ObjectRecord {
    pub fn rejected(pos: &Position, rejection: &Rejection) -> Self {
        let object_id = match rejection {
            Rejection::Invalid(r) => r.object_id.clone(),
            _ => None,
        };
        ObjectRecord {
            source: pos.source.to_string(),
            index: pos.index,
            line: pos.line,
            column: pos.column,
            object_id,
            error: Some(rejection.to_string()),
            findings: rejection.findings().to_vec(),
        }
    }

    pub fn conflict(pos: &Position, id: &str, message: String) -> Self {
        ObjectRecord {
            source: pos.source.to_string(),
            index: pos.index,
            line: pos.line,
            column: pos.column,
            object_id: Some(id.to_owned()),
            error: Some(message),
            findings: Vec::new(),
        }
    }

    /// Human-readable lines: `file:line:col: id: finding`.
    pub fn human(&self) -> Vec<String> {
        let at = format!("{}:{}:{}", self.source, self.line, self.column);
        let id = self.object_id.as_deref().unwrap_or("(no id)");
        if self.findings.is_empty() {
            return vec![format!(
                "{at}: {id}: {}",
                self.error.as_deref().unwrap_or("rejected")
            )];
        }
        self.findings.iter().map(|f| format!("{at}: {id}: {f}")).collect()
    }
}
