#!/usr/bin/env bash
# Differential test of the pattern evaluator against the OASIS reference matcher: generates a
# seeded corpus of patterns x observations, judges it with stix2-matcher (PyPI), and checks that
# Accord agrees on every case except the deliberate differences in
# crates/accord-pattern/DIFFERENCES.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${VENV:-$ROOT/target/py-venv}
CASES=${CASES:-6000}
SEED=${SEED:-20261126}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check stix2-matcher==3.0.0 stix2-patterns==2.1.2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$VENV/bin/python" "$ROOT/tests/pattern/generate.py" "$CASES" "$SEED" "$WORK/corpus.jsonl"
cargo run -q -p accord-pattern --example differential -- "$WORK/corpus.jsonl"
