"""TAXII 2.1 conformance of a running accord server, checked with the OASIS client (taxii2-client)
and the OASIS stix2 library: discovery, API root, collections, add_objects with status polling,
get_objects with every filter, paging with as_pages, manifest, versions, get_object, delete, and a
replay of the OASIS example bundles and ATT&CK for ICS that must read back unchanged.

Usage: conformance.py URL USER PASSWORD CA_CERT SHARED_STIX_DIR READER_USER READER_PASSWORD
                      PARTNER_CERT PARTNER_KEY ROGUE_CERT ROGUE_KEY
"""
import base64
import http.client
import json
import ssl
import sys
from urllib.parse import urlparse
import time
from pathlib import Path

import requests
import stix2
from taxii2client.exceptions import TAXIIServiceException
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

url, user, password, ca, shared, reader_user, reader_password = sys.argv[1:8]
partner_cert, partner_key, rogue_cert, rogue_key = sys.argv[8:12]
checks = 0


def check(cond, what):
    global checks
    if not cond:
        raise AssertionError(what)
    checks += 1


server = Server(url, user=user, password=password, verify=ca)
check(server.title, "discovery has a title")
check(len(server.api_roots) >= 1, "discovery lists api roots")
root = server.default
check(root is not None, "discovery names a default api root")
check(root.versions == ["application/taxii+json;version=2.1"], f"api root versions: {root.versions}")
check(root.max_content_length > 0, "api root max_content_length")
by_alias = {c._raw.get("alias"): c for c in root.collections}
check({"default", "demo"} <= set(by_alias), f"collections: {list(by_alias)}")
coll = by_alias["default"]
check(coll.can_read and coll.can_write, "default collection readable and writable")
check(by_alias["demo"].can_read and not by_alias["demo"].can_write, "demo collection read-only")
check(Collection(coll.url, user=user, password=password, verify=ca).title == coll.title, "collection endpoint")

# --- add objects, with one invalid object that must fail alone ---------------------------------
identity = stix2.Identity(name="Conformance CSIRT", identity_class="organization")
indicators = [
    stix2.Indicator(
        name=f"c2 {i}", pattern=f"[ipv4-addr:value = '198.51.100.{i}']", pattern_type="stix",
        valid_from="2026-01-01T00:00:00Z", created_by_ref=identity.id, indicator_types=["malicious-activity"],
    )
    for i in range(1, 121)
]
malware = stix2.Malware(name="Conformance RAT", is_family=True, malware_types=["remote-access-trojan"])
ip = stix2.IPv4Address(value="198.51.100.7")
invalid = {"type": "indicator", "spec_version": "2.1", "id": "indicator--9b2e3f6a-8e0c-4b8e-9a53-93c0c2f3f0aa",
           "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "pattern_type": "stix",
           "valid_from": "2026-01-01T00:00:00Z"}  # no pattern
objects = [json.loads(o.serialize()) for o in [identity, malware, ip, *indicators]]
status = coll.add_objects({"objects": objects + [invalid]}, poll_interval=1, timeout=60)
check(status.status == "complete", f"status complete: {status.status}")
check(status.total_count == len(objects) + 1, "status total")
check(status.success_count == len(objects), f"successes {status.success_count}")
check(status.failure_count == 1 and status.failures[0]["id"] == invalid["id"], f"failures {status.failures}")
check("pattern" in status.failures[0].get("message", ""), "failure names the missing property")
check(status.pending_count == 0 and len(status.successes) == status.success_count, "status lists match counts")
status.refresh()
check(status.status == "complete", "status endpoint readable after completion")

# A new version of one indicator.
first = indicators[0]
v2 = first.new_version(name="c2 1, updated", modified="2027-01-01T00:00:00.000Z")
s2 = coll.add_objects({"objects": [json.loads(v2.serialize())]}, poll_interval=1, timeout=60)
check(s2.success_count == 1, "new version accepted")

