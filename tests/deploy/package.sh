#!/usr/bin/env bash
# The Debian package: built from the tracked tree with `dpkg-buildpackage -us
# -uc -b`, accepted by lintian without errors, and its contents checked as
# installed (unpacked into a root of its own, not onto this machine): the
# binaries run, the shipped configuration passes -t, the unit passes
# `systemd-analyze verify` and `security`, the manual pages render without
# warnings, and loyaltyd.conf(5) names every key the daemon knows.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
src="$tmp/loyaltyd-0.1.0"
mkdir "$src"
(cd "$ROOT" && git ls-files -z | xargs -0 tar cf -) | tar xf - -C "$src"

# shellcheck source=tests/deploy/check.sh
. "$ROOT/tests/deploy/check.sh"

# The unit tests run in the suite already; nocheck keeps this step short.
if ! (cd "$src" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
    tail -40 "$tmp/build.log"
    echo "package: dpkg-buildpackage failed"
    exit 1
fi
deb="$(ls "$tmp"/loyaltyd_*_*.deb)"
echo "ok: built $(basename "$deb")"
# DEB_OUT=DIR keeps a copy (the systemd boot test installs it).
if [[ -n "${DEB_OUT:-}" ]]; then
    mkdir -p "$DEB_OUT"
    cp "$deb" "$DEB_OUT/"
fi
check "lintian: no errors" lintian --fail-on error "$deb"
grep -v '^running with root privileges' "$tmp/out" | sed 's/^/  lintian: /' || true

r="$tmp/root"
dpkg -x "$deb" "$r"
for f in usr/bin/loyaltyd usr/bin/loyaltyctl lib/systemd/system/loyaltyd.service \
    lib/systemd/system/loyaltyd@.service \
    lib/systemd/system/loyaltyd-refit.service lib/systemd/system/loyaltyd-refit.timer \
    etc/loyaltyd/loyaltyd.conf usr/share/doc/loyaltyd/copyright \
    usr/share/man/man8/loyaltyd.8.gz usr/share/man/man1/loyaltyctl.1.gz \
    usr/share/man/man5/loyaltyd.conf.5.gz usr/share/doc/loyaltyd/schemas/churn-risk.schema.json \
    usr/share/doc/loyaltyd/monitoring/loyaltyd-alerts.yml; do
    check "ships /$f" test -e "$r/$f"
done
check "loyaltyd --version" bash -c "'$r/usr/bin/loyaltyd' --version | grep -q '^loyaltyd '"
check "loyaltyctl --version" bash -c "'$r/usr/bin/loyaltyctl' --version | grep -q '^loyaltyctl '"
check "the shipped configuration passes -t" "$r/usr/bin/loyaltyd" -t -c "$r/etc/loyaltyd/loyaltyd.conf"

# The installed unit, its paths pointed into the unpacked root.
sed -e "s|/usr/bin/loyaltyd|$r/usr/bin/loyaltyd|g" -e "s|/etc/loyaltyd/|$r/etc/loyaltyd/|g" \
    "$r/lib/systemd/system/loyaltyd.service" >"$tmp/loyaltyd.service"
export MANPATH="$r/usr/share/man"
check "systemd-analyze verify (installed unit)" systemd-analyze verify "$tmp/loyaltyd.service"
check "systemd-analyze security (installed unit, exposure <= 2.0)" \
    systemd-analyze security --offline=true --threshold=20 "$tmp/loyaltyd.service"

for page in man8/loyaltyd.8.gz man1/loyaltyctl.1.gz man5/loyaltyd.conf.5.gz; do
    check "man $page renders without warnings" bash -c \
        "out=\$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l '$r/usr/share/man/$page' 2>&1 >/dev/null); [[ -z \"\$out\" ]] || { echo \"\$out\"; false; }"
done
check "loyaltyd.conf(5) names every key of --help-config" bash -c "
    zcat '$r/usr/share/man/man5/loyaltyd.conf.5.gz' | sed -n 's/^\\.B //p' | sed 's/\\\\-/-/g' | sort -u >'$tmp/man.keys'
    '$r/usr/bin/loyaltyd' --help-config | sed -n 's/^\\([a-z][^ ]*\\) = .*/\\1/p' | sort -u >'$tmp/conf.keys'
    missing=\$(comm -23 '$tmp/conf.keys' '$tmp/man.keys'); [[ -z \"\$missing\" ]] || { echo \"missing: \$missing\"; false; }
    [[ \$(wc -l <'$tmp/conf.keys') -gt 40 ]]"
echo "package: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
