//! Fuzzes what a TAXII client controls before any object is validated: the query string (filters
//! and `next` cursors) and the POST envelope (split and prescanned into a pending status).
#![no_main]

use accord_node::ingest::worker::prescan;
use accord_taxii::query::{self, Cursors};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        for allowed in [query::LIST_ENDPOINT, query::OBJECT_ENDPOINT, query::DELETE_ENDPOINT, query::VERSIONS_ENDPOINT] {
            if let Ok(filters) = query::parse(Some(text), allowed) {
                let cursors = Cursors::new([3; 32]);
                if let Some(next) = &filters.next {
                    // A cursor the server did not issue is never accepted.
                    assert!(cursors.check(next, 0, &filters, "scope").is_err());
                }
                let issued = cursors.issue(42, 0, &filters, "scope");
                assert_eq!(cursors.check(&issued, 0, &filters, "scope").ok(), Some(42));
            }
        }
    }
    if let Ok(status) = prescan(data, "c", "p", "api", 0) {
        assert_eq!(status.total as usize, status.pendings.len() + status.failures.len());
    }
});
