//! Splits an input document into the objects it carries: a bundle, a single object, a JSON array
//! of objects, or JSON lines. Objects are not parsed here, only located, so that each one is
//! checked (and can fail) on its own, with positions relative to the whole document.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde_json::value::RawValue;

use crate::id::parse_identifier;
use crate::json::{self, JsonError, line_col};
use crate::object::{self, CheckedObject, Rejection};

/// How the document was laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    Bundle { id: Option<String> },
    Object,
    Array,
    JsonLines,
}

/// One object's bytes and where they start in the document.
#[derive(Debug, Clone, Copy)]
pub struct RawItem<'a> {
    /// Position in the document (0-based).
    pub index: usize,
    /// Byte offset of the item in the document.
    pub offset: usize,
    pub bytes: &'a [u8],
}

/// A located document.
#[derive(Debug)]
pub struct Document<'a> {
    pub input: &'a [u8],
    pub layout: Layout,
    pub items: Vec<RawItem<'a>>,
    /// Problems with the envelope itself (e.g. a bundle id that is not an identifier).
    pub envelope_problems: Vec<String>,
    /// The ids of the marking definitions among the items, found on first use.
    markings: OnceLock<HashSet<String>>,
}

/// What the caller knows about the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    Auto,
    JsonLines,
}

fn shift(e: JsonError, input: &[u8], base: usize) -> JsonError {
    let offset = (base + e.offset).min(input.len());
    let (line, column) = line_col(input, offset);
    JsonError {
        message: e.message,
        offset,
        line,
        column,
    }
}

fn raw_offset(input: &[u8], raw: &RawValue) -> usize {
    (raw.get().as_ptr() as usize).saturating_sub(input.as_ptr() as usize)
}

/// Locates the objects in `input`.
pub fn split(input: &[u8], hint: Hint) -> Result<Document<'_>, JsonError> {
    if hint == Hint::JsonLines {
        return Ok(split_lines(input));
    }
    let text = json::check_utf8(input)?;
    let first = text.trim_start().as_bytes().first().copied();
    match first {
        None => Err(JsonError {
            message: "empty document".into(),
            offset: 0,
            line: 1,
            column: 1,
        }),
        Some(b'[') => {
            let items: Vec<&RawValue> =
                serde_json::from_str(text).map_err(|e| JsonError::from_serde(&e, input))?;
            Ok(Document {
                input,
                layout: Layout::Array,
                items: raw_items(input, &items),
                envelope_problems: Vec::new(),
                markings: OnceLock::new(),
            })
        }
        Some(b'{') => match json::top_level_members(text) {
            Ok(members) => Ok(split_object(input, members)),
            // Several values one after another: JSON lines.
            Err(e) if e.to_string().starts_with("trailing characters") => Ok(split_lines(input)),
            Err(e) => Err(JsonError::from_serde(&e, input)),
        },
        Some(_) => {
            let offset = input.len() - text.trim_start().len();
            let (line, column) = line_col(input, offset);
            Err(JsonError {
                message: "expected a STIX object, bundle, array of objects, or JSON lines".into(),
                offset,
                line,
                column,
            })
        }
    }
}

/// Locates the objects of a TAXII envelope (`{"objects": [...], "more": …, "next": …}`).
pub fn split_envelope(input: &[u8]) -> Result<Document<'_>, JsonError> {
    let text = json::check_utf8(input)?;
    if !text.trim_start().starts_with('{') {
        let offset = input.len() - text.trim_start().len();
        let (line, column) = line_col(input, offset);
        return Err(JsonError {
            message: "a TAXII envelope must be a JSON object".into(),
            offset,
            line,
            column,
        });
    }
    let members = json::top_level_members(text).map_err(|e| JsonError::from_serde(&e, input))?;
    let items = match members.iter().find(|(k, _)| k == "objects") {
        None => Vec::new(),
        Some((_, raw)) => {
            let list: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(|e| {
                let base = raw_offset(input, raw);
                let mut err = shift(JsonError::from_serde(&e, raw.get().as_bytes()), input, base);
                err.message = format!("envelope objects: {}", err.message);
                err
            })?;
            raw_items(input, &list)
        }
    };
    Ok(Document {
        input,
        layout: Layout::Array,
        items,
        envelope_problems: Vec::new(),
        markings: OnceLock::new(),
    })
}

