"""Helpers for tests/sync/run.sh, using the OASIS taxii2-client against medallion.

seed API_ROOT COLLECTION N PUSH_FILE [FIRST]: adds N indicators to medallion's COLLECTION (ids
from FIRST), and writes the objects Accord will push to PUSH_FILE (two TLP:GREEN, one TLP:RED,
one unmarked in a public collection, and two TLP:GREEN too large for medallion's
max_content_length, which run.sh sets so small that the others need two envelopes: one as it is,
one only once signed).
verify API_ROOT COLLECTION WORK: checks the three sync reports and what medallion received.
"""
import json
import os
import sys

from taxii2client.v21 import Collection

RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
PROVENANCE = "extension-definition--0c0ba5b6-4a8e-4f1d-9a57-7f5f2a3a2e10"


def indicator(n, marking=None, description=None):
    o = {"type": "indicator", "spec_version": "2.1", "id": "indicator--%08d-17d4-4cbf-938f-98ee46b3cd3f" % n,
         "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
         "pattern": "[ipv4-addr:value = '198.51.100.%d']" % (n % 250), "pattern_type": "stix",
         "valid_from": "2026-01-01T00:00:00Z"}
    if marking:
        o["object_marking_refs"] = [marking]
    if description:
        o["description"] = description
    return o


def collection(root, cid):
    return Collection(root + "collections/" + cid + "/", user="accord", password="s3cret")


def main():
    cmd, root, cid = sys.argv[1], sys.argv[2], sys.argv[3]
    if cmd == "seed":
        n, out = int(sys.argv[4]), sys.argv[5]
        first = int(sys.argv[6]) if len(sys.argv) > 6 else 1
        col = collection(root, cid)
        for i in range(first, first + n):
            status = col.add_objects({"objects": [indicator(i)]})
            assert status.status == "complete", status
        if out != "/dev/null":
            objs = [indicator(1001, GREEN), indicator(1002, GREEN), indicator(1003, RED), indicator(1004),
                    indicator(1005, GREEN, "x" * 3000), indicator(1006, GREEN, "y" * 1000)]
            with open(out, "w") as f:
                json.dump({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000009", "objects": objs}, f)
        return
    work = sys.argv[4]
    first, second, third = (json.load(open(os.path.join(work, n)))[0] for n in ("first.json", "second.json", "third.json"))
    for r in (first, second, third):
        assert not r["errors"], r
    # The objects larger than medallion accepts are named, once, and not retried: one too large
    # as released, one that its signature makes too large. Both are set aside after signing and
    # before the share is logged.
    refused = sorted(first["refused"])
    assert len(refused) == 2 and all(r.startswith("indicator--%08d-17d4-4cbf-938f-98ee46b3cd3f: not sent: " % n)
                                     for r, n in zip(refused, (1005, 1006))), first
    assert not second["refused"] and not third["refused"], (second, third)
    # Five pulled over pages of two; three sent (RED withheld); nothing twice; two more later.
    assert (first["received"], first["sent"], first["withheld"]) == (5, 3, 1), first
    assert (second["received"], second["sent"], second["withheld"]) == (0, 0, 0), second
    assert (third["received"], third["sent"]) == (2, 0), third
    got = []
    for page in __import__("taxii2client.v21", fromlist=["as_pages"]).as_pages(collection(root, cid).get_objects, per_request=2):
        got.extend(page.get("objects", []))
    ids = sorted(o["id"] for o in got)
    assert ids == ["indicator--%08d-17d4-4cbf-938f-98ee46b3cd3f" % n for n in (1001, 1002, 1004)], ids
    for o in got:
        assert o["extensions"][PROVENANCE]["signature"], o
    # Together they exceed the limit: they can only have arrived in more than one envelope.
    limit = int(sys.argv[5])
    assert len(json.dumps({"objects": got}, separators=(",", ":"))) > limit, limit
    print("medallion received %d signed objects in envelopes of at most %d bytes; RED stayed home; "
          "both oversized ones were named" % (len(got), limit))


if __name__ == "__main__":
    main()
