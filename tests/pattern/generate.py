"""Generates the differential corpus for the pattern evaluator and judges each case with the
OASIS reference matcher (stix2-matcher).

Each output line is one case: a STIX 2.1 pattern, the observations as a STIX 2.1 bundle (what
stix2-matcher reads) and, for every other case, the same observations in the 2.0 form with
embedded `objects` (what Accord also accepts), plus stix2-matcher's verdict. The generator stays
away from the deliberate differences listed in crates/accord-pattern/DIFFERENCES.md that it
cannot recognise from stix2-matcher's answer (EXISTS, newlines under LIKE, booleans in numeric
sets, sub-microsecond timestamps); the Rust side classifies the others.

usage: generate.py CASES SEED OUT.jsonl
"""
import datetime
import json
import random
import sys

from stix2matcher.matcher import match

BASE = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


def ts(dt, micros=False):
    s = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if micros:
        s += ".%06d" % dt.microsecond
    return s + "Z"


NAMES = ["a.exe", "b.dll", "setup.exe", "readme.txt", "Ünïcode.doc", "o'brien.pdf", "back\\slash.bat"]
MD5 = ["d41d8cd98f00b204e9800998ecf8427e", "0cc175b9c0f1b6a831c399e269772661", "900150983cd24fb0d6963f7d28e17f72"]
SHA256 = ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
          "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"]
IPS = ["10.0.0.1", "10.1.2.3", "192.168.1.5", "8.8.8.8", "10.0.0.0/8", "192.168.0.0/16", "10.1.0.0/16"]
DOMAINS = ["example.com", "evil.example.com", "good.org", "mail.good.org"]
URLS = ["http://example.com/a", "https://evil.example.com/x?y=1", "ftp://good.org/"]
HEXES = ["414243", "616263", "00ff10", "48656c6c6f"]
TIMES = [ts(BASE + datetime.timedelta(seconds=s)) for s in (0, 30, 3600, 86400)]
TAGS = ["alpha", "beta", "gamma"]


