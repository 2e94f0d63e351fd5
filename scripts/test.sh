#!/usr/bin/env bash
# The whole test suite: every crate's tests, the TAXII conformance run with the OASIS client, and
# the pattern evaluator's differential test against the OASIS reference matcher.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
tests/taxii/run.sh
tests/pattern/run.sh
