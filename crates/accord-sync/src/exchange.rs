//! Synchronising with partner nodes (`accord sync`, and the server's schedule): pull from and push to partner nodes (or any TAXII 2.1 server) over TAXII.
//! Pull follows `next`, keeps a cursor per partner collection (`X-TAXII-Date-Added-Last`, saved
//! only after the page is durably stored), verifies provenance (quarantining what fails) and
//! takes the import path. Push sends the versions added since its cursor through the gate for
//! the partner's principal (decided, redacted, logged), signs them, never sends an object back
//! to a node on its path, posts them and polls the status until complete before moving its
//! cursor. Each partner runs on its own thread, so a dead one delays no other.

use std::time::Duration;

use accord_node::Node;
use accord_node::config::{PartnerConfig, SyncMapping};
use accord_node::gate::Channel;
use accord_node::ingest::import::{ImportOptions, Silent};
use accord_node::read::{Page, Reader};
use accord_node::{Query, VersionFilter};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::{Auth, Backoff, Client, Endpoint, Status};

/// What one synchronisation with one partner did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct SyncReport {
    pub partner: String,
    /// Objects received and stored (new objects or versions).
    pub received: u64,
    /// Objects received that were already here.
    pub unchanged: u64,
    pub quarantined: u64,
    pub sent: u64,
    /// Versions the policy did not allow for the partner.
    pub withheld: u64,
    /// Versions not sent because the partner is on their path (loop prevention).
    pub not_echoed: u64,
    /// Objects deleted here and sent as revoked versions (counted in `sent` too).
    pub revoked: u64,
    /// Objects the partner's server refused, with its reasons.
    pub refused: Vec<String>,
    /// What went wrong, per collection; the other collections and partners carry on.
    pub errors: Vec<String>,
}

/// Objects per envelope pushed, and envelopes posted before the oldest must be complete.
///
/// The window must cover how long a partner may keep a status pending while it groups writes
/// (an Accord node then waited up to 400 ms for a group to fill, now 100 ms): with 8 envelopes, a
/// push at 20,000 objects/s filled it in 400 ms and then stalled, the partner idle too, until the
/// group was committed and the next poll saw it (measured: 19,200–19,700 objects/s with 8,
/// 23,600–25,100 with 32). A crash re-sends at most the window, which the partner keeps once.
const PUSH_PAGE: usize = 1000;
const IN_FLIGHT: usize = 32;

/// Synchronises with every partner that has collections to pull or push (or only `only`), each
/// on its own thread.
pub fn sync_all(node: &Node, only: Option<&str>) -> Result<Vec<SyncReport>> {
    let config = node.config();
    let partners: Vec<&PartnerConfig> = config
        .partners
        .iter()
        .filter(|p| only.is_none_or(|o| o == p.name))
        .collect();
    if let Some(o) = only
        && partners.is_empty()
    {
        return Err(Error::Invalid(format!(
            "no partner {o:?} in accord.toml [[partners]]"
        )));
    }
    // What every partner's thread uses is opened once, here: a broken policy file, key or log is
    // the run's error, not each partner's.
    node.ledger()?;
    node.partners()?;
    node.policy_engine()?;
    std::thread::scope(|s| {
        let handles: Vec<_> = partners
            .iter()
            .map(|p| {
                let ctx = Ctx { node, partner: p };
                s.spawn(move || ctx.run())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| Error::Invalid("a sync thread panicked".into()))
            })
            .collect()
    })
}

struct Ctx<'a> {
    node: &'a Node,
    partner: &'a PartnerConfig,
}

