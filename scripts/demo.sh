#!/usr/bin/env bash
# The main job on the built-in simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
cargo run --release --quiet -- demo "$@"
