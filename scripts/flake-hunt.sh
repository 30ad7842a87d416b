#!/usr/bin/env bash
# Runs test binaries again and again on a loaded machine and counts failures per binary, to find
# tests whose result depends on timing or on other tests rather than on the code.
#
#   scripts/flake-hunt.sh [-n RUNS] [-l LOADERS] [TEST ...]
#
# TEST is an integration test of rmkit-tests (`faults`, `json`, ...), `alloc:NAME` for one of
# rmkit-alloc's test binaries (`alloc:layouts`), or `unit:PACKAGE` for a package's unit tests
# (`unit:rmkit`). No TEST: every one of them. RUNS defaults to 10. LOADERS (default 2, one per
# core here) busy loops keep the CPUs saturated for the whole hunt. Failed runs' output is kept
# in target/flake-hunt/. Exits non-zero if any run failed.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=10
loaders=2
while getopts "n:l:h" opt; do
    case "$opt" in
        n) runs=$OPTARG ;;
        l) loaders=$OPTARG ;;
        *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

targets=("$@")
if ((${#targets[@]} == 0)); then
    for f in tests/tests/*.rs; do targets+=("$(basename "$f" .rs)"); done
    for f in alloc/tests/*.rs; do targets+=("alloc:$(basename "$f" .rs)"); done
    targets+=(unit:rmkit unit:rmkit-alloc unit:rmkit-json unit:rmkit-fuzz-targets)
fi

cargo_args() {
    case "$1" in
        alloc:*) echo "-p rmkit-alloc --test ${1#alloc:}" ;;
        unit:*) echo "-p ${1#unit:} --lib" ;;
        *) echo "-p rmkit-tests --test $1" ;;
    esac
}

echo "flake-hunt: building ${#targets[@]} test binaries" >&2
for t in "${targets[@]}"; do
    # shellcheck disable=SC2046
    cargo test --no-run --quiet $(cargo_args "$t") 2>&1 | grep -v '^ *Executable' >&2 || true
done
# The integration tests build their module cdylibs on first use: do it once, up front.
cargo build --quiet -p hashex -p rmkit-json -p memtest-rmkit -p memtest-system -p many -p dupe -p boom

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for _ in $(seq 1 "$loaders"); do
    (while :; do :; done) &
    pids+=($!)
done
echo "flake-hunt: $loaders busy loops running; $runs runs per binary" >&2

out=target/flake-hunt
mkdir -p "$out"
total_fail=0
summary=()
for t in "${targets[@]}"; do
    fails=0
    start=$(date +%s)
    for i in $(seq 1 "$runs"); do
        log="$out/${t//:/-}.$i.log"
        # shellcheck disable=SC2046
        if cargo test --quiet $(cargo_args "$t") >"$log" 2>&1; then
            rm -f "$log"
        else
            fails=$((fails + 1))
            echo "flake-hunt: $t run $i FAILED: $(grep -m1 -E 'panicked|FAILED|error' "$log" || true) (log: $log)" >&2
        fi
    done
    secs=$(($(date +%s) - start))
    line="$t: $fails of $runs runs failed (${secs}s)"
    echo "flake-hunt: $line" >&2
    summary+=("$line")
    total_fail=$((total_fail + fails))
done
printf '%s\n' "${summary[@]}"
if ((total_fail > 0)); then
    echo "flake-hunt: $total_fail failed runs; logs in $out/" >&2
    exit 1
fi
