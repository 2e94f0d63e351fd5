#!/usr/bin/env bash
# Transparency-log benchmark: durable group-committed appends, inclusion proofs, full
# verification of a 1,000,000-entry log, and reopening it. No other implementation writes this
# log, so there is no peer to run beside it; runs three times because this machine is noisy.
#   bench/ledger.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p accord-ledger-files --example ledger_bench >&2
for run in 1 2 3; do
    echo "run $run"
    target/release/examples/ledger_bench
done
