//! Oversight queries over the log's entries: who received what under which agreement, and every
//! decision about an object. A byte search finds candidate lines; only those are parsed.

use accord_ledger::{Entry, Event};
use memchr::memmem;

/// What to look for. Every given criterion must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Entries about this object id (decisions, shares, redactions, ingests, deletions).
    pub object: Option<String>,
    /// Entries relying on this agreement.
    pub agreement: Option<String>,
    pub principal: Option<String>,
    /// Entry kinds (decision, share, …); empty means all.
    pub kinds: Vec<String>,
    /// RFC 3339 bounds on the entry time, inclusive.
    pub since: Option<String>,
    pub until: Option<String>,
}

fn agreement_of(event: &Event, object: Option<&str>) -> Vec<String> {
    match event {
        Event::Decision(d) => d.agreement.iter().cloned().collect(),
        Event::Redaction(r) => r.agreement.iter().cloned().collect(),
        Event::Share(s) => s
            .objects
            .iter()
            .filter(|o| object.is_none_or(|id| o.id == id))
            .filter_map(|o| o.agreement.clone())
            .collect(),
        _ => Vec::new(),
    }
}

fn mentions(event: &Event, id: &str) -> bool {
    match event {
        Event::Decision(d) => d.object == id,
        Event::Redaction(r) => r.object == id,
        Event::Deletion(d) => d.object == id,
        Event::Share(s) => s.objects.iter().any(|o| o.id == id),
        Event::Ingest(i) => i.objects.iter().any(|o| o.id == id),
        Event::Config(_) | Event::Token(_) => false,
    }
}

fn principal_of(event: &Event) -> Option<&str> {
    match event {
        Event::Decision(d) => Some(&d.principal),
        Event::Share(s) => Some(&s.principal),
        Event::Redaction(r) => Some(&r.principal),
        Event::Ingest(i) => Some(&i.principal),
        Event::Deletion(d) => Some(&d.principal),
        Event::Token(t) => Some(&t.principal),
        Event::Config(_) => None,
    }
}

impl Filter {
    pub fn matches(&self, entry: &Entry) -> bool {
        // RFC 3339 UTC times of one fixed format compare as strings; a bound may be a date.
        if self.since.as_deref().is_some_and(|s| entry.time.as_str() < s) {
            return false;
        }
        if self
            .until
            .as_deref()
            .is_some_and(|u| entry.time.as_str() > u && !entry.time.starts_with(u))
        {
            return false;
        }
        if !self.kinds.is_empty() && !self.kinds.iter().any(|k| k == entry.event.kind()) {
            return false;
        }
        if let Some(id) = &self.object
            && !mentions(&entry.event, id)
        {
            return false;
        }
        if let Some(a) = &self.agreement
            && !agreement_of(&entry.event, self.object.as_deref()).contains(a)
        {
            return false;
        }
        if let Some(p) = &self.principal
            && principal_of(&entry.event) != Some(p.as_str())
        {
            return false;
        }
        true
    }

    /// Runs the filter over entry lines, giving the matching entries in log order.
    pub fn run<'a>(&self, lines: impl IntoIterator<Item = &'a [u8]>) -> Vec<Entry> {
        // Every string criterion appears verbatim (as a JSON string) in a matching line.
        let needles: Vec<Vec<u8>> = [&self.object, &self.agreement, &self.principal]
            .into_iter()
            .flatten()
            .map(|s| serde_json::to_vec(s).unwrap_or_default())
            .collect();
        let finders: Vec<memmem::Finder<'_>> = needles.iter().map(memmem::Finder::new).collect();
        lines
            .into_iter()
            .filter(|l| finders.iter().all(|f| f.find(l).is_some()))
            .filter_map(|l| serde_json::from_slice::<Entry>(l).ok())
            .filter(|e| self.matches(e))
            .collect()
    }
}

/// Runs a filter over a whole log, a chunk of entries at a time.
pub fn scan(log: &crate::AuditLog, filter: &Filter) -> Result<Vec<Entry>, crate::AuditError> {
    const CHUNK: u64 = 100_000;
    let size = log.size();
    let mut found = Vec::new();
    let mut start = 0;
    while start < size {
        let end = (start + CHUNK).min(size);
        let lines = log.entries(start, end)?;
        found.extend(filter.run(lines.iter().map(Vec::as_slice)));
        start = end;
    }
    Ok(found)
}

/// A principal that received objects under an agreement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Recipient {
    pub principal: String,
    /// Object versions received.
    pub objects: u64,
    pub first: String,
    pub last: String,
}

/// Principals that received objects under an agreement, from share entries.
pub fn recipients(entries: &[Entry], agreement: &str) -> Vec<Recipient> {
    let mut by: std::collections::BTreeMap<String, (u64, String, String)> = Default::default();
    for e in entries {
        if let Event::Share(s) = &e.event {
            let n = s
                .objects
                .iter()
                .filter(|o| o.agreement.as_deref() == Some(agreement))
                .count() as u64;
            if n == 0 {
                continue;
            }
            let slot = by
                .entry(s.principal.clone())
                .or_insert_with(|| (0, e.time.clone(), e.time.clone()));
            slot.0 += n;
            slot.2 = e.time.clone();
        }
    }
    by.into_iter()
        .map(|(principal, (objects, first, last))| Recipient {
            principal,
            objects,
            first,
            last,
        })
        .collect()
}
