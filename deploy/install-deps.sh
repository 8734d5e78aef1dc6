#!/usr/bin/env bash
# Install every Debian package needed to build, test and demo loyaltyd.
# Must run as root (or via sudo). Does nothing (and needs no network) when all
# packages are already installed. Never stops or disables a service.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

PACKAGES=(
    # build
    build-essential pkg-config
    librdkafka-dev libhiredis-dev libcjson-dev libsystemd-dev libmicrohttpd-dev libssl-dev
    check clang-format shellcheck
    # the Debian package and its checks
    debhelper dpkg-dev lintian man-db
    # promtool, for the alert rules' tests; systemd-nspawn, to boot systemd
    # in a container for the installed unit's test
    prometheus systemd-container
    # local services for the tests and the demo
    redis-server redis-tools
    default-jdk-headless maven
    # scripts and tools
    python3 procps netcat-openbsd curl ca-certificates coreutils util-linux
    # rsvg-convert: the validation plots' test renders one SVG to PNG
    librsvg2-bin
)

missing=()
for p in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)"
    if [[ "$status" != ii* ]]; then
        missing+=("$p")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi

echo "install-deps: missing: ${missing[*]}"

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "install-deps: must run as root (or have sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
# Do not let package installation start or restart services (redis-server's
# postinst would otherwise start a system-wide redis on port 6379).
POLICY=/usr/sbin/policy-rc.d
policy_added=0
if [[ ! -e "$POLICY" ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
    "${SUDO[@]}" chmod 755 "$POLICY"
    policy_added=1
fi
cleanup() {
    if [[ $policy_added -eq 1 ]]; then
        "${SUDO[@]}" rm -f "$POLICY"
    fi
}
trap cleanup EXIT

"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}"

echo "install-deps: done (repo: $ROOT)"
