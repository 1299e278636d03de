#!/usr/bin/env bash
# Builds the runtime *image* fixtures: OCI image layouts of real Linux distributions that
# Quiver imports with `quiver runtime import` and runs as a function's root (sources in
# tests/fixtures/python-image/, see tests/fixtures/README.md):
#
#   target/fixtures/python3.13-image.tar   Debian trixie minbase + python3.13 (layer 1, gzip)
#                                          + awslambdaric in /var/runtime and a
#                                          /var/runtime/bootstrap (layer 2, uncompressed,
#                                          with whiteouts over layer 1)
#   target/fixtures/ruby3.3-image.tar      Debian trixie minbase + ruby (3.3), one gzip layer,
#                                          no bootstrap of its own (Quiver's built-in one runs)
#   target/fixtures/java21-image.tar       Debian trixie minbase + openjdk-21-jre-headless,
#                                          one gzip layer, no bootstrap of its own
#
# Cached outside the clone in $QUIVER_FIXTURE_CACHE (default /var/cache/quiver-fixtures):
#   images-rootfs-<suite>-<key>/rootfs   the debootstrap tree (the slow, network part),
#                                        keyed by suite, mirror and package list only
#   images-<version-key>/                the packed layout, keyed by the rootfs key, the
#                                        RIC version and a hash of the sources and this script
# so a second run only copies one tar. Downloads: the Debian mirror the host's apt uses,
# and the pinned wheels from PyPI (pip --require-hashes).
#
# Usage: scripts/build-images.sh [python3.13|ruby3.3|java21]...   (default: all)
# Needs (Debian): debootstrap, python3-pip (host pip downloads the cp313 wheels), root.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SRC=$ROOT/tests/fixtures
OUT=$ROOT/target/fixtures
CACHE=${QUIVER_FIXTURE_CACHE:-/var/cache/quiver-fixtures}
PYTHON=/usr/bin/python3.11
SUITE=trixie

say() { echo "build-images: $*"; }
die() { echo "build-images: error: $*" >&2; exit 1; }

# The Debian mirror the host's apt already uses (so no new host is contacted), falling
# back to deb.debian.org.
mirror() {
  local m
  m=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  [ -n "$m" ] || m=$(sed -n 's/^deb  *\(http[^ ]*\/debian\)  *.*/\1/p' /etc/apt/sources.list 2>/dev/null | head -1)
  echo "${m:-http://deb.debian.org/debian}"
}

scratch() { mktemp -d "$CACHE/.tmp-$1.XXXXXX"; }

publish() {
  local tmp=$1 dir=$2
  chmod 755 "$tmp"
  if ! mv -T "$tmp" "$dir" 2>/dev/null; then
    rm -rf "$tmp"
    [ -d "$dir" ] || die "could not move $tmp to $dir"
  fi
}

forget_others() {
  local keep=$1 pattern=$2 d
  for d in "$CACHE"/$pattern; do
    if [ -d "$d" ] && [ "$d" != "$keep" ]; then
      rm -rf "$d"
    fi
  done
}

# debootstrap --variant=minbase of $SUITE with the given packages; echoes the cache dir.
rootfs() {
  local include=$1 m key dir tmp
  m=$(mirror)
  key="images-rootfs-$SUITE-$(printf '%s\n' "$SUITE" "$m" "$include" | sha256sum | cut -c1-12)"
  dir=$CACHE/$key
  if [ -d "$dir/rootfs/usr" ]; then
    say "rootfs: cached ($dir)" >&2
  else
    command -v debootstrap >/dev/null || die "debootstrap not found (Debian package debootstrap)"
    say "rootfs: debootstrap --variant=minbase --include=$include $SUITE from $m" >&2
    tmp=$(scratch rootfs)
    debootstrap --variant=minbase --include="$include" "$SUITE" "$tmp/rootfs" "$m" \
      >"$tmp/debootstrap.log" 2>&1 ||
      { tail -30 "$tmp/debootstrap.log" >&2; die "debootstrap failed (log: $tmp/debootstrap.log)"; }
    # Downloaded .debs and apt lists are not part of a runtime.
    rm -rf "$tmp/rootfs/var/cache/apt/archives/"*.deb "$tmp/rootfs/var/lib/apt/lists/"*_Packages
    publish "$tmp" "$dir"
    say "rootfs: built ($dir)" >&2
  fi
  echo "$dir"
}

