# The servers the TAXII benchmarks compare, each fresh, on plain HTTP at 127.0.0.1:$PORT, their
# data in $OUT. Sourced by bench/taxii.sh and bench/clients.sh, which set OUT, PORT, ACCORD,
# VENV and PY first.

PID=
stop() { if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; fi; }
trap stop EXIT

# A fresh Accord node serving; sets PID, COLL (its first collection) and AUSER/APASS (a token of
# the principal `bench`, which reads and writes everything).
start_accord() {
    stop
    rm -rf "$OUT/node"
    "$ACCORD" init "$OUT/node" > /dev/null
    sed -i "s/^listen = .*/listen = \"127.0.0.1:$PORT\"/; s/^plain_http = false/plain_http = true/" "$OUT/node/accord.toml"
    # A caller's own changes to the configuration (a sed script), if any.
    if [ -n "${ACCORD_SED:-}" ]; then sed -i "$ACCORD_SED" "$OUT/node/accord.toml"; fi
    cat >> "$OUT/node/accord.toml" <<'TOML'

[[principals]]
name = "bench"
organisation = "example-csirt"
read = ["*"]
write = ["*"]
TOML
    read -r AUSER APASS <<< "$("$ACCORD" --data-dir "$OUT/node" --json token create --principal bench | "$PY" -c 'import json,sys; t=json.load(sys.stdin); print(t["id"], t["secret"])')"
    COLL=$(sed -n 's/^id = "\(.*\)"/\1/p' "$OUT/node/accord.toml" | head -1)
    sync
    "$ACCORD" --data-dir "$OUT/node" serve 2> "$OUT/serve.log" &
    PID=$!
    for _ in $(seq 100); do grep -q "serving" "$OUT/serve.log" && break; sleep 0.1; done
}
# A fresh medallion (memory backend) with one empty collection; sets PID and MCOLL.
start_medallion() {
    stop
    local coll=91a7b528-80eb-42ed-a74d-c6fbd5a26116
    cat > "$OUT/medallion-data.json" <<JSON
{"/discovery": {"title": "bench", "api_roots": ["http://127.0.0.1:$PORT/bench/"], "default": "http://127.0.0.1:$PORT/bench/"},
 "bench": {"information": {"title": "bench", "versions": ["application/taxii+json;version=2.1"], "max_content_length": 104857600},
           "status": [],
           "collections": [{"id": "$coll", "title": "bench", "can_read": true, "can_write": true,
                            "media_types": ["application/stix+json;version=2.1"], "objects": [], "manifest": []}]}}
JSON
    cat > "$OUT/medallion.json" <<JSON
{"backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend", "filename": "$OUT/medallion-data.json"},
 "users": {"bench": "bench"}, "taxii": {"max_page_size": 1000}}
JSON
    "$VENV/bin/medallion" --host 127.0.0.1 --port $PORT --log-level ERROR "$OUT/medallion.json" > "$OUT/medallion.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/taxii2/" && break; sleep 0.2; done
    MCOLL=$coll
}
