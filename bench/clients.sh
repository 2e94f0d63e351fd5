#!/usr/bin/env bash
# The shapes TAXII clients actually send, side by side with medallion (PyPI, memory backend),
# through taxii2-client: envelopes of 1, 10 and 500 objects, each waited for with the client's own
# wait_for_completion (default poll interval, 1 s); the MITRE ATT&CK for ICS 18.1 bundle in
# envelopes of 500, each waited for, then paged, then 200 single GETs by id. Each measurement
# runs on a fresh server, Accord then medallion, so the two see the same machine at nearly the
# same moment. Plain HTTP on loopback for both. Prints a Markdown table (BENCHMARKS.md).
#   bench/clients.sh       ROUNDS=2 runs every measurement twice; SHAPES="1:200 10:100 500:8"
#                          sets the envelope sizes and how many of each are posted;
#                          ACCORD_BIN=path measures another build of accord
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench-out/clients
mkdir -p "$OUT"
cargo build --release -p accord >&2
ACCORD=${ACCORD_BIN:-$PWD/target/release/accord}
VENV=bench-out/venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check medallion taxii2-client >&2
PY=$VENV/bin/python
MEDALLION_VERSION=$("$VENV/bin/pip" show medallion | awk '/^Version/ {print $2}')
ATTACK=$(cd .. && pwd)/shared/data/stix/attack/ics-attack-18.1.json
CORPUS=$OUT/corpus.jsonl
[ -f "$CORPUS" ] || "$ACCORD" gen-corpus --count 20000 --seed 5 -o "$CORPUS"
ROUNDS=${ROUNDS:-1}

PORT=18444
. bench/servers.sh

# Sets URL, USER and PASSWORD for the collection of a fresh SERVER.
accord() {
    start_accord
    URL=http://127.0.0.1:$PORT/api/collections/$COLL/
    USER=$AUSER
    PASSWORD=$APASS
}
medallion() {
    start_medallion
    URL=http://127.0.0.1:$PORT/bench/collections/$MCOLL/
    USER=bench
    PASSWORD=bench
}

# run SERVER ARGS...: the client's JSON line for one measurement on a fresh SERVER.
run() {
    local server=$1
    shift
    "$server"
    "$PY" bench/taxii_clients.py "$1" "$URL" "$USER" "$PASSWORD" "${@:2}"
    stop
}

# The p50 of the POSTs' handling in the last Accord run, from its access log (ms).
server_p50() {
    grep "method=POST" "$OUT/serve.log" | grep -o "latency_us=[0-9]*" | cut -d= -f2 | sort -n \
        | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'
}
field() { "$PY" -c "import json,sys; v=json.loads(sys.argv[1]); [v := v[k] for k in sys.argv[2:]]; print(v)" "$@"; }
ratio() { "$PY" -c "print(f'{$1 / $2:.1f}x')"; }

echo "| measurement | medallion $MEDALLION_VERSION | accord | accord / medallion |"
echo "| --- | --- | --- | --- |"
for round in $(seq "$ROUNDS"); do
    for shape in ${SHAPES:-1:200 10:100 500:8}; do
        IFS=: read -r size count <<< "$shape"
        a=$(run accord post "$CORPUS" "$size" "$count")
        handled=$(server_p50)
        m=$(run medallion post "$CORPUS" "$size" "$count")
        echo "| waited POSTs of $size (p50 / p99; envelopes/s) | $(field "$m" p50_ms) / $(field "$m" p99_ms) ms; $(field "$m" envelopes_per_second)/s | $(field "$a" p50_ms) / $(field "$a" p99_ms) ms; $(field "$a" envelopes_per_second)/s (handled in $handled ms, p50) | $(ratio "$(field "$a" envelopes_per_second)" "$(field "$m" envelopes_per_second)") |"
        [ "$size" = 1 ] && echo "| the client's floor: taxii2-client GET of a status, p50 (the most the ratio above can be: medallion's p50 / accord's floor) | $(field "$m" floor_ms) ms | $(field "$a" floor_ms) ms | $(ratio "$(field "$m" p50_ms)" "$(field "$a" floor_ms)") at most |"
    done
    a=$(run accord attack "$ATTACK")
    m=$(run medallion attack "$ATTACK")
    echo "| ATT&CK ICS 18.1, 1,826 objects in waited envelopes of 500 (objects/s) | $(field "$m" post objects_per_second) | $(field "$a" post objects_per_second) | $(ratio "$(field "$a" post objects_per_second)" "$(field "$m" post objects_per_second)") |"
    echo "| ATT&CK ICS: page the collection, 1,000 per page (objects/s) | $(field "$m" page objects_per_second) | $(field "$a" page objects_per_second) | $(ratio "$(field "$a" page objects_per_second)" "$(field "$m" page objects_per_second)") |"
    echo "| ATT&CK ICS: 200 single GETs by id (p50 / p99) | $(field "$m" get p50_ms) / $(field "$m" get p99_ms) ms | $(field "$a" get p50_ms) / $(field "$a" get p99_ms) ms | $(ratio "$(field "$m" get p50_ms)" "$(field "$a" get p50_ms)") (p50) |"
done
