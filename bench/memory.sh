#!/usr/bin/env bash
# Memory under attack (issue 27): five concurrent 60 MB POSTs, the server's resident memory before,
# at its peak (VmHWM) and 3 s after the statuses complete; with [server] max_body_bytes_in_flight
# at its default (256 MiB) and, side by side in the same run, so large that it never binds (the
# behaviour before the budget existed), and at the least it may be (one 100 MB body at a time).
# Usage: bench/memory.sh [ROUNDS]; BUDGETS overrides the budgets compared.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
OUT=${OUT:-bench-out/memory}
PORT=${PORT:-18447}
PY=python3
VENV=${VENV:-bench-out/venv}
mkdir -p "$OUT"
cargo build --release -q -p accord
ACCORD=target/release/accord
# shellcheck source=bench/servers.sh
source bench/servers.sh

# One 60 MB envelope of distinct indicators (each POST gets its own ids).
envelope() {
    "$PY" - "$1" > "$OUT/post-$1.json" <<'PY'
import json, sys, uuid
n = int(sys.argv[1])
pad = "x" * 1800
objs = [{"type": "indicator", "spec_version": "2.1",
         "id": f"indicator--{uuid.UUID(int=(n << 64) | i)}",
         "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
         "pattern": f"[ipv4-addr:value = '10.{n}.{i >> 8 & 255}.{i & 255}']", "pattern_type": "stix",
         "valid_from": "2026-01-01T00:00:00Z", "description": pad} for i in range(30000)]
print(json.dumps({"objects": objs}))
PY
}
for i in 1 2 3 4 5; do [ -f "$OUT/post-$i.json" ] || envelope "$i"; done
ls -l "$OUT"/post-*.json | awk '{print $5, $9}'

mib() { awk '/^'"$1"':/ {printf "%d", $2 / 1024}' "/proc/$PID/status"; }

attack() {
    local budget=$1
    ACCORD_SED="s/^max_body_bytes_in_flight = .*/max_body_bytes_in_flight = $budget/" start_accord
    local base="http://127.0.0.1:$PORT/api/collections/$COLL/objects/"
    local before; before=$(mib VmRSS)
    local t0; t0=$(date +%s.%N)
    local posts=()
    for i in 1 2 3 4 5; do
        curl -s -u "$AUSER:$APASS" -H 'Content-Type: application/taxii+json;version=2.1' \
            -H 'Accept: application/taxii+json;version=2.1' --data-binary "@$OUT/post-$i.json" "$base" \
            > "$OUT/status-$i.json" &
        posts+=($!)
    done
    wait "${posts[@]}"
    for i in 1 2 3 4 5; do
        local id; id=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$OUT/status-$i.json")
        until curl -s -u "$AUSER:$APASS" -H 'Accept: application/taxii+json;version=2.1' \
            "http://127.0.0.1:$PORT/api/status/$id/" | grep -q '"status":"complete"'; do sleep 0.2; done
    done
    local t1; t1=$(date +%s.%N)
    local peak; peak=$(mib VmHWM)
    sleep 3
    local after; after=$(mib VmRSS)
    printf '| %s | %s | %s | %s | %.1f |\n' "$budget" "$before" "$peak" "$after" "$(echo "$t1 - $t0" | bc)"
    stop
}

echo "| max_body_bytes_in_flight | RSS before (MiB) | peak RSS (MiB) | RSS 3 s after (MiB) | 5 POSTs complete in (s) |"
echo "| --- | --- | --- | --- | --- |"
for _ in $(seq "$ROUNDS"); do
    for budget in ${BUDGETS:-268435456 17179869184 104857600}; do attack "$budget"; done
done
