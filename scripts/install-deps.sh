#!/usr/bin/env bash
# Debian packages the build and tests need. Idempotent; quiet when all present.
set -euo pipefail
need=()
# python3.11, node and the JDK are the interpreters behind the python3.11 / nodejs20.x /
# java17 runtimes (javac compiles the Java bootstrap and the Java test handlers).
# zip/cmake/autoconf/automake/libtool/g++/make build the official runtime-client
# fixtures (scripts/build-fixtures.sh); faketime tests Code.Location expiry; debootstrap
# builds the runtime-image fixtures (scripts/build-images.sh); docker-registry is the
# loopback registry tests/test_runtime_pull.py pulls from.
for pkg in python3-venv python3.11-minimal nodejs openjdk-17-jdk-headless iproute2 procps faketime libfaketime \
           python3-pip zip cmake autoconf automake libtool g++ make debootstrap docker-registry; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${need[*]} (run as root or install them)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  # The package enables a registry on :5000 of every interface; the tests start their own
  # on loopback, so the system one is switched off where systemd started it.
  if [[ " ${need[*]} " == *" docker-registry "* ]] && command -v systemctl >/dev/null \
     && systemctl is-enabled docker-registry >/dev/null 2>&1; then
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
fi
