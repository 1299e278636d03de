#!/usr/bin/env bash
# Sandbox create/destroy benchmark with same-run baselines (fork+exec, unshare).
# Root only. Usage: scripts/bench-sandbox.sh [--count N] [--seconds S] [--concurrency C]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p quiver >&2
dir=$(mktemp -d /tmp/quiver-bench-XXXXXX)
trap 'rm -rf "$dir"' EXIT
QUIVER_LOG=warn target/release/quiver sandbox bench --data-dir "$dir" "$@"
