#!/usr/bin/env bash
# TAXII benchmarks, side by side with medallion (PyPI, memory backend), plain HTTP on loopback for
# both. Prints a Markdown table; BENCHMARKS.md records its output.
#   bench/taxii.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench-out/taxii
mkdir -p "$OUT"
cargo build --release -p accord >&2
cargo build --release -p accord-sync --example taxii-load >&2
ACCORD=$PWD/target/release/accord
VENV=bench-out/venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check medallion >&2
PY=$VENV/bin/python
MEDALLION_VERSION=$("$VENV/bin/pip" show medallion | awk '/^Version/ {print $2}')
# The same compiled TAXII client (accord-sync's) posts to and pages through both servers.
CLIENT=target/release/examples/taxii-load
# wrk (Debian) drives the concurrent GETs at saturation; oha (crates.io) the GETs at fixed rates.
command -v wrk > /dev/null || { apt-get update -q && apt-get install -y -q wrk; } >&2
OHA=target/oha/bin/oha
[ -x "$OHA" ] || cargo install -q oha --locked --root target/oha >&2

CORPUS=$OUT/corpus.jsonl
[ -f "$CORPUS" ] || "$ACCORD" gen-corpus --count 1000000 --seed 2 -o "$CORPUS"
shuf -n 1000 --random-source=<(yes) "$CORPUS" | "$PY" -c 'import json,sys; [print(json.loads(l)["id"]) for l in sys.stdin]' > "$OUT/ids.txt"

PORT=18443
. bench/servers.sh
field() { "$PY" -c "import json,sys; print(round(json.loads(sys.argv[1])[sys.argv[2]]))" "$1" "$2"; }
BASE=http://127.0.0.1:$PORT/api/

declare -A INGEST PAGE
for n in 10000 20000 100000 1000000; do
    start_accord
    r=$($CLIENT ingest "$BASE" "$COLL" "$AUSER" "$APASS" "$CORPUS" "$n" 1000)
    INGEST[$n]=$(field "$r" per_second)
    [ "$n" = 1000000 ] && SEGMENTS=$("$PY" -c "import json,sys; print(' / '.join(str(x) for x in json.loads(sys.argv[1])['segments_per_100k']))" "$r")
    if [ "$n" != 20000 ]; then
        r=$($CLIENT page "$BASE" "$COLL" "$AUSER" "$APASS" 1000)
        PAGE[$n]=$(field "$r" per_second)
    fi
done
# Single-object GET under 32 concurrent connections on the 1,000,000-object collection. The
# kernel still holds the ingest's writes (about a gigabyte) and would write them back during the
# measurement, in the way of the transparency log's fsyncs: write them first.
sync
AUTH="Basic $(printf '%s:%s' "$AUSER" "$APASS" | base64 -w0)"
IDS_FILE=$OUT/ids.txt OBJECTS_PATH=/api/collections/$COLL/objects/ AUTH=$AUTH \
    wrk -t2 -c32 -d15s --latency -s bench/single_get.lua "http://127.0.0.1:$PORT" > "$OUT/wrk.txt"
