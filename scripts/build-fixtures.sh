#!/usr/bin/env bash
# Builds the function packages that prove Quiver runs the *unchanged official* Lambda
# runtime interface clients (sources in tests/fixtures/, see its README.md):
#
#   target/fixtures/python-ric.zip    awslambdaric (cp311 wheels) + app.py + bootstrap
#   target/fixtures/node-ric.zip      aws-lambda-ric 3.x built for /usr/bin/node + index.mjs + bootstrap
#   target/fixtures/rust-runtime.zip  a lambda_runtime binary as bootstrap
#   target/fixtures/fastapi-mangum.zip  a FastAPI app behind Mangum (cp311 wheels) + app.py
#   target/fixtures/powertools.zip    AWS Lambda Powertools' HTTP/REST resolvers (pure-Python wheels) + app.py
#   target/fixtures/serverless-express.zip  an Express app behind @codegenie/serverless-express + index.js
#
# Each package is cached outside the clone in $QUIVER_FIXTURE_CACHE (default
# /var/cache/quiver-fixtures) under <name>-<version-key>/, the key covering the RIC
# version, the toolchain version and a hash of the fixture's sources and of this script,
# so a second run only copies zips. Only registry packages are downloaded (pip, npm, cargo).
#
# Usage: scripts/build-fixtures.sh [python-ric|node-ric|rust-runtime|fastapi-mangum|powertools|
#        serverless-express]...   (default: all)
# Needs (Debian): python3-pip, zip, nodejs + npm, cmake autoconf automake libtool g++ make
# (node-ric compiles curl and aws-lambda-cpp), a Rust toolchain (cargo).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SRC=$ROOT/tests/fixtures
OUT=$ROOT/target/fixtures
CACHE=${QUIVER_FIXTURE_CACHE:-/var/cache/quiver-fixtures}
PYTHON=/usr/bin/python3.11
NODE=/usr/bin/node

say() { echo "build-fixtures: $*"; }
die() { echo "build-fixtures: error: $*" >&2; exit 1; }

# 12 hex digits over the named files' contents (paths relative to tests/fixtures) and
# this script, so a change to either gives a new cache key.
src_hash() {
  (cd "$SRC" && sha256sum "$@" && sha256sum "$ROOT/scripts/build-fixtures.sh" | cut -d' ' -f1) |
    sha256sum | cut -c1-12
}

# A fresh scratch dir inside the cache (same filesystem, so the final mv is atomic).
scratch() { mktemp -d "$CACHE/.tmp-$1.XXXXXX"; }

# Moves a finished scratch dir to its key; a concurrent run that finished first wins.
publish() {
  local tmp=$1 dir=$2
  chmod 755 "$tmp"
  if ! mv -T "$tmp" "$dir" 2>/dev/null; then
    rm -rf "$tmp"
    [ -d "$dir" ] || die "could not move $tmp to $dir"
  fi
}

# zip <dir> into <zip>: Info-ZIP keeps the unix mode (bootstrap stays executable); -X drops
# uid/gid extras; symlinks are followed, never stored (Quiver refuses links in packages).
zip_dir() {
  local dir=$1 zipfile=$2
  rm -f "$zipfile"
  (cd "$dir" && zip -q -r -X "$zipfile" .)
}

# Drops the older zip keys of one package (each edit of a fixture makes a new key; they
# are cheap to rebuild). node_modules keys are kept: rebuilding one costs minutes.
forget_others() {
  local keep=$1 pattern=$2 d
  for d in "$CACHE"/$pattern; do
    if [ -d "$d" ] && [ "$d" != "$keep" ]; then
      rm -rf "$d"
    fi
  done
}

copy_out() {
  local zipfile=$1 name
  name=$(basename "$zipfile")
  mkdir -p "$OUT"
  if ! cmp -s "$zipfile" "$OUT/$name"; then
    cp "$zipfile" "$OUT/$name.tmp" && mv -f "$OUT/$name.tmp" "$OUT/$name"
  fi
  say "$name: $(du -h "$OUT/$name" | cut -f1) -> target/fixtures/$name"
}

