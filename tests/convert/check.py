"""Checks `accord convert` output with third-party tools: every Suricata rule parses with
suricataparser and has a unique sid in the range asked for; the MISP event loads into PyMISP with its attributes; the
STIX made from a MISP event and from IOC lists passes the OASIS stix2-validator.

usage: check.py WORKDIR (holding suricata.rules, suricata-range.rules, misp.json, from-misp.json,
from-list.json)
"""
import json
import os
import sys

from pymisp import MISPEvent
from stix2validator import ValidationOptions, validate_instance
from suricataparser import parse_rule

work = sys.argv[1]


def suricata(name, first, last):
    """The rules of a file, each parsed by suricataparser, by their text without sid."""
    rules = [l for l in open(os.path.join(work, name)) if l.strip() and not l.startswith("#")]
    assert rules, "no rules"
    by_rule = {}
    for line in rules:
        rule = parse_rule(line)
        assert rule is not None, "suricataparser cannot parse: " + line
        assert rule.action == "alert", line
        assert first <= int(rule.sid) <= last, "sid %s outside %d-%d" % (rule.sid, first, last)
        assert rule.sid not in by_rule.values(), "duplicate sid %s" % rule.sid
        assert any(o.name == "msg" for o in rule.options), line
        by_rule[line.replace("sid:%s;" % rule.sid, "")] = rule.sid
    print("suricata: %d rules parse, sids unique and in %d-%d" % (len(rules), first, last))
    return by_rule


# The default range, and --sid-range 5000-5099: the same rules, in the range asked for.
default = suricata("suricata.rules", 9000000, 9999999)
ranged = suricata("suricata-range.rules", 5000, 5099)
assert default.keys() == ranged.keys(), "--sid-range changed more than the sids"

event = MISPEvent()
event.load(json.load(open(os.path.join(work, "misp.json"))))
assert event.attributes, "no attributes"
for a in event.attributes:
    assert a.type and a.value and a.category, a
print("misp: PyMISP loads the event with %d attributes" % len(event.attributes))

options = ValidationOptions(version="2.1", strict=False)
for name in ("from-misp.json", "from-list.json"):
    bundle = json.load(open(os.path.join(work, name)))
    results = validate_instance(bundle, options)
    if not results.is_valid:
        for e in results.errors:
            print(name, e)
        sys.exit("%s: stix2-validator reports errors" % name)
    n = sum(1 for o in bundle["objects"] if o["type"] == "indicator")
    assert n > 0, name
    print("%s: %d indicators valid for stix2-validator" % (name, n))