class Gen:
    def __init__(self, rnd):
        self.r = rnd
        self.n = 0
        self.present = set()

    def sco_id(self, t):
        self.n += 1
        return "%s--00000000-0000-4000-8000-%012d" % (t, self.n)

    def objects(self):
        """A few SCOs, each {id: object}, references by id."""
        r = self.r
        objs = {}

        def add(o):
            objs[o["id"]] = o
            return o["id"]

        def ip():
            return add({"type": "ipv4-addr", "id": self.sco_id("ipv4-addr"), "value": r.choice(IPS)})

        for _ in range(r.randint(1, 3)):
            kind = r.choice(["file", "ipv4-addr", "domain-name", "network-traffic", "url", "windows-registry-key"])
            if kind == "file":
                o = {"type": "file", "id": self.sco_id("file")}
                if r.random() < 0.9:
                    o["name"] = r.choice(NAMES)
                if r.random() < 0.7:
                    o["size"] = r.choice([0, 12, 1024, 99999])
                if r.random() < 0.7:
                    h = {}
                    if r.random() < 0.8:
                        h["MD5"] = r.choice(MD5)
                    if r.random() < 0.5:
                        h["SHA-256"] = r.choice(SHA256)
                    o["hashes"] = h
                if r.random() < 0.4:
                    o["x_score"] = r.choice([0.5, 1.0, 2.25, 12])
                if r.random() < 0.4:
                    o["x_flags"] = [r.choice([True, False]) for _ in range(r.randint(0, 3))]
                if r.random() < 0.5:
                    o["x_tags"] = r.sample(TAGS, r.randint(0, 3))
                if r.random() < 0.5:
                    o["ctime"] = r.choice(TIMES)
                if r.random() < 0.4:
                    o["x_data_hex"] = r.choice(HEXES)
                add(o)
            elif kind == "ipv4-addr":
                ip()
            elif kind == "domain-name":
                o = {"type": "domain-name", "id": self.sco_id("domain-name"), "value": r.choice(DOMAINS)}
                if r.random() < 0.5:
                    o["resolves_to_refs"] = [ip() for _ in range(r.randint(1, 2))]
                add(o)
            elif kind == "network-traffic":
                o = {"type": "network-traffic", "id": self.sco_id("network-traffic"),
                     "protocols": r.sample(["ipv4", "tcp", "udp", "http"], r.randint(1, 3))}
                if r.random() < 0.8:
                    o["src_ref"] = ip()
                if r.random() < 0.6:
                    o["dst_ref"] = ip()
                if r.random() < 0.7:
                    o["dst_port"] = r.choice([53, 80, 443, 8080])
                if r.random() < 0.4:
                    o["extensions"] = {"http-request-ext": {
                        "request_method": r.choice(["get", "post"]),
                        "request_value": r.choice(["/", "/index.html", "/login"]),
                        "request_header": {"Host": r.choice(DOMAINS)}}}
                add(o)
            elif kind == "url":
                add({"type": "url", "id": self.sco_id("url"), "value": r.choice(URLS)})
            else:
                add({"type": "windows-registry-key", "id": self.sco_id("windows-registry-key"),
                     "key": r.choice(["HKEY_LOCAL_MACHINE\\Software\\Run", "HKEY_CURRENT_USER\\Env"]),
                     "values": [{"name": r.choice(["Path", "Updater", ""]), "data": r.choice(["C:\\a.exe", "x"]),
                                 "data_type": r.choice(["REG_SZ", "REG_DWORD"])} for _ in range(r.randint(0, 2))]})
        return objs

    def observed(self, k):
        r = self.r
        first = BASE + datetime.timedelta(seconds=r.choice([0, 10, 30, 60, 120, 600, 3600]))
        last = first + datetime.timedelta(seconds=r.choice([0, 0, 5, 60, 300]))
        objs = self.objects()
        od = {"type": "observed-data", "spec_version": "2.1",
              "id": "observed-data--00000000-0000-4000-8000-%012d" % (k + 1),
              "created": ts(BASE), "modified": ts(BASE),
              "first_observed": ts(first), "last_observed": ts(last),
              "number_observed": r.choice([1, 1, 1, 2, 3]), "object_refs": list(objs)}
        return od, objs

    # -- patterns -------------------------------------------------------------

    def string(self, s):
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def test(self):
        r = self.r
        choices = [
            ("file", "name", "str", NAMES), ("file", "size", "int", [0, 12, 1024, 5, 99999]),
            ("file", "hashes.MD5", "str", MD5), ("file", "hashes.'SHA-256'", "str", SHA256),
            ("file", "x_score", "float", [0.5, 1.0, 2.25, 12]), ("file", "x_flags[*]", "bool", [True, False]),
            ("file", "x_flags[0]", "bool", [True, False]), ("file", "x_tags[*]", "str", TAGS),
            ("file", "x_tags[1]", "str", TAGS), ("file", "ctime", "time", TIMES),
            ("file", "x_data_hex", "bytes", HEXES),
            ("ipv4-addr", "value", "ip", IPS), ("domain-name", "value", "str", DOMAINS),
            ("domain-name", "resolves_to_refs[*].value", "ip", IPS),
            ("domain-name", "resolves_to_refs[0].value", "ip", IPS),
            ("network-traffic", "src_ref.value", "ip", IPS), ("network-traffic", "dst_ref.value", "ip", IPS),
            ("network-traffic", "dst_port", "int", [53, 80, 443, 8080]),
            ("network-traffic", "protocols[*]", "str", ["ipv4", "tcp", "udp", "http"]),
            ("network-traffic", "extensions.'http-request-ext'.request_method", "str", ["get", "post"]),
            ("network-traffic", "extensions.'http-request-ext'.request_header.Host", "str", DOMAINS),
            ("url", "value", "str", URLS),
            ("windows-registry-key", "values[*].name", "str", ["Path", "Updater", ""]),
            ("windows-registry-key", "values[*].data_type", "str", ["REG_SZ", "REG_DWORD"]),
            ("windows-registry-key", "key", "str", ["HKEY_LOCAL_MACHINE\\Software\\Run"]),
            ("file", "nonexistent", "str", ["x"]),
        ]
        present = [c for c in choices if c[0] in self.present]
        typ, path, kind, vocab = r.choice(present if present and r.random() < 0.85 else choices)
        lhs = "%s:%s" % (typ, path)
        neg = "NOT " if r.random() < 0.15 else ""

        def lit(k, v):
            if k in ("str", "ip"):
                return self.string(v)
            if k == "int":
                return str(v)
            if k == "float":
                return repr(float(v))
            if k == "bool":
                return "true" if v else "false"
            if k == "time":
                return "t'%s'" % v
            if k == "bytes":
                return r.choice(["h'%s'" % v, "b'%s'" % __import__("base64").b64encode(bytes.fromhex(v)).decode(),
                                 self.string(bytes.fromhex(v).decode("latin-1"))])
            raise ValueError(k)

        v = r.choice(vocab)
        # Now and then a literal of another type: never equal, never ordered.
        if r.random() < 0.08:
            other = r.choice([("int", 12), ("str", "12"), ("bool", True), ("float", 1.0)])
            if kind not in ("bytes",) and not (kind == "float" and other[0] == "int") and not (kind == "int" and other[0] == "float"):
                return "%s %s%s %s" % (lhs, neg, r.choice(["=", "!="]), lit(*other))
        ops = ["=", "!=", "IN"]
        if kind in ("str", "int", "float", "time", "bytes", "ip"):
            ops += ["<", ">", "<=", ">="]
        if kind in ("str", "ip"):
            ops += ["LIKE", "MATCHES"]
        if kind == "ip":
            ops += ["ISSUBSET", "ISSUBSET", "ISSUPERSET"]
        op = r.choice(ops)
        if op == "IN":
            items = r.sample(vocab, r.randint(1, min(3, len(vocab))))
            if kind == "bytes":
                return "%s %sIN (%s)" % (lhs, neg, ", ".join("h'%s'" % i for i in items))
            return "%s %sIN (%s)" % (lhs, neg, ", ".join(lit(kind, i) for i in items))
        if op == "LIKE":
            pat = r.choice(["a%", "%.exe", "_.dll", "%example%", "10.%", "%", "___", "%good.org", "Ü%", "o'%"])
            return "%s %sLIKE %s" % (lhs, neg, self.string(pat))
        if op == "MATCHES":
            pat = r.choice(["^a", "exe$", "[0-9]+", "\\.dll", "evil|good", "^10\\.", "(?i)SETUP", "^$", "\\d{3}",
                            "^[a-z]+\\.(exe|dll)$", "Ün"])
            return "%s %sMATCHES %s" % (lhs, neg, self.string(pat))
        if op in ("ISSUBSET", "ISSUPERSET"):
            net = r.choice(["10.0.0.0/8", "10.1.0.0/16", "192.168.1.0/24", "8.8.8.8/32", "0.0.0.0/1", "10.1.2.3/32"])
            return "%s %s%s %s" % (lhs, neg, op, self.string(net))
        return "%s %s%s %s" % (lhs, neg, op, lit(kind, v))

    def comparison(self, depth):
        r = self.r
        if depth == 0 or r.random() < 0.5:
            return self.test()
        op = r.choice(["AND", "OR"])
        left, right = self.comparison(depth - 1), self.comparison(depth - 1)
        if r.random() < 0.3:
            return "(%s) %s (%s)" % (left, op, right)
        return "%s %s %s" % (left, op, right)

    def observation(self, depth):
        r = self.r
        if depth == 0 or r.random() < 0.45:
            e = "[%s]" % self.comparison(r.choice([0, 0, 1, 2]))
        else:
            op = r.choice(["AND", "OR", "FOLLOWEDBY"])
            e = "(%s %s %s)" % (self.observation(depth - 1), op, self.observation(depth - 1))
        q = r.random()
        if q < 0.12:
            e = "%s WITHIN %s SECONDS" % (e, r.choice(["1", "30", "60.5", "300", "5000"]))
        elif q < 0.2:
            e = "%s REPEATS %d TIMES" % (e, r.choice([2, 3]))
        elif q < 0.28:
            a = BASE + datetime.timedelta(seconds=r.choice([-60, 0, 20, 100, 3600]))
            b = a + datetime.timedelta(seconds=r.choice([0] + [10, 60, 600, 7200] * 4))
            e = "%s START t'%s' STOP t'%s'" % (e, ts(a), ts(b))
        return e


