#!/usr/bin/env bash
# Three real nodes on loopback over TLS, each its own process and data directory:
#   A  a national CSIRT (example-csirt, DE), pushes to B;
#   B  a partner CSIRT abroad (partner-csirt, FR), serves TAXII, pushes to C and back to A;
#   C  a sector ISAC (example-isac, DE), serves TAXII; pins A's key and lets B relay for A.
# Checked end to end: what A sends B is what its policy allows (TLP:GREEN goes; RED and
# AMBER+STRICT stay home); signatures verify at every hop (B and C admit through their TAXII
# POST checks); the object B passes to C keeps A's signature and is never sent back to A;
# objects signed by an unpinned key, or altered in transit, are quarantined and logged; every
# node's transparency log verifies.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cargo build -q -p accord
ACCORD=$ROOT/target/debug/accord
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
BASE=$((20000 + RANDOM % 20000))
declare -A PORT=([a]=$BASE [b]=$((BASE + 1)) [c]=$((BASE + 2)))
declare -A ORG=([a]=example-csirt [b]=partner-csirt [c]=example-isac)
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
for n in a b c; do
    "$ACCORD" --data-dir "$WORK/node-$n" init > /dev/null
    sed -i "s/127.0.0.1:8443/127.0.0.1:${PORT[$n]}/; s/^organisation = \"example-csirt\"$/organisation = \"${ORG[$n]}\"/" "$WORK/node-$n/accord.toml"
    cat >> "$WORK/node-$n/accord.toml" <<TOML

[[organisations]]
id = "example-isac"
name = "Example energy ISAC"
jurisdiction = "DE"
role = "isac"
sectors = ["energy"]
TOML
done
# C's own agreement with B (the default one, rewritten), and B's agreement with C.
sed -i 's/^parties = \["example-csirt", "partner-csirt"\]$/parties = ["example-isac", "partner-csirt"]/' "$WORK/node-c/accord.toml"
for n in b; do
    cat >> "$WORK/node-$n/accord.toml" <<TOML

[[agreements]]
id = "b-c"
title = "Partner CSIRT and ISAC"
parties = ["partner-csirt", "example-isac"]
tlp = ["clear", "green"]
purposes = ["situational-awareness", "detection", "incident-response"]
legal_bases = ["gdpr-6-1-e"]
data_categories = ["network-identifier"]
redaction_profile = "strict"
max_retention_days = 365
onward_sharing = "tlp"
valid_from = "2026-01-01T00:00:00Z"
TOML
done
key() { "$ACCORD" --data-dir "$WORK/node-$1" keys show; }
coll() { "$ACCORD" --data-dir "$WORK/node-$1" --json collections | json "[c['id'] for c in d if c['alias']=='default'][0]"; }
token() { "$ACCORD" --data-dir "$WORK/node-$1" --json token create --principal "$2" | json "d['bearer']"; }
KA=$(key a); KB=$(key b); KC=$(key c)
CB=$(coll b); CC=$(coll c); CA=$(coll a)

# Principals the pushing nodes use, with write access.
cat >> "$WORK/node-b/accord.toml" <<TOML

[[principals]]
name = "node-a"
organisation = "example-csirt"
roles = ["partner-node"]
read = ["*"]
write = ["default"]
purposes = ["detection", "situational-awareness"]
default_purpose = "detection"

[[principals]]
name = "node-c"
organisation = "example-isac"
roles = ["partner-node"]
read = ["*"]
write = []
purposes = ["detection", "situational-awareness"]
default_purpose = "detection"
TOML
# B reaches C over mTLS: a client certificate C pins for its principal node-b, no token.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=node-b" \
    -keyout "$WORK/node-b/secrets/c-client.key" -out "$WORK/node-b/secrets/c-client.pem" 2> /dev/null
B_CERT_SHA256=$(openssl x509 -in "$WORK/node-b/secrets/c-client.pem" -outform der | sha256sum | cut -d' ' -f1)
cat >> "$WORK/node-c/accord.toml" <<TOML

