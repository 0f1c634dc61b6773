#!/usr/bin/env bash
# The whole test suite, on a fresh machine or an old one.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
bash scripts/windows.sh