impl Ctx<'_> {
    fn run(&self) -> SyncReport {
        let mut report = SyncReport {
            partner: self.partner.name.clone(),
            ..SyncReport::default()
        };
        let client = match self.client() {
            Ok(c) => c,
            Err(e) => {
                report.errors.push(format!("{e:#}"));
                return report;
            }
        };
        for m in &self.partner.pull {
            if let Err(e) = self.pull(&client, m, &mut report) {
                report
                    .errors
                    .push(format!("pull {} → {}: {e:#}", m.remote, m.local));
            }
        }
        for m in &self.partner.push {
            if let Err(e) = self
                .push(&client, m, &mut report)
                .and_then(|()| self.push_withdrawals(&client, m, &mut report))
            {
                report
                    .errors
                    .push(format!("push {} → {}: {e:#}", m.local, m.remote));
            }
        }
        report
    }

    fn client(&self) -> Result<Client> {
        let p = self.partner;
        let dir = self.node.dir();
        let read = |f: &std::path::PathBuf| -> Result<Vec<u8>> {
            let path = dir.join(f);
            std::fs::read(&path).map_err(Error::io(&path))
        };
        let text = |f: &std::path::PathBuf| -> Result<String> {
            let bytes = read(f)?;
            String::from_utf8(bytes)
                .map(|t| t.trim().to_owned())
                .map_err(|_| Error::Invalid(format!("partner {}: {} is not UTF-8", p.name, f.display())))
        };
        let auth = match (&p.user, &p.password_file, &p.token_file) {
            (_, _, Some(t)) => Auth::Bearer(text(t)?),
            (Some(user), Some(pw), None) => Auth::Basic {
                user: user.clone(),
                password: text(pw)?,
            },
            _ => Auth::None,
        };
        let identity = match (&p.client_cert, &p.client_key) {
            (Some(c), Some(k)) => Some((read(c)?, read(k)?)),
            _ => None,
        };
        let api_root = p
            .taxii
            .first()
            .ok_or_else(|| Error::Invalid(format!("partner {}: no taxii API root", p.name)))?;
        Ok(Client::new(Endpoint {
            api_root: api_root.clone(),
            auth,
            ca: p.ca_file.as_ref().map(read).transpose()?,
            identity,
            min_interval: Duration::from_secs(1) / p.requests_per_second.max(1),
            timeout: Duration::from_secs(60),
        })?)
    }

    fn pull(&self, client: &Client, m: &SyncMapping, report: &mut SyncReport) -> Result<()> {
        let local = self.node.collection_id(Some(&m.local))?;
        let name = &self.partner.name;
        let backoff = Backoff::default();
        let mut cursor = self.node.sync_cursor(name, "pull", &m.remote)?;
        // `next` must be sent with the filters that started it, so the window's added_after
        // stays put while its pages are followed; the saved cursor moves with every page.
        let mut window = cursor.clone();
        let mut next: Option<String> = None;
        loop {
            let page = backoff.run(|| client.objects(&m.remote, window.as_deref(), next.as_deref(), 1000))?;
            self.receive(&local, page.objects, report)?;
            if let Some(d) = page.date_added_last {
                self.node.set_sync_cursor(name, "pull", &m.remote, &d)?;
                cursor = Some(d);
            }
            if !page.more {
                return Ok(());
            }
            match page.next {
                Some(n) => next = Some(n),
                None => {
                    // A server without `next`: move the window instead.
                    if window == cursor {
                        return Err(Error::Invalid(
                            "the server says there is more but gives no way to get it".into(),
                        ));
                    }
                    window = cursor.clone();
                    next = None;
                }
            }
        }
    }

    /// Verifies received objects; stores the admitted ones through the import path and
    /// quarantines the rest (logged first).
    fn receive(&self, collection: &str, objects: Vec<Value>, report: &mut SyncReport) -> Result<()> {
        let canonical = objects
            .iter()
            .map(accord_stix::jcs::to_canonical_string)
            .collect();
        let opts = ImportOptions {
            collection: collection.to_owned(),
            strict: false,
            max_object_bytes: self.node.config().limits.max_object_bytes,
            from_partner: Some(self.partner.name.clone()),
        };
        let (quarantined, summary) = self.node.receive(&self.partner.name, canonical, &opts, &Silent)?;
        report.quarantined += quarantined.len() as u64;
        let summary = summary?;
        report.received += summary.new + summary.new_version;
        report.unchanged += summary.unchanged;
        for r in summary.rejections.iter().filter(|r| r.error.is_some()) {
            report.errors.push(format!(
                "received but invalid: {}: {}",
                r.object_id.as_deref().unwrap_or("(no id)"),
                r.error.as_deref().unwrap_or_default()
            ));
        }
        Ok(())
    }

    fn push(&self, client: &Client, m: &SyncMapping, report: &mut SyncReport) -> Result<()> {
        let local = self.node.collection_id(Some(&m.local))?;
        let principal = self.principal()?;
        let backoff = Backoff::default();
        let start = self.position("push", &local)?;
        // Envelopes are prepared (read, decided, logged, signed) on another thread while this one
        // posts the previous envelope and the partner works on the ones before: neither side
        // waits for the other's I/O. A prepared envelope that is never posted (the partner
        // failed) is logged as shared without having left; the cursor has not passed it, so the
        // next run sends it.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(Vec<String>, i64)>>(1);
        let mut counts = SyncReport::default();
        let pushed = std::thread::scope(|s| {
            let (local, counts) = (&local, &mut counts);
            s.spawn(move || {
                let mut after = start;
                loop {
                    let (envelope, next) = match self.prepare(client, local, principal, after, counts) {
                        Ok(None) => return,
                        Ok(Some((objects, last, more))) => (Ok((objects, last)), more.then_some(last)),
                        Err(e) => (Err(e), None),
                    };
                    if tx.send(envelope).is_err() || next.is_none() {
                        return;
                    }
                    after = next;
                }
            });
            let mut in_flight = std::collections::VecDeque::new();
            for envelope in rx {
                let (objects, last) = envelope?;
                // A page may need several envelopes; the cursor moves once the last is complete.
                let posted = self.post(client, &backoff, &m.remote, &objects)?;
                let n = posted.len();
                in_flight.extend(posted.into_iter().map(|status| (Some(status), None)));
                match in_flight.back_mut() {
                    Some((_, cursor)) if n > 0 => *cursor = Some(last),
                    _ => in_flight.push_back((None, Some(last))),
                }
                // A few envelopes are in flight at once; the cursor follows the oldest complete one.
                while in_flight.len() > IN_FLIGHT {
                    self.settle(client, &backoff, in_flight.pop_front(), local, report)?;
                }
            }
            while let Some(posted) = in_flight.pop_front() {
                self.settle(client, &backoff, Some(posted), local, report)?;
            }
            Ok(())
        });
        report.withheld += counts.withheld;
        report.not_echoed += counts.not_echoed;
        report.refused.append(&mut counts.refused);
        pushed
    }

    /// The next envelope to push from `local` after `after`: the released and signed versions
    /// of one page, where the page ends, and whether more follow; `None` when nothing is left.
    fn prepare(
        &self,
        client: &Client,
        local: &str,
        principal: &str,
        after: Option<i64>,
        counts: &mut SyncReport,
    ) -> Result<Option<(Vec<String>, i64, bool)>> {
        let mut q = Query::new(local);
        q.added_after = after;
        q.limit = PUSH_PAGE;
        // Every version: revocations and updates travel as new versions.
        q.versions = VersionFilter::all();
        let reader = self.reader(client, principal);
        let page = reader.page(q)?;
        let Some(last) = page.last else {
            return Ok(None);
        };
        let more = page.more;
        counts.not_echoed += page.not_echoed as u64;
        let objects = self.send(client, &reader, page, counts)?;
        Ok(Some((objects, last, more)))
    }

    /// The principal the partner's node is on this node: what it may receive is decided for it.
    fn principal(&self) -> Result<&str> {
        self.partner
            .principal
            .as_deref()
            .ok_or_else(|| Error::Invalid(format!("partner {}: no principal", self.partner.name)))
    }

    /// Reads for the partner's principal: decided and redacted by the gate, signed by this node,
    /// nothing sent back to a node on its path.
    fn reader(&self, client: &Client, principal: &str) -> Reader {
        self.node
            .reader(principal, accord_policy::Action::Push, Channel::Sync, None)
            .encrypted(client.api_root().starts_with("https://"))
            .signed(true)
            .not_back_to(&self.partner.name)
    }

    /// A page's versions as they leave: signed, without those too large for the partner to take
    /// in one request (named in the report), and logged. The share lists exactly what is sent.
    fn send(
        &self,
        client: &Client,
        reader: &Reader,
        mut page: Page,
        report: &mut SyncReport,
    ) -> Result<Vec<String>> {
        report.withheld += page.withheld() as u64;
        let limit = Backoff::default().run(|| client.max_content_length())?;
        if let Some(limit) = limit {
            let fits = |len: usize| crate::envelope_len_of([len]) <= limit;
            for (id, len) in page.set_aside(fits) {
                report.refused.push(too_large(&id, len, limit));
            }
        }
        Ok(page
            .disclose_blocking(reader)?
            .into_iter()
            .map(|o| o.json)
            .collect())
    }

    /// Objects deleted whole from the local collection since the last run reach the partner as
    /// revoked versions, through the same decision, redaction, signing and logging as any other
    /// version. Only SDOs and SROs this node originated can be revoked by it: SCOs have no
    /// versions, and another node's object is that node's to revoke.
    fn push_withdrawals(&self, client: &Client, m: &SyncMapping, report: &mut SyncReport) -> Result<()> {
        let local = self.node.collection_id(Some(&m.local))?;
        let reader = self.reader(client, self.principal()?);
        let backoff = Backoff::default();
        let mut after = self.position("push-withdrawals", &local)?.unwrap_or(0);
        loop {
            let (page, last, read) = reader.withdrawals(&local, after, PUSH_PAGE)?;
            let Some(last) = last else {
                return Ok(());
            };
            let objects = self.send(client, &reader, page, report)?;
            for status in self.post(client, &backoff, &m.remote, &objects)? {
                report.revoked += self.complete(client, &backoff, status, report)?;
            }
            self.set_position("push-withdrawals", &local, last)?;
            if read < PUSH_PAGE {
                return Ok(());
            }
            after = last;
        }
    }

    /// Posts `objects` in as many envelopes as the partner's `max_content_length` needs and
    /// returns their statuses as answered (a partner may answer `complete` at once). Each object
    /// fits in one request alone ([`Ctx::release`] set aside those that do not).
    fn post(
        &self,
        client: &Client,
        backoff: &Backoff,
        remote: &str,
        objects: &[String],
    ) -> Result<Vec<Status>> {
        if objects.is_empty() {
            return Ok(Vec::new());
        }
        let limit = backoff.run(|| client.max_content_length())?;
        let mut statuses = Vec::new();
        for run in crate::envelopes(objects, limit) {
            let part = &objects[run];
            statuses.push(backoff.run(|| client.add_objects(remote, part))?);
        }
        Ok(statuses)
    }

    /// Waits for one posted envelope to complete, counts it, and moves the push cursor to where
    /// it ends a page.
    fn settle(
        &self,
        client: &Client,
        backoff: &Backoff,
        posted: Option<(Option<Status>, Option<i64>)>,
        local: &str,
        report: &mut SyncReport,
    ) -> Result<()> {
        let Some((status, cursor)) = posted else {
            return Ok(());
        };
        if let Some(status) = status {
            self.complete(client, backoff, status, report)?;
        }
        match cursor {
            Some(at) => self.set_position("push", local, at),
            None => Ok(()),
        }
    }

    /// Waits for a posted envelope's status to complete (unless it was answered complete) and
    /// counts what the partner accepted (returned) and refused.
    fn complete(
        &self,
        client: &Client,
        backoff: &Backoff,
        posted: Status,
        report: &mut SyncReport,
    ) -> Result<u64> {
        let status = if posted.status == "complete" {
            posted
        } else {
            client.wait(&posted.id, backoff, Duration::from_secs(300))?
        };
        if status.status != "complete" {
            return Err(Error::Invalid(format!(
                "status {} still {} after five minutes ({} pending)",
                status.id, status.status, status.pending_count
            )));
        }
        report.sent += status.success_count;
        report
            .refused
            .extend(status.failures.iter().map(|(id, why)| format!("{id}: {why}")));
        Ok(status.success_count)
    }

    /// Where pushing `direction` ("push", "push-withdrawals") to this partner got to in `local`.
    fn position(&self, direction: &str, local: &str) -> Result<Option<i64>> {
        Ok(self
            .node
            .sync_cursor(&self.partner.name, direction, local)?
            .and_then(|c| c.parse().ok()))
    }

    fn set_position(&self, direction: &str, local: &str, at: i64) -> Result<()> {
        Ok(self
            .node
            .set_sync_cursor(&self.partner.name, direction, local, &at.to_string())?)
    }
}