[[principals]]
name = "node-b"
client_certificate_sha256 = "$B_CERT_SHA256"
organisation = "partner-csirt"
roles = ["partner-node"]
read = ["*"]
write = ["default"]
purposes = ["detection", "situational-awareness"]
default_purpose = "detection"
TOML
token b node-a > "$WORK/node-a/secrets/b.token"
token a demo-partner > "$WORK/node-b/secrets/a.token"

cat >> "$WORK/node-a/accord.toml" <<TOML

[[partners]]
name = "node-b"
organisation = "partner-csirt"
keys = ["$KB"]
taxii = ["https://127.0.0.1:${PORT[b]}/api/"]
principal = "demo-partner"
token_file = "secrets/b.token"
ca_file = "$WORK/node-b/tls/ca.pem"
reliability = "B"
push = [{ local = "default", remote = "$CB" }]
TOML
cat >> "$WORK/node-b/accord.toml" <<TOML

[[partners]]
name = "node-a"
organisation = "example-csirt"
keys = ["$KA"]
taxii = ["https://127.0.0.1:${PORT[a]}/api/"]
principal = "node-a"
token_file = "secrets/a.token"
ca_file = "$WORK/node-a/tls/ca.pem"
reliability = "A"
pull = [{ remote = "$CA", local = "default" }]
push = [{ local = "default", remote = "$CA" }]

[[partners]]
name = "node-c"
organisation = "example-isac"
keys = ["$KC"]
taxii = ["https://127.0.0.1:${PORT[c]}/api/"]
principal = "node-c"
client_cert = "secrets/c-client.pem"
client_key = "secrets/c-client.key"
ca_file = "$WORK/node-c/tls/ca.pem"
reliability = "B"
push = [{ local = "default", remote = "$CC" }]

# A partner whose node is down (nothing listens there): it must not hold up the others.
[[partners]]
name = "node-dead"
organisation = "example-isac"
keys = []
signed = false
taxii = ["https://127.0.0.1:$((BASE + 3))/api/"]
principal = "demo-partner"
token_file = "secrets/a.token"
ca_file = "$WORK/node-c/tls/ca.pem"
push = [{ local = "default", remote = "$CC" }]
TOML
cat >> "$WORK/node-c/accord.toml" <<TOML

[[partners]]
name = "node-b"
organisation = "partner-csirt"
keys = ["$KB"]
principal = "node-b"
reliability = "B"
relays_for = ["node-a"]

[[partners]]
name = "node-a"
organisation = "example-csirt"
keys = ["$KA"]
reliability = "A"
TOML

for n in a b c; do
    "$ACCORD" --data-dir "$WORK/node-$n" serve > "$WORK/serve-$n.log" 2>&1 &
    PIDS+=($!)
done
for n in a b c; do
    for _ in $(seq 100); do
        curl -s -o /dev/null --cacert "$WORK/node-$n/tls/ca.pem" "https://127.0.0.1:${PORT[$n]}/taxii2/" && break
        sleep 0.2
    done
done

# A's objects: GREEN may go to B; RED and AMBER+STRICT may not.
python3 - "$WORK/a.json" <<'PY'
import json, sys
marks = {"green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
         "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
         "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"}
objs = []
for n, tlp in enumerate(["green", "red", "amber+strict"], 1):
    objs.append({"type": "indicator", "spec_version": "2.1", "id": "indicator--0000000%d-17d4-4cbf-938f-98ee46b3cd3f" % n,
                 "created": "2026-02-01T00:00:00.000Z", "modified": "2026-02-01T00:00:00.000Z", "name": "tlp " + tlp,
                 "pattern": "[ipv4-addr:value = '198.51.100.%d']" % n, "pattern_type": "stix",
                 "valid_from": "2026-02-01T00:00:00Z", "object_marking_refs": [marks[tlp]]})
# Personal data: an analyst's e-mail address, which agreements minimise on the way out.
objs.append({"type": "email-addr", "spec_version": "2.1", "id": "email-addr--9a7f9a3b-9c3e-5d5a-8f3c-6b0a3f8c1e21",
             "value": "jane.doe@example.org", "object_marking_refs": [marks["green"]]})
