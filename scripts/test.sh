#!/usr/bin/env bash
# The whole test suite, on a fresh machine or an old one.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
# A build that is thrown away needs no incremental cache (over a GB on disk).
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
bash scripts/windows.sh
