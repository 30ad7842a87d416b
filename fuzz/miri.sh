#!/usr/bin/env bash
# Runs rmkit's pure and unsafe code under Miri (nightly), which checks for undefined behaviour:
#
#   1. cargo +nightly miri test -p rmkit-alloc           the allocator's tests over the fake server
#        allocator; under Miri they sweep fewer layouts, threads and iterations (the cfg(miri)
#        constants in alloc/tests/) and the early-pointer table is smaller (alloc/src/preinit.rs)
#   2. cargo +nightly miri test -p rmkit --lib           the toolkit's unit tests (argument parser,
#        RDB byte I/O, ...)
#   3. cargo +nightly miri test -p rmkit-fuzz-targets    the corpus replay, in two runs:
#        replay-pure   the parser targets and rdb_load (`-- --skip alloc`), replay_hashex and the
#                      unit tests
#        replay-alloc  the alloc target (`--test replay -- alloc`): RedisAllocator over the fake
#
#   fuzz/miri.sh                 all steps: alloc toolkit replay-pure replay-alloc
#   fuzz/miri.sh alloc toolkit   some steps
#
# Installs the miri component when missing. The replay reads fuzz/corpus from disk, so it runs
# with -Zmiri-disable-isolation, and replays at most RMKIT_FUZZ_REPLAY_LIMIT inputs per
# directory (default under Miri: 8, spread evenly over the inputs sorted by size).
# Exit status: non-zero if any step failed; a summary line per step is printed at the end.
set -uo pipefail

cd "$(dirname "$0")/.."
if ! cargo +nightly miri --version >/dev/null 2>&1; then
    echo "installing miri" >&2
    rustup +nightly component add miri rust-src || exit 1
fi

steps=("$@")
[[ ${#steps[@]} -gt 0 ]] || steps=(alloc toolkit replay-pure replay-alloc)
summary=()
status=0
for step in "${steps[@]}"; do
    case $step in
    alloc) cmd=(cargo +nightly miri test -p rmkit-alloc) ;;
    toolkit) cmd=(cargo +nightly miri test -p rmkit --lib) ;;
    replay-pure | replay-alloc)
        # cargo-miri runs a test with the environment it was built with: rebuild, so that
        # RMKIT_FUZZ_REPLAY_LIMIT takes effect.
        touch fuzz-targets/tests/replay.rs fuzz-targets/tests/replay_hashex.rs
        cmd=(env "MIRIFLAGS=${MIRIFLAGS:-} -Zmiri-disable-isolation"
            cargo +nightly miri test -p rmkit-fuzz-targets)
        if [[ $step == replay-pure ]]; then
            cmd+=(-- --skip alloc)
        else
            cmd+=(--test replay -- alloc)
        fi
        ;;
    *)
        echo "unknown step '$step' (alloc, toolkit, replay-pure, replay-alloc)" >&2
        exit 2
        ;;
    esac
    echo "== ${cmd[*]}" >&2
    start=$SECONDS
    if "${cmd[@]}"; then
        summary+=("ok      $step ($((SECONDS - start))s)")
    else
        summary+=("FAILED  $step ($((SECONDS - start))s): ${cmd[*]}")
        status=1
    fi
done
printf '\n'
printf '%s\n' "${summary[@]}"
exit $status
