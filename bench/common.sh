# shellcheck shell=bash
# bench/common.sh - what bench/run.sh and bench/ab.sh share (sourced by both,
# from the repository's root, with ROOT set).
# shellcheck disable=SC2034 # the settings are read by the scripts that source this

# The settings both scripts read (bench/run.sh's header lists them).
STALL="${BENCH_STALL:-60}"
TIMEOUT="${BENCH_TIMEOUT:-3600}"
BUILD="${BENCH_BUILD:-build}"
KEEP="${BENCH_KEEP:-0}"
REDIS_PORT="${REDIS_PORT:-16379}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
export REDIS_PORT KAFKA_PORT
BROKERS="127.0.0.1:$KAFKA_PORT"
RUN_ID="$(date +%Y%m%d%H%M%S)-$$"
WORK_REL="run/bench/$RUN_ID"
WORK="$ROOT/$WORK_REL"

now() { date +%s.%N; }
# The value of key in $RESULTS ("key value" lines), the last one written.
get() { awk -v k="$1" '$1 == k {$1 = ""; v = substr($0, 2)} END {print v}' "$RESULTS"; }

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Use the local Redis and Kafka when they run; otherwise start them, and
# remember it (STARTED_SERVICES=1) so that services_down stops them again.
STARTED_SERVICES=0
services_up() {
    say "services"
    if deploy/services.sh status >/dev/null 2>&1; then
        echo "Redis and Kafka already running: using them, leaving them up"
    else
        STARTED_SERVICES=1
        deploy/services.sh up | tail -1
    fi
}

# PROG: stop the services this run started, if it started them.
services_down() {
    if [[ "$STARTED_SERVICES" == 1 ]]; then
        echo "$1: stopping the services this run started"
        deploy/services.sh down >/dev/null 2>&1
    fi
}

# bench_topics TOPIC_PREFIX PARTITIONS [TOPIC-CONFIG]: fresh input and output
# topics TOPIC_PREFIX{orders,reviews,messages,loyalty.*}, added to TOPICS (the
# sourcing script's list of topics to delete at the end)
bench_topics() {
    local t
    for t in orders reviews messages loyalty.churn-risk loyalty.rewards loyalty.segments \
        loyalty.dlq; do
        TOPICS+=("$1$t")
    done
    TOPIC_PREFIX="$1" KAFKA_PARTITIONS="$2" KAFKA_TOPIC_CONFIG="${3:-}" \
        deploy/kafka.sh topics >/dev/null
}

# unlink_prefix PREFIX: delete every Redis key under it
unlink_prefix() {
    [[ -n "$1" ]] || return 0
    redis-cli -p "$REDIS_PORT" --scan --pattern "${1}*" |
        xargs -r -n 1000 redis-cli -p "$REDIS_PORT" unlink >/dev/null
}
