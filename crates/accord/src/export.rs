//! `accord export`: writes stored objects as a STIX bundle or as JSON lines, page by page, each
//! object decided (and redacted) by the policy decision point for the principal it is meant for,
//! and every page logged in the transparency log before it is written.

use std::io::Write;

use accord_store::{Query, Store, VersionFilter};
use accord_taxii::gate::Gate;
use anyhow::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One STIX 2.1 bundle.
    Bundle,
    /// One object per line.
    Jsonl,
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportFilter {
    pub collection: String,
    pub types: Vec<String>,
    pub added_after: Option<i64>,
    pub all_versions: bool,
    /// Who the export is for (`@node`: this node's own organisation).
    pub principal: String,
    pub purpose: Option<String>,
}

/// What an export wrote and what the policy withheld.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exported {
    pub written: u64,
    pub withheld: u64,
}

const PAGE: usize = 5000;

/// Streams the matching objects the principal may receive to `out`; with a `signer`, each
/// carries this node's provenance (see [`crate::federation::sign_released`]).
pub fn export(
    store: &dyn Store,
    gate: &Gate,
    audit: &accord_audit::AuditLog,
    filter: &ExportFilter,
    format: Format,
    signer: Option<&accord_provenance::NodeSigner>,
    out: &mut dyn Write,
) -> Result<Exported> {
    let mut q = Query::new(&filter.collection);
    q.types = filter.types.clone();
    q.added_after = filter.added_after;
    q.versions = if filter.all_versions {
        VersionFilter::all()
    } else {
        VersionFilter::last()
    };
    q.limit = PAGE;
    // Pin the snapshot so that objects arriving during the export are not half-included.
    q.added_before = store.collection(&filter.collection)?.map(|c| c.last_added + 1);
    if format == Format::Bundle {
        write!(
            out,
            "{{\"type\":\"bundle\",\"id\":\"bundle--{}\",\"objects\":[",
            uuid::Uuid::new_v4()
        )?;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    let req = accord_policy::Request {
        principal: &filter.principal,
        action: accord_policy::Action::Export,
        purpose: filter.purpose.as_deref(),
        // A file on this machine: the operator's channel, not a network one.
        encrypted: true,
        now: accord_stix::Timestamp::from_micros(now),
        default_tlp: None,
    };
    let mut n = 0u64;
    let mut withheld = 0u64;
    loop {
        let page = store.query(&q)?;
        let more = page.more;
        let last = page.last_added();
        let scanned = page.objects.len() as u64;
        let to = accord_taxii::gate::Recipient {
            principal: &filter.principal,
            channel: "export",
            collection: &filter.collection,
            purpose: filter.purpose.as_deref(),
        };
        let released = gate.release(store, &filter.collection, &req, page.objects)?;
        let originals = released.originals();
        // Written only once the decisions and the share are durably logged.
        let released = released.disclose_blocking(audit, &to)?;
        withheld += scanned - released.len() as u64;
        for (o, original) in released.iter().zip(&originals) {
            let signed;
            let json = match signer {
                Some(s) => {
                    signed = crate::federation::sign_released(s, original.as_ref(), o)?;
                    &signed
                }
                None => &o.json,
            };
            match format {
                Format::Bundle => {
                    if n > 0 {
                        out.write_all(b",")?;
                    }
                    out.write_all(b"\n")?;
                    out.write_all(json.as_bytes())?;
                }
                Format::Jsonl => {
                    out.write_all(json.as_bytes())?;
                    out.write_all(b"\n")?;
                }
            }
            n += 1;
        }
        if !more {
            break;
        }
        q.added_after = last;
    }
    if format == Format::Bundle {
        out.write_all(b"\n]}\n")?;
    }
    out.flush()?;
    Ok(Exported { written: n, withheld })
}
