"""Measures the OASIS stix2-validator on a JSON-lines corpus: objects per second, one object at a time."""
import json
import sys
import time

from stix2validator import ValidationOptions, validate_instance

path, limit = sys.argv[1], int(sys.argv[2])
objects = []
with open(path) as f:
    for line in f:
        objects.append(json.loads(line))
        if len(objects) >= limit:
            break
options = ValidationOptions(version="2.1")
start = time.perf_counter()
invalid = sum(0 if validate_instance(o, options).is_valid else 1 for o in objects)
elapsed = time.perf_counter() - start
print(json.dumps({"objects": len(objects), "invalid": invalid, "seconds": elapsed, "per_second": len(objects) / elapsed}))
