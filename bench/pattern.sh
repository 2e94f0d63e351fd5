#!/usr/bin/env bash
# Pattern parsing side by side with the OASIS validator (stix2-patterns, PyPI) on the same
# generated patterns. Prints both rates and their ratio.
#   bench/pattern.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
OUT=bench-out/pattern
mkdir -p "$OUT"
VENV=bench-out/venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check stix2-patterns >&2
cargo build --release -p accord-pattern --example parse_bench >&2
"$VENV/bin/python" bench/pattern.py generate "$N" "$OUT/patterns.txt"
for run in 1 2 3; do
    oasis=$("$VENV/bin/python" bench/pattern.py oasis "$OUT/patterns.txt")
    accord=$(target/release/examples/parse_bench "$OUT/patterns.txt")
    "$VENV/bin/python" - "$oasis" "$accord" <<'PY'
import json, sys
o, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"stix2-patterns {o['per_second']}/s (valid {o['valid']}/{o['patterns']}); accord {a['per_second']}/s (valid {a['valid'] // 20}/{a['patterns'] // 20}); ratio {a['per_second'] / o['per_second']:.0f}x")
PY
done
