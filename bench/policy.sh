#!/usr/bin/env bash
# Decide and redact 100,000 mixed objects for each of 10 partners (issue: policy decision point),
# then decisions per second with and without memoisation. No peer implementation exists to run
# beside it; the goal is absolute (≤ 2 s for the 1,000,000 disclosures on this machine).
# Usage: bench/policy.sh [OBJECTS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p accord-policy --example egress_bench
./target/release/examples/egress_bench "${1:-100000}"
