#!/usr/bin/env bash
# The whole test suite, on a fresh machine too:
#   1. install the Debian packages (every group of deploy/install-deps.sh)
#      and the Python test dependencies
#   2. check that no tracked file reads a path outside the repository, and
#      every shell script with shellcheck
#   3. build warning-free (strict flags) and run the unit tests
#   4. build with AddressSanitizer/UBSan and run the unit tests again, then
#      the plain build's unit tests under valgrind, then each libFuzzer
#      target of tests/fuzz/ for 60 s (clang, ASan and UBSan)
#   5. check the format, then the deploy checks of tests/deploy/: the systemd
#      unit (unit-file.sh), the Debian package built and checked (package.sh),
#      the dashboard and the alert rules (monitoring.sh)
#   6. start local Redis and Kafka on loopback (deploy/services.sh)
#   7. run the Kafka fault test and the integration tests against them (plain
#      build, then the sanitizer build; the package is installed and run
#      under systemd booted in a container), stop the services
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

step() { printf '\n=== %s\n' "$*"; }

step "dependencies"
deploy/install-deps.sh all
# Debian's own python3 refuses pip installs outside a venv (PEP 668); others take them.
python3 -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt ||
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
        -r tests/requirements.txt

step "the tree refers to nothing outside itself"
python3 -m pytest -q tests/static

step "shell scripts (shellcheck)"
tests/static/shellcheck.sh

step "build (strict warnings) and unit tests"
make -j2 all man
make -j2 check

step "AddressSanitizer/UBSan build and unit tests"
make -j2 SAN=1 all
make -j2 SAN=1 check

step "unit tests under valgrind"
make -j2 valgrind

step "fuzzers (libFuzzer, 60 s each)"
make -j2 fuzz-run FUZZ_SECONDS=60

step "format"
make format-check

step "systemd unit"
tests/deploy/unit-file.sh

step "Debian package"
rm -rf build/deb
DEB_OUT=build/deb tests/deploy/package.sh

step "dashboard and alert rules"
tests/deploy/monitoring.sh

step "services"
trap 'deploy/services.sh down >/dev/null 2>&1 || true' EXIT
deploy/services.sh up

step "Kafka fault injection (librdkafka mock cluster, real Redis)"
build/fault/fault_kafka 2>/dev/null
build/asan/fault/fault_kafka 2>/dev/null

step "integration tests"
LOYALTYD_DEB="$(ls "$ROOT"/build/deb/loyaltyd_*.deb)" python3 -m pytest -q tests/integration

# The systemd boot test installs the package (a plain build): once is enough.
step "integration tests under AddressSanitizer/UBSan"
LOYALTYD_BIN=build/asan/loyaltyd LOYALTYCTL_BIN=build/asan/loyaltyctl \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    python3 -m pytest -q tests/integration --deselect tests/integration/test_systemd_boot.py