build_python313() {
  [ -x "$PYTHON" ] || die "$PYTHON not found (Debian package python3.11)"
  "$PYTHON" -m pip --version >/dev/null 2>&1 || die "pip for $PYTHON missing (Debian package python3-pip)"
  local base ric key dir tmp root
  base=$(rootfs python3,ca-certificates)
  ric=$(sed -n 's/^awslambdaric==\([^ ]*\).*/\1/p' "$SRC/python-image/requirements.txt")
  key="images-python3.13-ric$ric-$(basename "$base" | sed 's/^images-rootfs-//')-$(
    (cd "$SRC" && sha256sum python-image/requirements.txt python-image/bootstrap python-image/pack.py &&
      sha256sum "$ROOT/scripts/build-images.sh" | cut -d' ' -f1) | sha256sum | cut -c1-12)"
  dir=$CACHE/$key
  if [ -f "$dir/python3.13-image.tar" ]; then
    say "python3.13: cached ($dir)"
  else
    say "python3.13: awslambdaric $ric (cp313 wheels) + bootstrap over $(basename "$base")"
    tmp=$(scratch python3.13)
    root=$base/rootfs
    mkdir -p "$tmp/layer2/var/runtime"
    "$PYTHON" -m pip install -q --disable-pip-version-check --no-input --root-user-action=ignore \
      --only-binary=:all: --require-hashes --no-deps --no-compile \
      --python-version 3.13 --implementation cp --abi cp313 \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 \
      --target "$tmp/layer2/var/runtime" -r "$SRC/python-image/requirements.txt"
    install -m 0755 "$SRC/python-image/bootstrap" "$tmp/layer2/var/runtime/bootstrap"
    # The image's root is read-only in a sandbox: the client's .pyc files are compiled
    # here, by the image's own python3.13 (chroot), as unchecked-hash (mtime-proof).
    local stage=$root/tmp/quiver-ric.$$
    cp -a "$tmp/layer2/var/runtime" "$stage"
    # -d: the .pyc name their sources at /var/runtime (tracebacks), not the staging path.
    chroot "$root" /usr/bin/python3.13 -m compileall -q -j 0 --invalidation-mode unchecked-hash \
      -d /var/runtime "/tmp/$(basename "$stage")" >/dev/null ||
      { rm -rf "$stage"; die "compileall in the image failed"; }
    rm -rf "$tmp/layer2/var/runtime" && mv "$stage" "$tmp/layer2/var/runtime"
    chown -R 0:0 "$tmp/layer2"
    "$PYTHON" "$SRC/python-image/pack.py" "$root" "$tmp/layer2" "$tmp/python3.13-image.tar" python3.13 |
      sed 's/^/build-images: python3.13: /'
    rm -rf "$tmp/layer2"
    publish "$tmp" "$dir"
    say "python3.13: built ($dir, $(du -h "$dir/python3.13-image.tar" | cut -f1))"
  fi
  forget_others "$dir" "images-python3.13-*"
  mkdir -p "$OUT"
  if ! cmp -s "$dir/python3.13-image.tar" "$OUT/python3.13-image.tar"; then
    cp "$dir/python3.13-image.tar" "$OUT/python3.13-image.tar.tmp" &&
      mv -f "$OUT/python3.13-image.tar.tmp" "$OUT/python3.13-image.tar"
  fi
  say "python3.13: -> target/fixtures/python3.13-image.tar"
}

# An interpreter-only image (tests/fixtures/interp-image/pack.py): <name> <packages>.
build_interp() {
  local name=$1 include=$2 base key dir tmp
  base=$(rootfs "$include")
  key="images-$name-$(basename "$base" | sed 's/^images-rootfs-//')-$(
    sha256sum "$SRC/interp-image/pack.py" | cut -c1-12)"
  dir=$CACHE/$key
  if [ -f "$dir/$name-image.tar" ]; then
    say "$name: cached ($dir)"
  else
    tmp=$(scratch "$name")
    "$PYTHON" "$SRC/interp-image/pack.py" "$base/rootfs" "$tmp/$name-image.tar" "$name" |
      sed "s/^/build-images: $name: /"
    publish "$tmp" "$dir"
    say "$name: built ($dir, $(du -h "$dir/$name-image.tar" | cut -f1))"
  fi
  forget_others "$dir" "images-$name-*"
  mkdir -p "$OUT"
  if ! cmp -s "$dir/$name-image.tar" "$OUT/$name-image.tar"; then
    cp "$dir/$name-image.tar" "$OUT/$name-image.tar.tmp" &&
      mv -f "$OUT/$name-image.tar.tmp" "$OUT/$name-image.tar"
  fi
  say "$name: -> target/fixtures/$name-image.tar"
}

[ "$(id -u)" = 0 ] || die "debootstrap and chroot need root"
mkdir -p "$CACHE" 2>/dev/null && [ -w "$CACHE" ] ||
  die "cache dir $CACHE is not writable (set QUIVER_FIXTURE_CACHE)"
# Its own lock (build-fixtures.sh holds .lock for its own run; both may run at once).
exec 9>"$CACHE/.images.lock"
flock 9
rm -rf "$CACHE"/.tmp-rootfs.* "$CACHE"/.tmp-python3.13.* "$CACHE"/.tmp-ruby3.3.* "$CACHE"/.tmp-java21.*

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(python3.13 ruby3.3 java21)
for name in "${names[@]}"; do
  start=$SECONDS
  case $name in
    python3.13) build_python313 ;;
    ruby3.3) build_interp ruby3.3 ruby ;;
    java21) build_interp java21 openjdk-21-jre-headless ;;
    *) die "unknown image $name (python3.13, ruby3.3, java21)" ;;
  esac
  say "$name: done in $((SECONDS - start)) s"
done
