//! Reads input files (bundles, single objects, arrays, JSON lines, directories, stdin) and checks
//! their objects in parallel, handing ordered batches of results to a sink.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use accord_stix::input::{self, Hint};
use accord_stix::{CheckedObject, Rejection};
use rayon::prelude::*;

use crate::error::{NodeError, Result};

/// One input named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Stdin,
    /// Objects already in memory (received from a partner, say), named for messages.
    Memory {
        name: String,
        bytes: Vec<u8>,
    },
}

impl Source {
    pub fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "-".into(),
            Source::Memory { name, .. } => name.clone(),
        }
    }

    fn is_json_lines(&self) -> bool {
        matches!(self, Source::File(p) if p.extension().is_some_and(|e| e == "jsonl" || e == "ndjson"))
    }
}

/// Expands paths: `-` is standard input, directories are searched recursively for
/// `.json`, `.jsonl` and `.ndjson` files (in name order). A path that does not exist is an error.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<Source>> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(Source::Stdin);
        } else if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found).map_err(NodeError::io(p))?;
            found.sort();
            out.extend(found.into_iter().map(Source::File));
        } else if p.is_file() {
            out.push(Source::File(p.clone()));
        } else {
            return Err(NodeError::Invalid(format!(
                "cannot read {}: no such file or directory",
                p.display()
            )));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path
            .extension()
            .is_some_and(|e| e == "json" || e == "jsonl" || e == "ndjson")
        {
            out.push(path);
        }
    }
    Ok(())
}

/// The total size of file inputs, for progress reporting (stdin counts as 0).
pub fn total_bytes(sources: &[Source]) -> u64 {
    sources
        .iter()
        .map(|s| match s {
            Source::File(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
            Source::Stdin => 0,
            Source::Memory { bytes, .. } => bytes.len() as u64,
        })
        .sum()
}

/// Where an object came from.
#[derive(Debug, Clone)]
pub struct Position {
    pub source: Arc<str>,
    /// Position of the object in its source (0-based).
    pub index: usize,
    pub offset: usize,
    pub line: usize,
    pub column: usize,
}

/// The result of checking one object, with its position in its source.
#[derive(Debug)]
pub struct Item {
    pub pos: Position,
    pub result: std::result::Result<CheckedObject, Rejection>,
}

/// A problem with a whole document (unparseable, or a malformed bundle envelope).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DocumentProblem {
    pub source: String,
    pub message: String,
    /// Whether the document could not be read at all (as opposed to a warning about its envelope).
    pub fatal: bool,
}

impl std::fmt::Display for DocumentProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}{}",
            self.source,
            if self.fatal { "" } else { "warning: " },
            self.message
        )
    }
}

/// Where batches go. Called in input order, from the calling thread.
pub trait Sink {
    fn batch(&mut self, items: Vec<Item>, bytes_done: u64) -> Result<()>;
    fn document_problem(&mut self, problem: DocumentProblem) -> Result<()>;
}

/// Objects per batch (and per store transaction).
pub const BATCH: usize = 32_768;
/// JSON-lines files are read in blocks of about this size, so memory stays flat.
const BLOCK: usize = 8 << 20;

