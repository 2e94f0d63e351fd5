//! Oversight queries over the log's entries: who received what under which agreement, and every
//! decision about an object. A byte search finds candidate lines; only those are parsed.

use std::collections::BTreeMap;

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
        Event::Decisions(d) => d.agreement.iter().cloned().collect(),
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
        Event::Decisions(d) => d.objects.iter().any(|o| o.id == id),
        Event::Redaction(r) => r.object == id,
        Event::Deletion(d) => d.object == id,
        Event::Expiry(e) => e.object == id,
        Event::Submission(e) => e.incident == id,
        Event::Share(s) => s.objects.iter().any(|o| o.id == id),
        Event::Ingest(i) => i.objects.iter().any(|o| o.id == id),
        Event::Quarantine(q) => q.object == id,
        Event::Config(_) | Event::Token(_) => false,
    }
}

fn principal_of(event: &Event) -> Option<&str> {
    match event {
        Event::Decision(d) => Some(&d.principal),
        Event::Decisions(d) => Some(&d.principal),
        Event::Share(s) => Some(&s.principal),
        Event::Redaction(r) => Some(&r.principal),
        Event::Ingest(i) => Some(&i.principal),
        Event::Deletion(d) => Some(&d.principal),
        Event::Token(t) => Some(&t.principal),
        Event::Submission(e) => Some(&e.by),
        Event::Quarantine(q) => Some(&q.sender),
        Event::Config(_) | Event::Expiry(_) => None,
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
        // `decision` and `decisions` (grouped, as written now) are one kind to ask for.
        fn family(k: &str) -> &str {
            if k == "decisions" { "decision" } else { k }
        }
        if !self.kinds.is_empty() && !self.kinds.iter().any(|k| family(k) == family(entry.event.kind())) {
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

    /// Starts answering: feed it the log's lines in order, then take the answer.
    pub fn answer(&self, limit: usize) -> Answerer<'_> {
        // Every string criterion appears verbatim (as a JSON string) in a matching line.
        let needles: Vec<Vec<u8>> = [&self.object, &self.agreement, &self.principal]
            .into_iter()
            .flatten()
            .map(|s| serde_json::to_vec(s).unwrap_or_default())
            .collect();
        Answerer {
            filter: self,
            needles,
            limit,
            answer: Answer {
                recipients: self.agreement.as_ref().map(|_| Vec::new()),
                ..Answer::default()
            },
            by: BTreeMap::new(),
        }
    }
}

/// What an oversight query found.
#[derive(Debug, Default, serde::Serialize)]
pub struct Answer {
    /// Matching entries, all of them.
    pub total: u64,
    /// The first `limit` matching entries, in log order.
    pub entries: Vec<Entry>,
    /// With an agreement: the principals that received objects under it (from share entries).
    pub recipients: Option<Vec<Recipient>>,
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

/// An answer being built over the log, a chunk of lines at a time, in bounded memory.
#[derive(Debug)]
pub struct Answerer<'f> {
    filter: &'f Filter,
    needles: Vec<Vec<u8>>,
    limit: usize,
    answer: Answer,
    /// principal → (objects, first, last).
    by: BTreeMap<String, (u64, String, String)>,
}

impl Answerer<'_> {
    pub fn feed<'a>(&mut self, lines: impl IntoIterator<Item = &'a [u8]>) {
        let finders: Vec<memmem::Finder<'_>> = self.needles.iter().map(memmem::Finder::new).collect();
        for line in lines {
            if !finders.iter().all(|f| f.find(line).is_some()) {
                continue;
            }
            let Ok(entry) = serde_json::from_slice::<Entry>(line) else {
                continue;
            };
            if !self.filter.matches(&entry) {
                continue;
            }
            self.answer.total += 1;
            if let (Some(agreement), Event::Share(s)) = (&self.filter.agreement, &entry.event) {
                let n = s
                    .objects
                    .iter()
                    .filter(|o| o.agreement.as_ref() == Some(agreement))
                    .count() as u64;
                if n > 0 {
                    let slot = self
                        .by
                        .entry(s.principal.clone())
                        .or_insert_with(|| (0, entry.time.clone(), entry.time.clone()));
                    slot.0 += n;
                    slot.2.clone_from(&entry.time);
                }
            }
            if self.answer.entries.len() < self.limit {
                self.answer.entries.push(entry);
            }
        }
    }

    pub fn finish(mut self) -> Answer {
        if let Some(r) = &mut self.answer.recipients {
            *r = self
                .by
                .into_iter()
                .map(|(principal, (objects, first, last))| Recipient {
                    principal,
                    objects,
                    first,
                    last,
                })
                .collect();
        }
        self.answer
    }
}

/// Answers a filter over a whole open log, a chunk of entries at a time.
pub fn scan(log: &crate::Ledger, filter: &Filter, limit: usize) -> Result<Answer, crate::LedgerError> {
    const CHUNK: u64 = 100_000;
    let size = log.size();
    let mut answerer = filter.answer(limit);
    let mut start = 0;
    while start < size {
        let end = (start + CHUNK).min(size);
        let lines = log.entries(start, end)?;
        answerer.feed(lines.iter().map(Vec::as_slice));
        start = end;
    }
    Ok(answerer.finish())
}
