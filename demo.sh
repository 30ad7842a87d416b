#!/usr/bin/env bash
# The rmkit demo: builds the example modules, starts redis-server with hashex loaded on
# localhost, replays the HGETSET transcript, shows how INFO memory sees module memory with
# rmkit's allocator and misses it with the system one, then keeps serving until Ctrl-C.
#
#   ./demo.sh            # serve on 127.0.0.1:6379 (or the next free port) until Ctrl-C
#   ./demo.sh --once     # run the demo and exit
#   PORT=7000 ./demo.sh  # choose the port
set -euo pipefail
cd "$(dirname "$0")"
once=0
for a in "$@"; do
    case "$a" in
        --once) once=1 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "unknown option $a (try --help)" >&2; exit 2 ;;
    esac
done

scripts/setup.sh
echo "== building the modules (release)" >&2
cargo build --release --quiet -p hashex -p memtest-rmkit -p memtest-system
lib="${CARGO_TARGET_DIR:-target}/release"

free_port() { # first free TCP port from $1
    local p=$1
    while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
    echo "$p"
}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
trap 'echo; echo "stopped."; exit 0' INT TERM

start() { # port dir modules...
    local port=$1 dir=$2; shift 2
    mkdir -p "$dir"
    local args=(--port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir"
        --logfile "$dir/redis.log" --slowlog-log-slower-than -1)
    for m in "$@"; do args+=(--loadmodule "$(realpath "$lib/lib$m.so")"); done
    redis-server "${args[@]}" &
    pids+=($!)
    for _ in $(seq 100); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "redis-server on port $port did not start; its log:" >&2
    cat "$dir/redis.log" >&2
    exit 1
}

port=$(free_port "${PORT:-6379}")
start "$port" "$work/main" hashex memtest_rmkit
echo
echo "== redis-server $(redis-server --version | grep -o 'v=[^ ]*' | cut -c3-) on 127.0.0.1:$port with hashex"
echo
cli() { redis-cli --no-raw -p "$port" "$@"; }
for c in "hset a a 1" "hgetset a a 2" "hget a a" "hgetset a b 2" "hgetset a b 3"; do
    printf '127.0.0.1:%s> %s\n' "$port" "$c"
    # shellcheck disable=SC2086
    cli $c
done
cli del a >/dev/null

# One connection per server, so that only the module's allocation moves used_memory.
# (Each command is called once first: Redis allocates a latency histogram on a command's
# first call.)
used_delta() { # port bytes
    printf 'INFO memory\nMEMTEST.GROW 0\nMEMTEST.FREE\nINFO memory\nMEMTEST.GROW %s\nINFO memory\nMEMTEST.FREE\n' "$2" |
        redis-cli -p "$1" | tr -d '\r' | awk -F: '/^used_memory:/ { u[++n] = $2 } END { print u[3] - u[2] }'
}
sys_port=$(free_port $((port + 1)))
start "$sys_port" "$work/system" memtest_system
n=$((10 * 1024 * 1024))
ours=$(used_delta "$port" "$n")
theirs=$(used_delta "$sys_port" "$n")
kill "${pids[1]}"
echo
echo "== INFO memory: a module holds a 10 MiB Vec<u8> ($n bytes)"
printf '   rmkit RedisAllocator : used_memory %+d bytes  (seen by maxmemory and eviction)\n' "$ours"
printf '   Rust System allocator: used_memory %+d bytes  (invisible to Redis)\n' "$theirs"
echo "   (the same module code, built twice; rmkit::module! picks the allocator)"
echo
echo "   hashex.memory: $(redis-cli --raw -p "$port" hashex.memory | paste -sd' ' | sed -E 's/([a-z_]+) ([0-9]+)/\1=\2/g')"

if ((once)); then
    exit 0
fi
echo
echo "hashex is serving on 127.0.0.1:$port — try: redis-cli -p $port hgetset k f v"
echo "Ctrl-C to stop."
wait "${pids[0]}"
