"""Generates a reproducible mix of STIX patterns, and times the OASIS stix2-patterns validator on them.

    python bench/pattern.py generate N OUT      # N patterns, one per line
    python bench/pattern.py oasis FILE          # patterns/s of stix2patterns' validator
"""
import json
import random
import sys
import time


def generate(n, out):
    r = random.Random(7)
    def ip():
        return f"{r.randrange(1, 224)}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(256)}"
    atoms = [
        lambda: f"ipv4-addr:value = '{ip()}'",
        lambda: f"ipv4-addr:value ISSUBSET '{ip()}/{r.choice([16, 24, 28])}'",
        lambda: f"domain-name:value = 'host{r.randrange(10**6)}.example.com'",
        lambda: f"url:value = 'https://site{r.randrange(10**5)}.example.net/path/{r.randrange(999)}'",
        lambda: f"file:hashes.'SHA-256' = '{r.getrandbits(256):064x}'",
        lambda: f"file:hashes.MD5 = '{r.getrandbits(128):032x}'",
        lambda: f"file:name LIKE '%{r.randrange(999)}.exe'",
        lambda: f"process:command_line MATCHES '^cmd\\\\.exe /c .*{r.randrange(99)}'",
        lambda: f"network-traffic:dst_port IN ({r.randrange(1024)}, {r.randrange(1024, 65535)})",
        lambda: f"email-message:from_ref.value = 'user{r.randrange(999)}@example.org'",
    ]
    with open(out, "w") as f:
        for i in range(n):
            if i % 10 == 0:
                a, b = r.choice(atoms)(), r.choice(atoms)()
                p = f"[{a}] AND [{b}] WITHIN {r.randrange(1, 600)} SECONDS"
            elif i % 10 == 1:
                p = f"[{r.choice(atoms)()} OR {r.choice(atoms)()}]"
            else:
                p = f"[{r.choice(atoms)()}]"
            f.write(p + "\n")


def oasis(path):
    from stix2patterns.validator import run_validator
    patterns = [l.rstrip("\n") for l in open(path) if l.strip()]
    start = time.perf_counter()
    valid = 0
    for p in patterns:
        if not run_validator(p, stix_version="2.1"):
            valid += 1
    secs = time.perf_counter() - start
    print(json.dumps({"patterns": len(patterns), "valid": valid, "seconds": round(secs, 3), "per_second": round(len(patterns) / secs)}))


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(int(sys.argv[2]), sys.argv[3])
    else:
        oasis(sys.argv[2])
