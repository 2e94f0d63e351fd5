#!/usr/bin/env bash
# `accord sync` against a TAXII 2.1 server nobody here wrote: medallion (PyPI, memory backend) on
# loopback. Accord pulls a collection medallion holds (following `next` over pages of two) and
# pushes one of its own (the policy decides for the partner's principal: TLP:RED stays home;
# what leaves is signed; medallion's max_content_length is set so small that the push needs
# several envelopes, and one object exceeds it alone), then runs again and moves nothing; new objects on medallion arrive on
# the next run; the transparency log verifies.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${VENV:-$ROOT/target/py-venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check medallion==3.0.0 taxii2-client==2.3.0
cargo build -q -p accord
ACCORD=$ROOT/target/debug/accord
WORK=$(mktemp -d)
PORT=$((20000 + RANDOM % 20000))
MED_PID=
cleanup() { [ -n "$MED_PID" ] && kill "$MED_PID" 2> /dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
FROM=91a7b528-80eb-42ed-a74d-c6fbd5a26116
LIMIT=1500
TO=52892447-4d7e-4f70-b94d-d7f22742ff63
cat > "$WORK/data.json" <<JSON
{"/discovery": {"title": "test", "api_roots": ["http://127.0.0.1:$PORT/api1/"], "default": "http://127.0.0.1:$PORT/api1/"},
 "api1": {"information": {"title": "api1", "versions": ["application/taxii+json;version=2.1"], "max_content_length": $LIMIT},
          "status": [],
          "collections": [
            {"id": "$FROM", "title": "from-accord", "can_read": true, "can_write": true, "media_types": ["application/stix+json;version=2.1"], "objects": [], "manifest": []},
            {"id": "$TO", "title": "to-accord", "can_read": true, "can_write": true, "media_types": ["application/stix+json;version=2.1"], "objects": [], "manifest": []}]}}
JSON
cat > "$WORK/medallion.json" <<JSON
{"backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend", "filename": "$WORK/data.json"},
 "users": {"accord": "s3cret"}, "taxii": {"max_page_size": 2}}
JSON
"$VENV/bin/medallion" --host 127.0.0.1 --port "$PORT" --log-level ERROR "$WORK/medallion.json" > "$WORK/medallion.log" 2>&1 &
MED_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/taxii2/" && break; sleep 0.2; done

NODE=$WORK/node
"$ACCORD" --data-dir "$NODE" init > /dev/null
echo s3cret > "$NODE/secrets/medallion.password"
cat >> "$NODE/accord.toml" <<TOML

[[partners]]
name = "medallion"
organisation = "partner-csirt"
keys = []
signed = false
taxii = ["http://127.0.0.1:$PORT/api1/"]
principal = "demo-partner"
user = "accord"
password_file = "secrets/medallion.password"
pull = [{ remote = "$TO", local = "default" }]
push = [{ local = "demo", remote = "$FROM" }]
TOML
PY=$VENV/bin/python
"$PY" "$ROOT/tests/sync/check.py" seed "http://127.0.0.1:$PORT/api1/" "$TO" 5 "$WORK/push.json"
"$ACCORD" --data-dir "$NODE" import --collection demo "$WORK/push.json" > /dev/null
# The first run names the object medallion cannot take in any envelope, so it exits 1.
if "$ACCORD" --data-dir "$NODE" --json sync > "$WORK/first.json"; then
    echo "the first sync should have reported the oversized object and exited 1" >&2
    exit 1
fi
"$ACCORD" --data-dir "$NODE" --json sync > "$WORK/second.json"
"$PY" "$ROOT/tests/sync/check.py" seed "http://127.0.0.1:$PORT/api1/" "$TO" 2 /dev/null 100
"$ACCORD" --data-dir "$NODE" --json sync > "$WORK/third.json"
"$PY" "$ROOT/tests/sync/check.py" verify "http://127.0.0.1:$PORT/api1/" "$FROM" "$WORK" "$LIMIT"
# The log lists as shared exactly what medallion received: neither the object too large as
# released nor the one only its signature made too large.
"$ACCORD" --data-dir "$NODE" --json audit query --kind share --principal demo-partner | "$PY" -c '
import json, sys
shared = sorted(o["id"] for e in json.load(sys.stdin)["entries"] for o in e["objects"])
assert shared == ["indicator--%08d-17d4-4cbf-938f-98ee46b3cd3f" % n for n in (1001, 1002, 1004)], shared'
"$ACCORD" --data-dir "$NODE" audit verify --key "$("$ACCORD" --data-dir "$NODE" audit key)" --state "$WORK/monitor" > /dev/null
echo "sync with medallion: OK"
