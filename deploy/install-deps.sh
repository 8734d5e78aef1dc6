#!/usr/bin/env bash
# Install the Debian packages one use of the tree needs, in groups:
#
#   deploy/install-deps.sh [GROUP...]     (default: all)
#
#   build       build loyaltyd, loyaltyctl and the Kafka tools and run them
#               against local Redis and Kafka: what deploy/demo.sh needs
#   test        build, and the test suite's tools: make check, make
#               format-check, make valgrind, make fuzz-run, tests/static
#               (shellcheck.sh too), the fault and integration tests
#   package     build, and the Debian package and the systemd unit's checks
#               (tests/deploy/package.sh, tests/deploy/unit-file.sh)
#   monitoring  the dashboard's and alert rules' check (tests/deploy/monitoring.sh)
#   container   systemd booted in a container, for the integration test that
#               installs and runs the package under it (test_systemd_boot.py)
#   all         every group: what tests/run-all.sh needs
#   list        print the packages of the other GROUPs named, install nothing
#
# Must run as root (or via sudo) when something is missing. Does nothing (and
# needs no network) when the packages are already installed. Never starts,
# stops or disables a service.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The packages of one group, one a line.
group_packages() {
    case "$1" in
    build)
        printf '%s\n' \
            build-essential pkg-config \
            librdkafka-dev libhiredis-dev libcjson-dev libsystemd-dev libmicrohttpd-dev \
            libssl-dev \
            redis-server redis-tools \
            default-jre-headless maven ca-certificates \
            python3 curl coreutils util-linux
        # redis-tools: redis-cli. The Kafka broker runs on the JRE from jars
        # that Maven fetches (deploy/kafka.sh). python3 writes the sample
        # events (deploy/sample-events.py), curl reads /metrics, util-linux
        # has flock and setsid.
        ;;
    test)
        group_packages build
        printf '%s\n' check clang-format shellcheck python3-pip git librsvg2-bin \
            clang libclang-rt-14-dev valgrind
        # python3-pip installs tests/requirements.txt (pytest, redis,
        # jsonschema); git lists the tracked files (tests/static, the
        # package's source, the upgrade test's previous release);
        # librsvg2-bin's rsvg-convert renders a validation plot.  clang
        # builds the fuzzers (make fuzz), with libFuzzer's runtime from
        # libclang-rt-14-dev (clang 14 only recommends it); valgrind runs
        # the unit tests (make valgrind).
        ;;
    package)
        group_packages build
        printf '%s\n' debhelper dpkg-dev lintian man-db systemd check
        # check: in debian/control's Build-Depends. systemd: systemd-analyze
        # verify and security; man-db: the manual pages the unit names.
        ;;
    monitoring)
        printf '%s\n' prometheus python3 curl
        # prometheus: promtool. curl scrapes a daemon when
        # LOYALTYD_METRICS_URL is set.
        ;;
    container)
        printf '%s\n' systemd systemd-container procps util-linux
        # systemd-nspawn boots this machine's own systemd; nsenter
        # (util-linux) enters the container, pgrep (procps) finds its init.
        ;;
    all)
        local g
        for g in build test package monitoring container; do group_packages "$g"; done
        ;;
    *)
        echo "install-deps: unknown group '$1' (build, test, package, monitoring, container, all)" >&2
        return 2
        ;;
    esac
}

list=0
groups=()
for a in "$@"; do
    case "$a" in
    list) list=1 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
        exit 0
        ;;
    *) groups+=("$a") ;;
    esac
done
[[ ${#groups[@]} -gt 0 ]] || groups=(all)

PACKAGES=()
for g in "${groups[@]}"; do
    out="$(group_packages "$g")" || exit 2
    mapfile -t -O "${#PACKAGES[@]}" PACKAGES <<<"$out"
done
# Each once, in the order first named.
mapfile -t PACKAGES < <(printf '%s\n' "${PACKAGES[@]}" | awk '!seen[$0]++')

if [[ $list -eq 1 ]]; then
    printf '%s\n' "${PACKAGES[@]}"
    exit 0
fi

# One dpkg-query for all of them; a package it does not know is missing.
declare -A installed=()
while read -r status name; do
    [[ "$status" == ii ]] && installed[$name]=1
done < <(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${PACKAGES[@]}" 2>/dev/null || true)
missing=()
for p in "${PACKAGES[@]}"; do
    [[ -n "${installed[$p]:-}" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#PACKAGES[@]} packages of ${groups[*]} already installed"
    exit 0
fi

echo "install-deps: missing for ${groups[*]}: ${missing[*]}"

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
