#!/usr/bin/env bash
# `accord convert` checked by tools nobody here wrote: Suricata rules parsed by suricataparser,
# the MISP event loaded by PyMISP, and STIX made from MISP and IOC lists validated by the OASIS
# stix2-validator (all from PyPI, in the test venv). Suricata itself is not installable from
# this machine's Debian sources, so `suricata -T` is not run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${VENV:-$ROOT/target/py-venv}
DATA=$ROOT/crates/accord-convert/tests/data
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check suricataparser==1.0.0 pymisp==2.5.34.4 stix2-validator==3.3.2
cargo build -q -p accord
ACCORD=$ROOT/target/debug/accord
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# Exit 1 means some indicators were reported as not convertible, which the fixtures include.
run() { "$ACCORD" "$@" 2>> "$WORK/stderr" || [ $? -eq 1 ]; }
run convert --to suricata -o "$WORK/suricata.rules" "$DATA/indicators.json"
run convert --to suricata --sid-range 5000-5099 -o "$WORK/suricata-range.rules" "$DATA/indicators.json"
# A range that is not one is refused, naming it (exit 2, before anything is read).
status=0
"$ACCORD" convert --to suricata --sid-range 10-1 "$DATA/indicators.json" > /dev/null 2> "$WORK/bad-range" || status=$?
[ "$status" -eq 2 ] && grep -q "sid range 10-1 is empty" "$WORK/bad-range" || { cat "$WORK/bad-range" >&2; exit 1; }
run convert --to misp -o "$WORK/misp.json" "$DATA/indicators.json"
run convert --to stix -o "$WORK/from-misp.json" "$DATA/misp-event.json"
run convert --to stix --tlp amber -o "$WORK/from-list.json" "$DATA/iocs.txt" "$DATA/iocs.csv"
grep -q "not converted: .*indicator--00000013.*FOLLOWEDBY" "$WORK/stderr"
"$VENV/bin/python" "$ROOT/tests/convert/check.py" "$WORK"
# What convert made from a MISP event imports into a node unchanged.
"$ACCORD" --data-dir "$WORK/node" init > /dev/null
"$ACCORD" --data-dir "$WORK/node" import "$WORK/from-misp.json" > /dev/null
echo "convert: OK"
