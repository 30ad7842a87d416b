#!/usr/bin/env bash
# Runs every check rmkit has: formatting, clippy, then all unit, doc and integration tests
# (the integration tests start real redis-server processes on loopback ports).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh

echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== cargo clippy" >&2
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo doc" >&2
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
echo "== cargo test" >&2
cargo test --workspace "$@"
