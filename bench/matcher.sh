#!/usr/bin/env bash
# Pattern matching benchmarks.
#  1. Side by side with the OASIS reference matcher (stix2-matcher, PyPI) on the same 1,000
#     patterns x 1,000 observations: pairs/s of Accord's evaluator one pair at a time, of
#     Accord's index (all patterns per observation), and of stix2-matcher (on the first
#     OASIS_OBS observations, for time), with the ratios. Match counts must agree.
#  2. The index at scale on one core: M indicators (10k, 100k, 1M) against 1M events read from
#     a JSON-lines file; build and match times, events/s and peak memory.
#  3. The same 1M x 1M through `accord match` on one core, indicators read from a STIX JSON-lines
#     file and validated like any import.
#   bench/matcher.sh [OASIS_OBS]
set -euo pipefail
cd "$(dirname "$0")/.."
OASIS_OBS=${1:-100}
OUT=bench-out/matcher
mkdir -p "$OUT"
VENV=bench-out/venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check stix2-matcher==3.0.0 >&2
cargo build --release -p accord-pattern --example pairs_bench --example index_bench >&2
"$VENV/bin/python" bench/matcher.py generate 1000 1000 "$OUT/work.json"
for run in 1 2 3; do
    oasis=$("$VENV/bin/python" bench/matcher.py oasis "$OUT/work.json" "$OASIS_OBS")
    accord=$(target/release/examples/pairs_bench "$OUT/work.json" "$OASIS_OBS")
    "$VENV/bin/python" - "$oasis" "$accord" <<'PY'
import json, sys
o, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert o["matched"] == a["subset_matched"], (o, a)
assert a["matched"] == a["indexed_matched"], a
print(f"stix2-matcher {o['pairs_per_second']:,} pairs/s; accord evaluator {a['pairs_per_second']:,} pairs/s "
      f"({a['pairs_per_second'] / o['pairs_per_second']:,.0f}x); accord index {a['indexed_pairs_per_second']:,} pairs/s "
      f"({a['indexed_pairs_per_second'] / o['pairs_per_second']:,.0f}x); matches agree ({o['matched']} of {o['pairs']:,})")
PY
done
cargo build --release -p accord >&2
for m in 10000 100000 1000000; do
    events="$OUT/events-$m.jsonl"
    [ -f "$events" ] || target/release/examples/index_bench "$m" 1000000 "$events" > /dev/null
    taskset -c 0 target/release/examples/index_bench "$m" 1000000 "$events"
done
indicators="$OUT/indicators-1000000.jsonl"
[ -f "$indicators" ] || WRITE_INDICATORS="$indicators" target/release/examples/index_bench 1000000 1 "$OUT/unused.jsonl" > /dev/null
/usr/bin/time -f "accord match: %e s wall, %M KiB peak" taskset -c 0 target/release/accord match \
    --indicators "$indicators" --events "$OUT/events-1000000.jsonl" > /dev/null
