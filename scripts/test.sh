#!/usr/bin/env bash
# The whole test suite: every crate's tests, then the TAXII conformance run with the OASIS client.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
tests/taxii/run.sh
