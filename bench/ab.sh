#!/usr/bin/env bash
# A/B comparison of two builds of loyaltyd on the same input in one run
# (bench/README.md, "Comparing two builds"):
#
#   1. the long-history workload (bench/workload.py --history long, as step 4b
#      of bench/run.sh; BENCH_AB_HISTORY=short: the ordinary workload) is
#      generated once and pre-produced once into its own topics;
#   2. harness.py e2e runs on those topics, first once with build A as a
#      warm-up that is not counted (the first reader of freshly produced
#      topics is often slower: the broker can spend five times the CPU of a
#      later run), then alternately with build A and build B (A, B, A, B, ...
#      BENCH_AB_ROUNDS times each); every run has a fresh consumer group and a
#      fresh Redis prefix, so each starts from offset 0 into an empty state,
#      and a run's Redis keys are deleted right after it, so Redis holds the
#      same amount of data at the start of every run;
#   3. one line per run (events/s, loyaltyd and Redis CPU per event, peak RSS),
#      then the median of each figure per build and the ratios B / A.
#
# Alternating spreads the drift of a shared, noisy machine (other users of the
# cores, of Redis and of Kafka) over both builds; the ratios of the medians are
# the result, the absolute figures move from run to run.
#
#   bench/ab.sh BUILD_A BUILD_B     e.g. bench/ab.sh build/base build/dev
#
# BUILD_A and BUILD_B are build directories holding loyaltyd (they may be the
# same one: an A/A run shows the noise).  A run that fails stops the script
# with a non-zero exit, after the cleanup.
#
# Environment (defaults in brackets):
#   BENCH_AB_ROUNDS [2]          runs per build
#   BENCH_AB_WARMUP [1]          0 skips the warm-up run
#   BENCH_AB_HISTORY [long]      long: the long-history workload; short: the ordinary one
#   BENCH_LONG_EVENTS [300000], BENCH_LONG_CUSTOMERS [9000]   size of the long-history workload
#   BENCH_EVENTS [300000], BENCH_CUSTOMERS [30000]   size of the ordinary workload (short)
#   BENCH_SEED [2025]            seed of bench/workload.py
#   BENCH_LONG_SEED [BENCH_SEED] seed of the long-history workload
#   BENCH_PARTITIONS [8]         partitions of every topic
#   BENCH_AB_CONF_A, BENCH_AB_CONF_B ['']   extra daemon config lines for that
#                                build ("key = value", newline-separated); a key
#                                the harness sets (sweep.interval_s, log.level,
#                                clock) is replaced; the keys that keep the runs
#                                apart (group, topics, Redis, HTTP) are refused
#   BENCH_STALL [60]             give up on a run after this long without progress
#   BENCH_TIMEOUT [3600]         hard limit of one run (s)
#   BENCH_BUILD [build]          where tools/kfeed comes from
#   BENCH_KEEP [0]               1 keeps the topics and the workload files
#   REDIS_PORT [16379], KAFKA_PORT [19092]
#
# Local Redis and Kafka are started (deploy/services.sh up) when not running,
# and stopped again at the end; services already up are left up.  Topics,
# groups and Redis prefixes are this run's own (bench.RUN_ID.ab.*,
# loyaltyd-ab-RUN_ID-RUN, loyalty:bench:RUN_ID:RUN:), as in bench/run.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ $# -ne 2 ]]; then
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
fi
BUILD_A="${1%/}"
BUILD_B="${2%/}"
ROUNDS="${BENCH_AB_ROUNDS:-2}"
WARMUP="${BENCH_AB_WARMUP:-1}"
HISTORY="${BENCH_AB_HISTORY:-long}"
SEED="${BENCH_SEED:-2025}"
if [[ "$HISTORY" == long ]]; then
    EVENTS="${BENCH_LONG_EVENTS:-300000}"
    CUSTOMERS="${BENCH_LONG_CUSTOMERS:-9000}"
    SEED="${BENCH_LONG_SEED:-$SEED}"
else
    EVENTS="${BENCH_EVENTS:-300000}"
    CUSTOMERS="${BENCH_CUSTOMERS:-30000}"