# --- get_objects with every filter --------------------------------------------------------------
env = coll.get_objects()
ids = {o["id"] for o in env["objects"]}
check(first.id in ids and invalid["id"] not in ids, "get_objects returns valid objects only")
check(not env.get("more"), "small collection fits one page")
check(len(coll.get_objects(type="malware")["objects"]) == 1, "match[type]")
check(len(coll.get_objects(type=["malware", "identity"])["objects"]) == 2, "match[type] list is OR")
got = coll.get_objects(id=first.id)["objects"]
check(len(got) == 1 and got[0]["name"] == "c2 1, updated", "match[id] returns the latest version by default")
check(len(coll.get_objects(id=first.id, version="all")["objects"]) == 2, "match[version]=all")
check(coll.get_objects(id=first.id, version="first")["objects"][0]["name"] == "c2 1", "match[version]=first")
check(coll.get_objects(id=first.id, version=first.modified)["objects"][0]["name"] == "c2 1", "match[version]=timestamp")
check(len(coll.get_objects(spec_version="2.1")["objects"]) == len(ids), "match[spec_version]=2.1")
check(not coll.get_objects(spec_version="2.0").get("objects"), "match[spec_version]=2.0 matches nothing")

# added_after is exclusive: asking after the last object's date_added returns nothing.
resp = coll._conn.session.get(coll.objects_url, headers={"Accept": "application/taxii+json;version=2.1"})
last_added = resp.headers["X-TAXII-Date-Added-Last"]
check(resp.headers["X-TAXII-Date-Added-First"] <= last_added, "date-added headers")
check(not coll.get_objects(added_after=last_added).get("objects"), "added_after is exclusive")

# Paging with the client's own helper: nothing skipped, nothing repeated, filters kept.
seen = []
for page in as_pages(coll.get_objects, per_request=7, type="indicator"):
    seen.extend(o["id"] for o in page.get("objects", []))
check(len(seen) == len(set(seen)) == len(indicators), f"as_pages over indicators: {len(seen)}")

# A next cursor used with different filters is refused.
page1 = coll.get_objects(limit=5, type="indicator")
try:
    coll.get_objects(limit=5, next=page1["next"], type="malware")
    check(False, "next with other filters must fail")
except requests.HTTPError as e:
    check(e.response.status_code == 400, "next with other filters is 400")

# --- manifest, versions, get_object, delete -----------------------------------------------------
manifest = coll.get_manifest()
records = {r["id"]: r for r in manifest["objects"]}
check(records[first.id]["version"] == "2027-01-01T00:00:00.000Z", "manifest version is the latest")
check(records[first.id]["media_type"] == "application/stix+json;version=2.1", "manifest media type")
pages = list(as_pages(coll.get_manifest, per_request=10))
check(sum(len(p.get("objects", [])) for p in pages) == len(records), "manifest pages")
versions = coll.object_versions(first.id)["versions"]
check(versions == [json.loads(first.serialize())["modified"], "2027-01-01T00:00:00.000Z"], f"versions {versions}")
check(coll.get_object(malware.id)["objects"][0]["name"] == "Conformance RAT", "get_object")
coll.delete_object(malware.id)
try:
    coll.get_object(malware.id)
    check(False, "deleted object must be gone")
except requests.HTTPError as e:
    check(e.response.status_code == 404, "deleted object is 404")
coll.delete_object(first.id, version="last")
check(coll.get_object(first.id)["objects"][0]["name"] == "c2 1", "deleting the last version exposes the previous")

# --- errors ---------------------------------------------------------------------------------------
def status_of(method, path, **kw):
    kw.setdefault("headers", {"Accept": "application/taxii+json;version=2.1"})
    return getattr(requests, method)(coll.url + path, auth=(user, password), verify=ca, **kw)

r = requests.get(coll.url, verify=ca)
check(r.status_code == 401 and r.json()["http_status"] == "401", "no credentials is 401 with an error body")
check(requests.get(coll.url, auth=(user, "wrong"), verify=ca).status_code == 401, "wrong password is 401")
check(status_of("get", "objects/", headers={"Accept": "text/html"}).status_code == 406, "406 on Accept")
check(status_of("post", "objects/", data=b"{}", headers={"Content-Type": "application/json"}).status_code == 415, "415")
check(status_of("post", "objects/", data=b"{not json",
                headers={"Content-Type": "application/taxii+json;version=2.1"}).status_code == 400, "malformed envelope")
