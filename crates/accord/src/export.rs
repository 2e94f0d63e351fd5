//! `accord export`: writes stored objects as a STIX bundle or as JSON lines, page by page.

use std::io::Write;

use accord_store::{Query, Store, VersionFilter};
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
}

const PAGE: usize = 5000;

/// Streams the matching objects to `out`; returns how many were written.
pub fn export(store: &dyn Store, filter: &ExportFilter, format: Format, out: &mut dyn Write) -> Result<u64> {
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
    let mut n = 0u64;
    loop {
        let page = store.query(&q)?;
        for o in &page.objects {
            match format {
                Format::Bundle => {
                    if n > 0 {
                        out.write_all(b",")?;
                    }
                    out.write_all(b"\n")?;
                    out.write_all(o.json.as_bytes())?;
                }
                Format::Jsonl => {
                    out.write_all(o.json.as_bytes())?;
                    out.write_all(b"\n")?;
                }
            }
            n += 1;
        }
        if !page.more {
            break;
        }
        q.added_after = page.last_added();
    }
    if format == Format::Bundle {
        out.write_all(b"\n]}\n")?;
    }
    out.flush()?;
    Ok(n)
}
