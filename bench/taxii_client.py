"""A small TAXII 2.1 load client used by bench/taxii.sh against accord and medallion alike.

  taxii_client.py ingest BASE COLL USER PASS CORPUS COUNT ENVELOPE   -> objects/s until every status completes
  taxii_client.py page BASE COLL USER PASS LIMIT                     -> objects/s reading the collection page by page
  taxii_client.py single BASE COLL USER PASS IDS_FILE N              -> latencies of N sequential single-object GETs
"""
import json
import sys
import time

import requests

TAXII = "application/taxii+json;version=2.1"


def session(user, password):
    s = requests.Session()
    s.auth = (user, password)
    s.headers["Accept"] = TAXII
    return s


def ingest(base, coll, user, password, corpus, count, envelope):
    s = session(user, password)
    url = f"{base}collections/{coll}/objects/"
    statuses = []
    segments = []
    sent = 0
    start = time.perf_counter()
    seg_start = start
    with open(corpus) as f:
        batch = []
        for line in f:
            batch.append(line.rstrip("\n"))
            if len(batch) == envelope or sent + len(batch) == count:
                r = s.post(url, data='{"objects":[' + ",".join(batch) + "]}",
                           headers={"Content-Type": TAXII})
                r.raise_for_status()
                statuses.append(r.json()["id"])
                sent += len(batch)
                batch = []
                if sent % 100_000 == 0:
                    now = time.perf_counter()
                    segments.append(round(100_000 / (now - seg_start)))
                    seg_start = now
                if sent >= count:
                    break
    # Wait until every request has been processed (statuses complete in order). Polled every 5 ms:
    # at 50 ms the polling alone added up to a tenth to a 20,000-object run.
    failures = 0
    for sid in [statuses[-1]] + statuses[:-1]:
        while True:
            st = s.get(f"{base}status/{sid}/").json()
            if st["status"] == "complete":
                failures += st["failure_count"]
                break
            time.sleep(0.005)
    elapsed = time.perf_counter() - start
    print(json.dumps({"objects": sent, "seconds": elapsed, "per_second": sent / elapsed,
                      "failures": failures, "segments_per_100k": segments}))


def page(base, coll, user, password, limit):
    # http.client and orjson keep the client's own cost per page small (a few ms for 1000 objects),
    # so the server's rate is what is measured.
    import base64
    import http.client
    from urllib.parse import quote, urlparse

    import orjson

    u = urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port)
    headers = {"Accept": TAXII, "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
    path = f"{u.path}collections/{coll}/objects/?limit={limit}"
    n = 0
    start = time.perf_counter()
    first_page = None
    query = path
    while True:
        conn.request("GET", query, headers=headers)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise SystemExit(f"page: HTTP {r.status}: {body[:200]!r}")
        if first_page is None:
            first_page = time.perf_counter() - start
        env = orjson.loads(body)
        n += len(env.get("objects", []))
        if not env.get("more"):
            break
        query = f"{path}&next={quote(env['next'])}"
    elapsed = time.perf_counter() - start
    print(json.dumps({"objects": n, "seconds": elapsed, "per_second": n / elapsed, "first_page_seconds": first_page}))


def single(base, coll, user, password, ids_file, n):
    s = session(user, password)
    ids = [l.strip() for l in open(ids_file) if l.strip()]
    lat = []
    for i in range(n):
        t = time.perf_counter()
        r = s.get(f"{base}collections/{coll}/objects/{ids[(i * 7919) % len(ids)]}/")
        r.raise_for_status()
        lat.append(time.perf_counter() - t)
    lat.sort()
    print(json.dumps({"requests": n, "p50_ms": 1000 * lat[len(lat) // 2], "max_ms": 1000 * lat[-1]}))


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "ingest":
        ingest(*args[:5], int(args[5]), int(args[6]))
    elif cmd == "page":
        page(*args[:4], int(args[4]))
    elif cmd == "single":
        single(*args[:5], int(args[5]))
