//! `accord sync`: pull from and push to partner nodes (or any TAXII 2.1 server) over TAXII.
//! Pull follows `next`, keeps a cursor per partner collection (`X-TAXII-Date-Added-Last`, saved
//! only after the page is durably stored), verifies provenance (quarantining what fails) and
//! takes the import path. Push sends the versions added since its cursor through the gate for
//! the partner's principal (decided, redacted, logged), signs them, never sends an object back
//! to a node on its path, posts them and polls the status until complete before moving its
//! cursor. Each partner runs on its own thread, so a dead one delays no other.

use std::time::Duration;

use accord_provenance::{Keyring, NodeSigner};
use accord_store::{Query, Store, SyncStore, VersionFilter};
use accord_sync::{Auth, Backoff, Client, Endpoint};
use anyhow::{Context, Result, anyhow};
use rayon::prelude::*;
use serde_json::Value;

use crate::config::{PartnerConfig, SyncMapping};
use crate::ingest::{ImportOptions, Silent};
use crate::node::Node;

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
    let partners: Vec<&PartnerConfig> = node
        .config
        .partners
        .iter()
        .filter(|p| only.is_none_or(|o| o == p.name))
        .collect();
    if let Some(o) = only
        && partners.is_empty()
    {
        anyhow::bail!("no partner {o:?} in accord.toml [[partners]]");
    }
    let keyring = node.keyring()?;
    let signer = node.provenance_signer()?;
    let gate = node.gate()?;
    let audit = node.audit_log()?;
    std::thread::scope(|s| {
        let handles: Vec<_> = partners
            .iter()
            .map(|p| {
                let ctx = Ctx {
                    node,
                    partner: p,
                    keyring: &keyring,
                    signer: &signer,
                    gate: &gate,
                    audit: &audit,
                };
                s.spawn(move || ctx.run())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow!("a sync thread panicked")))
            .collect()
    })
}