fi
PARTITIONS="${BENCH_PARTITIONS:-8}"
CONF_A="${BENCH_AB_CONF_A:-}"
CONF_B="${BENCH_AB_CONF_B:-}"
# shellcheck source=bench/common.sh
. bench/common.sh
RESULTS="$WORK/results.txt" # "key value" lines: the harness's RESULT lines of every run
KFEED="$BUILD/tools/kfeed"
TP="bench.$RUN_ID.ab." # the topic prefix of the one input every run reads

die() { echo "ab: $*" >&2; exit 1; }
calc() { echo "$*" | bc -l; }

# ---- arguments ---------------------------------------------------------------------
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_AB_ROUNDS must be a positive integer (got '$ROUNDS')"
[[ "$WARMUP" == 0 || "$WARMUP" == 1 ]] || die "BENCH_AB_WARMUP must be 0 or 1 (got '$WARMUP')"
[[ "$HISTORY" == long || "$HISTORY" == short ]] || die "BENCH_AB_HISTORY must be long or short (got '$HISTORY')"
for f in "$BUILD_A/loyaltyd" "$BUILD_B/loyaltyd"; do
    [[ -x "$f" ]] || die "$f missing: build it first (make BUILD=$(dirname "$f") all)"
done
[[ -x "$KFEED" ]] || die "$KFEED missing: build it first (make BUILD=$BUILD all) or set BENCH_BUILD"

