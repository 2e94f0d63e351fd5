"""The stix2-matcher side of bench/matcher.sh.

generate M N FILE: writes M indicator patterns (IPs, CIDRs, domains, URLs, hashes, LIKE, 10%
compound comparisons) and N observations (STIX 2.1 bundles, one observed-data each) as JSON.
oasis FILE N_OBS: matches every pattern against each of the first N_OBS observations with
stix2-matcher (patterns compiled once) and prints pairs/s and the number of matching pairs.
"""
import json
import random
import sys
import time


def ip(i):
    return "10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)


def pattern(i, r):
    k = i % 20
    v = r.randrange(400)
    if k < 7:
        return "[ipv4-addr:value = '%s']" % ip(v)
    if k == 7:
        return "[ipv4-addr:value ISSUBSET '10.0.%d.0/24']" % (v % 256)
    if k < 11:
        return "[domain-name:value = 'd%d.example.com']" % v
    if k == 11:
        return "[domain-name:value LIKE '%%.d%d.example.com']" % v
    if k < 14:
        return "[url:value = 'http://u%d.example.net/x']" % v
    if k < 16:
        return "[file:hashes.'SHA-256' = '%064x']" % v
    if k < 18:
        return "[file:hashes.MD5 = '%032x' AND file:size = %d]" % (v, v % 7)
    return "[network-traffic:dst_ref.value = '%s' AND network-traffic:dst_port = 443]" % ip(v)


def observation(j, r):
    v = r.randrange(400)
    k = r.randrange(6)
    oid = "observed-data--00000000-0000-4000-8000-%012d" % j
    if k == 0:
        scos = [{"type": "ipv4-addr", "id": "ipv4-addr--00000000-0000-4000-8000-%012d" % j, "value": ip(v)}]
    elif k == 1:
        name = "d%d.example.com" % v if r.random() < 0.7 else "www.d%d.example.com" % v
        scos = [{"type": "domain-name", "id": "domain-name--00000000-0000-4000-8000-%012d" % j, "value": name}]
    elif k == 2:
        scos = [{"type": "url", "id": "url--00000000-0000-4000-8000-%012d" % j, "value": "http://u%d.example.net/x" % v}]
    elif k == 3:
        scos = [{"type": "file", "id": "file--00000000-0000-4000-8000-%012d" % j,
                 "hashes": {"MD5": "%032x" % v, "SHA-256": "%064x" % v}, "size": v % 7}]
    else:
        a = "ipv4-addr--00000000-0000-4000-8000-%012d" % j
        scos = [{"type": "ipv4-addr", "id": a, "value": ip(v)},
                {"type": "network-traffic", "id": "network-traffic--00000000-0000-4000-8000-%012d" % j,
                 "dst_ref": a, "dst_port": r.choice([443, 80]), "protocols": ["tcp"]}]
    od = {"type": "observed-data", "spec_version": "2.1", "id": oid,
          "created": "2026-03-01T12:00:00Z", "modified": "2026-03-01T12:00:00Z",
          "first_observed": "2026-03-01T12:00:00Z", "last_observed": "2026-03-01T12:00:00Z",
          "number_observed": 1, "object_refs": [s["id"] for s in scos]}
    return {"type": "bundle", "id": "bundle--00000000-0000-4000-8000-%012d" % j, "objects": [od] + scos}


def main():
    if sys.argv[1] == "generate":
        m, n, path = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
        r = random.Random(11)
        doc = {"patterns": [pattern(i, r) for i in range(m)], "observations": [observation(j, r) for j in range(n)]}
        with open(path, "w") as f:
            json.dump(doc, f)
        return
    from stix2matcher.matcher import Pattern
    doc = json.load(open(sys.argv[2]))
    obs = doc["observations"][: int(sys.argv[3])]
    compiled = [Pattern(p, stix_version="2.1") for p in doc["patterns"]]
    start = time.perf_counter()
    matched = 0
    for o in obs:
        for p in compiled:
            if p.match([o]):
                matched += 1
    secs = time.perf_counter() - start
    pairs = len(obs) * len(compiled)
    print(json.dumps({"pairs": pairs, "matched": matched, "seconds": round(secs, 2), "pairs_per_second": round(pairs / secs)}))


if __name__ == "__main__":
    main()