def embedded(bundle):
    """The same observations in the 2.0 form: objects embedded and referenced by key."""
    scos = {o["id"]: o for o in bundle["objects"] if o["type"] != "observed-data"}
    out = []
    for od in (o for o in bundle["objects"] if o["type"] == "observed-data"):
        keys = {ref: str(i) for i, ref in enumerate(od["object_refs"])}

        def rekey(v):
            if isinstance(v, dict):
                return {k: (keys.get(x, x) if k.endswith("_ref") and isinstance(x, str) else
                            [keys.get(y, y) for y in x] if k.endswith("_refs") and isinstance(x, list) else
                            rekey(x)) for k, x in v.items() if k != "id"}
            return v

        new = {k: v for k, v in od.items() if k != "object_refs"}
        new["objects"] = {keys[ref]: rekey(scos[ref]) for ref in od["object_refs"]}
        out.append(new)
    return out


def main():
    count, seed, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    r = random.Random(seed)
    g = Gen(r)
    with open(out, "w", encoding="utf-8") as f:
        for i in range(count):
            objects = []
            for k in range(r.randint(1, 4)):
                od, scos = g.observed(k)
                objects.append(od)
                objects.extend(scos.values())
            g.present = {o["type"] for o in objects}
            pattern = g.observation(2)
            bundle = {"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": objects}
            case = {"case": i, "pattern": pattern, "input": [bundle]}
            if i % 2 == 1:
                case["input"] = embedded(bundle)
            try:
                case["stix2_matcher"] = {"match": bool(match(pattern, [bundle], stix_version="2.1"))}
            except Exception as e:  # the verdict includes failures, which the Rust side classifies
                case["stix2_matcher"] = {"error": "%s: %s" % (type(e).__name__, e)}
            f.write(json.dumps(case, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