struct Ctx<'a> {
    node: &'a Node,
    partner: &'a PartnerConfig,
    keyring: &'a Keyring,
    signer: &'a NodeSigner,
    gate: &'a accord_taxii::gate::Gate,
    audit: &'a accord_audit::AuditLog,
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
        let dir = &self.node.dir;
        let read = |f: &std::path::PathBuf| -> Result<Vec<u8>> {
            let path = dir.join(f);
            std::fs::read(&path)
                .with_context(|| format!("partner {}: cannot read {}", p.name, path.display()))
        };
        let text =
            |f: &std::path::PathBuf| -> Result<String> { Ok(String::from_utf8(read(f)?)?.trim().to_owned()) };
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
            .ok_or_else(|| anyhow!("partner {}: no taxii API root", p.name))?;
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
        let store = self.node.store.as_ref();
        let local = self.node.collection_id(Some(&m.local))?;
        let name = &self.partner.name;
        let backoff = Backoff::default();
        let mut cursor = store.sync_cursor(name, "pull", &m.remote)?;
        // `next` must be sent with the filters that started it, so the window's added_after
        // stays put while its pages are followed; the saved cursor moves with every page.
        let mut window = cursor.clone();
        let mut next: Option<String> = None;
        loop {
            let page = backoff.run(|| client.objects(&m.remote, window.as_deref(), next.as_deref(), 1000))?;
            self.receive(&local, page.objects, report)?;
            if let Some(d) = page.date_added_last {
                store.set_sync_cursor(name, "pull", &m.remote, &d, accord_audit::now_micros())?;
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
                        return Err(anyhow!(
                            "the server says there is more but gives no way to get it"
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
        let p = self.partner;
        let canonical = objects
            .iter()
            .map(accord_stix::jcs::to_canonical_string)
            .collect();
        let (admitted, refused) = crate::federation::sort_received(self.keyring, p, canonical);
        let quarantined = crate::federation::quarantine(self.node, self.audit, collection, &p.name, refused)?;
        report.quarantined += quarantined.len() as u64;
        let opts = ImportOptions {
            collection: collection.to_owned(),
            strict: false,
            max_object_bytes: self.node.config.limits.max_object_bytes,
            same_version: Some(accord_provenance::same_apart_from_provenance),
        };
        let summary = crate::federation::import_objects(self.node, self.audit, &admitted, &opts, &Silent)?;
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
                in_flight.extend(posted.into_iter().map(|id| (Some(id), None)));
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
        let page = self.node.store.query(&q)?;
        let Some(last) = page.last_added() else {
            return Ok(None);
        };
        let objects = self.release(client, local, principal, page.objects, counts)?;
        Ok(Some((objects, last, page.more)))
    }

    /// The principal the partner's node is on this node: what it may receive is decided for it.
    fn principal(&self) -> Result<&str> {
        self.partner
            .principal
            .as_deref()
            .ok_or_else(|| anyhow!("partner {}: no principal", self.partner.name))
    }

    /// Versions for the partner's principal, as they leave: decided and redacted by the gate,
    /// signed, and logged. Versions whose path includes the partner are not sent back; they are
    /// set aside before the gate. Versions too large for the partner to take in one request once
    /// signed are set aside after signing and named in the report. Either way the share lists
    /// exactly what is sent.
    fn release(
        &self,
        client: &Client,
        local: &str,
        principal: &str,
        versions: Vec<accord_store::StoredObject>,
        report: &mut SyncReport,
    ) -> Result<Vec<String>> {
        let p = self.partner;
        let on_path = |json: &str| {
            accord_provenance::claimed_path(json).is_some_and(|nodes| nodes.iter().any(|n| n == &p.name))
        };
        let (versions, echoes): (Vec<_>, Vec<_>) = versions.into_iter().partition(|o| !on_path(&o.json));
        report.not_echoed += echoes.len() as u64;
        let considered = versions.len() as u64;
        let req = accord_policy::Request {
            principal,
            action: accord_policy::Action::Push,
            purpose: None,
            encrypted: client.api_root().starts_with("https://"),
            now: accord_stix::Timestamp::from_micros(accord_audit::now_micros()),
            default_tlp: None,
        };
        let to = accord_taxii::gate::Recipient {
            principal,
            channel: "sync",
            collection: local,
            purpose: None,
        };
        let mut released = self
            .gate
            .release(self.node.store.as_ref(), local, &req, versions)?;
        report.withheld += considered - released.len() as u64;
        // Signing is the costly part: spread it over the cores.
        let originals = released.originals();
        let signed = released
            .objects()
            .par_iter()
            .zip(&originals)
            .map(|(o, original)| {
                // Stored objects were verified on arrival; their signer and path decide.
                let path = accord_provenance::claimed_path(&o.json);
                crate::federation::sign_released_on_path(self.signer, original.as_ref(), o, path.as_deref())
            })
            .collect::<Result<Vec<String>>>()?;
        let limit = Backoff::default().run(|| client.max_content_length())?;
        let mut fits = Vec::with_capacity(signed.len());
        for (o, s) in released.objects().iter().zip(&signed) {
            let fit = limit.is_none_or(|l| accord_sync::envelope_len(std::slice::from_ref(s)) <= l);
            if let (false, Some(limit)) = (fit, limit) {
                report.refused.push(too_large(&o.id, s.len(), limit));
            }
            fits.push(fit);
        }
        released.set_aside(|i| fits.get(i).copied().unwrap_or(false));
        released.disclose_blocking(self.audit, &to)?;
        Ok(signed
            .into_iter()
            .zip(fits)
            .filter_map(|(s, fits)| fits.then_some(s))
            .collect())
    }

    /// Objects deleted whole from the local collection since the last run reach the partner as
    /// revoked versions, through the same decision, redaction, signing and logging as any other
    /// version. Only SDOs and SROs this node originated can be revoked by it: SCOs have no
    /// versions, and another node's object is that node's to revoke.
    fn push_withdrawals(&self, client: &Client, m: &SyncMapping, report: &mut SyncReport) -> Result<()> {
        let store = self.node.store.as_ref();
        let local = self.node.collection_id(Some(&m.local))?;
        let principal = self.principal()?;
        let backoff = Backoff::default();
        let mut after = self.position("push-withdrawals", &local)?.unwrap_or(0);
        loop {
            let batch = store.withdrawals(&local, after, PUSH_PAGE)?;
            let Some(last) = batch.last().map(|w| w.seq) else {
                return Ok(());
            };
            let revoked = batch
                .iter()
                .filter_map(|w| crate::federation::revoked_version(w, self.signer.node()).transpose())
                .collect::<Result<Vec<_>>>()?;
            let objects = self.release(client, &local, principal, revoked, report)?;
            for id in self.post(client, &backoff, &m.remote, &objects)? {
                report.revoked += self.complete(client, &backoff, &id, report)?;
            }
            self.set_position("push-withdrawals", &local, last)?;
            if batch.len() < PUSH_PAGE {
                return Ok(());
            }
            after = last;
        }
    }

    /// Posts `objects` in as many envelopes as the partner's `max_content_length` needs and
    /// returns their status ids. Each object fits in one request alone ([`Ctx::release`] set
    /// aside those that do not).
    fn post(
        &self,
        client: &Client,
        backoff: &Backoff,
        remote: &str,
        objects: &[String],
    ) -> Result<Vec<String>> {
        if objects.is_empty() {
            return Ok(Vec::new());
        }
        let limit = backoff.run(|| client.max_content_length())?;
        let mut ids = Vec::new();
        for run in accord_sync::envelopes(objects, limit) {
            let part = &objects[run];
            ids.push(backoff.run(|| client.add_objects(remote, part))?.id);
        }
        Ok(ids)
    }

    /// Waits for one posted envelope to complete, counts it, and moves the push cursor to where
    /// it ends a page.
    fn settle(
        &self,
        client: &Client,
        backoff: &Backoff,
        posted: Option<(Option<String>, Option<i64>)>,
        local: &str,
        report: &mut SyncReport,
    ) -> Result<()> {
        let Some((id, cursor)) = posted else {
            return Ok(());
        };
        if let Some(id) = id {
            self.complete(client, backoff, &id, report)?;
        }
        match cursor {
            Some(at) => self.set_position("push", local, at),
            None => Ok(()),
        }
    }

    /// Waits for a posted envelope's status to complete and counts what the partner accepted
    /// (returned) and refused.
    fn complete(&self, client: &Client, backoff: &Backoff, id: &str, report: &mut SyncReport) -> Result<u64> {
        let status = client.wait(id, backoff, Duration::from_secs(300))?;
        if status.status != "complete" {
            return Err(anyhow!(
                "status {} still {} after five minutes ({} pending)",
                status.id,
                status.status,
                status.pending_count
            ));
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
            .store
            .sync_cursor(&self.partner.name, direction, local)?
            .and_then(|c| c.parse().ok()))
    }

    fn set_position(&self, direction: &str, local: &str, at: i64) -> Result<()> {
        Ok(self.node.store.set_sync_cursor(
            &self.partner.name,
            direction,
            local,
            &at.to_string(),
            accord_audit::now_micros(),
        )?)
    }
}

fn too_large(id: &str, len: usize, limit: usize) -> String {
    format!("{id}: not sent: {len} bytes, more than the {limit} the partner accepts in one request")
}
