#!/usr/bin/env bash
# Benchmarks of loyaltyd on this machine (bench/README.md says what and how):
#
#   1. in-process micro-benchmarks of the pure code (build/bench/bench_model);
#   2. end to end on the CDNOW population (pre-produced, clock = stream) and
#      its Redis memory per customer (MEMORY USAGE) against the 2 KiB target;
#   3. end to end on the synthetic workload (bench/workload.py: 1M events,
#      100k customers, 8 co-partitioned partitions per topic): events/s, CPU
#      per event, Redis round trips per event, peak RSS;
#   4. the naive baseline (bench/naive.py) on the same input, and the ratio;
#   4b. the long-history workload (bench/workload.py --history long: 1M events,
#      30k customers, ~34 events each over the year): end to end as in 3, its
#      Redis memory per customer, the naive baseline on it, and the share of
#      input messages that caused a derived event (loyaltyd_emitted_total);
#   5. two instances in one group on the same input, and the ratio to one;
#   6. the Redis ceiling: the commands of a slice of a workload run (MONITOR,
#      not timed) replayed with redis-cli --pipe on a copy of the state the
#      slice started from;
#   7. p99 latency from append to state visible at a fixed rate (bench/kpace),
#      with all three topics live and with the messages topic silent;
#   8. Redis Cluster: a smaller workload end to end on the bench's one Redis, on
#      a Redis Cluster of 3 masters + 3 replicas this run starts (deploy/redis-
#      cluster.sh) and on it with redis.wait_replicas = 1: events/s, loyaltyd
#      CPU per event, Redis CPU per event of each master and of the replicas;
#   then a summary, also written to bench/RESULTS.md, with the targets (events/s,
#   loyaltyd and Redis CPU per event, loyaltyd / naive, memory per customer, peak
#   RSS) for both workloads and "met" / "not met" beside each figure.
#
#   bench/run.sh            (or `make bench`, which builds first)
#
# Environment (defaults in brackets):
#   BENCH_EVENTS [1000000], BENCH_CUSTOMERS [100000]   size of the workload
#   BENCH_SEED [2025]            seed of bench/workload.py
#   BENCH_PARTITIONS [8]         partitions of every workload topic
#   BENCH_LONG [1]               0 skips the long-history workload (step 4b)
#   BENCH_LONG_EVENTS [1000000], BENCH_LONG_CUSTOMERS [30000]   size of the long-history workload
#   BENCH_LONG_SEED [BENCH_SEED] seed of the long-history workload
#   BENCH_QUICK [0]              1: a quick run (20k events, 2k customers; long history:
#                                20k events, 600 customers; short bounds)
#   BENCH_NAIVE_S [60]           the naive baseline stops after this many seconds
#   BENCH_SCALE_S [60]           window of the one/two-instance rates (s after first applied)
#   BENCH_CAPTURE_EVENTS [200000] workload messages the MONITOR capture covers,
#   BENCH_CAPTURE_FROM [half the workload]  from this many processed on
#   BENCH_LAT_RATE [20000]       events/s of the latency runs
#   BENCH_LAT_WARM [5], BENCH_LAT_S [20], BENCH_LAT_DRAIN [20]   latency run phases (s)
#   BENCH_CLUSTER [1]            0 skips the Redis Cluster step (8)
#   BENCH_CLUSTER_EVENTS [300000], BENCH_CLUSTER_CUSTOMERS [30000]   its workload
#   BENCH_CLUSTER_PORT [17201], BENCH_CLUSTER_BUS_OFFSET [50]   its nodes' ports (6 from
#                                the first) and cluster bus ports (that much above)
#   BENCH_STALL [60]             give up on a run after this long without progress
#   BENCH_TIMEOUT [3600]         hard limit of one end-to-end run (s)
#   BENCH_COPIES [0]             also run the CDNOW population x COPIES (bench/synth-events.py)
#   BENCH_MICRO_S [0.3]          least duration of one micro-benchmark round
#   BENCH_MEM_WORKLOAD [1]       0 skips the memory report of the workload population
#   BENCH_RESULTS [bench/RESULTS.md]   where the summary table goes ('' for nowhere)
#   BENCH_BUILD [build]          the build to measure (loyaltyd, tools/kfeed, bench/*)
#   BENCH_KEEP [0]               1 keeps the Redis keys, topics and big work files
#   CDNOW, REDIS_PORT [16379], KAFKA_PORT [19092]
#
# Local Redis and Kafka are started (deploy/services.sh up) when not running,
# and stopped again at the end; services already up are left up.  Every run
# uses its own topics, consumer group and Redis prefix, so concurrent users of
# the same services are not disturbed (but they do disturb the figures).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CDNOW="${CDNOW:-$ROOT/data/cdnow/CDNOW_sample.txt}"
SUMMARY="$(dirname "$CDNOW")/cdnow_customers_summary_with_transactions.csv"
QUICK="${BENCH_QUICK:-0}"
if [[ "$QUICK" == 1 ]]; then q() { echo "$1"; }; else q() { echo "$2"; }; fi
EVENTS="${BENCH_EVENTS:-$(q 20000 1000000)}"
CUSTOMERS="${BENCH_CUSTOMERS:-$(q 2000 100000)}"
SEED="${BENCH_SEED:-2025}"
LONG="${BENCH_LONG:-1}"
LONG_EVENTS="${BENCH_LONG_EVENTS:-$(q 20000 1000000)}"
LONG_CUSTOMERS="${BENCH_LONG_CUSTOMERS:-$(q 600 30000)}"
LONG_SEED="${BENCH_LONG_SEED:-$SEED}"
PARTITIONS="${BENCH_PARTITIONS:-8}"
NAIVE_S="${BENCH_NAIVE_S:-$(q 10 60)}"
SCALE_S="${BENCH_SCALE_S:-$(q 10 60)}"
CAPTURE_EVENTS="${BENCH_CAPTURE_EVENTS:-$(q 5000 200000)}"
LAT_RATE="${BENCH_LAT_RATE:-20000}"
LAT_WARM="${BENCH_LAT_WARM:-$(q 1 5)}"
LAT_S="${BENCH_LAT_S:-$(q 4 20)}"
LAT_DRAIN="${BENCH_LAT_DRAIN:-$(q 10 20)}"
COPIES="${BENCH_COPIES:-0}"
CLUSTER="${BENCH_CLUSTER:-1}"
CLUSTER_EVENTS="${BENCH_CLUSTER_EVENTS:-$(q 20000 300000)}"
CLUSTER_CUSTOMERS="${BENCH_CLUSTER_CUSTOMERS:-$(q 2000 30000)}"
CLUSTER_PORT="${BENCH_CLUSTER_PORT:-17201}"
CLUSTER_BUS_OFFSET="${BENCH_CLUSTER_BUS_OFFSET:-50}"
MICRO_S="${BENCH_MICRO_S:-0.3}"
MEM_WORKLOAD="${BENCH_MEM_WORKLOAD:-1}"
RESULTS_MD="${BENCH_RESULTS-$ROOT/bench/RESULTS.md}"
# shellcheck source=bench/common.sh
. bench/common.sh
RESULTS="$WORK/results.txt" # "key value" lines for the summary
T_BEGIN=$(date +%s.%N)
LOYALTYD="$BUILD/loyaltyd"
KFEED="$BUILD/tools/kfeed"
KPACE="$BUILD/bench/kpace"
# Targets, printed beside the figures with "met" / "not met" (bench/README.md, Targets)
T_EVENTS_S=100000 # events/s end to end, one loyaltyd, at least
T_CPU_US=6        # loyaltyd CPU per input message (us), at most
T_REDIS_US=6      # Redis CPU per input message (us, INFO cpu), at most
T_NAIVE=20        # loyaltyd / naive, at least
T_MEM=1024        # Redis bytes per customer, mean over the CDNOW population, at most
T_RSS=128         # loyaltyd peak RSS (MiB), at most
T_DERIVED=0.2     # long-history workload: derived events per input message, at least (its shape)

