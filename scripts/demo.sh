#!/usr/bin/env bash
# The main job on the built-in simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/oqsbot"
# As root, let the browser present the client certificate to the demo's
# オン資 site (127.0.0.1:18443 only), so the demo runs over mutual TLS as the
# real portal does. Without it the demo runs over plain HTTP and says so.
if [ "$(id -u)" = 0 ]; then
    "$bin" browser-policy --url https://127.0.0.1:18443 --name oqsbot-demo >/dev/null ||
        echo "demo: the browser policy could not be written; the demo runs over plain HTTP" >&2
fi
exec "$bin" demo "$@"