fn raw_items<'a>(input: &'a [u8], raws: &[&'a RawValue]) -> Vec<RawItem<'a>> {
    raws.iter()
        .enumerate()
        .map(|(index, raw)| RawItem {
            index,
            offset: raw_offset(input, raw),
            bytes: raw.get().as_bytes(),
        })
        .collect()
}

fn split_object<'a>(input: &'a [u8], members: Vec<(String, &'a RawValue)>) -> Document<'a> {
    let get = |k: &str| members.iter().find(|(key, _)| key == k).map(|(_, v)| *v);
    let is_bundle = get("type").is_some_and(|t| t.get() == "\"bundle\"");
    if !is_bundle {
        let whole = RawItem {
            index: 0,
            offset: 0,
            bytes: input,
        };
        return Document {
            input,
            layout: Layout::Object,
            items: vec![whole],
            envelope_problems: Vec::new(),
            markings: OnceLock::new(),
        };
    }
    let mut problems = Vec::new();
    let id = get("id").and_then(|r| serde_json::from_str::<String>(r.get()).ok());
    match &id {
        Some(id) => match parse_identifier(id) {
            Ok(i) if i.type_name == "bundle" => {}
            Ok(_) => problems.push(format!("bundle id {id:?} must start with bundle--")),
            Err(e) => problems.push(format!("bundle id: {e}")),
        },
        None => problems.push("bundle has no id".into()),
    }
    if get("spec_version").is_some() {
        problems.push("bundles have no spec_version in STIX 2.1 (this looks like STIX 2.0)".into());
    }
    let items = match get("objects") {
        None => Vec::new(),
        Some(raw) => match serde_json::from_str::<Vec<&RawValue>>(raw.get()) {
            Ok(list) => raw_items(input, &list),
            Err(e) => {
                let base = raw_offset(input, raw);
                let err = shift(JsonError::from_serde(&e, raw.get().as_bytes()), input, base);
                problems.push(format!("bundle objects: {err}"));
                Vec::new()
            }
        },
    };
    Document {
        input,
        layout: Layout::Bundle { id },
        items,
        envelope_problems: problems,
        markings: OnceLock::new(),
    }
}

fn split_lines(input: &[u8]) -> Document<'_> {
    let mut items = Vec::new();
    let mut offset = 0;
    for line in input.split_inclusive(|b| *b == b'\n') {
        let trimmed = line.trim_ascii();
        if !trimmed.is_empty() {
            let lead = line.len() - line.trim_ascii_start().len();
            items.push(RawItem {
                index: items.len(),
                offset: offset + lead,
                bytes: trimmed,
            });
        }
        offset += line.len();
    }
    Document {
        input,
        layout: Layout::JsonLines,
        items,
        envelope_problems: Vec::new(),
        markings: OnceLock::new(),
    }
}

impl<'a> Document<'a> {
    /// Checks one item, with JSON error positions relative to the whole document. A marking
    /// definition among the document's items counts as known to the others.
    pub fn check(&self, item: &RawItem<'a>, max_bytes: usize) -> Result<CheckedObject, Rejection> {
        let markings = self.markings();
        let defined = |id: &str| markings.contains(id);
        object::check_bytes_in(item.bytes, max_bytes, &defined).map_err(|r| match r {
            Rejection::Json(e) => Rejection::Json(shift(e, self.input, item.offset)),
            other => other,
        })
    }

    /// The ids of the marking definitions this document carries. Only items whose text holds
    /// the string `"marking-definition"` (a type, not a reference, which goes on with `--`) are
    /// parsed for it.
    pub fn markings(&self) -> &HashSet<String> {
        self.markings.get_or_init(|| {
            #[derive(serde::Deserialize)]
            struct Head {
                #[serde(rename = "type")]
                type_name: Option<String>,
                id: Option<String>,
            }
            let finder = memchr::memmem::Finder::new(b"\"marking-definition\"");
            self.items
                .iter()
                .filter(|i| finder.find(i.bytes).is_some())
                .filter_map(|i| serde_json::from_slice::<Head>(i.bytes).ok())
                .filter(|h| h.type_name.as_deref() == Some("marking-definition"))
                .filter_map(|h| h.id)
                .collect()
        })
    }

    /// Line and column of an item, for messages.
    pub fn position(&self, item: &RawItem<'_>) -> (usize, usize) {
        line_col(self.input, item.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_items_have_offsets() {
        let doc = br#"{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{"a":1}, {"b":2}]}"#;
        let d = split(doc, Hint::Auto).unwrap();
        assert_eq!(d.items.len(), 2);
        assert_eq!(&doc[d.items[1].offset..d.items[1].offset + 7], br#"{"b":2}"#);
        assert!(d.envelope_problems.is_empty());
    }

    #[test]
    fn json_lines_are_detected() {
        let doc = b"{\"a\":1}\n\n{\"b\":2}\n";
        let d = split(doc, Hint::Auto).unwrap();
        assert_eq!(d.layout, Layout::JsonLines);
        assert_eq!(d.items.len(), 2);
        assert_eq!(d.items[1].offset, 9);
    }

    #[test]
    fn errors_inside_items_are_positioned_in_the_document() {
        let doc = b"{\"a\":1}\n{\"b\": tru}\n";
        let d = split(doc, Hint::Auto).unwrap();
        let Err(Rejection::Json(e)) = d.check(&d.items[1], 1000) else {
            panic!()
        };
        assert_eq!(e.line, 2);
    }
}
