//! Splitting a push into envelopes that fit a TAXII server's `max_content_length`.

use accord_sync::{envelope_len, envelopes};
use proptest::prelude::*;

/// Objects of the given sizes (their content does not matter to the split).
fn objects(sizes: &[usize]) -> Vec<String> {
    sizes.iter().map(|&n| "x".repeat(n)).collect()
}

#[test]
fn an_envelope_is_measured_as_posted() {
    let two = objects(&[3, 5]);
    assert_eq!(
        envelope_len(&two),
        format!(r#"{{"objects":[{},{}]}}"#, two[0], two[1]).len()
    );
    assert_eq!(envelope_len(&[]), r#"{"objects":[]}"#.len());
}

#[test]
fn without_a_limit_everything_is_one_envelope() {
    assert_eq!(envelopes(&objects(&[10, 20, 30]), None), vec![0..3]);
    assert!(envelopes(&[], None).is_empty());
    assert!(envelopes(&[], Some(100)).is_empty());
}

#[test]
fn an_object_too_large_alone_is_a_run_of_its_own() {
    // Frame 14 bytes: 14 + 10 = 24 fits in 30; 14 + 40 does not fit at all.
    assert_eq!(
        envelopes(&objects(&[10, 40, 10, 5]), Some(30)),
        vec![0..1, 1..2, 2..4]
    );
}

proptest! {
    /// The runs cover every object once, in order; each envelope fits the limit unless it is a
    /// single object that cannot; and no run could take the next object and still fit.
    #[test]
    fn runs_fit_cover_and_are_full(sizes in prop::collection::vec(0usize..200, 0..60), limit in 10usize..600) {
        let objects = objects(&sizes);
        let runs = envelopes(&objects, Some(limit));
        let mut next = 0;
        for run in &runs {
            prop_assert_eq!(run.start, next);
            prop_assert!(run.end > run.start);
            let part = &objects[run.clone()];
            prop_assert!(envelope_len(part) <= limit || part.len() == 1);
            if run.end < objects.len() {
                prop_assert!(envelope_len(&objects[run.start..=run.end]) > limit);
            }
            next = run.end;
        }
        prop_assert_eq!(next, objects.len());
    }
}
