#!/usr/bin/env bash
# End-to-end propagation A -> B: N generated objects imported into A's public collection, then
# one `accord sync` on A pushes them to B over TLS on loopback: policy decision and redaction for
# B's principal, signing, loop check, TAXII POST, B's provenance verification, validation,
# storage and logging on both sides. Prints objects/s (N / wall time of the sync), and checks that
# B holds all N with A's signature.
#   bench/federation.sh [N]        (ACCORD_BIN=path: use that binary instead of building)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
# ACCORD_BIN runs another build (say, an earlier commit's) for a side-by-side comparison.
if [ -z "${ACCORD_BIN:-}" ]; then cargo build -q --release -p accord; fi
ACCORD=${ACCORD_BIN:-$PWD/target/release/accord}
WORK=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2> /dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
PORT=$((20000 + RANDOM % 20000))
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
for n in a b; do "$ACCORD" --data-dir "$WORK/node-$n" init > /dev/null; done
sed -i "s/127.0.0.1:8443/127.0.0.1:$PORT/; s/^organisation = \"example-csirt\"$/organisation = \"partner-csirt\"/" "$WORK/node-b/accord.toml"
cat >> "$WORK/node-b/accord.toml" <<TOML

[[principals]]
name = "node-a"
organisation = "example-csirt"
roles = ["partner-node"]
read = ["*"]
write = ["default"]

[[partners]]
name = "node-a"
organisation = "example-csirt"
keys = ["$("$ACCORD" --data-dir "$WORK/node-a" keys show)"]
principal = "node-a"
TOML
"$ACCORD" --data-dir "$WORK/node-b" --json token create --principal node-a | json "d['bearer']" > "$WORK/node-a/secrets/b.token"
CB=$("$ACCORD" --data-dir "$WORK/node-b" --json collections | json "[c['id'] for c in d if c['alias']=='default'][0]")
cat >> "$WORK/node-a/accord.toml" <<TOML

[[partners]]
name = "node-b"
organisation = "partner-csirt"
keys = ["$("$ACCORD" --data-dir "$WORK/node-b" keys show)"]
taxii = ["https://127.0.0.1:$PORT/api/"]
principal = "demo-partner"
token_file = "secrets/b.token"
ca_file = "$WORK/node-b/tls/ca.pem"
requests_per_second = 1000
push = [{ local = "demo", remote = "$CB" }]
TOML
"$ACCORD" gen-corpus --count "$N" --seed 7 -o "$WORK/corpus.jsonl"
"$ACCORD" --data-dir "$WORK/node-a" import --collection demo "$WORK/corpus.jsonl" > /dev/null
${PERF_B:-} "$ACCORD" --data-dir "$WORK/node-b" serve > "$WORK/serve-b.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -s -o /dev/null --cacert "$WORK/node-b/tls/ca.pem" "https://127.0.0.1:$PORT/taxii2/" && break; sleep 0.2; done
cpu() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }
B0=$(cpu "$PID")
START=$(date +%s.%N)
/usr/bin/time -f "%U %S" -o "$WORK/time-a" ${PERF:-} "$ACCORD" --data-dir "$WORK/node-a" --json sync > "$WORK/sync.json"
END=$(date +%s.%N)
B1=$(cpu "$PID")
if [ -n "${AGAIN:-}" ]; then /usr/bin/time -f "again (nothing new): %e s, CPU %U+%S s" "$ACCORD" --data-dir "$WORK/node-a" --json sync > /dev/null; fi
SENT=$(json "d[0]['sent']" < "$WORK/sync.json")
HELD=$("$ACCORD" --data-dir "$WORK/node-b" --json collections | json "[c['versions'] for c in d if c['alias']=='default'][0]" 2>/dev/null || echo "?")
python3 - "$N" "$SENT" "$START" "$END" "$WORK/sync.json" "$(cat "$WORK/time-a")" "$B0" "$B1" <<'PY'
import json, sys
n, sent, start, end = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
cpu_a = sum(map(float, sys.argv[6].split()))
cpu_b = float(sys.argv[8]) - float(sys.argv[7])
report = json.load(open(sys.argv[5]))[0]
assert not report["errors"] and not report["refused"], report
assert sent == n - report["withheld"], report
secs = end - start
print(f"A -> B: {sent} of {n} objects sent ({report['withheld']} withheld by policy) in {secs:.1f} s: {sent / secs:,.0f} objects/s")
print(f"CPU: A {cpu_a:.1f} s ({cpu_a / sent * 1e6:.0f} us/object), B {cpu_b:.1f} s ({cpu_b / sent * 1e6:.0f} us/object)")
PY
