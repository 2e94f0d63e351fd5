#!/usr/bin/env bash
# Foundation benchmarks, side by side with the OASIS stix2-validator, on one generated corpus.
#   bench/foundation.sh [OBJECTS_FOR_IMPORT] [OBJECTS_FOR_STIX2_VALIDATOR]
# Prints a Markdown table; BENCHMARKS.md records its output. Needs python3 (for the venv).
set -euo pipefail
cd "$(dirname "$0")/.."
N_IMPORT=${1:-1000000}
N_PEER=${2:-5000}
OUT=bench-out
mkdir -p "$OUT"

cargo build --release -p accord >&2
ACCORD=target/release/accord

if [ ! -x "$OUT/venv/bin/python" ]; then
    python3 -m venv "$OUT/venv"
    "$OUT/venv/bin/pip" install -q stix2-validator >&2
fi
PEER_VERSION=$("$OUT/venv/bin/pip" show stix2-validator | awk '/^Version/ {print $2}')

# One corpus for everything: the peer's sample is the first N_PEER lines of it.
"$ACCORD" gen-corpus --count "$N_IMPORT" --seed 1 -o "$OUT/corpus.jsonl"
head -n "$N_PEER" "$OUT/corpus.jsonl" > "$OUT/sample.jsonl"

now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1 / ($3 - $2):.0f}')"; }

# Validation: the same sample through both (accord repeated to get past process start-up).
peer=$("$OUT/venv/bin/python" bench/stix2_validator_rate.py "$OUT/sample.jsonl" "$N_PEER")
peer_rate=$(python3 -c "import json,sys; print(f\"{json.loads(sys.argv[1])['per_second']:.0f}\")" "$peer")
reps=20
t0=$(now)
for _ in $(seq $reps); do "$ACCORD" validate "$OUT/sample.jsonl" > /dev/null; done
t1=$(now)
accord_sample_rate=$(rate "$((N_PEER * reps))" "$t0" "$t1")
t0=$(now); "$ACCORD" validate "$OUT/corpus.jsonl" > /dev/null; t1=$(now)
accord_big_rate=$(rate "$N_IMPORT" "$t0" "$t1")

# Import: validated, canonicalised, hashed and durably stored (fsync per batch) in a fresh store.
# Three runs, median rate reported: this machine is noisy.
rates=()
peak_kb=0
for run in 1 2 3; do
    rm -rf "$OUT/node"
    "$ACCORD" --data-dir "$OUT/node" init > /dev/null
    sync # so that the previous run's write-back does not compete with this one
    t0=$(now)
    /usr/bin/time -v "$ACCORD" --data-dir "$OUT/node" import "$OUT/corpus.jsonl" > "$OUT/import.txt" 2> "$OUT/import-time.txt"
    t1=$(now)
    rates+=("$(rate "$N_IMPORT" "$t0" "$t1")")
    kb=$(awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}' "$OUT/import-time.txt")
    [ "$kb" -gt "$peak_kb" ] && peak_kb=$kb
done
import_rate=$(printf '%s\n' "${rates[@]}" | sort -n | sed -n 2p)
import_runs=$(IFS=/; echo "${rates[*]}")

cat <<TABLE
| measurement | stix2-validator $PEER_VERSION | accord | ratio |
| --- | --- | --- | --- |
| validate, same ${N_PEER}-object sample (objects/s) | $peer_rate | $accord_sample_rate | $(python3 -c "print(f'{$accord_sample_rate / $peer_rate:.0f}x')") |
| validate, ${N_IMPORT} objects (objects/s) | – | $accord_big_rate | – |
| import ${N_IMPORT} objects, validated and durable (objects/s, median of $import_runs) | – | $import_rate | – |
| import peak memory (MiB) | – | $((peak_kb / 1024)) | – |
TABLE
