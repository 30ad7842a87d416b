#!/usr/bin/env bash
# Runs every check rmkit has: formatting, clippy, then all unit, doc and integration tests
# (the integration tests start real redis-server processes on loopback ports).
set -euo pipefail
trap 'echo "test.sh: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")"
valkey=$(scripts/setup.sh --valkey-path)

echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== cargo clippy" >&2
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo doc" >&2
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
echo "== cargo test (redis-server $(redis-server --version | grep -o 'v=[^ ]*' | cut -c3-))" >&2
cargo test --workspace "$@"

# The core suites again on Valkey 8.1 (libc malloc): one build of each module, two servers.
echo "== cargo test on $("$valkey" --version | cut -d' ' -f1-3)" >&2
RMKIT_REDIS_SERVER="$valkey" cargo test -p rmkit-tests --no-fail-fast \
    --test hashex --test memory --test json --test toolkit --test lifecycle --test services --test config --test server_config \
    --test acl --test server_acl --test bad_input --test bounded --test signals --test conformance --test capped --test keys --test server_api \
    --test ratelimit --test server_events --test json_compat --test json_client "$@"