build_python_ric() {
  [ -x "$PYTHON" ] || die "$PYTHON not found (Debian package python3.11)"
  "$PYTHON" -m pip --version >/dev/null 2>&1 || die "pip for $PYTHON missing (Debian package python3-pip)"
  local ric pyver key dir tmp
  ric=$(sed -n 's/^awslambdaric==\([^ ]*\).*/\1/p' "$SRC/python-ric/requirements.txt")
  pyver=$("$PYTHON" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
  key="python-ric-$ric-$pyver-$(src_hash python-ric/requirements.txt python-ric/app.py python-ric/bootstrap)"
  dir=$CACHE/$key
  if [ -f "$dir/python-ric.zip" ]; then
    say "python-ric: cached ($dir)"
  else
    say "python-ric: pip install awslambdaric $ric ($pyver wheels) into a new package"
    tmp=$(scratch python-ric)
    # --target skips Debian's externally-managed guard; --only-binary + --require-hashes
    # install exactly the pinned cp311 wheels.
    "$PYTHON" -m pip install -q --disable-pip-version-check --no-input --root-user-action=ignore \
      --only-binary=:all: --require-hashes --no-deps --no-compile \
      --target "$tmp/pkg" -r "$SRC/python-ric/requirements.txt"
    cp "$SRC/python-ric/app.py" "$tmp/pkg/"
    install -m 0755 "$SRC/python-ric/bootstrap" "$tmp/pkg/bootstrap"
    # The task root is read-only in a sandbox, so the .pyc files must ship in the zip, and
    # as unchecked-hash: timestamp .pyc files go stale when unzipping changes mtimes (a zip
    # keeps them to 2 s), and Python would then recompile on every cold start.
    "$PYTHON" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$tmp/pkg"
    zip_dir "$tmp/pkg" "$tmp/python-ric.zip"
    rm -rf "$tmp/pkg"
    publish "$tmp" "$dir"
    say "python-ric: built ($dir)"
  fi
  forget_others "$dir" "python-ric-[0-9]*"
  copy_out "$dir/python-ric.zip"
}

build_fastapi_mangum() {
  [ -x "$PYTHON" ] || die "$PYTHON not found (Debian package python3.11)"
  "$PYTHON" -m pip --version >/dev/null 2>&1 || die "pip for $PYTHON missing (Debian package python3-pip)"
  local fa mg pyver key dir tmp
  fa=$(sed -n 's/^fastapi==\([^ ]*\).*/\1/p' "$SRC/fastapi-mangum/requirements.txt")
  mg=$(sed -n 's/^mangum==\([^ ]*\).*/\1/p' "$SRC/fastapi-mangum/requirements.txt")
  pyver=$("$PYTHON" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
  key="fastapi-mangum-$fa-$mg-$pyver-$(src_hash fastapi-mangum/requirements.txt fastapi-mangum/app.py)"
  dir=$CACHE/$key
  if [ -f "$dir/fastapi-mangum.zip" ]; then
    say "fastapi-mangum: cached ($dir)"
  else
    say "fastapi-mangum: pip install fastapi $fa + mangum $mg ($pyver wheels) into a new package"
    tmp=$(scratch fastapi-mangum)
    "$PYTHON" -m pip install -q --disable-pip-version-check --no-input --root-user-action=ignore \
      --only-binary=:all: --require-hashes --no-deps --no-compile \
      --target "$tmp/pkg" -r "$SRC/fastapi-mangum/requirements.txt"
    cp "$SRC/fastapi-mangum/app.py" "$tmp/pkg/"
    # Read-only task root: ship unchecked-hash .pyc files (see python-ric).
    "$PYTHON" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$tmp/pkg"
    zip_dir "$tmp/pkg" "$tmp/fastapi-mangum.zip"
    rm -rf "$tmp/pkg"
    publish "$tmp" "$dir"
    say "fastapi-mangum: built ($dir)"
  fi
  forget_others "$dir" "fastapi-mangum-[0-9]*"
  copy_out "$dir/fastapi-mangum.zip"
}

# Drops what must not or need not ship: links (node_modules/.bin; Quiver refuses links in
# packages) and aws-lambda-ric's build trees of curl and aws-lambda-cpp (~150 MB). Its
# postinstall means to delete those, but its glob `curl*[^gz]` is bash-only: under dash
# (Debian's /bin/sh) it deletes the source tarballs and keeps the trees.
prune_node_modules() {
  local nm=$1
  rm -rf "$nm/.bin" "$nm/aws-lambda-ric/build" "$nm/aws-lambda-ric/deps/artifacts"
  find "$nm/aws-lambda-ric/deps" -mindepth 1 -maxdepth 1 -type d \
    \( -name 'curl-*' -o -name 'aws-lambda-cpp-*' \) -exec rm -rf {} +
  find "$nm" -type l -delete
}

build_node_ric() {
  [ -x "$NODE" ] || die "$NODE not found (Debian package nodejs)"
  command -v npm >/dev/null || die "npm not found"
  local missing=()
  for tool in cmake autoconf automake libtoolize g++ make; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  local ric nodever mkey mdir key dir tmp
  ric=$("$NODE" -p 'require(process.argv[1]).packages["node_modules/aws-lambda-ric"].version' \
    "$SRC/node-ric/package-lock.json")
  nodever=$("$NODE" --version)
  # The slow part (curl + aws-lambda-cpp + the addon, ~5 min): keyed by RIC version, Node
  # version and the lock file only, so editing the handler does not rebuild it.
  mkey="node-ric-modules-$ric-node$nodever-$(cd "$SRC" && sha256sum node-ric/package.json node-ric/package-lock.json | sha256sum | cut -c1-12)"
  mdir=$CACHE/$mkey
  if [ -d "$mdir/node_modules" ]; then
    say "node-ric: node_modules cached ($mdir)"
  else
    [ ${#missing[@]} -eq 0 ] || die "node-ric needs ${missing[*]} (Debian: cmake autoconf automake libtool g++ make)"
    say "node-ric: npm ci (builds aws-lambda-ric $ric for node $nodever: curl + aws-lambda-cpp, takes minutes)"
    tmp=$(scratch node-ric-modules)
    cp "$SRC/node-ric/package.json" "$SRC/node-ric/package-lock.json" "$tmp/"
    # package.json's allowScripts lets npm 11 run aws-lambda-ric's install scripts;
    # nodedir=/usr builds against the host's headers instead of downloading them.
    (cd "$tmp" && PATH="$(dirname "$NODE"):$PATH" npm_config_nodedir=/usr \
      npm ci --no-audit --no-fund --loglevel=warn --foreground-scripts >"$tmp/npm.log" 2>&1) ||
      { tail -40 "$tmp/npm.log" >&2; die "npm ci failed (full log: $tmp/npm.log)"; }
    local addon=$tmp/node_modules/aws-lambda-ric/dist/rapid-client.node
    [ -f "$addon" ] || { tail -40 "$tmp/npm.log" >&2; die "aws-lambda-ric's native addon was not built ($addon missing; log: $tmp/npm.log)"; }
    prune_node_modules "$tmp/node_modules"
    publish "$tmp" "$mdir"
    say "node-ric: node_modules built ($mdir)"
  fi
  key="node-ric-$ric-node$nodever-$(src_hash node-ric/package.json node-ric/package-lock.json node-ric/index.mjs node-ric/bootstrap)"
  dir=$CACHE/$key
  if [ -f "$dir/node-ric.zip" ]; then
    say "node-ric: cached ($dir)"
  else
    say "node-ric: packaging"
    tmp=$(scratch node-ric)
    mkdir "$tmp/pkg"
    cp -r "$mdir/node_modules" "$SRC/node-ric/package.json" "$SRC/node-ric/index.mjs" "$tmp/pkg/"
    prune_node_modules "$tmp/pkg/node_modules"
    install -m 0755 "$SRC/node-ric/bootstrap" "$tmp/pkg/bootstrap"
    zip_dir "$tmp/pkg" "$tmp/node-ric.zip"
    rm -rf "$tmp/pkg"
    publish "$tmp" "$dir"
    say "node-ric: built ($dir)"
  fi
  forget_others "$dir" "node-ric-[0-9]*"
  copy_out "$dir/node-ric.zip"
}

build_rust_runtime() {
  command -v cargo >/dev/null || die "cargo not found"
  local lr rustc key dir tmp
  lr=$(sed -n '/^name = "lambda_runtime"$/{n;s/^version = "\(.*\)"$/\1/p}' "$SRC/rust-runtime/Cargo.lock")
  rustc=$(rustc --version | cut -d' ' -f2)
  key="rust-runtime-$lr-rustc$rustc-$(src_hash rust-runtime/Cargo.toml rust-runtime/Cargo.lock rust-runtime/src/main.rs)"
  dir=$CACHE/$key
  if [ -f "$dir/rust-runtime.zip" ]; then
    say "rust-runtime: cached ($dir)"
  else
    say "rust-runtime: cargo build --release --locked (lambda_runtime $lr, rustc $rustc)"
    # One target dir for all keys: a source change rebuilds only the fixture crate.
    CARGO_TARGET_DIR=$CACHE/rust-runtime-target \
      cargo build --release --locked --quiet --manifest-path "$SRC/rust-runtime/Cargo.toml"
    tmp=$(scratch rust-runtime)
    mkdir "$tmp/pkg"
    install -m 0755 "$CACHE/rust-runtime-target/release/bootstrap" "$tmp/pkg/bootstrap"
    zip_dir "$tmp/pkg" "$tmp/rust-runtime.zip"
    rm -rf "$tmp/pkg"
    publish "$tmp" "$dir"
    say "rust-runtime: built ($dir)"
  fi
  forget_others "$dir" "rust-runtime-[0-9]*"
  copy_out "$dir/rust-runtime.zip"
}

build_powertools() {
  [ -x "$PYTHON" ] || die "$PYTHON not found (Debian package python3.11)"
  "$PYTHON" -m pip --version >/dev/null 2>&1 || die "pip for $PYTHON missing (Debian package python3-pip)"
  local pt pyver key dir tmp
  pt=$(sed -n 's/^aws-lambda-powertools==\([^ ]*\).*/\1/p' "$SRC/powertools/requirements.txt")
  pyver=$("$PYTHON" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
  key="powertools-$pt-$pyver-$(src_hash powertools/requirements.txt powertools/app.py)"
  dir=$CACHE/$key
  if [ -f "$dir/powertools.zip" ]; then
    say "powertools: cached ($dir)"
  else
    say "powertools: pip install aws-lambda-powertools $pt into a new package"
    tmp=$(scratch powertools)
    "$PYTHON" -m pip install -q --disable-pip-version-check --no-input --root-user-action=ignore \
      --only-binary=:all: --require-hashes --no-deps --no-compile \
      --target "$tmp/pkg" -r "$SRC/powertools/requirements.txt"
    cp "$SRC/powertools/app.py" "$tmp/pkg/"
    # Read-only task root: ship unchecked-hash .pyc files (see python-ric).
    "$PYTHON" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$tmp/pkg"
    zip_dir "$tmp/pkg" "$tmp/powertools.zip"
    rm -rf "$tmp/pkg"
    publish "$tmp" "$dir"
    say "powertools: built ($dir)"
  fi
  forget_others "$dir" "powertools-[0-9]*"
  copy_out "$dir/powertools.zip"
}

# Pure JavaScript (no install scripts), so `npm ci` takes seconds and the node_modules tree
# is not cached apart from the zip.
build_serverless_express() {
  command -v npm >/dev/null || die "npm not found"
  local se ex key dir tmp
  se=$("$NODE" -p 'require(process.argv[1]).packages["node_modules/@codegenie/serverless-express"].version' \
    "$SRC/serverless-express/package-lock.json")
  ex=$("$NODE" -p 'require(process.argv[1]).packages["node_modules/express"].version' \
    "$SRC/serverless-express/package-lock.json")
  key="serverless-express-$se-express$ex-$(src_hash serverless-express/package.json serverless-express/package-lock.json serverless-express/index.js)"
  dir=$CACHE/$key
  if [ -f "$dir/serverless-express.zip" ]; then
    say "serverless-express: cached ($dir)"
  else
    say "serverless-express: npm ci (@codegenie/serverless-express $se, express $ex)"
    tmp=$(scratch serverless-express)
    mkdir "$tmp/pkg"
    cp "$SRC/serverless-express/package.json" "$SRC/serverless-express/package-lock.json" "$tmp/pkg/"
    (cd "$tmp/pkg" && PATH="$(dirname "$NODE"):$PATH" \
      npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=warn >"$tmp/npm.log" 2>&1) ||
      { tail -40 "$tmp/npm.log" >&2; die "npm ci failed (full log: $tmp/npm.log)"; }
    cp "$SRC/serverless-express/index.js" "$tmp/pkg/"
    # No links in packages (node_modules/.bin).
    rm -rf "$tmp/pkg/node_modules/.bin" "$tmp/pkg/node_modules/.package-lock.json"
    find "$tmp/pkg" -type l -delete
    zip_dir "$tmp/pkg" "$tmp/serverless-express.zip"
    rm -rf "$tmp/pkg" "$tmp/npm.log"
    publish "$tmp" "$dir"
    say "serverless-express: built ($dir)"
  fi
  forget_others "$dir" "serverless-express-[0-9]*"
  copy_out "$dir/serverless-express.zip"
}

command -v zip >/dev/null || die "zip not found (Debian package zip)"
mkdir -p "$CACHE" 2>/dev/null && [ -w "$CACHE" ] ||
  die "cache dir $CACHE is not writable (run as root or set QUIVER_FIXTURE_CACHE)"
# One build at a time per cache (two concurrent test runs would otherwise both compile).
exec 9>"$CACHE/.lock"
flock 9
# Under the lock, any scratch dir left is from a run that died: drop it.
rm -rf "$CACHE"/.tmp-*

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(python-ric node-ric rust-runtime fastapi-mangum powertools serverless-express)
for name in "${names[@]}"; do
  start=$SECONDS
  case $name in
    python-ric) build_python_ric ;;
    node-ric) build_node_ric ;;
    rust-runtime) build_rust_runtime ;;
    fastapi-mangum) build_fastapi_mangum ;;
    powertools) build_powertools ;;
    serverless-express) build_serverless_express ;;
    *) die "unknown fixture $name (python-ric, node-ric, rust-runtime, fastapi-mangum, powertools, serverless-express)" ;;
  esac
  say "$name: done in $((SECONDS - start)) s"
done