/// Reads and checks every source, in order.
pub fn check_sources(sources: &[Source], max_object_bytes: usize, sink: &mut dyn Sink) -> Result<()> {
    let mut bytes_done = 0u64;
    for source in sources {
        let name: Arc<str> = source.name().into();
        if source.is_json_lines() {
            let Source::File(path) = source else { continue };
            let file = File::open(path).map_err(NodeError::io(path))?;
            let mut file = file;
            let (mut base_offset, mut base_line, mut index) = (0usize, 1usize, 0usize);
            let mut carry: Vec<u8> = Vec::new();
            loop {
                // Read a block, then cut it after its last newline; the rest starts the next block.
                let mut block = std::mem::take(&mut carry);
                let start = block.len();
                block.resize(start + BLOCK, 0);
                let mut filled = start;
                while filled < block.len() {
                    let n = file.read(&mut block[filled..]).map_err(NodeError::io(path))?;
                    if n == 0 {
                        break;
                    }
                    filled += n;
                }
                block.truncate(filled);
                if block.is_empty() {
                    break;
                }
                let eof = filled < start + BLOCK;
                if !eof {
                    match block.iter().rposition(|b| *b == b'\n') {
                        Some(cut) => carry = block.split_off(cut + 1),
                        // One line longer than a block: keep reading until it ends.
                        None => {
                            carry = block;
                            continue;
                        }
                    }
                }
                let doc = input::split(&block, Hint::JsonLines)
                    .map_err(|e| NodeError::Invalid(format!("{name}: {e}")))?;
                let lines = block.iter().filter(|b| **b == b'\n').count();
                bytes_done += block.len() as u64;
                index = check_document(
                    &doc,
                    &name,
                    base_offset,
                    base_line,
                    index,
                    max_object_bytes,
                    bytes_done,
                    sink,
                )?;
                base_offset += block.len();
                base_line += lines;
                if eof && carry.is_empty() {
                    break;
                }
            }
        } else {
            let read;
            let bytes: &[u8] = match source {
                Source::File(path) => {
                    read = std::fs::read(path).map_err(NodeError::io(path))?;
                    &read
                }
                Source::Stdin => {
                    let mut buf = Vec::new();
                    std::io::stdin()
                        .lock()
                        .read_to_end(&mut buf)
                        .map_err(NodeError::io("standard input"))?;
                    read = buf;
                    &read
                }
                Source::Memory { bytes, .. } => bytes,
            };
            bytes_done += bytes.len() as u64;
            match input::split(bytes, Hint::Auto) {
                Ok(doc) => {
                    for message in &doc.envelope_problems {
                        sink.document_problem(DocumentProblem {
                            source: name.to_string(),
                            message: message.clone(),
                            fatal: false,
                        })?;
                    }
                    check_document(&doc, &name, 0, 1, 0, max_object_bytes, bytes_done, sink)?;
                }
                Err(e) => sink.document_problem(DocumentProblem {
                    source: name.to_string(),
                    message: format!("malformed JSON: {e}"),
                    fatal: true,
                })?,
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn check_document(
    doc: &input::Document<'_>,
    name: &Arc<str>,
    base_offset: usize,
    base_line: usize,
    first_index: usize,
    max_object_bytes: usize,
    bytes_done: u64,
    sink: &mut dyn Sink,
) -> Result<usize> {
    let mut index = first_index;
    let mut lines = LineCounter::default();
    for chunk in doc.items.chunks(BATCH) {
        let results: Vec<_> = chunk
            .par_iter()
            .map(|item| doc.check(item, max_object_bytes))
            .collect();
        let items = results
            .into_iter()
            .zip(chunk)
            .map(|(result, raw)| {
                // Positions are only worked out for objects that will be reported.
                let reported = result.as_ref().map_or(true, |o| !o.warnings.is_empty());
                let (line, column) = if reported {
                    lines.locate(doc.input, raw.offset)
                } else {
                    (0, 0)
                };
                let result = result.map_err(|r| match r {
                    Rejection::Json(mut e) => {
                        e.offset += base_offset;
                        e.line += base_line - 1;
                        Rejection::Json(e)
                    }
                    other => other,
                });
                let pos = Position {
                    source: name.clone(),
                    index,
                    offset: base_offset + raw.offset,
                    line: base_line + line.max(1) - 1,
                    column,
                };
                index += 1;
                Item { pos, result }
            })
            .collect();
        sink.batch(items, bytes_done)?;
    }
    Ok(index)
}

/// Works out line and column for ascending offsets in one pass over the input.
#[derive(Debug, Default)]
struct LineCounter {
    at: usize,
    line: usize,
    line_start: usize,
}

impl LineCounter {
    fn locate(&mut self, input: &[u8], offset: usize) -> (usize, usize) {
        let target = offset.max(self.at).min(input.len());
        for (i, b) in input[self.at..target].iter().enumerate() {
            if *b == b'\n' {
                self.line += 1;
                self.line_start = self.at + i + 1;
            }
        }
        self.at = target;
        (self.line + 1, offset.saturating_sub(self.line_start) + 1)
    }
}

/// Reads STIX objects from files (bundles, arrays, JSON lines, directories), checking each as
/// `accord validate` does, and hands the type and canonical JSON of each valid one to `each`, in
/// input order. Returns what is invalid, and where; a document that cannot be read at all is an
/// error.
pub fn read_valid(paths: &[PathBuf], each: &mut dyn FnMut(&str, &str) -> Result<()>) -> Result<Vec<String>> {
    struct Collect<'f> {
        each: &'f mut dyn FnMut(&str, &str) -> Result<()>,
        rejected: Vec<String>,
    }
    impl Sink for Collect<'_> {
        fn batch(&mut self, items: Vec<Item>, _: u64) -> Result<()> {
            for item in items {
                match item.result {
                    Ok(o) => (self.each)(&o.type_name, &o.canonical)?,
                    Err(e) => self.rejected.push(format!(
                        "{} object {} (line {}): {e}",
                        item.pos.source,
                        item.pos.index + 1,
                        item.pos.line
                    )),
                }
            }
            Ok(())
        }
        fn document_problem(&mut self, p: DocumentProblem) -> Result<()> {
            if p.fatal {
                return Err(NodeError::Invalid(p.to_string()));
            }
            Ok(())
        }
    }
    let sources = expand(paths)?;
    let mut sink = Collect {
        each,
        rejected: Vec::new(),
    };
    check_sources(&sources, accord_stix::DEFAULT_MAX_OBJECT_BYTES, &mut sink)?;
    Ok(sink.rejected)
}
