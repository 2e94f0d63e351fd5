#!/usr/bin/env bash
# The whole test suite: every crate's tests; the TAXII conformance run with the OASIS client; the
# pattern evaluator's differential test against the OASIS reference matcher; indicator
# conversion checked with suricataparser, PyMISP and stix2-validator; sync with medallion;
# three federated nodes over TLS. (scripts/fuzz.sh is not part of it yet: see the README.)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
tests/taxii/run.sh
tests/pattern/run.sh
tests/convert/run.sh
tests/sync/run.sh
tests/federation/run.sh