fn too_large(id: &str, len: usize, limit: usize) -> String {
    format!("{id}: not sent: {len} bytes, more than the {limit} the partner accepts in one request")
}

/// Synchronises with each partner that has a `sync_interval_secs`, at that interval, under the
/// configuration in force (partners added, removed or re-timed by a reload are followed). Each
/// run is on its own blocking thread, so a dead partner never holds up the others; its cursors
/// make an interrupted run resume where it stopped. Runs until aborted.
pub async fn on_schedule(node: Node) {
    use std::collections::HashMap;
    use std::time::Instant;
    let mut last: HashMap<String, Instant> = HashMap::new();
    let mut running: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        running.retain(|_, run| !run.is_finished());
        for p in &node.config().partners {
            let interval = Duration::from_secs(p.sync_interval_secs);
            if p.sync_interval_secs == 0
                || (p.pull.is_empty() && p.push.is_empty())
                || running.contains_key(&p.name)
                || last.get(&p.name).is_some_and(|t| t.elapsed() < interval)
            {
                continue;
            }
            last.insert(p.name.clone(), Instant::now());
            running.insert(
                p.name.clone(),
                tokio::spawn(sync_once(node.clone(), p.name.clone())),
            );
        }
    }
}

async fn sync_once(node: Node, partner: String) {
    let name = partner.clone();
    match tokio::task::spawn_blocking(move || sync_all(&node, Some(&name))).await {
        Ok(Ok(reports)) => {
            for r in reports {
                tracing::info!(
                    partner = %r.partner,
                    received = r.received,
                    quarantined = r.quarantined,
                    sent = r.sent,
                    withheld = r.withheld,
                    errors = ?r.errors,
                    "sync"
                );
            }
        }
        Ok(Err(e)) => tracing::warn!(partner = %partner, error = %e, "sync failed"),
        Err(e) => tracing::error!(partner = %partner, error = %e, "sync task failed"),
    }
}
