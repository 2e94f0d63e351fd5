//! Oversight queries over the log's entries: who received what under which agreement, and every
//! decision about an object. Parameters are checked before anything is read (times are instants,
//! kinds are known ones); a byte search finds candidate lines and only those are parsed; answers
//! come a bounded page at a time, with a cursor to the next.

use std::collections::BTreeMap;

use accord_ledger::{Entry, Event};
use accord_stix::Timestamp;
use memchr::memmem;

use crate::{Ledger, LedgerError};

/// Every kind of entry a query may ask for (`Event::kind`).
pub const KINDS: &[&str] = &[
    "decision",
    "decisions",
    "share",
    "redaction",
    "ingest",
    "deletion",
    "expiry",
    "submission",
    "config",
    "token",
    "quarantine",
];

/// Entries in a page when the request does not say.
pub const DEFAULT_LIMIT: usize = 1000;
/// Most entries in a page.
pub const MAX_LIMIT: usize = 10_000;
/// Most bytes of entries in a page (an entry larger than this alone is a page of its own).
pub const MAX_PAGE_BYTES: u64 = 4 << 20;
/// Bytes of the log read at once while a page is looked for (or one entry, if larger).
pub const RUN_BYTES: u64 = 4 << 20;

/// A query as given, in text: HTTP parameters or command-line options. [`Filter::parse`]
/// checks it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pub object: Option<String>,
    pub agreement: Option<String>,
    pub principal: Option<String>,
    /// Entry kinds; none means all.
    pub kind: Vec<String>,
    /// RFC 3339 times (any offset) or dates (a UTC day), inclusive.
    pub since: Option<String>,
    pub until: Option<String>,
}

/// A parameter that cannot be used, named as it was given (`since`, `kind`…).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{parameter}: {problem}")]
pub struct ParamError {
    pub parameter: &'static str,
    pub problem: String,
}

