#!/usr/bin/env bash
# Run the libFuzzer targets built by `make fuzz`, each for a while on its
# corpus, and fail if one finds a crash, a leak, undefined behaviour or a
# broken property:
#
#   tests/fuzz/run.sh SECONDS [TARGET...]     (TARGET: parse, packed, config,
#                                              model; default every one built)
#
# Each target reads its committed seeds (tests/fuzz/corpus/TARGET, never
# written) and keeps what it finds in build/fuzz/corpus/TARGET, so a later
# run starts from there; its output goes to build/fuzz/TARGET.log, a crashing
# input to build/fuzz/crashes/TARGET-*.  Run from the repository's root.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

seconds="${1:?usage: tests/fuzz/run.sh SECONDS [TARGET...]}"
shift
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    for bin in build/fuzz/fuzz_*; do
        [[ -x "$bin" ]] && targets+=("${bin#build/fuzz/fuzz_}")
    done
fi
[[ ${#targets[@]} -gt 0 ]] || {
    echo "fuzz: no targets built (make fuzz)" >&2
    exit 1
}

# The words a target's inputs are made of, for its mutations.
dict_of() {
    case "$1" in
    parse | model) echo tests/fuzz/events.dict ;;
    config) echo tests/fuzz/config.dict ;;
    esac
}

# The longest input: room for a whole configuration file or a customer's
# history of events; libFuzzer's default (4096) elsewhere.
max_len_of() {
    case "$1" in
    config | model) echo 16384 ;;
    *) echo 4096 ;;
    esac
}

failed=()
for t in "${targets[@]}"; do
    bin="build/fuzz/fuzz_$t"
    seeds="tests/fuzz/corpus/$t"
    work="build/fuzz/corpus/$t"
    log="build/fuzz/$t.log"
    dict="$(dict_of "$t")"
    [[ -x "$bin" && -d "$seeds" ]] || {
        echo "fuzz: no target or no corpus for '$t'" >&2
        exit 1
    }
    mkdir -p "$work" build/fuzz/crashes
    args=(-max_total_time="$seconds" -max_len="$(max_len_of "$t")" -timeout=20 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="build/fuzz/crashes/$t-")
    [[ -n "$dict" ]] && args+=(-dict="$dict")
    printf 'fuzz: %s for %ss ... ' "$t" "$seconds"
    if "$bin" "${args[@]}" "$work" "$seeds" >"$log" 2>&1; then
        rc=0
    else
        rc=$?
    fi
    # "#N DONE cov: C ft: F corp: ..." and the final stats.
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
    cov="$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)"
    corp="$(find "$work" -type f | wc -l)"
    echo "runs ${runs:-?} (${rate:-?}/s), ${cov:-cov: ?}, corpus $corp"
    if [[ $rc -ne 0 ]]; then
        echo "fuzz: $t failed (exit $rc); the end of $log:" >&2
        tail -n 40 "$log" >&2
        failed+=("$t")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz: failed: ${failed[*]} (inputs in build/fuzz/crashes/)" >&2
    exit 1
fi
