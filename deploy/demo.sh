#!/usr/bin/env bash
# The main job end to end on this machine: install what is missing (the build
# group of deploy/install-deps.sh: compiler, libraries, Redis, Java, Maven), build,
# start local Redis and Kafka, run loyaltyd, feed it a realistic sample (the
# CDNOW purchase histories as orders, with generated shipments, reviews and
# customer-service messages, and a few malformed messages), then show the
# state it keeps and the events it emitted.
#
#   deploy/demo.sh [--cluster] [CUSTOMERS]     (default 300)
#
# --cluster: the state on a local Redis Cluster (deploy/services.sh
# cluster-up: 3 masters, 3 replicas on 127.0.0.1:17001-17006) instead of one
# Redis.
#
# Redis and Kafka keep running afterwards for exploring (redis-cli -p 16379,
# or redis-cli -c -p 17001 for the cluster); `deploy/services.sh down` (and
# cluster-down) stops them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CLUSTER=0
if [[ "${1:-}" == "--cluster" ]]; then
    CLUSTER=1
    shift
fi
if [[ $# -gt 1 || ! "${1:-300}" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: deploy/demo.sh [--cluster] [CUSTOMERS]" >&2
    exit 2
fi
CUSTOMERS="${1:-300}"
CDNOW="${CDNOW:-$ROOT/data/cdnow/CDNOW_sample.txt}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
REDIS_PORT="${REDIS_PORT:-16379}"
BROKERS="127.0.0.1:$KAFKA_PORT"
HTTP_PORT="${HTTP_PORT:-19464}"
PREFIX="demo."
WORK="$ROOT/run/demo"
CLUSTER_PORT="${REDIS_CLUSTER_PORT:-17001}"
CLUSTER_SEEDS="127.0.0.1:$CLUSTER_PORT,127.0.0.1:$((CLUSTER_PORT + 1)),127.0.0.1:$((CLUSTER_PORT + 2))"
if ((CLUSTER)); then
    REDIS_CONF="redis.cluster = $CLUSTER_SEEDS"
    CTL=(build/loyaltyctl -c "$ROOT/run/demo/loyaltyd.conf" --prefix "loyalty:demo:")
    RCLI=(redis-cli -c -p "$CLUSTER_PORT")
else
    REDIS_CONF="redis.port = $REDIS_PORT"
    CTL=(build/loyaltyctl --redis "127.0.0.1:$REDIS_PORT" --prefix "loyalty:demo:")
    RCLI=(redis-cli -p "$REDIS_PORT")
fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

[[ -r "$CDNOW" ]] || { echo "demo: no CDNOW sample at $CDNOW (set CDNOW=...)" >&2; exit 1; }

say "dependencies and build"
deploy/install-deps.sh build
make -j2 all >/dev/null

say "local Redis and Kafka"
deploy/services.sh up >/dev/null
if ((CLUSTER)); then
    say "local Redis Cluster"
    deploy/services.sh cluster-up
fi
# A fresh run every time: new topics, no old state.
deploy/kafka.sh delete-topics "${PREFIX}orders" "${PREFIX}reviews" "${PREFIX}messages" \
    "${PREFIX}loyalty.churn-risk" "${PREFIX}loyalty.rewards" "${PREFIX}loyalty.segments" \
    "${PREFIX}loyalty.dlq" >/dev/null 2>&1 || true
TOPIC_PREFIX="$PREFIX" deploy/kafka.sh topics >/dev/null
if ((CLUSTER)); then
    # Keys of many slots: each master scanned, each key deleted on its own.
    for port in $(seq "$CLUSTER_PORT" $((CLUSTER_PORT + 5))); do
        redis-cli -p "$port" --scan --pattern 'loyalty:demo:*' |
            xargs -r -n 1 redis-cli -c -p "$port" del >/dev/null
    done
else
    redis-cli -p "$REDIS_PORT" --scan --pattern 'loyalty:demo:*' | xargs -r -n 500 redis-cli -p "$REDIS_PORT" del >/dev/null
fi

say "sample events"
rm -rf "$WORK" && mkdir -p "$WORK"
deploy/sample-events.py --cdnow "$CDNOW" --out "$WORK/in" --customers "$CUSTOMERS" \
    --until 1997-09-30
# A group of its own too: the old one's committed offsets would make the
# emptied prefix look like a Redis that lost its state (refused).
cat >"$WORK/loyaltyd.conf" <<CONF
kafka.bootstrap.servers = $BROKERS
group.id = loyaltyd-demo-$(date +%s)
topic.orders = ${PREFIX}orders
topic.reviews = ${PREFIX}reviews
topic.messages = ${PREFIX}messages
topic.churn_risk = ${PREFIX}loyalty.churn-risk
topic.rewards = ${PREFIX}loyalty.rewards
topic.segments = ${PREFIX}loyalty.segments
topic.dlq = ${PREFIX}loyalty.dlq
$REDIS_CONF
redis.prefix = loyalty:demo:
http.listen = 127.0.0.1:$HTTP_PORT
# replaying 1997: "now" is the newest event time
clock = stream
sweep.interval_s = 2
# CDNOW's orders are in USD: the reporting currency, no rates needed
money.currency = USD
CONF
for t in orders reviews messages; do
    build/tools/kfeed -b "$BROKERS" -t "${PREFIX}$t" <"$WORK/in/$t.txt"
done
total=$(cat "$WORK"/in/*.txt | wc -l)

say "loyaltyd"
build/loyaltyd -c "$WORK/loyaltyd.conf" 2>"$WORK/loyaltyd.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
done_count=0
for _ in $(seq 1 240); do
    kill -0 $pid 2>/dev/null || { echo "loyaltyd exited; see $WORK/loyaltyd.log" >&2; exit 1; }
    done_count=$({ curl -sf "127.0.0.1:$HTTP_PORT/metrics" || true; } | awk '
        /^loyaltyd_(applied|duplicates_skipped)_total / {n += $2}
        /^loyaltyd_dead_lettered_total/ {n += $2} END {print n + 0}')
    [[ "$done_count" -ge "$total" ]] && break
    sleep 0.5
done
echo "processed $done_count of $total input messages"
sleep 3 # one more sweep, deliveries settle
kill -TERM $pid && wait $pid && trap - EXIT
echo "loyaltyd stopped cleanly (log: $WORK/loyaltyd.log)"

say "churn model fitted on the state in Redis (as of 1997-09-30, weeks)"
"${CTL[@]}" fit --from-redis --as-of 1997-09-30 --unit weeks --save || echo "(kept the default parameters)"

say "top customers by value and by churn risk"
"${CTL[@]}" top --by value -n 5
"${CTL[@]}" top --by risk -n 5

say "one customer, explained"
"${CTL[@]}" show cdnow-0001

say "the same customer in Redis: its summary hash (the packed state beside it: loyaltyctl dump)"
"${RCLI[@]}" hgetall 'loyalty:demo:c:{cdnow-0001}' | paste - -

say "emitted events"
for t in loyalty.rewards loyalty.churn-risk loyalty.segments loyalty.dlq; do
    build/tools/kdrain -b "$BROKERS" -t "${PREFIX}$t" -i 1000 >"$WORK/$t.jsonl"
    printf '%-20s %5d events\n' "$t" "$(wc -l <"$WORK/$t.jsonl")"
done
# first NAME FILE: the first record's value, as indented JSON.
first() {
    echo "first $1:"
    if [[ -s "$2" ]]; then
        head -1 "$2" | python3 -c 'import json,sys; print(json.dumps(json.loads(json.loads(sys.stdin.read())["value"]), indent=2))'
    else
        echo "  (none)"
    fi
}
first reward-trigger "$WORK/loyalty.rewards.jsonl"
first segment-change "$WORK/loyalty.segments.jsonl"
echo "dead-lettered (reason: source):"
python3 -c '
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    h = m["headers"]
    print("  %-16s %s/%s@%s  %s" % (h["reason"], h["source_topic"], h["source_partition"], h["source_offset"], h["detail"]))
' "$WORK/loyalty.dlq.jsonl"

say "done"
echo "state:   ${RCLI[*]} hgetall 'loyalty:demo:c:{cdnow-0001}'"
echo "         ${CTL[*]} dump cdnow-0001"
echo "events:  $WORK/*.jsonl"
if ((CLUSTER)); then
    echo "stop:    deploy/services.sh down; deploy/services.sh cluster-down"
else
    echo "stop:    deploy/services.sh down"
fi
