//! Reporting-obligation submissions ([`SubmissionStore`]), per incident.

use rusqlite::params;

use super::{SqliteStore, db};
use crate::{Result, SubmissionRecord, SubmissionStore};

impl SubmissionStore for SqliteStore {
    fn add_submission(&self, s: &SubmissionRecord) -> Result<()> {
        self.with_writer(|c| {
            // `OR IGNORE`: the key is (incident, regime, stage, at), so recording the same
            // submission again is a no-op rather than an error.
            c.execute(
                "INSERT OR IGNORE INTO submissions (incident, regime, stage, at, by, reference, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    s.incident,
                    s.regime,
                    s.stage,
                    s.at,
                    s.by,
                    s.reference,
                    s.recorded_at
                ],
            )
            .map_err(db("recording a submission"))?;
            Ok(())
        })
    }

    fn submissions(&self, incident: &str) -> Result<Vec<SubmissionRecord>> {
        self.with_reader(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT incident, regime, stage, at, by, reference, recorded_at FROM submissions
                     WHERE incident = ?1 ORDER BY at, regime, stage",
                )
                .map_err(db("reading submissions"))?;
            let rows = stmt
                .query_map([incident], |r| {
                    Ok(SubmissionRecord {
                        incident: r.get(0)?,
                        regime: r.get(1)?,
                        stage: r.get(2)?,
                        at: r.get(3)?,
                        by: r.get(4)?,
                        reference: r.get(5)?,
                        recorded_at: r.get(6)?,
                    })
                })
                .map_err(db("reading submissions"))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db("reading submissions"))
        })
    }
}
