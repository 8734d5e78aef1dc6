#!/usr/bin/env bash
# A soak of loyaltyd (bench/README.md, "Soak"): one daemon on its own topics,
# consumer group and Redis prefix, fed live by bench/kpace at a fixed rate
# well below its capacity with the long-history workload (bench/workload.py
# --history long), the input cycled (fresh event, order and conversation ids,
# each cycle later in event time) for SOAK_MINUTES.  Prints a line a minute:
# events/s applied, the daemon's RSS (VmRSS), the p99 append -> applied of
# that minute (loyaltyd_apply_latency_seconds bucket deltas), Redis
# used_memory and the consumer lag; then a verdict whether the series are
# flat (bench/harness.py soak_verdict), and exits 1 if they are not.
#
#   bench/soak.sh            (or `make soak`, which builds first)
#
# Environment (defaults in brackets):
#   SOAK_MINUTES [30]            measured minutes
#   SOAK_RATE [5000]             events/s offered (merged over the three input topics)
#   SOAK_WARM [15]               seconds of input before the first minute
#   BENCH_LONG_EVENTS [1000000], BENCH_LONG_CUSTOMERS [30000]   one cycle of the input
#   BENCH_LONG_SEED [2025], BENCH_PARTITIONS [8]
#   BENCH_BUILD [build], BENCH_KEEP [0], REDIS_PORT [16379], KAFKA_PORT [19092]   as for run.sh
#
# Services already running are used and left up (otherwise started and
# stopped again, as by run.sh); the topics and Redis keys of the run are
# deleted at the end unless BENCH_KEEP=1.  The output stays in
# run/bench/RUN_ID/soak.out.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MINUTES="${SOAK_MINUTES:-30}"
RATE="${SOAK_RATE:-5000}"
WARM="${SOAK_WARM:-15}"
EVENTS="${BENCH_LONG_EVENTS:-1000000}"
CUSTOMERS="${BENCH_LONG_CUSTOMERS:-30000}"
SEED="${BENCH_LONG_SEED:-${BENCH_SEED:-2025}}"
PARTITIONS="${BENCH_PARTITIONS:-8}"
# shellcheck source=bench/common.sh
. bench/common.sh
LOYALTYD="$BUILD/loyaltyd"
KPACE="$BUILD/bench/kpace"
TP="bench.$RUN_ID.soak."
PREFIX="loyalty:bench:$RUN_ID:soak:"

for f in "$LOYALTYD" "$KPACE"; do
    [[ -x "$f" ]] || { echo "soak: $f missing: run 'make soak'" >&2; exit 1; }
done
mkdir -p "$WORK"

TOPICS=()
cleanup() {
    local rc=$?
    set +e
    if [[ "$KEEP" != 1 ]]; then
        if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then unlink_prefix "$PREFIX"; fi
        if [[ ${#TOPICS[@]} -gt 0 ]]; then
            deploy/kafka.sh delete-topics "${TOPICS[@]}" >/dev/null 2>&1
        fi
        rm -rf "$WORK/long"
    fi
    services_down soak
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

services_up
say "input: long-history workload ($EVENTS events, $CUSTOMERS customers, seed $SEED) a cycle"
bench/workload.py --history long --seed "$SEED" --customers "$CUSTOMERS" --events "$EVENTS" \
    --out "$WORK/long"
# stamped by the broker (LogAppendTime): the latency is from the append
bench_topics "$TP" "$PARTITIONS" message.timestamp.type=LogAppendTime
REV="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ "$BUILD" == build ]] || REV="$REV (measured: $BUILD)"
say "soak: $RATE events/s for $MINUTES min ($(date -u +%Y-%m-%dT%H:%MZ), nproc $(nproc), loyaltyd $REV)"
bench/harness.py soak --name soak --work "$WORK" --loyaltyd "$LOYALTYD" --kpace "$KPACE" \
    --brokers "$BROKERS" --topic-prefix "$TP" --group "loyaltyd-soak-$RUN_ID" --prefix "$PREFIX" \
    --redis-port "$REDIS_PORT" --rate "$RATE" --minutes "$MINUTES" --warm "$WARM" \
    --feed "orders=$WORK/long/orders.txt" --feed "reviews=$WORK/long/reviews.txt" \
    --feed "messages=$WORK/long/messages.txt" | tee "$WORK/soak.out"
