//! `accord export`: writes stored objects as a STIX bundle or as JSON lines, page by page through
//! the gated reader (each object decided and redacted for the principal it is meant for, every
//! page logged before it is written), to a stream or to a file that appears only when complete.

use std::io::Write;
use std::path::Path;

use accord_store::{Query, VersionFilter};

use crate::error::{NodeError, Result};
use crate::gate::Channel;
use crate::node::Node;
use crate::read::Read;

/// How exported objects are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One STIX 2.1 bundle.
    Bundle,
    /// One object per line.
    Jsonl,
}

/// What to export, and for whom.
#[derive(Debug, Clone)]
pub struct ExportFilter {
    pub collection: String,
    pub types: Vec<String>,
    pub added_after: Option<i64>,
    pub all_versions: bool,
    /// Who the export is for (`@node`: this node's own organisation).
    pub principal: String,
    pub purpose: Option<String>,
    /// Whether every object carries this node's provenance signature (for partners to verify).
    pub signed: bool,
}

const PAGE: usize = 5000;

/// Streams the matching objects the principal may receive to `out`, which write errors name as
/// `destination`.
pub fn export(
    node: &Node,
    filter: &ExportFilter,
    format: Format,
    out: &mut dyn Write,
    destination: &Path,
) -> Result<Read> {
    let write = |e: std::io::Error| NodeError::Io {
        path: destination.to_path_buf(),
        source: e,
    };
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
    q.added_before = node
        .collections()?
        .into_iter()
        .find(|c| c.id == filter.collection)
        .map(|c| c.last_added + 1);
    if format == Format::Bundle {
        write!(
            out,
            "{{\"type\":\"bundle\",\"id\":\"bundle--{}\",\"objects\":[",
            uuid::Uuid::new_v4()
        )
        .map_err(write)?;
    }
    // A file on this machine: the operator's channel, not a network one.
    let reader = node
        .reader(
            &filter.principal,
            accord_policy::Action::Export,
            Channel::Export,
            filter.purpose.as_deref(),
        )
        .signed(filter.signed);
    let mut n = 0u64;
    let read = reader.for_each(q, &mut |objects| {
        for o in objects {
            match format {
                Format::Bundle => {
                    let sep: &[u8] = if n > 0 { b",\n" } else { b"\n" };
                    out.write_all(sep).map_err(write)?;
                    out.write_all(o.json.as_bytes()).map_err(write)?;
                }
                Format::Jsonl => {
                    out.write_all(o.json.as_bytes()).map_err(write)?;
                    out.write_all(b"\n").map_err(write)?;
                }
            }
            n += 1;
        }
        Ok(())
    })?;
    if format == Format::Bundle {
        out.write_all(b"\n]}\n").map_err(write)?;
    }
    out.flush().map_err(write)?;
    Ok(read)
}

/// Exports to `path`, written under a temporary name, synced, and renamed when complete, so that
/// the file either holds the whole export or does not exist.
pub fn export_to_file(node: &Node, filter: &ExportFilter, format: Format, path: &Path) -> Result<Read> {
    let tmp = path.with_extension("partial");
    let file = std::fs::File::create(&tmp).map_err(NodeError::io(&tmp))?;
    let mut w = std::io::BufWriter::new(file);
    let read = export(node, filter, format, &mut w, &tmp)?;
    w.into_inner()
        .map_err(|e| NodeError::io(&tmp)(e.into_error()))?
        .sync_all()
        .map_err(NodeError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(NodeError::io(path))?;
    Ok(read)
}