P50=$(awk '$1=="50%" {print $2}' "$OUT/wrk.txt")
P99=$(awk '$1=="99%" {print $2}' "$OUT/wrk.txt")
RPS=$(awk '/Requests\/sec/ {print int($2)}' "$OUT/wrk.txt")
ERRORS=$(grep -E "Non-2xx|Socket errors" "$OUT/wrk.txt" || true)
# The same GETs at fixed offered rates below saturation (oha, corrected for coordinated
# omission), the client pinned to one core and the server to the other, so that the latency is
# the server's and not the load generator's competing for the same core. Beside the client's
# percentiles, the server's own, from its access log (the handler's time, without the sockets).
sed "s|^|http://127.0.0.1:$PORT/api/collections/$COLL/objects/|; s|$|/|" "$OUT/ids.txt" > "$OUT/urls.txt"
CORES=$(nproc)
pin() { if [ "$CORES" -ge 2 ]; then taskset "$@"; else "${@:3}"; fi; }
[ "$CORES" -ge 2 ] && taskset -a -p -c 0 "$PID" > /dev/null
AT_RATE=
for q in 1000 2000 5000; do
    before=$(wc -l < "$OUT/serve.log")
    r=$(pin -c 1 "$OHA" -z 10s -c 32 -q "$q" --latency-correction --no-tui --output-format json \
        -H "Authorization: $AUTH" -H "Accept: application/taxii+json;version=2.1" --urls-from-file "$OUT/urls.txt")
    sleep 0.5 # the server writes its log in batches
    AT_RATE+=$(tail -n +"$((before + 1))" "$OUT/serve.log" | "$PY" -c "
import json,re,sys
d=json.loads(sys.argv[1]); p=d['latencyPercentiles']; bad=sum(n for c,n in d['statusCodeDistribution'].items() if c!='200')
server=sorted(int(m.group(1)) for l in sys.stdin if 'method=GET' in l for m in [re.search(r'latency_us=(\d+)', l)] if m)
at=lambda q: server[min(len(server)-1, int(q*(len(server)-1)))]/1e3 if server else float('nan')
print(f\"{sys.argv[2]}/s: client p50 {p['p50']*1e3:.2f}, p99 {p['p99']*1e3:.2f} ms; server p50 {at(0.5):.2f}, p99 {at(0.99):.2f} ms{f' ({bad} not 200)' if bad else ''}<br>\", end='')" "$r" "$q")
done
start_accord
r=$($CLIENT ingest "$BASE" "$COLL" "$AUSER" "$APASS" "$CORPUS" 1000000 10000)
INGEST_BIG=$(field "$r" per_second)
stop

MBASE=http://127.0.0.1:$PORT/bench/
start_medallion
r=$($CLIENT ingest "$MBASE" "$MCOLL" bench bench "$CORPUS" 20000 1000)
M_INGEST=$(field "$r" per_second)
head -n 20000 "$CORPUS" | "$PY" -c 'import json,sys; [print(json.loads(l)["id"]) for l in sys.stdin]' | shuf -n 50 --random-source=<(yes) \
    | sed "s|^|${MBASE}collections/$MCOLL/objects/|; s|$|/|" > "$OUT/murls.txt"
r=$("$OHA" -n 5 -c 1 --no-tui --output-format json -a bench:bench -H "Accept: application/taxii+json;version=2.1" \
    --urls-from-file "$OUT/murls.txt")
M_SINGLE=$("$PY" -c "import json,sys; print(f\"{json.loads(sys.argv[1])['latencyPercentiles']['p50']*1e3:.0f} ms\")" "$r")
start_medallion
$CLIENT ingest "$MBASE" "$MCOLL" bench bench "$CORPUS" 2000 1000 > /dev/null
r=$($CLIENT page "$MBASE" "$MCOLL" bench bench 1000)
M_PAGE=$(field "$r" per_second)
M_FIRST=$("$PY" -c "import json,sys; print(f\"{json.loads(sys.argv[1])['first_page_seconds']:.1f} s\")" "$r")
stop

ratio() { "$PY" -c "print(f'{$1 / $2:.0f}x')"; }
cat <<TABLE
| measurement | medallion $MEDALLION_VERSION | accord | ratio |
| --- | --- | --- | --- |
| POST ingest, 20,000 objects (objects/s) | $M_INGEST | ${INGEST[20000]} | $(ratio "${INGEST[20000]}" "$M_INGEST") |
| POST ingest, 10k / 100k / 1M objects (objects/s) | – | ${INGEST[10000]} / ${INGEST[100000]} / ${INGEST[1000000]} | – |
| POST ingest, 1M run, each successive 100k (objects/s) | – | $SEGMENTS | – |
| POST ingest, 1M objects in envelopes of 10,000 (objects/s) | – | $INGEST_BIG | – |
| paged GET, limit 1000 (objects/s) | $M_PAGE (2,000 objects; first page $M_FIRST) | 10k: ${PAGE[10000]} / 100k: ${PAGE[100000]} / 1M: ${PAGE[1000000]} | – |
| single-object GET, 32 connections, 1M collection (wrk) | p50 $M_SINGLE (sequential, 20k objects) | p50 $P50, p99 $P99, $RPS req/s | – |
| single-object GET, 32 connections, 1M collection, fixed offered rates (client on core 1, server on core 0) | – | ${AT_RATE%<br>} | – |
TABLE
[ -z "$ERRORS" ] || echo "wrk: $ERRORS"
