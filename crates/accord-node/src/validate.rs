//! `accord validate`: checks documents without storing anything.

use serde::Serialize;

use crate::error::Result;
use crate::ingest::report::ObjectRecord;
use crate::ingest::sources::{self, DocumentProblem, Item, Sink, Source};

/// The outcome of validating some documents.
#[derive(Debug, Default, Serialize)]
pub struct ValidateSummary {
    pub files: usize,
    pub objects: u64,
    pub valid: u64,
    pub invalid: u64,
    pub warnings: u64,
    pub document_problems: Vec<DocumentProblem>,
    /// Objects with findings (errors, or warnings when they are included).
    pub results: Vec<ObjectRecord>,
}

impl ValidateSummary {
    pub fn failed(&self) -> bool {
        self.invalid > 0 || self.document_problems.iter().any(|p| p.fatal)
    }
}

struct Collect<'a> {
    summary: &'a mut ValidateSummary,
    include_warnings: bool,
}

impl Sink for Collect<'_> {
    fn batch(&mut self, items: Vec<Item>, _bytes: u64) -> Result<()> {
        for item in items {
            self.summary.objects += 1;
            match &item.result {
                Ok(o) => {
                    self.summary.valid += 1;
                    self.summary.warnings += o.warnings.len() as u64;
                    if self.include_warnings && !o.warnings.is_empty() {
                        self.summary.results.push(ObjectRecord {
                            source: item.pos.source.to_string(),
                            index: item.pos.index,
                            line: item.pos.line,
                            column: item.pos.column,
                            object_id: Some(o.id.clone()),
                            error: None,
                            findings: o.warnings.clone(),
                        });
                    }
                }
                Err(r) => {
                    self.summary.invalid += 1;
                    let mut record = ObjectRecord::rejected(&item.pos, r);
                    if !self.include_warnings {
                        record
                            .findings
                            .retain(|f| f.severity == accord_stix::Severity::Error);
                    }
                    self.summary.results.push(record);
                }
            }
        }
        Ok(())
    }

    fn document_problem(&mut self, problem: DocumentProblem) -> Result<()> {
        self.summary.document_problems.push(problem);
        Ok(())
    }
}

pub fn validate(
    sources: &[Source],
    max_object_bytes: usize,
    include_warnings: bool,
) -> Result<ValidateSummary> {
    let mut summary = ValidateSummary {
        files: sources.len(),
        ..Default::default()
    };
    sources::check_sources(
        sources,
        max_object_bytes,
        &mut Collect {
            summary: &mut summary,
            include_warnings,
        },
    )?;
    Ok(summary)
}