json.dump({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-00000000000a", "objects": objs}, open(sys.argv[1], "w"))
PY
"$ACCORD" --data-dir "$WORK/node-a" import "$WORK/a.json" > /dev/null
"$ACCORD" --data-dir "$WORK/node-a" --json sync > "$WORK/sync-a.json"
sleep 1
"$ACCORD" --data-dir "$WORK/node-b" --json sync > "$WORK/sync-b.json" || true
sleep 1
python3 - "$WORK" "$ACCORD" <<'PY'
import json, subprocess, sys
work, accord = sys.argv[1], sys.argv[2]
PROV = "extension-definition--0c0ba5b6-4a8e-4f1d-9a57-7f5f2a3a2e10"
def run(node, *args):
    return subprocess.run([accord, "--data-dir", f"{work}/node-{node}", *args], capture_output=True, text=True)
def stored(node):
    out = run(node, "export", "--format", "jsonl").stdout
    return {o["id"]: o for o in map(json.loads, filter(None, out.splitlines()))}
a = json.load(open(f"{work}/sync-a.json"))[0]
assert (a["sent"], a["withheld"], a["errors"]) == (2, 2, []), a
b_report = {r["partner"]: r for r in json.load(open(f"{work}/sync-b.json"))}
assert b_report["node-c"]["sent"] == 2 and not b_report["node-c"]["errors"], b_report
# The dead partner failed on its own thread, after its retries; the live ones were served.
assert b_report["node-dead"]["errors"] and b_report["node-dead"]["sent"] == 0, b_report["node-dead"]
assert b_report["node-a"]["not_echoed"] == 2 and b_report["node-a"]["sent"] == 0, b_report["node-a"]
# What was not sent back is not in B's log as shared with A either.
shares = json.loads(run("b", "--json", "audit", "query", "--kind", "share", "--principal", "node-a").stdout)
assert not [e for e in shares["entries"] if e["channel"] == "sync"], shares
green = "indicator--00000001-17d4-4cbf-938f-98ee46b3cd3f"
b, c = stored("b"), stored("c")
# The e-mail address arrives pseudonymised, under the id its new value gives it.
assert sorted(o["type"] for o in b.values()) == ["email-addr", "indicator"], list(b)
assert sorted(o["type"] for o in c.values()) == ["email-addr", "indicator"], list(c)
assert green in b and green in c
# B got the address pseudonymised, in a copy A signed as its redactor, linked to A's original.
eb = next(o for o in b.values() if o["type"] == "email-addr")
ec = next(o for o in c.values() if o["type"] == "email-addr")
assert eb["value"].endswith("@pseudonym.invalid") and "jane" not in eb["value"], eb
assert eb["extensions"][PROV]["signer"] == "node-a" and eb["extensions"][PROV]["original_hash"], eb
# C got B's own pseudonym of it (B's agreement with C minimises again), signed by B.
assert ec["value"].endswith("@pseudonym.invalid") and ec["value"] != eb["value"], ec
assert ec["extensions"][PROV]["signer"] == "node-b" and ec["extensions"][PROV]["original_hash"], ec
print("B holds A's pseudonym of the e-mail address, C holds B's; each copy signed by the node that minimised it")
assert b[green]["extensions"][PROV]["signer"] == "node-a"
assert c[green]["extensions"][PROV]["signer"] == "node-a", c[green]["extensions"][PROV]
assert c[green]["extensions"][PROV]["path"] == ["node-b"], c[green]["extensions"][PROV]
print("A -> B -> C: GREEN arrives with A's signature and path [node-b]; RED and AMBER+STRICT stay on A; nothing echoed to A")
PY
# B reached C with its client certificate alone; a certificate C has not pinned (and no token)
# is not let in.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=node-b" \
    -keyout "$WORK/stranger.key" -out "$WORK/stranger.pem" 2> /dev/null
for cert in "$WORK/node-b/secrets/c-client" "$WORK/stranger"; do
    curl -s -o /dev/null -w "%{http_code} " --cacert "$WORK/node-c/tls/ca.pem" --cert "$cert.pem" --key "$cert.key" \
        -H "Accept: application/taxii+json;version=2.1" "https://127.0.0.1:${PORT[c]}/api/collections/"
done > "$WORK/mtls.txt"
[ "$(cat "$WORK/mtls.txt")" = "200 401 " ] || { echo "mTLS: expected 200 then 401, got $(cat "$WORK/mtls.txt")"; exit 1; }
echo "mTLS: B's pinned client certificate is node-b on C; an unpinned one gets 401"

# B pulls from A: A signs what B's principal reads, B verifies it, and passes it on to C.
python3 - "$WORK/a4.json" <<'PY'
import json, sys
o = {"type": "indicator", "spec_version": "2.1", "id": "indicator--00000004-17d4-4cbf-938f-98ee46b3cd3f",
     "created": "2026-02-02T00:00:00.000Z", "modified": "2026-02-02T00:00:00.000Z", "name": "pulled",
     "pattern": "[ipv4-addr:value = '198.51.100.4']", "pattern_type": "stix", "valid_from": "2026-02-02T00:00:00Z",
     "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]}
json.dump(o, open(sys.argv[1], "w"))
PY
"$ACCORD" --data-dir "$WORK/node-a" import "$WORK/a4.json" > /dev/null
# Partners are synchronised in parallel, so what B pulls reaches C on B's next run.
"$ACCORD" --data-dir "$WORK/node-b" --json sync > "$WORK/sync-b2.json" || true
"$ACCORD" --data-dir "$WORK/node-b" --json sync > "$WORK/sync-b3.json" || true
python3 - "$WORK" "$ACCORD" <<'PY'
import json, subprocess, sys
work, accord = sys.argv[1], sys.argv[2]
PROV = "extension-definition--0c0ba5b6-4a8e-4f1d-9a57-7f5f2a3a2e10"
r = {x["partner"]: x for x in json.load(open(f"{work}/sync-b2.json"))}
r3 = {x["partner"]: x for x in json.load(open(f"{work}/sync-b3.json"))}
assert (r["node-a"]["received"], r["node-a"]["quarantined"], r["node-a"]["errors"]) == (1, 0, []), r["node-a"]
assert r["node-c"]["sent"] + r3["node-c"]["sent"] == 1 and not r3["node-c"]["errors"], (r["node-c"], r3["node-c"])
pulled = "indicator--00000004-17d4-4cbf-938f-98ee46b3cd3f"
for node in "bc":
    out = subprocess.run([accord, "--data-dir", f"{work}/node-{node}", "export", "--format", "jsonl"],
                         capture_output=True, text=True, check=True).stdout
    objs = {o["id"]: o for o in map(json.loads, filter(None, out.splitlines()))}
    assert objs[pulled]["extensions"][PROV]["signer"] == "node-a", (node, objs[pulled])
print("B pulled from A (signed on A's TAXII read, verified on B) and relayed it to C")
PY

# Corroboration: C reports the same observable A did; two distinct originators, as an opinion.
python3 - "$WORK/c-own.json" <<'PY'
import json, sys
json.dump({"type": "indicator", "spec_version": "2.1", "id": "indicator--000000c1-17d4-4cbf-938f-98ee46b3cd3f",
           "created": "2026-02-03T00:00:00.000Z", "modified": "2026-02-03T00:00:00.000Z", "name": "seen at C",
           "pattern": "[ipv4-addr:value='198.51.100.1']", "pattern_type": "stix",
           "valid_from": "2026-02-03T00:00:00Z"}, open(sys.argv[1], "w"))
PY
"$ACCORD" --data-dir "$WORK/node-c" import "$WORK/c-own.json" > /dev/null
"$ACCORD" --data-dir "$WORK/node-c" --json corroboration > "$WORK/corroboration.json"
python3 - "$WORK/corroboration.json" <<'PY'
import json, sys
ops = [o for o in json.load(open(sys.argv[1]))["objects"] if o["type"] == "opinion"]
assert len(ops) == 1 and ops[0]["x_accord_corroboration"] == 2, ops
assert "node-a" in ops[0]["explanation"] and "node-c" in ops[0]["explanation"], ops
# With the grades C gives its sources (node-a: A in its [[partners]]; itself: A): two reliable ones.
assert ops[0]["x_accord_source_reliability"] == {"node-a": "A", "node-c": "A"}, ops
assert ops[0]["opinion"] == "strongly-agree", ops
print("C: the pattern is corroborated by node-a and node-c:", ops[0]["explanation"])
PY

# A rogue signer posting as node-a, and an object altered in transit: both quarantined by B.
python3 - "$WORK" "$ACCORD" "${PORT[b]}" "$CB" <<'PY'
import json, subprocess, sys, urllib.request, ssl
work, accord, port, coll = sys.argv[1:5]
PROV = "extension-definition--0c0ba5b6-4a8e-4f1d-9a57-7f5f2a3a2e10"
def run(node, *args):
    r = subprocess.run([accord, "--data-dir", f"{work}/node-{node}", *args], capture_output=True, text=True)
    return r.stdout
# C signs an object of its own (C is not A): posted under node-a's credential it must be refused.
own = {"type": "indicator", "spec_version": "2.1", "id": "indicator--0000000c-17d4-4cbf-938f-98ee46b3cd3f",
       "created": "2026-03-01T00:00:00.000Z", "modified": "2026-03-01T00:00:00.000Z", "name": "from C",
       "pattern": "[ipv4-addr:value = '198.51.100.99']", "pattern_type": "stix", "valid_from": "2026-03-01T00:00:00Z"}
open(f"{work}/own.json", "w").write(json.dumps(own))
def signed_by(node):
    run(node, "import", f"{work}/own.json")
    return next(o for o in map(json.loads, run(node, "export", "--sign", "--format", "jsonl").splitlines())
                if o["id"] == own["id"])
c_signed = signed_by("c")
# D: a rogue node nobody pinned.
subprocess.run([accord, "--data-dir", f"{work}/node-d", "init"], capture_output=True, check=True)
d_signed = signed_by("d")
a_signed = json.loads(run("a", "export", "--sign", "--format", "jsonl").splitlines()[0])
altered = dict(a_signed, name="altered in transit", modified="2026-03-02T00:00:00.000Z")
token = open(f"{work}/node-a/secrets/b.token").read().strip()
ctx = ssl.create_default_context(cafile=f"{work}/node-b/tls/ca.pem")
req = urllib.request.Request(
    f"https://127.0.0.1:{port}/api/collections/{coll}/objects/", method="POST",
    data=json.dumps({"objects": [c_signed, altered, d_signed]}).encode(),
    headers={"Authorization": "Bearer " + token, "Content-Type": "application/taxii+json;version=2.1",
             "Accept": "application/taxii+json;version=2.1"})
status = json.load(urllib.request.urlopen(req, context=ctx))
import time
for _ in range(100):
    r = urllib.request.Request(f"https://127.0.0.1:{port}/api/status/{status['id']}/",
                               headers={"Authorization": "Bearer " + token, "Accept": "application/taxii+json;version=2.1"})
    status = json.load(urllib.request.urlopen(r, context=ctx))
    if status["status"] == "complete":
        break
    time.sleep(0.1)
assert status["failure_count"] == 3 and status["success_count"] == 0, status
messages = sorted(f["message"] for f in status["failures"])
assert messages[0] == 'quarantined: "node-a" may not relay objects signed by "node-c"', messages
assert "not pinned" in messages[1] and "node-d" in messages[1], messages
assert messages[2].startswith("quarantined: the signature does not match"), messages
q = json.loads(run("b", "--json", "quarantine"))
assert len(q) == 3, q
print("B quarantined a relay it did not allow, an unpinned signer and an object altered in transit")
PY

# Key rotation while the nodes run: A rotates its key, B and C accept the statement, and all
# reload on SIGHUP (no restart). What A signs next verifies on B under the new key, whether A's sync pushes
# it or B pulls it through A's TAXII server; without the reloads B would quarantine it (a new key
# it has not pinned, or the retired key signing after its retirement).
"$ACCORD" --data-dir "$WORK/node-a" keys rotate -o "$WORK/rotation.json" > /dev/null 2>&1
# C pins A's key too (for what B relays): it accepts the same statement.
for n in b c; do "$ACCORD" --data-dir "$WORK/node-$n" partners accept-rotation "$WORK/rotation.json" > /dev/null; done
for i in 0 1 2; do kill -HUP "${PIDS[$i]}"; done
for n in a b c; do
    for _ in $(seq 50); do grep -q "new policy and partners in force" "$WORK/serve-$n.log" && break; sleep 0.1; done
    grep -q "new policy and partners in force" "$WORK/serve-$n.log" || { echo "node-$n did not reload"; exit 1; }
done
python3 - "$WORK/a5.json" <<'PY'
import json, sys
json.dump({"type": "indicator", "spec_version": "2.1", "id": "indicator--00000005-17d4-4cbf-938f-98ee46b3cd3f",
           "created": "2026-02-05T00:00:00.000Z", "modified": "2026-02-05T00:00:00.000Z", "name": "after rotation",
           "pattern": "[ipv4-addr:value = '198.51.100.5']", "pattern_type": "stix", "valid_from": "2026-02-05T00:00:00Z",
           "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]}, open(sys.argv[1], "w"))
PY
"$ACCORD" --data-dir "$WORK/node-a" import "$WORK/a5.json" > /dev/null
"$ACCORD" --data-dir "$WORK/node-a" --json sync > "$WORK/sync-a5.json" || { cat "$WORK/sync-a5.json"; tail -5 "$WORK/serve-b.log"; exit 1; }
"$ACCORD" --data-dir "$WORK/node-b" --json sync --partner node-a > "$WORK/pull-a5.json"
sleep 1
python3 - "$WORK" "$ACCORD" <<'PY'
import json, subprocess, sys
work, accord = sys.argv[1], sys.argv[2]
PROV = "extension-definition--0c0ba5b6-4a8e-4f1d-9a57-7f5f2a3a2e10"
new_key = json.load(open(f"{work}/rotation.json"))["new_key"].split("+")[1]
push = json.load(open(f"{work}/sync-a5.json"))[0]
pull = json.load(open(f"{work}/pull-a5.json"))[0]
# Two sent: the new indicator, and the one B pulled earlier, now re-signed under the new key; B
# keeps the copy it holds (the same version, differing only in its signature), not a conflict.
assert push["sent"] == 2 and not push["errors"] and not push["refused"], push
assert pull["quarantined"] == 0 and not pull["errors"], pull
out = subprocess.run([accord, "--data-dir", f"{work}/node-b", "export", "--format", "jsonl"],
                     capture_output=True, text=True, check=True).stdout
held = {o["id"]: o for o in map(json.loads, filter(None, out.splitlines()))}
assert held["indicator--00000005-17d4-4cbf-938f-98ee46b3cd3f"]["extensions"][PROV]["key_id"] == new_key
assert held["indicator--00000004-17d4-4cbf-938f-98ee46b3cd3f"]["extensions"][PROV]["key_id"] != new_key
assert len(json.loads(subprocess.run([accord, "--data-dir", f"{work}/node-b", "--json", "quarantine"],
                                     capture_output=True, text=True, check=True).stdout)) == 3
print("key rotation on running nodes: after SIGHUP, A signs with its new key and B verifies it (push and pull)")
PY

# A withdraws the GREEN indicator (TAXII DELETE by an analyst): the next syncs carry a revoked
# version, signed by A, to B and on to C; TLP:RED objects deleted on A are not announced.
ANALYST=$(token a demo-analyst)
for id in indicator--00000001-17d4-4cbf-938f-98ee46b3cd3f indicator--00000002-17d4-4cbf-938f-98ee46b3cd3f; do
    code=$(curl -s -o /dev/null -w "%{http_code}" -X DELETE --cacert "$WORK/node-a/tls/ca.pem" \
        -H "Authorization: Bearer $ANALYST" -H "Accept: application/taxii+json;version=2.1" \
        "https://127.0.0.1:${PORT[a]}/api/collections/$CA/objects/$id/")
    [ "$code" = 200 ] || { echo "DELETE $id: HTTP $code"; exit 1; }
done
"$ACCORD" --data-dir "$WORK/node-a" --json sync > "$WORK/sync-revoke-a.json" || { cat "$WORK/sync-revoke-a.json"; exit 1; }
sleep 1
"$ACCORD" --data-dir "$WORK/node-b" --json sync --partner node-c > "$WORK/sync-revoke-b.json" || { cat "$WORK/sync-revoke-b.json"; exit 1; }
sleep 1
python3 - "$WORK" "$ACCORD" <<'PY'
import json, subprocess, sys
work, accord = sys.argv[1], sys.argv[2]
PROV = "extension-definition--0c0ba5b6-4a8e-4f1d-9a57-7f5f2a3a2e10"
green = "indicator--00000001-17d4-4cbf-938f-98ee46b3cd3f"
a = json.load(open(f"{work}/sync-revoke-a.json"))[0]
b = json.load(open(f"{work}/sync-revoke-b.json"))[0]
# RED's deletion is decided like RED itself: withheld.
assert (a["revoked"], a["withheld"], a["errors"]) == (1, 1, []), a
assert b["sent"] >= 1 and not b["errors"] and not b["refused"], b
def latest(node):
    out = subprocess.run([accord, "--data-dir", f"{work}/node-{node}", "export", "--format", "jsonl"],
                         capture_output=True, text=True, check=True).stdout
    return next(o for o in map(json.loads, filter(None, out.splitlines())) if o["id"] == green)
for node, path in (("b", None), ("c", ["node-b"])):
    o = latest(node)
    assert o.get("revoked") is True and o["modified"] > "2026-02-01T00:00:00.000Z", (node, o)
    assert o["extensions"][PROV]["signer"] == "node-a" and o["extensions"][PROV].get("path") == path, (node, o)
print("A's withdrawal of GREEN reaches B and C as a revoked version signed by A; RED's stays on A")
PY
# kill -9 A in the middle of pushing 20,000 objects, then sync again: B ends with every object
# exactly once, and both logs verify.
CB=$(coll b)
python3 - "$WORK/node-a/accord.toml" "$CB" <<'PY'
import sys
path, cb = sys.argv[1], sys.argv[2]
text = open(path).read()
text = text.replace('push = [{ local = "default", remote = "%s" }]' % cb,
                    'push = [{ local = "default", remote = "%s" }, { local = "demo", remote = "%s" }]' % (cb, cb))
open(path, "w").write(text)
PY
"$ACCORD" gen-corpus --count 20000 --seed 3 -o "$WORK/corpus.jsonl"
"$ACCORD" --data-dir "$WORK/node-a" import --collection demo "$WORK/corpus.jsonl" > /dev/null
"$ACCORD" --data-dir "$WORK/node-a" sync > "$WORK/killed.log" 2>&1 &
VICTIM=$!
sleep 2
kill -9 "$VICTIM" 2> /dev/null || true
wait "$VICTIM" 2> /dev/null || true
"$ACCORD" --data-dir "$WORK/node-a" --json sync > "$WORK/resumed.json" || true
python3 - "$WORK" "$ACCORD" <<'PY'
import json, subprocess, sys
work, accord = sys.argv[1], sys.argv[2]
resumed = json.load(open(f"{work}/resumed.json"))[0]
assert not resumed["errors"] and not resumed["refused"], resumed
out = subprocess.run([accord, "--data-dir", f"{work}/node-b", "export", "--format", "jsonl", "--all-versions"],
                     capture_output=True, text=True, check=True).stdout
versions = [(o["id"], o.get("modified", o.get("created", ""))) for o in map(json.loads, filter(None, out.splitlines()))]
corpus = [json.loads(l) for l in open(f"{work}/corpus.jsonl")]
want = {(o["id"], o.get("modified", o.get("created", ""))) for o in corpus}
assert len(versions) == len(set(versions)), "duplicated versions on B"
missing = want - set(versions)
assert not missing, f"{len(missing)} objects lost, e.g. {sorted(missing)[:3]}"
print(f"kill -9 during a push of {len(want)} objects: after the next sync B holds every one exactly once")
PY
for n in a b c; do
    "$ACCORD" --data-dir "$WORK/node-$n" audit checkpoint > /dev/null 2>&1 || true
done
for p in "${PIDS[@]}"; do kill -TERM "$p"; wait "$p" 2> /dev/null || true; done
PIDS=()
for n in a b c; do
    "$ACCORD" --data-dir "$WORK/node-$n" audit verify --key "$("$ACCORD" --data-dir "$WORK/node-$n" audit key)" --state "$WORK/monitor-$n" > /dev/null
done
echo "federation of three nodes: OK"
