# shellcheck shell=bash
# Sourced by the deploy checks beside it (unit-file.sh, package.sh,
# monitoring.sh): `check NAME CMD...` runs CMD with its output kept in
# $tmp/out, says ok or FAILED (with the output's tail) and counts into $passed
# and $failed.
passed=0 failed=0
# shellcheck disable=SC2154 # tmp: the sourcing script's scratch folder
check() {
    local name="$1"
    shift
    if "$@" >"$tmp/out" 2>&1; then
        passed=$((passed + 1))
        echo "ok: $name"
    else
        failed=$((failed + 1))
        echo "FAILED: $name"
        tail -n 40 "$tmp/out"
    fi
}
