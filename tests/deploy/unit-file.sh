#!/usr/bin/env bash
# Check the systemd unit: `systemd-analyze verify` (syntax, executables) and
# `systemd-analyze security --offline=true` with an exposure threshold.
# The unit names /usr/bin/loyaltyd; the check points it at the built binary.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="${LOYALTYD_BIN:-$ROOT/build/loyaltyd}"
# systemd-analyze counts exposure in tenths: 20 means "2.0" on its 0..10 scale.
MAX_EXPOSURE="${MAX_EXPOSURE:-20}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

[[ -x "$BIN" ]] || { echo "unit-file: build $BIN first" >&2; exit 1; }
sed -e "s|/usr/bin/loyaltyd|$BIN|g" "$ROOT/deploy/loyaltyd.service" >"$tmp/loyaltyd.service"
# The unit's Documentation= names manual pages, which verify looks up with
# man(1): the built ones, as if installed.
MAN_SRC="${MAN_DIR:-$ROOT/build/man}"
[[ -f "$MAN_SRC/loyaltyd.conf.5" ]] || { echo "unit-file: make man first" >&2; exit 1; }
for s in 1 5 8; do
    mkdir -p "$tmp/man/man$s"
    cp "$MAN_SRC"/*."$s" "$tmp/man/man$s/"
done
export MANPATH="$tmp/man"

# shellcheck source=tests/deploy/check.sh
. "$ROOT/tests/deploy/check.sh"

check "systemd-analyze verify" systemd-analyze verify "$tmp/loyaltyd.service"
# The scheduled refit: a oneshot service and its daily timer.
CTL="${LOYALTYCTL_BIN:-$ROOT/build/loyaltyctl}"
sed -e "s|/usr/bin/loyaltyctl|$CTL|g" "$ROOT/deploy/loyaltyd-refit.service" \
    >"$tmp/loyaltyd-refit.service"
cp "$ROOT/deploy/loyaltyd-refit.timer" "$tmp/"
check "systemd-analyze verify (refit service and timer)" \
    systemd-analyze verify "$tmp/loyaltyd-refit.service" "$tmp/loyaltyd-refit.timer"
check "systemd-analyze security (refit, exposure <= $MAX_EXPOSURE)" \
    systemd-analyze security --offline=true --threshold="$MAX_EXPOSURE" "$tmp/loyaltyd-refit.service"
check "the refit runs loyaltyctl fit --from-redis --save" \
    grep -q '^ExecStart=.*loyaltyctl -c /etc/loyaltyd/loyaltyd.conf fit --from-redis --save$' \
    "$ROOT/deploy/loyaltyd-refit.service"
check "the refit timer is daily" grep -q '^OnCalendar=daily$' "$tmp/loyaltyd-refit.timer"
check "systemd-analyze security (exposure <= $MAX_EXPOSURE)" \
    systemd-analyze security --offline=true --threshold="$MAX_EXPOSURE" "$tmp/loyaltyd.service"
if grep -q '^Type=notify$' "$tmp/loyaltyd.service"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    echo "FAILED: Type=notify"
fi
# A finite start timeout: with infinity, `systemctl start` hangs while Redis or
# Kafka is down.
check "finite TimeoutStartSec" bash -c \
    "grep -Eq '^TimeoutStartSec=[0-9]+(s|min)?$' \"$tmp/loyaltyd.service\""
# The credentials the daemon reads are the ones the unit's comments name.
check "credential names match the daemon's" bash -c \
    "grep -q '^#LoadCredential=redis-password:' \"$tmp/loyaltyd.service\" &&
     grep -q '^#LoadCredential=kafka-sasl-password:' \"$tmp/loyaltyd.service\" &&
     grep -q '\"redis-password\"' \"$ROOT/daemon/config.c\" &&
     grep -q '\"kafka-sasl-password\"' \"$ROOT/daemon/config.c\""
# The same unit with the credential lines in: still accepted.
mkdir "$tmp/creds"
sed -e 's|^#LoadCredential=|LoadCredential=|' "$tmp/loyaltyd.service" >"$tmp/creds/loyaltyd.service"
check "systemd-analyze verify (credentials in)" systemd-analyze verify "$tmp/creds/loyaltyd.service"
# The template for several instances: the same unit, one configuration per
# instance, and the instance's static membership id in the environment.
make -s -C "$ROOT" build/loyaltyd@.service >/dev/null
sed -e "s|/usr/bin/loyaltyd|$BIN|g" "$ROOT/build/loyaltyd@.service" >"$tmp/loyaltyd@.service"
mkdir -p "$tmp/inst"
sed -e "s|/etc/loyaltyd/%i.conf|$tmp/inst/%i.conf|" "$tmp/loyaltyd@.service" \
    >"$tmp/inst/loyaltyd@.service"
cp "$tmp/inst/loyaltyd@.service" "$tmp/inst/loyaltyd@shop1.service"
check "systemd-analyze verify (template instance)" \
    systemd-analyze verify "$tmp/inst/loyaltyd@shop1.service"
check "the template differs only in its instance lines" bash -c \
    "diff \"$tmp/loyaltyd.service\" \"$tmp/loyaltyd@.service\" | grep '^>' |
     sed 's/^> //' | diff - <(printf '%s\n' \
       'Description=loyaltyd customer-loyalty stream processor (instance %i)' \
       'ExecStart=$BIN -c /etc/loyaltyd/%i.conf' 'Environment=LOYALTYD_INSTANCE=%H-%i')"
check "the daemon reads LOYALTYD_INSTANCE" grep -q '"LOYALTYD_INSTANCE"' "$ROOT/daemon/config.c"
# A bad config must stop the start: the daemon's config check exits 78.
printf 'redis.port = 70000\n' >"$tmp/bad.conf"
check "bad config refused with its line" bash -c \
    "\"$BIN\" -t -c \"$tmp/bad.conf\" 2>&1 | grep -q '$tmp/bad.conf:1: redis.port'; test \${PIPESTATUS[0]} -eq 78"
echo "unit-file: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
