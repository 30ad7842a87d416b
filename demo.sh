#!/usr/bin/env bash
# The rmkit demo: builds the example modules, starts redis-server with hashex and json loaded
# on localhost, replays the HGETSET transcript, shows how INFO memory sees module memory with
# rmkit's allocator and misses it with the system one, shows a JSON document's measured
# MEMORY USAGE and how maxmemory policies treat json keys, then keeps serving until Ctrl-C.
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
cargo build --release --quiet -p hashex -p rmkit-json -p memtest-rmkit -p memtest-system
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
start "$port" "$work/main" hashex rmkit_json memtest_rmkit
echo
echo "== redis-server $(redis-server --version | grep -o 'v=[^ ]*' | cut -c3-) on 127.0.0.1:$port with hashex and json"
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

echo
echo "== json: a document's memory is measured by the allocator, not guessed"
show() { printf '127.0.0.1:%s> %s\n' "$port" "$*"; cli "$@"; }
show json.set user:1 '{"name":"Ada","langs":["en","fr"],"visits":12}'
show json.path user:1 '$.langs[*]'
show json.numincrby user:1 '$.visits' 1
show json.debug memory user:1
show memory usage user:1
echo "   (MEMORY USAGE = the measured bytes + the key's own overhead; it stays exact after edits)"

# maxmemory acting on json keys: 6,000 documents of 1 KB text into a 4 MB server, two policies
# (a stored document takes about as much memory as its text, so that is ~1.5x maxmemory).
docs=6000
item='{"k":"item","v":12345,"ok":true}'
items=$item; for _ in $(seq 29); do items="$items,$item"; done
fill() { # port count -> one json.set per line on a single connection
    for i in $(seq "$2"); do printf "json.set doc:%d '{\"id\":%d,\"items\":[%s]}'\n" "$i" "$i" "$items"; done |
        redis-cli -p "$1" 2>&1
}
echo
echo "== maxmemory 4mb with json documents (~1 KB of text each)"
for policy in noeviction allkeys-lru; do
    p=$(free_port $((port + 2)))
    start "$p" "$work/$policy" rmkit_json
    redis-cli -p "$p" config set maxmemory 4mb >/dev/null
    redis-cli -p "$p" config set maxmemory-policy "$policy" >/dev/null
    out=$(fill "$p" "$docs")
    ok=$(grep -c '^OK$' <<<"$out" || true)
    first_err=$(grep -m1 -v '^OK$' <<<"$out" || true)
    used=$(redis-cli -p "$p" info memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}')
    evicted=$(redis-cli -p "$p" info stats | tr -d '\r' | awk -F: '/^evicted_keys:/ {print $2}')
    keys=$(redis-cli -p "$p" dbsize)
    printf '   %-12s: %4d of %d writes accepted, %4d keys kept, %4d evicted, used_memory %d (maxmemory 4194304)\n' \
        "$policy" "$ok" "$docs" "$keys" "$evicted" "$used"
    if [ -n "$first_err" ]; then printf '                 then: %s\n' "$first_err"; fi
    kill "${pids[-1]}"
done

if ((once)); then
    exit 0
fi
echo
echo "hashex is serving on 127.0.0.1:$port — try: redis-cli -p $port hgetset k f v"
echo "Ctrl-C to stop."
wait "${pids[0]}"
