#!/usr/bin/env bash
# Starts a real accord server on loopback with TLS and checks it with the OASIS taxii2-client and
# stix2 libraries (tests/taxii/conformance.py), then checks that SIGTERM shuts it down cleanly.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/data/stix}
VENV=${VENV:-$ROOT/target/py-venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check taxii2-client==2.3.0 stix2==3.0.2 requests

cargo build -q -p accord
ACCORD=$ROOT/target/debug/accord
WORK=$(mktemp -d)
PID=
cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

NODE=$WORK/node
"$ACCORD" init "$NODE" > /dev/null
# Any free port; the server reports the one it got.
sed -i 's/^listen = .*/listen = "127.0.0.1:0"/' "$NODE/accord.toml"
# Client certificates: one pinned for a partner node, one that nobody pinned.
for who in partner rogue; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$who-node" \
        -keyout "$WORK/$who.key" -out "$WORK/$who.pem" 2> /dev/null
done
PARTNER_SHA256=$(openssl x509 -in "$WORK/partner.pem" -outform der | sha256sum | cut -d' ' -f1)
cat >> "$NODE/accord.toml" <<TOML

[[organisations]]
id = "partner-isac"
name = "Partner ISAC"
jurisdiction = "DE"
role = "isac"

[[principals]]
name = "reader"
organisation = "partner-isac"
read = ["demo"]

[[principals]]
name = "partner-node"
organisation = "partner-csirt"
read = ["demo"]
client_certificate_sha256 = "$PARTNER_SHA256"
TOML
cred() { "$ACCORD" --data-dir "$NODE" --json token create --principal "$1" | "$VENV/bin/python" -c 'import json,sys; t=json.load(sys.stdin); print(t["id"], t["secret"])'; }
read -r USER PASS <<< "$(cred demo-analyst)"
read -r RUSER RPASS <<< "$(cred reader)"

# An incident report with one stage submitted, for the obligation metrics the server exposes.
cat > "$WORK/report.json" <<'JSON'
{"organisation": {"name": "Example Bank AG", "home_jurisdiction": "DE", "time_zone": "Europe/Berlin", "entity_types": ["financial-entity"]},
 "clocks": {"aware": "2026-04-02T10:00:00Z", "classified_major": "2026-04-02T18:00:00Z"},
 "assessments": {"major": true}}
JSON
INCIDENT=$("$ACCORD" --data-dir "$NODE" --json obligations report "$WORK/report.json" --name "Outage" | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["incident"])')
"$ACCORD" --data-dir "$NODE" obligations submit "$INCIDENT" --regime eu-dora --stage initial --reference BaFin-1 --at 2026-04-02T20:00:00Z --by ciso > /dev/null

"$ACCORD" --data-dir "$NODE" serve 2> "$WORK/serve.log" &
PID=$!
ADDR=
for _ in $(seq 100); do
    ADDR=$(sed -n 's/^serving TAXII 2.1 on //p' "$WORK/serve.log")
    [ -n "$ADDR" ] && break
    sleep 0.1
done
[ -n "$ADDR" ] || { cat "$WORK/serve.log"; echo "server did not start" >&2; exit 1; }

# requests lets these variables override an explicit `verify`; the test trusts only the node's CA.
env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE "$VENV/bin/python" "$ROOT/tests/taxii/conformance.py" "https://$ADDR/taxii2/" "$USER" "$PASS" \
    "$NODE/tls/ca.pem" "$SHARED" "$RUSER" "$RPASS" "$WORK/partner.pem" "$WORK/partner.key" "$WORK/rogue.pem" "$WORK/rogue.key"

# Reload on SIGHUP: a broken configuration is refused (file and line logged) and the old policy
# stays in force; a good one takes effect.
wait_log() { for _ in $(seq 100); do grep -q "$1" "$WORK/serve.log" && return 0; sleep 0.1; done; cat "$WORK/serve.log" >&2; echo "no '$1' in the log" >&2; exit 1; }
cp "$NODE/accord.toml" "$WORK/accord.toml.good"
echo 'bogus_key = 1' >> "$NODE/accord.toml"
kill -HUP "$PID"
wait_log "configuration not reloaded"
grep "configuration not reloaded" "$WORK/serve.log" | grep -q "accord.toml:[0-9]*:[0-9]*: unknown field" \
    || { echo "reload error does not name file and line" >&2; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$NODE/tls/ca.pem" -u "$USER:$PASS" \
    -H 'Accept: application/taxii+json;version=2.1' "https://$ADDR/taxii2/")
[ "$code" = 200 ] || { echo "server stopped answering after a refused reload: $code" >&2; exit 1; }
sed 's/^default_tlp = "amber"/default_tlp = "amber+strict"/' "$WORK/accord.toml.good" > "$NODE/accord.toml"
kill -HUP "$PID"
wait_log "configuration reloaded"
echo "policy reload: 3 passed, 0 failed"

# The transparency log, as an oversight body sees it: over TLS with its own token (issued while the
# server runs, so the command line and the server append to one log), verified against the pinned
# key, queried for metadata, and never a way to object content.
read -r OUSER OPASS <<< "$(cred demo-oversight)"
VKEY=$("$ACCORD" --data-dir "$NODE" audit key)
audit() { "$ACCORD" "$@" --from "https://$ADDR" --token "$OUSER.$OPASS" --ca "$NODE/tls/ca.pem"; }
curl -s -o /dev/null --cacert "$NODE/tls/ca.pem" -X POST -H "Authorization: Bearer $OUSER.$OPASS" "https://$ADDR/audit/v1/checkpoint"
out=$(audit audit verify --key "$VKEY" --state "$WORK/monitor") || { echo "$out" >&2; echo "audit verify --from failed" >&2; exit 1; }
echo "$out" | grep -q '^OK: ' || { echo "$out" >&2; exit 1; }
audit --json audit query --kind config | "$VENV/bin/python" -c '
import json, sys
q = json.load(sys.stdin)
reasons = [e["reason"] for e in q["entries"]]
assert reasons[:2] == ["start", "reload"], reasons
assert all(len(e["config_sha256"]) == 64 for e in q["entries"]), q'
audit --json audit query --kind share --principal demo-analyst | "$VENV/bin/python" -c '
import json, sys
q = json.load(sys.stdin)
assert q["total"] > 0 and all(e["objects"] for e in q["entries"]), q["total"]'
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$NODE/tls/ca.pem" -H "Authorization: Bearer $OUSER.$OPASS" \
    -H 'Accept: application/taxii+json;version=2.1' "https://$ADDR/api/collections/$(sed -n 's/^id = "\(.*\)"/\1/p' "$NODE/accord.toml" | sed -n 2p)/objects/")
[ "$code" = 403 ] || { echo "oversight read objects: $code" >&2; exit 1; }
echo "transparency log over TLS: 4 passed, 0 failed"

# Time to notify, per regime and stage, in /metrics: the DORA initial notification was submitted
# two hours after classification (its clock); the intermediate report is overdue.
metrics=$(curl -s --cacert "$NODE/tls/ca.pem" -u "$USER:$PASS" "https://$ADDR/metrics")
echo "$metrics" | grep -q '^accord_obligation_time_to_notify_seconds{regime="eu-dora",stage="initial"} 7200' \
    || { echo "$metrics" | grep obligation >&2; echo "no time-to-notify metric" >&2; exit 1; }
echo "$metrics" | grep -q '^accord_obligations_overdue{regime="eu-dora",stage="intermediate"} 1' \
    || { echo "$metrics" | grep obligation >&2; echo "no overdue metric" >&2; exit 1; }
echo "obligation metrics: 2 passed, 0 failed"

kill -TERM "$PID"
if wait "$PID"; then
    echo "graceful shutdown: 1 passed, 0 failed"
else
    echo "server exited with $? on SIGTERM" >&2
    exit 1
fi
PID=
# After shutdown the log still verifies from the data directory, and it contains the checkpoint
# the monitor accepted over TLS.
out=$("$ACCORD" --data-dir "$NODE" audit verify --key "$VKEY" --state "$WORK/monitor") || { echo "$out" >&2; exit 1; }
echo "$out" | grep -q "consistent with the checkpoint seen before" || { echo "$out" >&2; exit 1; }
echo "transparency log after shutdown: 1 passed, 0 failed"
