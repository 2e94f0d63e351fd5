//! Splitting a push into envelopes that fit an API root's `max_content_length`.

use std::ops::Range;

/// Bytes of the envelope `Client::add_objects` posts for `objects`.
pub fn envelope_len(objects: &[String]) -> usize {
    envelope_len_of(objects.iter().map(String::len))
}

/// Bytes of the envelope for objects of these sizes.
pub fn envelope_len_of(sizes: impl IntoIterator<Item = usize>) -> usize {
    const FRAME: usize = r#"{"objects":[]}"#.len();
    let (mut bytes, mut n) = (FRAME, 0usize);
    for size in sizes {
        bytes += size;
        n += 1;
    }
    bytes + n.saturating_sub(1)
}

/// Splits `objects` into consecutive runs, in order, whose envelopes are at most `limit` bytes
/// (one run when there is no limit). An object too large for an envelope of its own is a run
/// alone, which the server will refuse: the caller decides what to do with it.
pub fn envelopes(objects: &[String], limit: Option<usize>) -> Vec<Range<usize>> {
    let limit = limit.unwrap_or(usize::MAX);
    let mut runs = Vec::new();
    let (mut start, mut len) = (0, 0);
    for (i, o) in objects.iter().enumerate() {
        // What the envelope of start..=i would weigh: the frame, the objects, their commas.
        let with = if i == start {
            envelope_len(std::slice::from_ref(o))
        } else {
            len + 1 + o.len()
        };
        if i > start && with > limit {
            runs.push(start..i);
            start = i;
            len = envelope_len(std::slice::from_ref(o));
        } else {
            len = with;
        }
    }
    if start < objects.len() {
        runs.push(start..objects.len());
    }
    runs
}
