#!/usr/bin/env bash
# Runs every cargo-fuzz target of rmkit for SECONDS each, at most two at a time, and prints a
# summary line per target: execs/s, coverage (cov: and ft: of libFuzzer's final stats line),
# corpus size (corp: entries/bytes) and how many crash files it wrote.
#
#   fuzz/run-all.sh 600                 # 10 minutes per target (~40 min wall time for 8 targets)
#   fuzz/run-all.sh 60 numbers args     # only some targets
#   JOBS=1 fuzz/run-all.sh 30           # one at a time
#
# Needs rustup's nightly toolchain; installs cargo-fuzz (`cargo install cargo-fuzz --locked`)
# when it is missing. Each target starts from the committed seeds in fuzz/corpus/<target>/ and
# writes what it finds to fuzz/target/corpus/<target>/ (git-ignored), so the committed corpus
# stays hand-made; crashes land in fuzz/artifacts/<target>/ (git-ignored: commit a minimized
# copy under fuzz/corpus/<target>/ once the bug is fixed). Logs: fuzz/target/logs/<target>.log.
# The exit status is 1 if any target crashed.
#
# Environment: JOBS (parallel fuzzers, 1 or 2; default 2), RMKIT_FUZZ_ALLOC_PREFIX (8 or 16:
# the fake server allocator's header, see fuzz-targets/src/fake.rs), EXTRA (more libFuzzer
# flags, e.g. EXTRA=-seed=1).
set -euo pipefail

usage() {
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}
[[ $# -ge 1 && $1 =~ ^[0-9]+$ ]] || usage
seconds=$1
shift

cd "$(dirname "$0")"
all_targets=(args numbers glob json_value json_path json_template json_ops rdb_load alloc)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")
jobs=${JOBS:-2}
if ((jobs < 1 || jobs > 2)); then
    echo "JOBS must be 1 or 2 (the machine's cores are shared)" >&2
    exit 2
fi

# libFuzzer's -max_len per target: enough for the property, small enough to stay fast.
max_len() {
    case $1 in
    numbers | glob) echo 64 ;;
    alloc) echo 2560 ;; # 256 operations of at most 10 bytes
    json_ops) echo 4096 ;;
    json_path | json_template) echo 4096 ;;
    *) echo 8192 ;;
    esac
}

# More libFuzzer flags per target.
target_flags() {
    case $1 in
    # Inputs are at most 8 KiB: a loader allocating 64 MiB at once trusted a corrupt length.
    rdb_load) echo -malloc_limit_mb=64 ;;
    esac
}

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "installing the nightly toolchain" >&2
    rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

# Optimised, with debug assertions and overflow checks (an overflow in a parser is a finding),
# and AddressSanitizer (cargo-fuzz's default). Built once, so parallel runs do not race.
flags=(-O -a)
cargo +nightly fuzz build "${flags[@]}"

mkdir -p target/logs
start_marker=target/logs/.start
touch "$start_marker"

run_one() {
    local t=$1 dict=() more
    [[ -f dict/$t.dict ]] && dict=(-dict="dict/$t.dict")
    more=$(target_flags "$t")
    mkdir -p "target/corpus/$t" "artifacts/$t"
    # shellcheck disable=SC2086 # EXTRA and $more are lists of flags
    cargo +nightly fuzz run "${flags[@]}" "$t" "target/corpus/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -max_len="$(max_len "$t")" \
        -print_final_stats=1 "${dict[@]}" $more ${EXTRA:-} \
        >"target/logs/$t.log" 2>&1 || true
}

running=0
for t in "${targets[@]}"; do
    if ((running >= jobs)); then
        wait -n || true
        running=$((running - 1))
    fi
    echo "fuzzing $t for ${seconds}s ($(date +%H:%M:%S))" >&2
    run_one "$t" &
    running=$((running + 1))
done
wait

status=0
printf '\n%-14s %9s %8s %8s %10s %8s %8s\n' target execs/s cov ft corpus runs crashes
for t in "${targets[@]}"; do
    log=target/logs/$t.log
    line=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 || true)
    field() { sed -nE "s/.* $1: ([^ ]+).*/\1/p" <<<"$line"; }
    execs=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log" | tail -n 1)
    runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -n 1)
    crashes=$(find "artifacts/$t" -type f -newer "$start_marker" | wc -l)
    ((crashes == 0)) || status=1
    printf '%-14s %9s %8s %8s %10s %8s %8s\n' "$t" "${execs:-?}" "$(field cov)" "$(field ft)" \
        "$(field corp)" "${runs:-?}" "$crashes"
    if ((crashes > 0)); then
        grep -E -m 3 'panicked at|ERROR: |SUMMARY: ' "$log" | sed 's/^/    /' || true
        find "artifacts/$t" -type f -newer "$start_marker" | sed 's/^/    artifact: /'
    fi
done
exit $status
