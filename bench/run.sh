#!/usr/bin/env bash
# Benchmarks of loyaltyd on this machine (bench/README.md says what and how):
#
#   1. in-process micro-benchmarks of the pure code (build/bench/bench_model):
#      parse_event, model_apply, codec round trips, BG/NBD and Gamma-Gamma fits;
#   2. end-to-end throughput: a realistic population pre-produced into fresh
#      topics, loyaltyd (clock = stream) started on it and timed until /metrics
#      shows every message applied or dead-lettered; peak RSS, Redis latency;
#   3. Redis memory per customer of the CDNOW population (MEMORY USAGE),
#      against the 2 KiB target of DESIGN §5.
#
#   bench/run.sh            (or `make bench`, which builds first)
#
# Environment:
#   BENCH_COPIES (4)     size of the synthetic population, in copies of the 2357
#                        CDNOW customers (bench/synth-events.py); 0 skips it
#   BENCH_TIMEOUT (150)  give up on one end-to-end run after this many seconds
#   BENCH_MICRO_S (0.3)  least duration of one micro-benchmark round
#   BENCH_KEEP (0)       1 keeps the Redis keys and the topics of the run
#   CDNOW, REDIS_PORT (16379), KAFKA_PORT (19092)
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
COPIES="${BENCH_COPIES:-4}"
TIMEOUT="${BENCH_TIMEOUT:-150}"
MICRO_S="${BENCH_MICRO_S:-0.3}"
KEEP="${BENCH_KEEP:-0}"
REDIS_PORT="${REDIS_PORT:-16379}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
export REDIS_PORT KAFKA_PORT
BROKERS="127.0.0.1:$KAFKA_PORT"
RUN_ID="$(date +%Y%m%d%H%M%S)-$$"
WORK="$ROOT/run/bench/$RUN_ID"
RESULTS="$WORK/results.txt" # "key value" lines for the summary
T_BEGIN=$(date +%s.%N)

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
now() { date +%s.%N; }
result() { echo "$1 $2" >>"$RESULTS"; }
get() { awk -v k="$1" '$1 == k {v = $2} END {print v}' "$RESULTS"; }

for f in build/loyaltyd build/tools/kfeed build/bench/bench_model; do
    [[ -x "$f" ]] || { echo "bench: $f missing: run 'make bench'" >&2; exit 1; }
done
[[ -r "$CDNOW" && -r "$SUMMARY" ]] || { echo "bench: no CDNOW data at $CDNOW (set CDNOW=...)" >&2; exit 1; }
mkdir -p "$WORK"
: >"$RESULTS"