result() { echo "$1 $2" >>"$RESULTS"; }
calc() { echo "$*" | bc -l; }

for f in "$LOYALTYD" "$KFEED" "$KPACE" "$BUILD/bench/bench_model"; do
    [[ -x "$f" ]] || { echo "bench: $f missing: run 'make bench'" >&2; exit 1; }
done
[[ -r "$CDNOW" && -r "$SUMMARY" ]] || { echo "bench: no CDNOW data at $CDNOW (set CDNOW=...)" >&2; exit 1; }
mkdir -p "$WORK"
: >"$RESULTS"

# ---- cleanup: only what this run started or created ------------------------
TOPICS=()
PREFIXES=()
CLUSTER_DIR="" # set once step 8 starts its Redis Cluster
# rcluster ARG...: deploy/redis-cluster.sh on this run's cluster (its own ports and directory)
rcluster() {
    REDIS_CLUSTER_PORT="$CLUSTER_PORT" REDIS_CLUSTER_BUS_OFFSET="$CLUSTER_BUS_OFFSET" \
        REDIS_CLUSTER_DIR="$CLUSTER_DIR" REDIS_CLUSTER_PERSIST=0 deploy/redis-cluster.sh "$@"
}
cleanup() {
    local rc=$?
    set +e
    if [[ -n "$CLUSTER_DIR" ]]; then
        if [[ "$KEEP" == 1 ]]; then rcluster stop >/dev/null 2>&1; else rcluster purge >/dev/null 2>&1; fi
    fi
    if [[ "$KEEP" != 1 ]]; then
        if [[ ${#PREFIXES[@]} -gt 0 ]] && redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
            for p in "${PREFIXES[@]}"; do unlink_prefix "$p"; done
        fi
        if [[ ${#TOPICS[@]} -gt 0 ]]; then
            deploy/kafka.sh delete-topics "${TOPICS[@]}" >/dev/null 2>&1
        fi
        # the big inputs and the MONITOR capture (hundreds of MB); the rest stays
        rm -rf "$WORK/workload" "$WORK/long" "$WORK/synth" "$WORK/cluster" "$WORK/monitor.txt"
    fi
    services_down bench
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- services and Python packages ----------------------------------------------
services_up
if ! python3 -c 'import confluent_kafka, redis' 2>/dev/null; then
    echo "installing confluent-kafka and redis for the naive baseline"
    python3 -m pip --version >/dev/null 2>&1 || apt-get install -y -qq python3-pip >/dev/null
    # Debian's own python3 refuses pip installs outside a venv (PEP 668); others take them.
    python3 -m pip install --quiet --disable-pip-version-check confluent-kafka redis ||
        python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
            confluent-kafka redis
fi
REDIS_PID=$(redis-cli -p "$REDIS_PORT" info server | tr -d '\r' | awk -F: '$1 == "process_id" {print $2}')
KAFKA_PID=$(deploy/kafka.sh status 2>/dev/null | sed -n 's/.*(pid \([0-9]*\).*/\1/p')

# ---- helpers -------------------------------------------------------------------------
# measure NAME CMD...: run CMD, show its lines, keep its "RESULT k v" lines; a
# failure is recorded (NAME_failed) and the run goes on with the next figure.
measure() {
    local name="$1" rc=0
    shift
    "$@" >"$WORK/$name.out" 2>&1 || rc=$?
    grep -v '^RESULT ' "$WORK/$name.out" || true
    sed -n 's/^RESULT //p' "$WORK/$name.out" >>"$RESULTS"
    if ((rc != 0)); then
        echo "bench: $name failed (exit $rc; output in $WORK_REL/$name.out)" >&2
        result "${name}_failed" "$rc"
    fi
    return 0
}

# topics NAME PARTITIONS: fresh input and output topics bench.RUN_ID.NAME.*
topics() { bench_topics "bench.$RUN_ID.$1." "$2" "${3:-}"; } # NAME PARTITIONS [TOPIC-CONFIG]

# feed NAME DIR: pre-produce DIR/{orders,reviews,messages}.txt into NAME's topics
feed() {
    local tp="bench.$RUN_ID.$1." tf pids=() rc=0 total
    tf=$(now)
    for t in orders reviews messages; do
        "$KFEED" -b "$BROKERS" -t "$tp$t" <"$2/$t.txt" 2>>"$WORK/$1.kfeed" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    ((rc == 0)) || { cat "$WORK/$1.kfeed" >&2; echo "bench: kfeed failed" >&2; exit 1; }
    total=$(cat "$2"/orders.txt "$2"/reviews.txt "$2"/messages.txt | wc -l)
    printf 'pre-produced %d messages into %s{orders,reviews,messages} in %.1f s\n' "$total" "$tp" \
        "$(calc "$(now) - $tf")"
}

messages() { cat "$1"/orders.txt "$1"/reviews.txt "$1"/messages.txt | wc -l; }
customers() { cut -f1 "$1"/orders.txt "$1"/reviews.txt "$1"/messages.txt | sort -u | wc -l; }

# e2e NAME TOPICS_NAME MESSAGES [harness args]: loyaltyd on pre-produced topics
e2e() {
    local name="$1" tname="$2" total="$3" prefix="loyalty:bench:$RUN_ID:$1:"
    shift 3
    PREFIXES+=("$prefix")
    result "${name}_prefix" "$prefix"
    measure "$name" bench/harness.py e2e --name "$name" --work "$WORK" --loyaltyd "$LOYALTYD" \
        --brokers "$BROKERS" --topic-prefix "bench.$RUN_ID.$tname." \
        --group "loyaltyd-bench-$RUN_ID-$name" --prefix "$prefix" --redis-port "$REDIS_PORT" \
        --expect "$total" --stall "$STALL" --timeout "$TIMEOUT" \
        --redis-pid "${REDIS_PID:-0}" --kafka-pid "${KAFKA_PID:-0}" "$@"
}

memory() { # NAME
    local prefix
    prefix="$(get "$1"_prefix)"
    say "Redis memory per customer ($1 population)"
    [[ -z "$(get "$1"_failed)" ]] || { echo "skipped: the $1 run failed"; return 0; }
    measure "mem-$1" bench/redis-mem.py --port "$REDIS_PORT" --prefix "$prefix" --target "$T_MEM"
    sed -i "s/^mem_/$1_mem_/" "$RESULTS"
}

# ---- inputs -------------------------------------------------------------------------
say "input events"
deploy/sample-events.py --cdnow "$CDNOW" --out "$WORK/cdnow" --customers 100000
bench/workload.py --seed "$SEED" --customers "$CUSTOMERS" --events "$EVENTS" --out "$WORK/workload"
if [[ "$COPIES" -gt 1 ]]; then
    bench/synth-events.py --cdnow "$CDNOW" --out "$WORK/synth" --copies "$COPIES"
fi
WL_TOTAL=$(messages "$WORK/workload")
WL_CUSTOMERS=$(customers "$WORK/workload")
result wl_customers "$WL_CUSTOMERS"
result workload_top20 "$(python3 -c 'import json,sys; print("%.0f%%" % (100 * json.load(open(sys.argv[1]))["skew"]["top20_share"]))' "$WORK/workload/workload.json")"
if [[ "$LONG" == 1 ]]; then
    bench/workload.py --history long --seed "$LONG_SEED" --customers "$LONG_CUSTOMERS" \
        --events "$LONG_EVENTS" --out "$WORK/long"
    LONG_TOTAL=$(messages "$WORK/long")
    LONG_CUST=$(customers "$WORK/long")
    result long_customers "$LONG_CUST"
    result long_shape "$(python3 -c 'import json,sys; w = json.load(open(sys.argv[1])); p = w["per_customer"]; t = w["types"]
print("%.1f messages (p10 %d, p50 %d, p90 %d) and %.1f orders per customer; %d orders, %d cancelled, %d shipped, %d delivered, %d returned, %d reviews, %d customer-service and marketing messages"
      % (p["events_mean"], p["events_p10"], p["events_p50"], p["events_p90"], p["orders_mean"], t.get("order.placed", 0),
         t.get("order.cancelled", 0), t.get("order.shipped", 0), t.get("order.delivered", 0), t.get("order.returned", 0),
         t.get("review.posted", 0), sum(v for k, v in t.items() if k.startswith("message."))))' "$WORK/long/workload.json")"
fi

# ---- 1. micro-benchmarks ---------------------------------------------------------
say "in-process micro-benchmarks ($BUILD/bench/bench_model)"
measure micro "$BUILD/bench/bench_model" "$WORK/cdnow" "$SUMMARY" "$MICRO_S"

# ---- 2. CDNOW end to end, memory per customer ------------------------------------------
say "end to end: cdnow (pre-produced, 4 partitions)"
topics cdnow 4
feed cdnow "$WORK/cdnow"
e2e cdnow cdnow "$(messages "$WORK/cdnow")"
result cdnow_customers "$(customers "$WORK/cdnow")"
memory cdnow
if [[ "$COPIES" -gt 1 ]]; then
    say "end to end: synth (CDNOW x $COPIES, pre-produced, 4 partitions)"
    topics synth 4
    feed synth "$WORK/synth"
    e2e synth synth "$(messages "$WORK/synth")"
    result synth_customers "$(customers "$WORK/synth")"
    memory synth
fi

# ---- 3. the workload end to end ------------------------------------------------------------
say "end to end: workload ($WL_TOTAL messages, $WL_CUSTOMERS customers, $PARTITIONS partitions, 1 loyaltyd)"
topics wl "$PARTITIONS"
feed wl "$WORK/workload"
e2e wl wl "$WL_TOTAL" --window "$SCALE_S"
if [[ "$MEM_WORKLOAD" == 1 ]]; then memory wl; fi

# ---- 4. the naive baseline on the same input ------------------------------------------------
naive() { # NAME TOPICS_NAME MESSAGES
    local prefix="loyalty:bench:$RUN_ID:$1:" tp="bench.$RUN_ID.$2."
    PREFIXES+=("$prefix")
    measure "$1" bench/naive.py --name "$1" --brokers "$BROKERS" \
        --topics "${tp}orders,${tp}reviews,${tp}messages" \
        --group "$1-bench-$RUN_ID" --prefix "$prefix" --redis-port "$REDIS_PORT" \
        --expect "$3" --max-seconds "$NAIVE_S"
}
say "naive baseline: bench/naive.py on the same topics (at most $NAIVE_S s)"
naive naive wl "$WL_TOTAL"

# ---- 4b. the long-history workload: end to end, memory, naive -------------------------------
if [[ "$LONG" == 1 ]]; then
    say "end to end: long-history workload ($LONG_TOTAL messages, $LONG_CUST customers, $PARTITIONS partitions, 1 loyaltyd)"
    get long_shape
    topics long "$PARTITIONS"
    feed long "$WORK/long"
    e2e long long "$LONG_TOTAL" --window "$SCALE_S"
    memory long
    say "naive baseline: bench/naive.py on the long-history topics (at most $NAIVE_S s)"
    naive naive_long long "$LONG_TOTAL"
fi

# ---- 5. two instances in one consumer group -----------------------------------------------
say "scale-out: 2 loyaltyd in one group on the same $PARTITIONS-partition input (window $SCALE_S s)"
e2e wl2 wl "$WL_TOTAL" --instances 2 --bound "$SCALE_S" --window "$SCALE_S"

# ---- 6. the Redis ceiling ---------------------------------------------------------------------
CAPTURE_FROM="${BENCH_CAPTURE_FROM:-$((WL_TOTAL / 2))}"
say "Redis ceiling: capture (MONITOR, not timed) of $CAPTURE_EVENTS workload messages from message $CAPTURE_FROM on, replay with redis-cli --pipe"
REPLAY_PREFIX="loyalty:bench:$RUN_ID:replay:"
PREFIXES+=("$REPLAY_PREFIX")
e2e cap wl "$WL_TOTAL" --monitor "$WORK/monitor.txt" --monitor-from "$CAPTURE_FROM" \
    --max-events "$CAPTURE_EVENTS" --copy-prefix "$REPLAY_PREFIX"
if [[ -z "$(get cap_failed)$(get cap_incomplete)" && -n "$(get cap_monitor_events)" ]]; then
    measure replay bench/harness.py replay --work "$WORK" --monitor "$WORK/monitor.txt" \
        --prefix "$(get cap_prefix)" --new-prefix "$REPLAY_PREFIX" --events "$(get cap_monitor_events)" \
        --redis-port "$REDIS_PORT"
fi
[[ "$KEEP" == 1 ]] || rm -f "$WORK/monitor.txt"

# ---- 7. latency at a fixed rate ---------------------------------------------------------------
latency() { # NAME DESCRIPTION TOPIC... (LAT_EXTRA: more harness arguments)
    local name="$1" prefix="loyalty:bench:$RUN_ID:$1:" feeds=() extra=()
    say "latency: $2 at $LAT_RATE events/s (bench/kpace, ${LAT_WARM} s warm-up + ${LAT_S} s)"
    shift 2
    for t in "$@"; do feeds+=(--feed "$t=$WORK/workload/$t.txt"); done
    read -ra extra <<<"${LAT_EXTRA:-}"
    # Stamped by the broker when appended (LogAppendTime), so that the latency
    # is from the append, not from kpace's send call (which adds its linger).
    topics "$name" "$PARTITIONS" message.timestamp.type=LogAppendTime
    PREFIXES+=("$prefix")
    measure "$name" bench/harness.py latency --name "$name" --work "$WORK" --loyaltyd "$LOYALTYD" \
        --kpace "$KPACE" --brokers "$BROKERS" --topic-prefix "bench.$RUN_ID.$name." \
        --group "loyaltyd-bench-$RUN_ID-$name" --prefix "$prefix" --redis-port "$REDIS_PORT" \
        --rate "$LAT_RATE" --warm "$LAT_WARM" --measure "$LAT_S" --drain "$LAT_DRAIN" "${feeds[@]}" \
        "${extra[@]}"
}
latency lat3 "all three topics live" orders reviews messages
latency lat2 "messages topic silent" orders reviews
# The same as lat3 while a refit is rescored: a new model version is saved
# after the warm-up, and the customers it made are rescored at rescore.per_s
# (default 1000 a second) while the measured events arrive.
LAT_EXTRA="--refit" latency lat3r "all three topics live, rescoring after a refit" \
    orders reviews messages

# ---- 8. Redis Cluster -------------------------------------------------------------------------
# The same input three ways, one after the other: the bench's one Redis, a
# cluster of 3 masters + 3 replicas on this machine, and the cluster with
# redis.wait_replicas = 1. The cluster is this run's own (its ports, its
# directory under the work directory, no persistence, as the bench's Redis),
# stopped and removed at the end (cleanup).
if [[ "$CLUSTER" == 1 ]]; then
    say "Redis Cluster: workload ($CLUSTER_EVENTS events, $CLUSTER_CUSTOMERS customers, $PARTITIONS partitions) on one Redis, on 3 masters + 3 replicas, and with redis.wait_replicas = 1"
    bench/workload.py --seed "$SEED" --customers "$CLUSTER_CUSTOMERS" --events "$CLUSTER_EVENTS" \
        --out "$WORK/cluster"
    CL_TOTAL=$(messages "$WORK/cluster")
    result cl_customers "$(customers "$WORK/cluster")"
    topics cl "$PARTITIONS"
    feed cl "$WORK/cluster"
    say "end to end: cl1 (one Redis, 127.0.0.1:$REDIS_PORT)"
    e2e cl1 cl "$CL_TOTAL"
    CLUSTER_DIR="$WORK/redis-cluster"
    if rcluster start; then
        SEEDS="$(rcluster seeds)"
        say "end to end: clc (Redis Cluster $SEEDS)"
        e2e clc cl "$CL_TOTAL" --redis-cluster "$SEEDS" --redis-pid 0
        say "end to end: clw (Redis Cluster, redis.wait_replicas = 1)"
        e2e clw cl "$CL_TOTAL" --redis-cluster "$SEEDS" --redis-pid 0 --conf "redis.wait_replicas = 1"
        rcluster status || true
    else
        echo "bench: the Redis Cluster did not start; its two runs skipped" >&2
        for n in clc clw; do
            echo "not run: the Redis Cluster did not start" >"$WORK/$n.out"
            result "${n}_failed" cluster
        done
    fi
fi

# ---- summary ---------------------------------------------------------------------
ratio() { # A B: A / B with two decimals, or "n/a"
    if [[ -n "$1" && -n "$2" && "$2" != 0 ]]; then printf '%.2f' "$(calc "$1 / $2")"; else echo n/a; fi
}
or_na() { if [[ -n "$1" ]]; then echo "$1"; else echo "n/a"; fi; }
failed() { [[ -n "$(get "$1"_failed)$(get "$1"_incomplete)" ]]; }
e2e_rate() { # NAME: events/s (from start / from first applied) or why not
    if failed "$1"; then echo "FAILED (see $WORK_REL/$1.out)"; else echo "$(get "$1"_events_s) / $(get "$1"_events_s_steady) events/s"; fi
}
lat_fig() { # NAME
    local p
    p="$(get "$1"_p99)"
    if failed "$1"; then echo "FAILED (see $WORK_REL/$1.out)"; return; fi
    local idle=""
    [[ -n "$p" ]] || p=n/a
    [[ -z "$(get "$1"_idle_timeouts)" ]] || idle="; $(get "$1"_idle_timeouts) merge idle timeouts"
    if [[ "$(get "$1"_kept_up)" == no ]]; then
        echo "$p (did not keep up: $(get "$1"_applied_events_s) of $(get "$1"_offered) events/s applied$idle)"
    else
        echo "$p (kept up: $(get "$1"_applied_events_s) events/s applied$idle)"
    fi
}
naive_note() { # NAME MESSAGES
    [[ "$(get "$1"_prefix)" != yes ]] || echo " (time-bounded prefix: $(get "$1"_done) of $2 in $(get "$1"_seconds) s)"
}
NAIVE_NOTE="$(naive_note naive "$WL_TOTAL")"
SCALE_RATIO=$(ratio "$(get wl2_window_events_s)" "$(get wl_window_events_s)")
NAIVE_RATIO=$(ratio "$(get wl_events_s_steady)" "$(get naive_events_s)")
if [[ "$LONG" == 1 ]]; then
    LONG_NAIVE_NOTE="$(naive_note naive_long "$LONG_TOTAL")"
    LONG_NAIVE_RATIO=$(ratio "$(get long_events_s_steady)" "$(get naive_long_events_s)")
fi
# verdict VALUE OP TARGET: "met", "not met" or "n/a" (no figure)
verdict() {
    if [[ -z "$1" || "$1" == n/a ]]; then echo n/a
    elif [[ "$(calc "$1 $2 $3")" == 1 ]]; then echo met
    else echo "not met"; fi
}
# tfig KEY_OR_VALUE OP TARGET [UNIT]: "figure UNIT (met)"; KEY is read from the results
tfig() {
    local v="$1"
    [[ "$v" =~ ^[0-9.]+$ || "$v" == n/a ]] || v="$(get "$1")"
    [[ -n "$v" ]] || v=n/a
    if [[ "$v" == n/a ]]; then echo n/a; else echo "$v${4:+ $4} ($(verdict "$v" "$2" "$3"))"; fi
}
redis_cpu_fig() { # NAME: Redis CPU per event, with the main thread's
    local v m
    v="$(get "$1"_redis_us_per_event)"
    m="$(get "$1"_redis_main_us_per_event)"
    if [[ -z "$v" ]]; then echo n/a; return; fi
    echo "$v us ($(verdict "$v" "<=" "$T_REDIS_US"))${m:+; main thread $m us}"
}
derived_fig() { # NAME
    local v
    v="$(get "$1"_derived_share)"
    if [[ -z "$v" ]]; then echo n/a; return; fi
    echo "$v ($(get "$1"_derived) derived / $(get "$1"_done) input: $(get "$1"_derived_types | tr , ' '))"
}
CEIL_RATIO=$(ratio "$(get wl_events_s_steady)" "$(get ceiling_events_s)")
# cl_redis NAME: Redis CPU per event of a step-8 run: one Redis's, or on the
# cluster the masters' total, each master's (its share) and the replicas'
cl_redis() {
    local v
    v="$(get "$1"_redis_us_per_event)"
    if failed "$1" || [[ -z "$v" ]]; then echo n/a
    elif [[ -n "$(get "$1"_redis_master_us)" ]]; then
        echo "$v us on $(get "$1"_redis_masters) masters: each (:$(get "$1"_redis_master_ports | sed 's|/| / :|g')) $(get "$1"_redis_master_us | sed 's|/| / |g') us = $(get "$1"_redis_master_share | sed 's|/| / |g') of it; replicas $(get "$1"_redis_replicas_us_per_event) us in all"
    else
        echo "$v us"
    fi
}
per_core() { # US: events/s one core does at US us of CPU per event, or n/a
    if [[ -n "$1" && "$1" != n/a && "$(calc "$1 > 0")" == 1 ]]; then printf '%.0f' "$(calc "1000000 / $1")"; else echo n/a; fi
}
# cl_ceilings NAME: the events/s a core of its own would give the busiest master
# (one Redis: the server) and the daemon, from their CPU per event in that run
cl_ceilings() {
    local r
    r="$(get "$1"_redis_master_max_us)"
    [[ -n "$r" ]] || r="$(get "$1"_redis_us_per_event)"
    if failed "$1" || [[ -z "$r" ]]; then echo n/a; return; fi
    echo "Redis $(per_core "$r") events/s ($([[ -n "$(get "$1"_redis_master_max_us)" ]] && echo "busiest master, $r us" || echo "$r us")), loyaltyd $(per_core "$(get "$1"_us_per_event)") events/s ($(get "$1"_us_per_event) us)"
}
CL_RUNS=("cl1|one Redis" "clc|Redis Cluster, 3 masters + 3 replicas" "clw|Redis Cluster, redis.wait_replicas = 1")
DATE="$(date -u +%Y-%m-%dT%H:%MZ)"
NPROC="$(nproc)"
REV="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -z "$(git status --porcelain -- daemon consumers state 2>/dev/null)" ]] || REV="$REV + uncommitted changes"
[[ "$BUILD" == build ]] || REV="$REV (measured: $BUILD)"

say "summary ($DATE, nproc $NPROC, $(uname -m), loyaltyd $REV)"
row() { printf '  %-50s %s\n' "$1" "$2"; }
echo "in-process (median of 5 rounds; one run, so the ratios compare like with like)"
row "parse_event" "$(get parse_events_s) events/s, $(get parse_mb_s) MB/s"
row "model_apply" "$(get apply_events_s) events/s"
row "decode + model_apply + encode" "$(get apply_codec_events_s) events/s"
row "codec_encode + codec_decode" "$(get codec_trips_s) round trips/s"
row "BG/NBD fit (2357 customers)" "$(get fit_bgnbd_ms) ms"
row "Gamma-Gamma fit" "$(get fit_gg_ms) ms"
for n in cdnow synth wl long; do
    [[ -n "$(get ${n}_messages)" ]] || continue
    echo "end to end: $n ($(get ${n}_customers) customers, $(get ${n}_messages) messages, 1 loyaltyd, clock = stream)"
    row "time to caught up" "$(get ${n}_seconds) s"
    row "throughput (from start / from first applied)" "$(e2e_rate $n)"
    row "loyaltyd CPU per event" "$(get ${n}_us_per_event) us"
    row "Redis CPU per event (INFO cpu, start to caught up)" "$(redis_cpu_fig $n)"
    row "derived events per input message" "$(derived_fig $n)"
    row "Redis round trips per event (mean round trip)" "$(get ${n}_redis_per_event) ($(get ${n}_redis_ms) ms)"
    row "loyaltyd peak RSS (VmHWM)" "$(get ${n}_rss_mib) MiB"
    row "CPU: loyaltyd / redis-server / Kafka" "$(get ${n}_cpu) of one core"
    if [[ -n "$(get apply_events_s)" && -n "$(get ${n}_events_s_steady)" ]]; then
        row "model share of the end-to-end time" \
            "$(printf '%.1f %%' "$(calc "100 * $(get ${n}_events_s_steady) / $(get apply_events_s)")")"
    fi
done
echo "workload comparisons ($WL_TOTAL messages, $WL_CUSTOMERS customers, $PARTITIONS partitions; top 20 % of customers place $(get workload_top20) of the orders)"
row "naive baseline (Python, MULTI/EXEC per event)" "$(or_na "$(get naive_events_s)") events/s$NAIVE_NOTE"
row "loyaltyd / naive" "$NAIVE_RATIO"
row "Redis ceiling (redis-cli --pipe replay)" \
    "$(or_na "$(get ceiling_commands_s)") commands/s = $(or_na "$(get ceiling_events_s)") events/s ($(get ceiling_cmds_per_event) commands per event, captured on $(get cap_monitor_events) messages from message $(get cap_monitor_from) on)"
row "loyaltyd / ceiling" "$CEIL_RATIO"
row "1 instance (at most $SCALE_S s after the first applied)" "$(or_na "$(get wl_window_events_s)") events/s over $(get wl_window_s) s"
row "2 instances, one group (from both applying)" "$(or_na "$(get wl2_window_events_s)") events/s over $(get wl2_window_s) s"
row "2 instances / 1 instance" "$SCALE_RATIO (one machine, $NPROC cores shared by Kafka, Redis, the daemons)"
row "p99 append -> visible, 3 topics live" "$(lat_fig lat3)"
row "p99 append -> visible, messages silent" "$(lat_fig lat2)"
row "p99 append -> visible, 3 topics live, rescoring" "$(lat_fig lat3r); $(or_na "$(get lat3r_rescored)") customers rescored meanwhile ($(or_na "$(get lat3r_rescored_s)")/s)"
if [[ "$LONG" == 1 ]]; then
    echo "long-history workload ($LONG_TOTAL messages, $LONG_CUST customers, $PARTITIONS partitions; $(get long_shape))"
    row "naive baseline (Python, MULTI/EXEC per event)" "$(or_na "$(get naive_long_events_s)") events/s$LONG_NAIVE_NOTE"
    row "loyaltyd / naive" "$LONG_NAIVE_RATIO"
fi
if [[ "$CLUSTER" == 1 ]]; then
    echo "Redis Cluster ($CL_TOTAL messages, $(get cl_customers) customers, $PARTITIONS partitions, 1 loyaltyd; all nodes on this machine's $NPROC cores, no persistence)"
    for r in "${CL_RUNS[@]}"; do
        IFS='|' read -r n label <<<"$r"
        echo "  $n: $label"
        row "  throughput (from start / from first applied)" "$(e2e_rate "$n")"
        row "  loyaltyd CPU per event" "$(or_na "$(get "${n}"_us_per_event)") us"
        row "  Redis CPU per event (INFO cpu)" "$(cl_redis "$n")"
        row "  one core each would do" "$(cl_ceilings "$n")"
    done
fi
for n in cdnow synth wl long; do
    [[ -n "$(get ${n}_mem_mean)" ]] || continue
    echo "Redis memory per customer: $n ($(get ${n}_mem_customers) customers, MEMORY USAGE ... SAMPLES 0)"
    row "mean / p50 / p95 / max" "$(get ${n}_mem_mean) / $(get ${n}_mem_p50) / $(get ${n}_mem_p95) / $(get ${n}_mem_max) bytes"
    row "  means per customer" \
        "$(get ${n}_mem_parts) bytes"
    row "hash encoding; fields (range, p50)" "$(get ${n}_mem_encoding); $(get ${n}_mem_fields), $(get ${n}_mem_fields_p50)"
    if [[ "$n" == cdnow ]]; then
        row "target: mean <= $T_MEM bytes" "$(get ${n}_mem_verdict)"
    else
        row "mean <= $T_MEM bytes (the target is CDNOW's)" "$(get ${n}_mem_verdict)"
    fi
done

# the targets, both workloads side by side
twl() { # FIGURE-FUNCTION ARGS...: the figure of wl and of long (or "skipped")
    local f="$1"
    shift
    W_FIG="$("$f" wl "$@")"
    if [[ "$LONG" == 1 ]]; then L_FIG="$("$f" long "$@")"; else L_FIG="skipped (BENCH_LONG=0)"; fi
}
f_rate() { if failed "$1"; then echo FAILED; else tfig "$1"_events_s ">=" "$T_EVENTS_S" events/s; fi; }
f_cpu() { tfig "$1"_us_per_event "<=" "$T_CPU_US" us; }
f_redis() { tfig "$1"_redis_us_per_event "<=" "$T_REDIS_US" us; }
f_redis_main() { if [[ -n "$(get "$1"_redis_main_us_per_event)" ]]; then echo "$(get "$1"_redis_main_us_per_event) us"; else echo n/a; fi; }
f_naive() { if [[ "$1" == wl ]]; then tfig "$NAIVE_RATIO" ">=" "$T_NAIVE"; else tfig "${LONG_NAIVE_RATIO:-n/a}" ">=" "$T_NAIVE"; fi; }
f_rss() { tfig "$1"_rss_mib "<=" "$T_RSS" MiB; }
f_mem() { if [[ -n "$(get "$1"_mem_mean)" ]]; then echo "$(get "$1"_mem_mean) bytes"; else echo n/a; fi; }
f_derived() {
    local v
    v="$(get "$1"_derived_share)"
    if [[ -z "$v" ]]; then echo n/a
    elif [[ "$1" == long ]]; then echo "$v ($(verdict "$v" ">=" "$T_DERIVED"))"
    else echo "$v"; fi
}
TARGET_ROWS=( # label|function|target
    "events/s end to end, 1 loyaltyd (from start)|f_rate|>= $T_EVENTS_S"
    "loyaltyd CPU per input message|f_cpu|<= $T_CPU_US us"
    "Redis CPU per input message (INFO cpu)|f_redis|<= $T_REDIS_US us"
    "  of which Redis's main thread|f_redis_main|"
    "loyaltyd / naive (from first applied)|f_naive|>= $T_NAIVE"
    "loyaltyd peak RSS (VmHWM)|f_rss|<= $T_RSS MiB"
    "Redis memory per customer, mean|f_mem|<= $T_MEM bytes on CDNOW (below)"
    "derived events per input message|f_derived|>= $T_DERIVED on the long-history workload (its shape)"
)
MEM_CDNOW="$(tfig cdnow_mem_mean "<=" "$T_MEM" bytes)"
echo "targets: workload ($WL_TOTAL messages, $WL_CUSTOMERS customers) | long history (${LONG_TOTAL:-no} messages, ${LONG_CUST:-no} customers)"
tro() { printf '  %-46s %-28s %-28s %s\n' "$@"; }
tro "" "workload" "long history" "target"
for r in "${TARGET_ROWS[@]}"; do
    IFS='|' read -r label fn tgt <<<"$r"
    twl "$fn"
    tro "$label" "$W_FIG" "$L_FIG" "$tgt"
done
tro "Redis memory per customer, CDNOW, mean" "$MEM_CDNOW" "" "<= $T_MEM bytes"
T_TOTAL=$(printf '%.0f' "$(calc "$(now) - $T_BEGIN")")

# ---- bench/RESULTS.md ------------------------------------------------------------------
if [[ -n "$RESULTS_MD" ]]; then
    md() { printf '| %s | %s |\n' "$1" "$2"; }
    {
        echo "# Benchmark results"
        echo
        echo "Written by \`make bench\` (\`bench/run.sh\`); bench/README.md says how each figure is measured."
        echo "Absolute figures move by tens of percent between runs on the shared 2-core machine;"
        echo "the ratios within one run move less."
        echo
        echo "| | |"
        echo "|---|---|"
        md "date (UTC)" "$DATE"
        md "\`nproc\`" "$NPROC ($(uname -m)); Kafka, Redis, the daemons and the harness share these cores"
        md "loyaltyd" "$REV"
        md "run" "$T_TOTAL s$([[ "$QUICK" == 1 ]] && echo ", BENCH_QUICK=1")"
        md "workload" "$WL_TOTAL messages, $WL_CUSTOMERS customers, seed $SEED, $PARTITIONS partitions per topic; top 20 % of customers place $(get workload_top20) of the orders"
        if [[ "$LONG" == 1 ]]; then
            md "long-history workload" "$LONG_TOTAL messages, $LONG_CUST customers, seed $LONG_SEED, \`--history long\`, $PARTITIONS partitions per topic; $(get long_shape)"
        fi
        md "end to end, events/s (from start / from first applied)" "$(e2e_rate wl)"
        md "loyaltyd CPU per event" "$(or_na "$(get wl_us_per_event)") µs"
        md "Redis round trips per event" "$(or_na "$(get wl_redis_per_event)") (mean $(get wl_redis_ms) ms)"
        md "loyaltyd peak RSS (VmHWM)" "$(or_na "$(get wl_rss_mib)") MiB"
        md "naive baseline, events/s" "$(or_na "$(get naive_events_s)")$NAIVE_NOTE"
        md "loyaltyd / naive" "$NAIVE_RATIO"
        md "Redis ceiling, commands/s" "$(or_na "$(get ceiling_commands_s)") ($(get ceiling_cmds_per_event) per event; captured on $(get cap_monitor_events) workload messages from message $(get cap_monitor_from) on, replayed with redis-cli --pipe)"
        md "Redis ceiling, events/s" "$(or_na "$(get ceiling_events_s)")"
        md "loyaltyd / ceiling" "$CEIL_RATIO"
        md "p99 append → visible at $LAT_RATE events/s, 3 topics live" "$(lat_fig lat3)"
        md "p99 append → visible at $LAT_RATE events/s, messages silent" "$(lat_fig lat2)"
        md "p99 append → visible at $LAT_RATE events/s, 3 topics live, rescoring after a refit" "$(lat_fig lat3r); $(or_na "$(get lat3r_rescored)") customers rescored meanwhile ($(or_na "$(get lat3r_rescored_s)")/s)"
        md "1 instance, events/s (at most $SCALE_S s from the first applied)" "$(or_na "$(get wl_window_events_s)") over $(get wl_window_s) s"
        md "2 instances in one group, events/s (at most $SCALE_S s from both applying)" "$(or_na "$(get wl2_window_events_s)") over $(get wl2_window_s) s"
        md "2 instances / 1 instance" "$SCALE_RATIO (one machine: $NPROC cores shared by Kafka, Redis, both daemons and the harness)"
        md "CDNOW end to end, events/s (from start / from first applied)" "$(e2e_rate cdnow) ($(get cdnow_messages) messages)"
        md "Redis memory per customer, CDNOW (mean / p95)" "$(or_na "$(get cdnow_mem_mean)") / $(or_na "$(get cdnow_mem_p95)") bytes: $(or_na "$(get cdnow_mem_verdict)") (target mean ≤ $T_MEM)"
        if [[ -n "$(get wl_mem_mean)" ]]; then
            md "Redis memory per customer, workload (mean / p95)" "$(get wl_mem_mean) / $(get wl_mem_p95) bytes"
        fi
        if [[ "$LONG" == 1 ]]; then
            md "long history: end to end, events/s (from start / from first applied)" "$(e2e_rate long)"
            md "long history: Redis round trips per event" "$(or_na "$(get long_redis_per_event)") (mean $(get long_redis_ms) ms)"
            md "long history: naive baseline, events/s" "$(or_na "$(get naive_long_events_s)")$LONG_NAIVE_NOTE"
            md "long history: derived events per input message" "$(derived_fig long)"
            md "workload: derived events per input message" "$(derived_fig wl)"
            if [[ -n "$(get long_mem_mean)" ]]; then
                md "Redis memory per customer, long history (mean / p95)" "$(get long_mem_mean) / $(get long_mem_p95) bytes"
            fi
        fi
        if [[ "$CLUSTER" == 1 ]]; then
            for r in "${CL_RUNS[@]}"; do
                IFS='|' read -r n label <<<"$r"
                md "$label ($CL_TOTAL messages, $(get cl_customers) customers): events/s (from start / from first applied)" "$(e2e_rate "$n")"
                md "$label: loyaltyd / Redis CPU per event" "$(or_na "$(get "${n}"_us_per_event)") µs / $(cl_redis "$n" | sed 's/us/µs/g')"
                md "$label: one core each would do" "$(cl_ceilings "$n" | sed 's/us)/µs)/g')"
            done
        fi
        md "in process: parse_event / model_apply" "$(or_na "$(get parse_events_s)") / $(or_na "$(get apply_events_s)") events/s"
        echo
        echo "## Targets"
        echo
        echo "One loyaltyd; \"met\" / \"not met\" as measured in this run."
        echo
        echo "| | workload ($WL_TOTAL messages, $WL_CUSTOMERS customers) | long history (${LONG_TOTAL:-skipped}${LONG_TOTAL:+ messages, $LONG_CUST customers}) | target |"
        echo "|---|---|---|---|"
        for r in "${TARGET_ROWS[@]}"; do
            IFS='|' read -r label fn tgt <<<"$r"
            twl "$fn"
            printf '| %s | %s | %s | %s |\n' "$label" "$W_FIG" "$L_FIG" "$(sed 's/<=/≤/; s/>=/≥/' <<<"$tgt")"
        done
        printf '| %s | %s | | %s |\n' "Redis memory per customer, CDNOW, mean" "$MEM_CDNOW" "≤ $T_MEM bytes"
    } >"$RESULTS_MD"
    echo
    echo "bench: results table written to ${RESULTS_MD#"$ROOT"/}"
fi
printf '\nbench: done in %s s (work files: %s)\n' "$T_TOTAL" "$WORK_REL"
