#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need,
# builds the workspace, runs the Rust tests and the end-to-end pytest suite.
# Usage: scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR=never

echo "== system packages"
"$ROOT/scripts/install-deps.sh"

echo "== gates: formatting and lints (fail the run)"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# cargo-deny builds from source in ~6 min on 2 cores, so it is built once per version
# and kept under /var/cache like the runtime-client fixtures.
DENY_VERSION=0.20.2
DENY_ROOT="${QUIVER_TOOL_CACHE:-/var/cache/quiver-tools}/cargo-deny-$DENY_VERSION"
if [ ! -x "$DENY_ROOT/bin/cargo-deny" ]; then
  echo "building cargo-deny $DENY_VERSION into $DENY_ROOT (once)"
  CARGO_TARGET_DIR="$ROOT/target/tools" cargo install cargo-deny --version "$DENY_VERSION" \
    --locked --quiet --root "$DENY_ROOT"
fi
"$DENY_ROOT/bin/cargo-deny" --log-level error check licenses bans

echo "== build"
cargo build --workspace --all-targets

echo "== official runtime-client fixtures (cached in ${QUIVER_FIXTURE_CACHE:-/var/cache/quiver-fixtures})"
"$ROOT/scripts/build-fixtures.sh"

echo "== runtime-image fixtures (cached there too)"
"$ROOT/scripts/build-images.sh"

echo "== rust tests"
cargo test --workspace -- --test-threads=2

echo "== python venv (pinned, under target/)"
VENV="$ROOT/target/venv"
STAMP="$VENV/.requirements.sha"
want=$(sha256sum tests/requirements.txt | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  rm -rf "$VENV"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
  echo "$want" > "$STAMP"
fi

echo "== end-to-end tests"
export QUIVER_BIN="$ROOT/target/debug/quiver"
export PATH="$VENV/bin:$PATH"
# Most tests wait on servers and sandboxes, not on the CPU, so they run in parallel
# workers (a file stays on one worker: its module fixtures are built once); the few
# marked `serial` measure CPU shares and run alone afterwards. pytest's exit code 5
# ("nothing selected") is not a failure when extra args narrow the run to one part.
WORKERS="${QUIVER_TEST_WORKERS:-4}"
part() {
  local rc=0
  "$VENV/bin/python" -m pytest tests -q -p no:cacheprovider --timeout=180 "$@" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then exit "$rc"; fi
}
part -n "$WORKERS" --dist loadfile -m "not serial" "$@"
part -m serial "$@"