/// Why a query has no answer.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("parameter {0}")]
    Param(#[from] ParamError),
    /// The log holds an entry this version cannot read: the answer would be incomplete.
    #[error("entry {index}: {problem}")]
    Entry { index: u64, problem: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// A checked query. Every given criterion must hold.
#[derive(Debug, Clone)]
pub struct Filter {
    params: Params,
    /// Kinds asked for; `decision` and `decisions` (grouped, as written now) are one to ask for.
    kinds: Vec<&'static str>,
    since: Option<Timestamp>,
    /// Inclusive.
    until: Option<Timestamp>,
}

fn family(kind: &str) -> &str {
    if kind == "decisions" { "decision" } else { kind }
}

/// A bound: an RFC 3339 time with any offset, or a date, which stands for its whole UTC day
/// (from its first instant for `since`, to its last for `until`).
fn bound(parameter: &'static str, text: &str, end_of_day: bool) -> Result<Timestamp, ParamError> {
    let b = text.as_bytes();
    let is_date = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    let wrong = |why: String| ParamError {
        parameter,
        problem: format!(
            "{why}; give an RFC 3339 time such as 2026-11-30T13:00:00+01:00, or a date such as 2026-11-30"
        ),
    };
    if !is_date {
        return Timestamp::parse_rfc3339(text).map_err(|e| wrong(e.to_string()));
    }
    let day = Timestamp::parse(&format!("{text}T00:00:00Z"))
        .map_err(|_| wrong(format!("{text:?} is not a real date")))?;
    Ok(if end_of_day {
        Timestamp {
            seconds: day.seconds + 86_399,
            nanos: 999_999_999,
            fraction_digits: 9,
        }
    } else {
        day
    })
}

impl Filter {
    /// Checks a query: each time is parsed as an instant, each kind must be a known one. The
    /// error names the parameter.
    pub fn parse(params: &Params) -> Result<Filter, ParamError> {
        let mut kinds = Vec::new();
        for k in &params.kind {
            let known = KINDS
                .iter()
                .find(|known| **known == k.as_str())
                .ok_or_else(|| ParamError {
                    parameter: "kind",
                    problem: format!("{k:?} is not a kind of entry (one of {})", KINDS.join(", ")),
                })?;
            kinds.push(family(known));
        }
        for (parameter, value) in [
            ("object", &params.object),
            ("agreement", &params.agreement),
            ("principal", &params.principal),
        ] {
            if value.as_deref() == Some("") {
                return Err(ParamError {
                    parameter,
                    problem: "is empty".into(),
                });
            }
        }
        let since = params
            .since
            .as_deref()
            .map(|s| bound("since", s, false))
            .transpose()?;
        let until = params
            .until
            .as_deref()
            .map(|u| bound("until", u, true))
            .transpose()?;
        Ok(Filter {
            params: params.clone(),
            kinds,
            since,
            until,
        })
    }

    /// The query as it was given (to ask a node for the same).
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Whether `entry`, which happened at `time`, is one the query asks for.
    pub fn matches(&self, entry: &Entry, time: Option<Timestamp>) -> bool {
        if self.since.is_some_and(|s| time.is_none_or(|t| t < s))
            || self.until.is_some_and(|u| time.is_none_or(|t| t > u))
        {
            return false;
        }
        if !self.kinds.is_empty() && !self.kinds.contains(&family(entry.event.kind())) {
            return false;
        }
        let p = &self.params;
        if let Some(id) = &p.object
            && !mentions(&entry.event, id)
        {
            return false;
        }
        if let Some(a) = &p.agreement
            && !agreement_of(&entry.event, p.object.as_deref()).contains(a)
        {
            return false;
        }
        if let Some(who) = &p.principal
            && principal_of(&entry.event) != Some(who.as_str())
        {
            return false;
        }
        true
    }
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

/// A principal that received objects under an agreement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Recipient {
    pub principal: String,
    /// Object versions received.
    pub objects: u64,
    /// Times of the first and last share entries counted, in log order.
    pub first: String,
    pub last: String,
}

/// Adds what a later part of the log (the next page) says to `into`.
pub fn merge_recipients(into: &mut Vec<Recipient>, later: Vec<Recipient>) {
    for r in later {
        match into.iter_mut().find(|i| i.principal == r.principal) {
            Some(i) => {
                i.objects += r.objects;
                i.last = r.last;
            }
            None => into.push(r),
        }
    }
    into.sort_by(|a, b| a.principal.cmp(&b.principal));
}

/// One query over a run of the log, an entry at a time, in log order: which entries match, and
/// (with an agreement) who received objects under it. Holds one entry at a time.
#[derive(Debug)]
pub struct Scan<'f> {
    filter: &'f Filter,
    /// Every string criterion appears verbatim (as a JSON string) in a matching line.
    finders: Vec<memmem::Finder<'static>>,
    /// principal → (objects, first, last).
    by: BTreeMap<String, (u64, String, String)>,
}

impl<'f> Scan<'f> {
    pub fn new(filter: &'f Filter) -> Scan<'f> {
        let p = &filter.params;
        let finders = [&p.object, &p.agreement, &p.principal]
            .into_iter()
            .flatten()
            .map(|s| memmem::Finder::new(&serde_json::to_vec(s).unwrap_or_default()).into_owned())
            .collect();
        Scan {
            filter,
            finders,
            by: BTreeMap::new(),
        }
    }

    /// The entry stored as `line` at `index`, if the query asks for it. An entry that cannot be
    /// read is an error, not a miss: the answer would silently leave it out.
    pub fn check(&self, index: u64, line: &[u8]) -> Result<Option<Entry>, QueryError> {
        if !self.finders.iter().all(|f| f.find(line).is_some()) {
            return Ok(None);
        }
        let entry = serde_json::from_slice::<Entry>(line).map_err(|e| QueryError::Entry {
            index,
            problem: format!("cannot be read: {e}"),
        })?;
        let time = if self.filter.since.is_some() || self.filter.until.is_some() {
            Some(Timestamp::parse(&entry.time).map_err(|e| QueryError::Entry {
                index,
                problem: format!("time: {e}"),
            })?)
        } else {
            None
        };
        Ok(self.filter.matches(&entry, time).then_some(entry))
    }

    /// Counts a matching entry's objects shared under the query's agreement.
    pub fn count(&mut self, entry: &Entry) {
        let (Some(agreement), Event::Share(s)) = (&self.filter.params.agreement, &entry.event) else {
            return;
        };
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

    /// With an agreement: who received objects under it in the entries counted.
    pub fn recipients(self) -> Option<Vec<Recipient>> {
        self.filter.params.agreement.as_ref()?;
        Some(
            self.by
                .into_iter()
                .map(|(principal, (objects, first, last))| Recipient {
                    principal,
                    objects,
                    first,
                    last,
                })
                .collect(),
        )
    }
}

/// One page of an answer.
#[derive(Debug, Default)]
pub struct Page {
    /// The matching entries, exactly as stored (each hashes to its leaf), in log order.
    pub entries: Vec<Vec<u8>>,
    /// Where the next page starts (a log index), when the log holds more to look at.
    pub next: Option<u64>,
    /// With an agreement: who received objects under it in this page's entries.
    pub recipients: Option<Vec<Recipient>>,
}

impl Page {
    /// The page as the oversight API answers it: `{"entries": [...], "more": bool, "next":
    /// "N", "recipients": [...]}`, with each entry's stored bytes as they are.
    pub fn to_json(&self) -> Vec<u8> {
        let size: usize = self.entries.iter().map(|e| e.len() + 1).sum();
        let mut out = Vec::with_capacity(size + 128);
        out.extend_from_slice(b"{\"entries\":[");
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(e);
        }
        out.extend_from_slice(b"],\"more\":");
        out.extend_from_slice(if self.next.is_some() { b"true" } else { b"false" });
        if let Some(next) = self.next {
            out.extend_from_slice(format!(",\"next\":\"{next}\"").as_bytes());
        }
        if let Some(r) = &self.recipients {
            out.extend_from_slice(b",\"recipients\":");
            out.extend_from_slice(&serde_json::to_vec(r).unwrap_or_else(|_| b"[]".to_vec()));
        }
        out.push(b'}');
        out
    }
}

/// The page of the answer that starts at log index `from`: at most `limit` entries and
/// [`MAX_PAGE_BYTES`] of them (at least one), read [`RUN_BYTES`] at a time. Memory is bounded by
/// those, whatever the log's size: a run, the page, and the one entry being parsed.
pub fn page(log: &Ledger, filter: &Filter, from: u64, limit: usize) -> Result<Page, QueryError> {
    let size = log.size();
    let limit = limit.clamp(1, MAX_LIMIT);
    let mut scan = Scan::new(filter);
    let (mut page, mut bytes) = (Page::default(), 0u64);
    let mut at = from.min(size);
    'runs: while at < size {
        let end = log.run_end(at, RUN_BYTES);
        for (index, line) in (at..).zip(log.entries(at, end)?) {
            let Some(entry) = scan.check(index, &line)? else {
                continue;
            };
            let len = line.len() as u64;
            // INVARIANT: an oversight answer is a bounded page (`limit` entries, MAX_PAGE_BYTES
            // of them or one larger entry); the entry that does not fit starts the next page.
            if page.entries.len() == limit || (!page.entries.is_empty() && bytes + len > MAX_PAGE_BYTES) {
                page.next = Some(index);
                break 'runs;
            }
            scan.count(&entry);
            bytes += len;
            page.entries.push(line);
        }
        at = end;
    }
    page.recipients = scan.recipients();
    Ok(page)
}
