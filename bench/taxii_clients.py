"""The client shapes of bench/clients.sh, driven through taxii2-client as a SOC or a partner
node would use it: each envelope posted with add_objects() and its own wait_for_completion
(default poll interval, 1 s), one after another. Prints one JSON line.

    taxii_clients.py post COLLECTION_URL USER PASSWORD CORPUS SIZE COUNT
        COUNT envelopes of SIZE objects (distinct objects of CORPUS, one per line), each waited for;
        then the client's floor: the p50 of a GET of the last status
    taxii_clients.py attack COLLECTION_URL USER PASSWORD BUNDLE
        the bundle's objects in envelopes of 500, each waited for; then the collection paged
        (1,000 per page); then 200 single GETs by id
"""

import json
import random
import statistics
import sys
import time

from taxii2client.v21 import Collection, as_pages


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def post_all(collection, envelopes):
    """Posts each envelope (already JSON text, as a client holds what it sends) and waits for
    its status; returns per-envelope latencies and the wall time."""
    latencies, failures = [], 0
    start = time.perf_counter()
    status = None
    for text in envelopes:
        t = time.perf_counter()
        status = collection.add_objects(text)
        latencies.append(time.perf_counter() - t)
        if status.status != "complete":
            raise SystemExit(f"status {status.id} still {status.status} after the client's timeout")
        failures += status.failure_count
    wall = time.perf_counter() - start
    if failures:
        raise SystemExit(f"{failures} objects failed")
    return latencies, wall, status


def floor(status):
    """The client's own cost per request: p50 of 100 GETs of a status, which a server answers
    from memory or one indexed row. No POST through this client can be answered faster."""
    times = []
    for _ in range(100):
        t = time.perf_counter()
        status.refresh()
        times.append(time.perf_counter() - t)
    return round(statistics.median(times) * 1e3, 2)


def summary(latencies, wall, objects):
    return {
        "envelopes": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1e3, 2),
        "p99_ms": round(percentile(latencies, 99) * 1e3, 2),
        "envelopes_per_second": round(len(latencies) / wall, 1),
        "objects_per_second": round(objects / wall),
    }


def envelope(objects):
    return json.dumps({"objects": objects}, ensure_ascii=False)


def main():
    mode, url, user, password = sys.argv[1:5]
    collection = Collection(url, user=user, password=password)
    if mode == "post":
        corpus, size, count = sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
        with open(corpus, encoding="utf-8") as f:
            lines = [next(f) for _ in range(size * count)]
        objects = [json.loads(line) for line in lines]
        envelopes = [envelope(objects[i : i + size]) for i in range(0, len(objects), size)]
        latencies, wall, last = post_all(collection, envelopes)
        print(json.dumps({**summary(latencies, wall, len(objects)), "floor_ms": floor(last)}))
    elif mode == "attack":
        with open(sys.argv[5], encoding="utf-8") as f:
            objects = json.load(f)["objects"]
        envelopes = [envelope(objects[i : i + 500]) for i in range(0, len(objects), 500)]
        latencies, wall, _ = post_all(collection, envelopes)
        result = {"post": summary(latencies, wall, len(objects))}
        start = time.perf_counter()
        read = sum(len(page.get("objects", [])) for page in as_pages(collection.get_objects, per_request=1000))
        seconds = time.perf_counter() - start
        if read < len(objects):
            raise SystemExit(f"paged {read} of {len(objects)} objects")
        result["page"] = {"objects": read, "seconds": round(seconds, 3), "objects_per_second": round(read / seconds)}
        ids = random.Random(7).sample([o["id"] for o in objects], 200)
        single = []
        for object_id in ids:
            t = time.perf_counter()
            got = collection.get_object(object_id)
            single.append(time.perf_counter() - t)
            if not got.get("objects"):
                raise SystemExit(f"GET {object_id}: nothing")
        result["get"] = {
            "p50_ms": round(statistics.median(single) * 1e3, 2),
            "p99_ms": round(percentile(single, 99) * 1e3, 2),
        }
        print(json.dumps(result))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