# ---- cleanup: only what this run started or created ------------------------
STARTED_SERVICES=0
DAEMON_PID=""
TOPICS=()
PREFIXES=()
cleanup() {
    local rc=$?
    set +e
    if [[ -n "$DAEMON_PID" ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -TERM "$DAEMON_PID"
        wait "$DAEMON_PID" 2>/dev/null
    fi
    if [[ "$KEEP" != 1 ]]; then
        if [[ ${#PREFIXES[@]} -gt 0 ]] && redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
            for p in "${PREFIXES[@]}"; do
                redis-cli -p "$REDIS_PORT" --scan --pattern "${p}*" |
                    xargs -r -n 500 redis-cli -p "$REDIS_PORT" unlink >/dev/null
            done
        fi
        if [[ ${#TOPICS[@]} -gt 0 ]]; then
            deploy/kafka.sh delete-topics "${TOPICS[@]}" >/dev/null 2>&1
        fi
    fi
    if [[ "$STARTED_SERVICES" == 1 ]]; then
        echo "bench: stopping the services this run started"
        deploy/services.sh down >/dev/null 2>&1
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- services ----------------------------------------------------------------
say "services"
if deploy/services.sh status >/dev/null 2>&1; then
    echo "Redis and Kafka already running: using them, leaving them up"
else
    STARTED_SERVICES=1
    deploy/services.sh up | tail -1
fi

# ---- input -------------------------------------------------------------------
say "input events"
deploy/sample-events.py --cdnow "$CDNOW" --out "$WORK/cdnow" --customers 100000
if [[ "$COPIES" -gt 1 ]]; then
    bench/synth-events.py --cdnow "$CDNOW" --out "$WORK/synth" --copies "$COPIES"
fi

# ---- 1. micro-benchmarks ---------------------------------------------------------
say "in-process micro-benchmarks (build/bench/bench_model)"
build/bench/bench_model "$WORK/cdnow" "$SUMMARY" "$MICRO_S" | tee "$WORK/micro.txt" | grep -v '^RESULT '
sed -n 's/^RESULT //p' "$WORK/micro.txt" >>"$RESULTS"

# ---- 2. end to end ---------------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# CPU seconds (user + system) a process has used so far; 0 if it is gone.
TICK=$(getconf CLK_TCK)
cpu_s() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    echo "${st##*) }" | awk -v hz="$TICK" '{printf "%.2f\n", ($12 + $13) / hz}'
}
REDIS_PID=$(redis-cli -p "$REDIS_PORT" info server | tr -d '\r' | awk -F: '$1 == "process_id" {print $2}')
KAFKA_PID=$(deploy/kafka.sh status 2>/dev/null | sed -n 's/.*(pid \([0-9]*\).*/\1/p')

metric_sum() { # FILE REGEX: sum of the matching samples
    awk -v re="$2" '$0 ~ re {n += $NF} END {printf "%.6f\n", n + 0}' "$1"
}

# e2e NAME DIR: feed DIR into fresh topics, run loyaltyd until caught up.
e2e() {
    local name="$1" dir="$2" tp="bench.$RUN_ID.$1." prefix="loyalty:bench:$RUN_ID:$1:"
    local port total t0 t_first="" t_done="" done_n=0 conf="$WORK/$1.conf" m="$WORK/$1.metrics"
    say "end to end: $name"
    PREFIXES+=("$prefix")
    for t in orders reviews messages loyalty.churn-risk loyalty.rewards loyalty.dlq; do
        TOPICS+=("$tp$t")
    done
    TOPIC_PREFIX="$tp" deploy/kafka.sh topics >/dev/null
    total=$(cat "$dir"/orders.txt "$dir"/reviews.txt "$dir"/messages.txt | wc -l)
    local customers
    customers=$(cut -f1 "$dir"/orders.txt "$dir"/reviews.txt "$dir"/messages.txt | sort -u | wc -l)
    local tf
    tf=$(now)
    for t in orders reviews messages; do
        build/tools/kfeed -b "$BROKERS" -t "$tp$t" <"$dir/$t.txt"
    done
    printf 'pre-produced %d messages (%d customer keys) in %.1f s\n' "$total" "$customers" \
        "$(echo "$(now) - $tf" | bc)"
    port=$(free_port)
    cat >"$conf" <<CONF
kafka.bootstrap.servers = $BROKERS
group.id = loyaltyd-bench-$RUN_ID-$name
topic.orders = ${tp}orders
topic.reviews = ${tp}reviews
topic.messages = ${tp}messages
topic.churn_risk = ${tp}loyalty.churn-risk
topic.rewards = ${tp}loyalty.rewards
topic.dlq = ${tp}loyalty.dlq
redis.port = $REDIS_PORT
redis.prefix = $prefix
http.listen = 127.0.0.1:$port
log.level = notice
clock = stream
sweep.interval_s = 2
CONF
    local redis_cpu0 kafka_cpu0 redis_cpu kafka_cpu daemon_cpu
    redis_cpu0=$(cpu_s "${REDIS_PID:-0}")
    kafka_cpu0=$(cpu_s "${KAFKA_PID:-0}")
    t0=$(now)
    build/loyaltyd -c "$conf" 2>"$WORK/$name.log" &
    DAEMON_PID=$!
    while :; do
        kill -0 "$DAEMON_PID" 2>/dev/null || { echo "bench: loyaltyd exited; see $WORK/$name.log" >&2; exit 1; }
        if curl -sf -m 2 "127.0.0.1:$port/metrics" >"$m.tmp" 2>/dev/null; then
            mv "$m.tmp" "$m"
            done_n=$(awk '/^loyaltyd_(applied|duplicates_skipped)_total / {n += $2}
                          /^loyaltyd_dead_lettered_total/ {n += $2} END {print n + 0}' "$m")
            [[ -z "$t_first" && "$done_n" -gt 0 ]] && t_first=$(now)
            if [[ "$done_n" -ge "$total" ]]; then
                t_done=$(now)
                break
            fi
        fi
        if (($(echo "$(now) - $t0 > $TIMEOUT" | bc))); then
            echo "bench: $name: not caught up after $TIMEOUT s ($done_n of $total)" >&2
            break
        fi
        sleep 0.1
    done
    local hwm
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$DAEMON_PID/status")
    daemon_cpu=$(cpu_s "$DAEMON_PID")
    redis_cpu=$(echo "$(cpu_s "${REDIS_PID:-0}") - $redis_cpu0" | bc)
    kafka_cpu=$(echo "$(cpu_s "${KAFKA_PID:-0}") - $kafka_cpu0" | bc)
    sleep 3 # one more sweep; deliveries settle
    curl -sf -m 2 "127.0.0.1:$port/metrics" >"$m" || true
    kill -TERM "$DAEMON_PID"
    local rc=0
    wait "$DAEMON_PID" || rc=$?
    DAEMON_PID=""
    [[ $rc -eq 0 ]] || echo "bench: loyaltyd exited with $rc on SIGTERM (see $WORK/$name.log)" >&2
    [[ -n "$t_done" ]] || return 1

    local el el_first lat_sum lat_n applied dlq emitted sweeps
    el=$(echo "$t_done - $t0" | bc)
    el_first=$(echo "$t_done - $t_first" | bc)
    lat_sum=$(metric_sum "$m" '^loyaltyd_redis_latency_seconds_sum')
    lat_n=$(metric_sum "$m" '^loyaltyd_redis_latency_seconds_count')
    applied=$(metric_sum "$m" '^loyaltyd_applied_total ')
    dlq=$(metric_sum "$m" '^loyaltyd_dead_lettered_total')
    emitted=$(metric_sum "$m" '^loyaltyd_emitted_total')
    sweeps=$(metric_sum "$m" '^loyaltyd_sweeper_runs_total')
    printf 'caught up: %d messages (%.0f applied, %.0f dead-lettered) in %.2f s from start, %.2f s from the first applied\n' \
        "$done_n" "$applied" "$dlq" "$el" "$el_first"
    printf 'throughput: %.0f events/s from start, %.0f events/s from the first applied\n' \
        "$(echo "$total / $el" | bc -l)" "$(echo "$total / $el_first" | bc -l)"
    printf 'derived events delivered: %.0f; sweeper runs: %.0f\n' "$emitted" "$sweeps"
    printf 'loyaltyd peak RSS (VmHWM): %.1f MiB\n' "$(echo "$hwm / 1024" | bc -l)"
    printf 'CPU until caught up: loyaltyd %.1f s (%.0f %% of one core), redis-server %.1f s (%.0f %%), Kafka %.1f s (%.0f %%)\n' \
        "$daemon_cpu" "$(echo "100 * $daemon_cpu / $el" | bc -l)" "$redis_cpu" \
        "$(echo "100 * $redis_cpu / $el" | bc -l)" "$kafka_cpu" "$(echo "100 * $kafka_cpu / $el" | bc -l)"
    printf 'Redis round trips: %.0f, mean %.3f ms (%.1f per event)\n' "$lat_n" \
        "$(echo "if ($lat_n > 0) $lat_sum * 1000 / $lat_n else 0" | bc -l)" \
        "$(echo "$lat_n / $total" | bc -l)"
    result "${name}_messages" "$total"
    result "${name}_customers" "$customers"
    result "${name}_seconds" "$(printf '%.2f' "$el")"
    result "${name}_events_s" "$(printf '%.0f' "$(echo "$total / $el" | bc -l)")"
    result "${name}_events_s_steady" "$(printf '%.0f' "$(echo "$total / $el_first" | bc -l)")"
    result "${name}_rss_mib" "$(printf '%.1f' "$(echo "$hwm / 1024" | bc -l)")"
    result "${name}_redis_ms" "$(printf '%.3f' "$(echo "if ($lat_n > 0) $lat_sum * 1000 / $lat_n else 0" | bc -l)")"
    result "${name}_redis_per_event" "$(printf '%.1f' "$(echo "$lat_n / $total" | bc -l)")"
    result "${name}_cpu" "$(printf '%.0f%%/%.0f%%/%.0f%%' "$(echo "100 * $daemon_cpu / $el" | bc -l)" \
        "$(echo "100 * $redis_cpu / $el" | bc -l)" "$(echo "100 * $kafka_cpu / $el" | bc -l)")"
    result "${name}_us_per_event" "$(printf '%.0f' "$(echo "1000000 * $daemon_cpu / $total" | bc -l)")"
    result "${name}_prefix" "$prefix"
}

e2e cdnow "$WORK/cdnow"

# ---- 3. Redis memory per customer (state after each run) -------------------------
memory() { # NAME
    say "Redis memory per customer ($1 population)"
    bench/redis-mem.py --port "$REDIS_PORT" --prefix "$(get "$1"_prefix)" | tee "$WORK/mem-$1.txt" |
        grep -v '^RESULT '
    sed -n "s/^RESULT mem_/$1_mem_/p" "$WORK/mem-$1.txt" >>"$RESULTS"
}
memory cdnow

if [[ "$COPIES" -gt 1 ]]; then
    e2e synth "$WORK/synth"
    memory synth
fi

# ---- summary ---------------------------------------------------------------------
say "summary ($(date -u +%Y-%m-%dT%H:%MZ), nproc $(nproc), $(uname -m))"
row() { printf '  %-46s %s\n' "$1" "$2"; }
echo "in-process (median of 5 rounds; one run, so the ratios compare like with like)"
row "parse_event" "$(get parse_events_s) events/s, $(get parse_mb_s) MB/s"
row "model_apply" "$(get apply_events_s) events/s"
row "decode + model_apply + encode" "$(get apply_codec_events_s) events/s"
row "codec_encode + codec_decode" "$(get codec_trips_s) round trips/s"
row "BG/NBD fit (2357 customers)" "$(get fit_bgnbd_ms) ms"
row "Gamma-Gamma fit" "$(get fit_gg_ms) ms"
for n in cdnow synth; do
    [[ -n "$(get ${n}_events_s)" ]] || continue
    echo "end to end: $n ($(get ${n}_customers) customers, $(get ${n}_messages) messages, 1 loyaltyd, clock = stream)"
    row "time to caught up" "$(get ${n}_seconds) s"
    row "throughput (from start / from first applied)" "$(get ${n}_events_s) / $(get ${n}_events_s_steady) events/s"
    row "loyaltyd peak RSS (VmHWM)" "$(get ${n}_rss_mib) MiB"
    row "Redis round trip mean" "$(get ${n}_redis_ms) ms ($(get ${n}_redis_per_event) per event)"
    row "CPU: loyaltyd / redis-server / Kafka" "$(get ${n}_cpu) of one core"
    row "loyaltyd CPU per event" "$(get ${n}_us_per_event) us"
    row "model share of the end-to-end time" \
        "$(printf '%.1f %%' "$(echo "100 * $(get ${n}_events_s_steady) / $(get apply_events_s)" | bc -l)")"
done
for n in cdnow synth; do
    [[ -n "$(get ${n}_mem_mean)" ]] || continue
    echo "Redis memory per customer: $n ($(get ${n}_mem_customers) customers, MEMORY USAGE ... SAMPLES 0)"
    row "mean / p50 / p95 / max" "$(get ${n}_mem_mean) / $(get ${n}_mem_p50) / $(get ${n}_mem_p95) / $(get ${n}_mem_max) bytes"
    row "  means: hash + aux + outbox + idx/due share" \
        "$(get ${n}_mem_hash) + $(get ${n}_mem_aux) + $(get ${n}_mem_outbox) + $(get ${n}_mem_share) bytes"
    row "hash encoding; fields (range, p50)" "$(get ${n}_mem_encoding); $(get ${n}_mem_fields), $(get ${n}_mem_fields_p50)"
    row "target: mean <= 2048 bytes" "$(get ${n}_mem_verdict)"
done
printf '\nbench: done in %.0f s (work files: %s)\n' "$(echo "$(now) - $T_BEGIN" | bc)" "$WORK"
