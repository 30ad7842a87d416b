#!/usr/bin/env bash
# Which Redis module C API functions rmkit calls (toolkit/src/ffi), next to which the
# redis-module crate (redismodule-rs) wraps in its safe API, from the function list of the
# redismodule.h the bindings were generated from.
#
#   scripts/api-coverage.sh            # a Markdown table: function | rmkit | redis-module
#   scripts/api-coverage.sh --summary  # the counts only
set -euo pipefail
cd "$(dirname "$0")/.."
rm_src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/redis-module-2.0.8 2>/dev/null | head -1)
[[ -n $rm_src ]] || { echo "api-coverage.sh: redis-module 2.0.8 sources not found (cargo fetch first)" >&2; exit 1; }
header=$rm_src/src/include/redismodule.h
[[ -f $header ]] || { echo "api-coverage.sh: no $header" >&2; exit 1; }
all=$(grep -o 'REDISMODULE_API [^(]*(\*RedisModule_[A-Za-z0-9_]*)' "$header" | grep -o 'RedisModule_[A-Za-z0-9_]*' | sort -u)
ours=$(grep -rhoE 'api!\(RedisModule_[A-Za-z0-9_]+\)|has_api!\(RedisModule_[A-Za-z0-9_]+\)|raw::RedisModule_[A-Za-z0-9_]+' toolkit/src | grep -o 'RedisModule_[A-Za-z0-9_]*' | sort -u)
# The crate's Rust layer: its modules besides the bindings, plus the wrapper functions of its
# raw.rs (calls `RedisModule_X.unwrap()(...)`), not the bare bindings.
theirs_safe=$( (find "$rm_src/src" -name '*.rs' ! -name raw.rs ! -path '*/redisraw/*' -print0 |
    xargs -0 grep -hoE 'RedisModule_[A-Za-z0-9_]+'
    grep -oE 'RedisModule_[A-Za-z0-9_]+\.unwrap\(\)' "$rm_src/src/raw.rs") | grep -o 'RedisModule_[A-Za-z0-9_]*' | sort -u)
n_all=0 n_ours=0 n_theirs=0 n_only_ours=0 n_only_theirs=0
rows=()
for f in $all; do
    o=$(grep -qx "$f" <<<"$ours" && echo yes || echo -)
    t=$(grep -qx "$f" <<<"$theirs_safe" && echo yes || echo -)
    n_all=$((n_all + 1))
    [[ $o == yes ]] && n_ours=$((n_ours + 1))
    [[ $t == yes ]] && n_theirs=$((n_theirs + 1))
    [[ $o == yes && $t == - ]] && n_only_ours=$((n_only_ours + 1))
    [[ $o == - && $t == yes ]] && n_only_theirs=$((n_only_theirs + 1))
    rows+=("| ${f#RedisModule_} | $o | $t |")
done
if [[ ${1:-} != --summary ]]; then
    echo "| function | rmkit | redis-module 2.0.8 |"
    echo "|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
fi
echo "C API functions: $n_all; rmkit calls $n_ours; redis-module 2.0.8 wraps $n_theirs; rmkit only: $n_only_ours; redis-module only: $n_only_theirs"