check(status_of("get", "objects/?limit=-1").status_code == 400, "bad limit")
check(status_of("get", "objects/?added_after=yesterday").status_code == 400, "bad timestamp")
check(status_of("get", "objects/?next=forged").status_code == 400, "forged next")
huge = ",".join(f"indicator--{i:08x}-0000-4000-8000-000000000000" for i in range(2000))
check(status_of("get", "objects/?match[id]=" + huge).status_code in (400, 414), "huge match[id]")
check(requests.get(root.url + "collections/nope/", auth=(user, password), verify=ca).status_code == 404, "unknown collection")
# Over max_content_length: refused from the headers alone (the client sends Expect: 100-continue,
# so it never has to upload the body).
ctx = ssl.create_default_context(cafile=ca)
parsed = urlparse(coll.url)
conn = http.client.HTTPSConnection(parsed.hostname, parsed.port, context=ctx)
conn.putrequest("POST", parsed.path + "objects/")
conn.putheader("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
conn.putheader("Content-Type", "application/taxii+json;version=2.1")
conn.putheader("Accept", "application/taxii+json;version=2.1")
conn.putheader("Content-Length", str(root.max_content_length + 1))
conn.putheader("Expect", "100-continue")
conn.endheaders()
resp = conn.getresponse()
check(resp.status == 413 and json.loads(resp.read())["http_status"] == "413", f"413: {resp.status}")
conn.close()

# A read-only principal: can read the demo collection, 403 on writing or on collections it cannot see.
reader_root = ApiRoot(root.url, user=reader_user, password=reader_password, verify=ca)
visible = {c._raw.get("alias") for c in reader_root.collections}
check(visible == {"demo"}, f"reader sees only demo: {visible}")
r = requests.get(coll.url + "objects/", auth=(reader_user, reader_password), verify=ca,
                 headers={"Accept": "application/taxii+json;version=2.1"})
check(r.status_code == 403, "reader gets 403 on a collection it may not read")

# mTLS: a partner node identified by its pinned client certificate, with no password at all.
accept = {"Accept": "application/taxii+json;version=2.1"}
r = requests.get(by_alias["demo"].url + "objects/", cert=(partner_cert, partner_key), verify=ca, headers=accept)
check(r.status_code == 200, f"pinned partner certificate reads its collection: {r.status_code}")
r = requests.get(coll.url + "objects/", cert=(partner_cert, partner_key), verify=ca, headers=accept)
check(r.status_code == 403, f"pinned partner certificate refused elsewhere: {r.status_code}")
r = requests.get(by_alias["demo"].url + "objects/", cert=(rogue_cert, rogue_key), verify=ca, headers=accept)
check(r.status_code == 401, f"an unpinned certificate identifies no one: {r.status_code}")

# --- replay the OASIS examples and ATT&CK for ICS, and read them back unchanged ------------------
originals = {}
files = sorted(Path(shared, "examples").glob("*.json")) + [Path(shared, "attack", "ics-attack-18.1.json")]
for f in files:
    doc = json.loads(f.read_text())
    objs = doc["objects"] if doc.get("type") == "bundle" else [doc]
    st = coll.add_objects({"objects": objs}, poll_interval=1, timeout=120)
    check(st.status == "complete" and st.failure_count == 0, f"{f.name}: {st.failure_count} failures {st.failures[:2]}")
    for o in objs:
        originals[(o["id"], o.get("modified", o.get("created", "")))] = o
back = {}
for page in as_pages(coll.get_objects, per_request=500, version="all"):
    for o in page.get("objects", []):
        back[(o["id"], o.get("modified", o.get("created", "")))] = o
# The policy withholds received TLP:RED objects that do not name the reader (one campaign in the
# OASIS examples); everything else reads back.
RED = {"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"}
withheld = {k for k, o in originals.items() if RED & set(o.get("object_marking_refs", []))}
check(len(withheld) == 1, f"the examples hold one TLP:RED object: {withheld}")
missing = {k for k in originals if k not in back}
check(missing == withheld, f"{len(missing)} replayed objects missing, e.g. {sorted(missing - withheld)[:3]}")
originals = {k: o for k, o in originals.items() if k not in withheld}
changed = [k for k, o in originals.items() if back.get(k) != o]
check(not changed, f"{len(changed)} objects changed in transit, e.g. {changed[:3]}")
# Those pages of 500 after the first were read ahead while the client took in the one before.
metrics = requests.get(url.split("/taxii2/")[0] + "/metrics", auth=(user, password), verify=ca).text
used = sum(float(l.split()[-1]) for l in metrics.splitlines() if l.startswith('accord_pages_read_ahead_total{outcome="used"}'))
check(used > 0, f"pages read ahead and used: {used}")

print(f"taxii2-client conformance: {checks} passed, 0 failed")