# conf_args CONF: the harness's --conf arguments for a BENCH_AB_CONF_* value,
# one per non-blank, non-comment line, into CONF_ARGS
conf_args() {
    local line key
    CONF_ARGS=()
    while IFS= read -r line; do
        line="$(sed 's/^[[:space:]]*//; s/[[:space:]]*$//' <<<"$line")"
        [[ -n "$line" && "$line" != \#* ]] || continue
        [[ "$line" == *=* ]] || die "config line '$line': expected 'key = value'"
        key="${line%%=*}"
        key="${key%"${key##*[![:space:]]}"}" # without the blanks before the '='
        # These keep the runs apart and say where they read and write: the
        # harness sets them per run, and the cleanup relies on them.
        case "$key" in
        kafka.bootstrap.servers | group.id | topic.* | redis.* | http.listen)
            die "config line '$line': $key is set per run by the harness" ;;
        esac
        CONF_ARGS+=(--conf "$line")
    done <<<"$1"
}
# check_conf LOYALTYD CONF A|B: the extra lines are valid for that build
# (loyaltyd -t parses the configuration and connects nowhere), so that a
# mistyped key fails now, not after the workload was generated and produced
check_conf() {
    local f out rc=0
    conf_args "$2"
    f="$(mktemp)"
    printf '%s\n' "${CONF_ARGS[@]}" | grep -vx -- --conf >"$f" || true
    out="$("$1" -t -c "$f" 2>&1)" || rc=$?
    rm -f "$f"
    ((rc == 0)) || die "BENCH_AB_CONF_$3 is not a valid configuration for $1: ${out##*: }"
}
check_conf "$BUILD_A/loyaltyd" "$CONF_A" A
check_conf "$BUILD_B/loyaltyd" "$CONF_B" B
mkdir -p "$WORK"
: >"$RESULTS"

# ---- cleanup: only what this run started or created -------------------------------
TOPICS=()
PREFIXES=() # prefixes whose keys are not deleted yet (a run that was interrupted)
cleanup() {
    local rc=$?
    set +e
    if [[ ${#PREFIXES[@]} -gt 0 ]] && redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
        for p in "${PREFIXES[@]}"; do unlink_prefix "$p"; done
    fi
    if [[ "$KEEP" != 1 ]]; then
        if [[ ${#TOPICS[@]} -gt 0 ]]; then
            deploy/kafka.sh delete-topics "${TOPICS[@]}" >/dev/null 2>&1
        fi
        rm -rf "$WORK/input" # the workload files (tens of MB); configs, logs, outputs stay
    fi
    services_down ab
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- services --------------------------------------------------------------------------
services_up
REDIS_PID=$(redis-cli -p "$REDIS_PORT" info server | tr -d '\r' | awk -F: '$1 == "process_id" {print $2}')
KAFKA_PID=$(deploy/kafka.sh status 2>/dev/null | sed -n 's/.*(pid \([0-9]*\).*/\1/p')

# ---- the input: generated once, produced once -------------------------------------------
# as bench/run.sh does (steps 3 and 4b): the same generator, topics and producer
say "input: $HISTORY-history workload ($EVENTS events, $CUSTOMERS customers, seed $SEED, $PARTITIONS partitions)"
if [[ "$HISTORY" == long ]]; then
    bench/workload.py --history long --seed "$SEED" --customers "$CUSTOMERS" --events "$EVENTS" \
        --out "$WORK/input"
else
    bench/workload.py --seed "$SEED" --customers "$CUSTOMERS" --events "$EVENTS" --out "$WORK/input"
fi
TOTAL=$(cat "$WORK/input"/orders.txt "$WORK/input"/reviews.txt "$WORK/input"/messages.txt | wc -l)
bench_topics "$TP" "$PARTITIONS"
# the three input topics in parallel, as run.sh's feed
T_FEED=$(now)
PIDS=()
for t in orders reviews messages; do
    "$KFEED" -b "$BROKERS" -t "$TP$t" <"$WORK/input/$t.txt" 2>>"$WORK/kfeed.err" &
    PIDS+=($!)
done
RC=0
for p in "${PIDS[@]}"; do wait "$p" || RC=1; done
((RC == 0)) || { cat "$WORK/kfeed.err" >&2; die "kfeed failed"; }
printf 'pre-produced %d messages into %s{orders,reviews,messages} in %.1f s\n' "$TOTAL" "$TP" \
    "$(calc "$(now) - $T_FEED")"

# ---- the runs: A, B, A, B, ... ---------------------------------------------------------------
# The figures of a run, from the harness's RESULT lines (bench/README.md, step 2):
#   events_s               input messages / (caught up - process start)
#   events_s_steady        the same from the first applied event (no start-up, no group join)
#   us_per_event           loyaltyd CPU (utime + stime) per input message
#   redis_us_per_event     Redis CPU (INFO cpu, every client of the server) per input message
#   rss_mib                loyaltyd peak RSS (VmHWM)
FIGS=(events_s events_s_steady us_per_event redis_us_per_event rss_mib)
HEAD=(events/s "ev/s (1st)" "loyaltyd us/ev" "Redis us/ev" "RSS MiB")
# table_line CELL...: one line of the table, its columns aligned
table_line() { printf '  %-6s %-22s %10s %10s %15s %12s %8s\n' "$@"; }
header() { table_line run build "${HEAD[@]}"; }
row() { # RUN: its line
    local r="$1" f vals=()
    for f in "${FIGS[@]}"; do vals+=("$(get "${r}_$f")"); done
    table_line "$r" "$(build_of "$r")" "${vals[@]}"
}
# the build of a run: a1, a2, ... are A's, b1, b2, ... B's, a0 the warm-up
build_of() {
    if [[ "$1" == a0 ]]; then echo "A (warm-up, not counted)"
    elif [[ "$1" == a* ]]; then echo "A $BUILD_A"
    else echo "B $BUILD_B"; fi
}

# run NAME LOYALTYD CONF: one harness e2e from offset 0 into an empty prefix
run() {
    local name="$1" loyaltyd="$2" prefix="loyalty:bench:$RUN_ID:$1:" rc=0 why=""
    conf_args "$3"
    PREFIXES+=("$prefix")
    [[ -z "$(redis-cli -p "$REDIS_PORT" --scan --pattern "${prefix}*" | head -1)" ]] ||
        die "run $name: prefix $prefix is not empty"
    bench/harness.py e2e --name "$name" --work "$WORK" --loyaltyd "$loyaltyd" \
        --brokers "$BROKERS" --topic-prefix "$TP" \
        --group "loyaltyd-ab-$RUN_ID-$name" --prefix "$prefix" --redis-port "$REDIS_PORT" \
        --expect "$TOTAL" --stall "$STALL" --timeout "$TIMEOUT" \
        --redis-pid "${REDIS_PID:-0}" --kafka-pid "${KAFKA_PID:-0}" "${CONF_ARGS[@]}" \
        >"$WORK/$name.out" 2>&1 || rc=$?
    sed -n 's/^RESULT //p' "$WORK/$name.out" >>"$RESULTS"
    # keep Redis's memory the same at the start of every run
    unlink_prefix "$prefix"
    unset 'PREFIXES[-1]'
    if ((rc != 0)); then why="harness exit $rc"
    elif [[ -n "$(get "${name}_incomplete")" ]]; then why="did not catch up"
    elif [[ -n "$(get "${name}_exit")" ]]; then why="loyaltyd exit $(get "${name}_exit") on SIGTERM"
    elif [[ -z "$(get "${name}_events_s")" || -z "$(get "${name}_us_per_event")" ]]; then why="no figures"
    fi
    if [[ -n "$why" ]]; then
        sed 's/^/  | /' "$WORK/$name.out" | grep -v '^  | RESULT ' >&2
        die "run $name ($(build_of "$name")) failed: $why (output in $WORK_REL/$name.out, daemon log $WORK_REL/$name-0.log)"
    fi
    row "$name"
}

say "runs: A = $BUILD_A, B = $BUILD_B, $ROUNDS each, alternately$([[ "$WARMUP" == 1 ]] && echo " after a warm-up run of A") ($TOTAL messages each)"
for b in A B; do
    dir="BUILD_$b" conf="CONF_$b"
    echo "$b: ${!dir}/loyaltyd (sha256 $(sha256sum "${!dir}/loyaltyd" | cut -c1-12))${!conf:+; config adds: $(tr '\n' ';' <<<"${!conf}" | sed 's/;*$//; s/;/; /g')}"
done
header
if [[ "$WARMUP" == 1 ]]; then run a0 "$BUILD_A/loyaltyd" "$CONF_A"; fi
RUNS=()
for ((i = 1; i <= ROUNDS; i++)); do
    run "a$i" "$BUILD_A/loyaltyd" "$CONF_A"
    run "b$i" "$BUILD_B/loyaltyd" "$CONF_B"
    RUNS+=("a$i" "b$i")
done

# ---- medians and ratios ------------------------------------------------------------------
median() { # FIGURE a|b: the median over that build's runs
    local r
    for r in "${RUNS[@]}"; do [[ "$r" != "$2"* ]] || get "${r}_$1"; done |
        sort -g | awk '{v[NR] = $1} END {
            if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2];
            else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
shown() { # FIGURE VALUE: VALUE as the runs show that figure
    if [[ -z "$2" ]]; then echo ""
    elif [[ "$1" == events_s* ]]; then printf '%.0f' "$2"
    else printf '%.1f' "$2"; fi
}
ratio() { # A B: B / A with three decimals, or "n/a"
    if [[ -n "$1" && -n "$2" && "$(calc "$1 != 0")" == 1 ]]; then printf '%.3f' "$(calc "$2 / $1")"; else echo n/a; fi
}
MA=() MB=() RT=()
for f in "${FIGS[@]}"; do
    a="$(median "$f" a)" b="$(median "$f" b)"
    MA+=("$(shown "$f" "$a")") MB+=("$(shown "$f" "$b")") RT+=("$(ratio "$a" "$b")")
done
say "summary: $HISTORY-history workload, $TOTAL messages, $CUSTOMERS customers, $ROUNDS run(s) per build"
{
    header
    if [[ "$WARMUP" == 1 ]]; then row a0; fi
    for r in "${RUNS[@]}"; do row "$r"; done
    table_line median "A $BUILD_A" "${MA[@]}"
    table_line median "B $BUILD_B" "${MB[@]}"
    table_line ratio "B / A" "${RT[@]}"
    echo "  (events/s: higher is better; CPU per event and RSS: lower is better; Redis CPU counts every client of the server)"
} | tee "$WORK/summary.txt"
echo
echo "ab: done (work files: $WORK_REL)"
