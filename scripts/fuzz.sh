#!/usr/bin/env bash
# Fuzzes every target in fuzz/fuzz_targets for a fixed time each, on stable Rust and without
# cargo-fuzz: the targets are built with the coverage instrumentation cargo-fuzz asks rustc for
# (stable flags; no sanitizer, which stable rustc does not offer) and run by libFuzzer, starting
# from the seeds in fuzz/corpus/<target>/. Exits 1 if any target crashes, times out or runs out of
# memory; the input is saved in fuzz/artifacts/<target>/ and printed in base64.
#
#   scripts/fuzz.sh [TARGET...]      every target, or the ones named
#   FUZZ_SECONDS=30                  time per target
#   FUZZ_TIMEOUT=10                  seconds one input may take before it counts as a failure
#   FUZZ_JOBS=$(nproc)               targets fuzzed at the same time
#   FUZZ_TARGET_DIR                  where the instrumented build goes, apart from the normal build
#                                    (default: fuzz/ in CARGO_TARGET_DIR, or in target/)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FUZZ=$ROOT/fuzz
SECONDS_EACH=${FUZZ_SECONDS:-30}
TIMEOUT=${FUZZ_TIMEOUT:-10}
TARGET_DIR=${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/fuzz}
[[ $SECONDS_EACH =~ ^[1-9][0-9]*$ ]] || { echo "FUZZ_SECONDS must be a positive number of seconds, not '$SECONDS_EACH'" >&2; exit 2; }
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || { echo "FUZZ_TIMEOUT must be a positive number of seconds, not '$TIMEOUT'" >&2; exit 2; }
[[ ${FUZZ_JOBS:-1} =~ ^[1-9][0-9]*$ ]] || { echo "FUZZ_JOBS must be a positive number, not '$FUZZ_JOBS'" >&2; exit 2; }

# The targets are the files that define one; each must be a [[bin]] of fuzz/Cargo.toml and have seeds,
# so that a new target cannot be left out of the run by accident.
declare -a all=()
for f in "$FUZZ"/fuzz_targets/*.rs; do
    grep -q '^fuzz_target!' "$f" && all+=("$(basename "$f" .rs)")
done
bins=$(sed -n '/^\[\[bin\]\]/,/^$/s/^name = "\(.*\)"/\1/p' "$FUZZ/Cargo.toml")
for t in "${all[@]}"; do
    grep -qx "$t" <<< "$bins" || { echo "fuzz/fuzz_targets/$t.rs is not a [[bin]] in fuzz/Cargo.toml" >&2; exit 2; }
    compgen -G "$FUZZ/corpus/$t/*" > /dev/null || { echo "fuzz/corpus/$t/ has no seed inputs" >&2; exit 2; }
done
if [ $# -gt 0 ]; then
    for t in "$@"; do
        printf '%s\n' "${all[@]}" | grep -qx "$t" || { echo "no fuzz target '$t' (targets: ${all[*]})" >&2; exit 2; }
    done
    targets=("$@")
else
    targets=("${all[@]}")
fi

# The fuzz crate is its own workspace. It is built with the product's dependency versions: the main
# lock file is its starting point, and cargo adds only what fuzzing alone needs (libfuzzer-sys).
cp "$ROOT/Cargo.lock" "$FUZZ/Cargo.lock"
# What cargo-fuzz passes to rustc (cargo-fuzz src/project.rs), minus the sanitizer. --target keeps
# these flags away from build scripts and proc macros, which are not linked with libFuzzer.
HOST=$(rustc -vV | sed -n 's/^host: //p')
FLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table
 -Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-simplifycfg-branch-fold-threshold=0
 -Clink-dead-code --cfg fuzzing -Cdebug-assertions"
[[ $HOST == *-linux-* ]] && FLAGS="$FLAGS -Cllvm-args=-sanitizer-coverage-stack-depth"
started=$SECONDS
bin_args=()
for t in "${targets[@]}"; do bin_args+=(--bin "$t"); done
RUSTFLAGS="$(echo $FLAGS) ${RUSTFLAGS:-}" CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
    cargo build --quiet --release --manifest-path "$FUZZ/Cargo.toml" --target "$HOST" \
    --target-dir "$TARGET_DIR" "${bin_args[@]}"
echo "fuzz: built ${#targets[@]} targets in $((SECONDS - started)) s; ${SECONDS_EACH} s each"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# One target: its exit status in $WORK/$t.status, a line of results on stdout.
fuzz_one() {
    local t=$1 log=$WORK/$1.log status=0
    # New inputs libFuzzer finds go to a scratch directory; the seeds in the repository are only read.
    mkdir -p "$WORK/$t" "$FUZZ/artifacts/$t"
    "$TARGET_DIR/$HOST/release/$t" -max_total_time="$SECONDS_EACH" -timeout="$TIMEOUT" \
        -print_final_stats=1 -artifact_prefix="$FUZZ/artifacts/$t/" \
        "$WORK/$t" "$FUZZ/corpus/$t" > "$log" 2>&1 || status=$?
    echo "$status" > "$WORK/$t.status"
    local runs cov
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    if [ "$status" -eq 0 ]; then
        echo "fuzz $t: ok, ${runs:-?} runs, ${cov:-cov: ?}, new inputs: $(find "$WORK/$t" -type f | wc -l)"
    else
        echo "fuzz $t: FAILED (exit $status)"
    fi
}
# As many targets at a time as there are processors: each still gets its FUZZ_SECONDS.
JOBS=${FUZZ_JOBS:-$(nproc)}
running=0
for t in "${targets[@]}"; do
    fuzz_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait
failed=()
for t in "${targets[@]}"; do
    [ "$(cat "$WORK/$t.status")" = 0 ] && continue
    failed+=("$t")
    echo "--- fuzz $t:" >&2
    tail -n 40 "$WORK/$t.log" >&2
    # The failing input, so that it can be reproduced from a CI log alone (add it to
    # fuzz/corpus/$t/ with the fix, so that the regression stays found).
    for a in $(sed -n 's/.*Test unit written to \([^ ]*\).*/\1/p' "$WORK/$t.log"); do
        echo "fuzz $t: input $a ($(wc -c < "$a") bytes), base64:" >&2
        head -c 65536 "$a" | base64 -w 0 >&2
        echo >&2
    done
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: OK"
