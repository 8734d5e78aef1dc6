#!/usr/bin/env bash
# A single-node Kafka (KRaft, broker+controller in one JVM) on 127.0.0.1 for the
# tests and the demo. The jars come from Maven Central through
# deploy/kafka/pom.xml and are cached in .cache/kafka/libs.
#
#   deploy/kafka.sh fetch                 download the jars (once)
#   deploy/kafka.sh start                 format storage on first start, start, wait until ready
#   deploy/kafka.sh stop                  SIGTERM, then SIGKILL after 30 s
#   deploy/kafka.sh status                say whether it runs
#   deploy/kafka.sh topics [NAME...]      create the standard topics (and NAMEs), idempotent
#   deploy/kafka.sh delete-topics NAME... delete topics (missing ones are ignored)
#   deploy/kafka.sh list-topics           list topics
#   deploy/kafka.sh bootstrap             print the bootstrap address
#
# Environment:
#   KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093), KAFKA_DIR (run/kafka),
#   KAFKA_PARTITIONS (4), TOPIC_PREFIX (""), KAFKA_TOPIC_CONFIG (one topic
#   config KEY=VALUE for the topics created, e.g. message.timestamp.type=LogAppendTime),
#   KAFKA_START_TIMEOUT (90),
#   KAFKA_HEAP_OPTS (-Xms256m -Xmx512m), KAFKA_JVM_OPTS (extra broker JVM flags),
#   JAVA (java).
#   For a broker set up otherwise (tests/integration/conftest.py, own_kafka):
#   KAFKA_SERVER_EXTRA (a file appended to server.properties at each start:
#   its keys replace the ones above, e.g. listeners), KAFKA_FORMAT_ARGS (more
#   arguments of the storage format on first start, e.g. --add-scram ...),
#   KAFKA_BOOTSTRAP (127.0.0.1:$KAFKA_PORT, the admin commands' address) and
#   KAFKA_ADMIN_EXTRA (a file appended to their client properties, e.g. SASL).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POM="$ROOT/deploy/kafka/pom.xml"
CACHE="$ROOT/.cache/kafka"
LIBS="$CACHE/libs"
STAMP="$LIBS/.fetched"

KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_DIR="${KAFKA_DIR:-$ROOT/run/kafka}"
KAFKA_PARTITIONS="${KAFKA_PARTITIONS:-4}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
TOPIC_PREFIX="${TOPIC_PREFIX:-}"
JAVA="${JAVA:-java}"

BOOTSTRAP="${KAFKA_BOOTSTRAP:-127.0.0.1:$KAFKA_PORT}"
DATA_DIR="$KAFKA_DIR/data"
LOG_DIR="$KAFKA_DIR/logs"
CONFIG="$KAFKA_DIR/server.properties"
ADMIN_CONFIG="$KAFKA_DIR/admin.properties"
PID_FILE="$KAFKA_DIR/kafka.pid"

STANDARD_TOPICS=(orders reviews messages loyalty.churn-risk loyalty.rewards loyalty.segments
    loyalty.dlq)

# Short-lived admin JVMs: start fast, small heap, C1 only.
TOOL_JVM_OPTS=(-Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto
    "-Dlog4j.configuration=file:$ROOT/deploy/kafka/tools-log4j.properties")

log() { echo "kafka: $*"; }
die() {
    echo "kafka: error: $*" >&2
    exit 1
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

# Hash of the pom: a changed pom triggers a new fetch.
pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

have_jars() { [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(pom_hash)" ]]; }

need_jars() {
    have_jars || die "jars missing in $LIBS: run '$0 fetch' first"
    command -v "$JAVA" >/dev/null 2>&1 || die "'$JAVA' not found (run deploy/install-deps.sh build)"
}

cmd_fetch() {
    if have_jars; then
        log "jars already in $LIBS ($(find "$LIBS" -name '*.jar' | wc -l) jars)"
        return 0
    fi
    command -v mvn >/dev/null 2>&1 || die "mvn not found (run deploy/install-deps.sh build)"
    mkdir -p "$CACHE"
    local tmp mvnlog
    tmp="$(mktemp -d "$CACHE/libs.tmp.XXXXXX")"
    mvnlog="$CACHE/fetch.log"
    log "fetching jars with Maven (log: $mvnlog)"
    if ! mvn -B -q -f "$POM" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp" >"$mvnlog" 2>&1; then
        tail -n 40 "$mvnlog" >&2 || true
        rm -rf "$tmp"
        die "mvn could not fetch the Kafka jars (see $mvnlog)"
    fi
    ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || {
        rm -rf "$tmp"
        die "no kafka_2.13 jar after fetch"
    }
    pom_hash >"$tmp/.fetched"
    rm -rf "$LIBS" "$CACHE"/tools*.jsa
    mv "$tmp" "$LIBS"
    log "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars into $LIBS"
}

# Explicit, sorted class path (stable, so the class-data archive below stays valid).
classpath() {
    local IFS=:
    local jars=("$LIBS"/*.jar)
    echo "${jars[*]}"
}

# Run a Kafka admin tool class. The first TopicCommand run records a
# class-data-sharing archive of the classes it loaded; later runs map it and
# start faster (about 0.6 s instead of 0.9 s per run).
run_tool() {
    local cls="$1"
    shift
    local jsa="$CACHE/tools.jsa" cds=() rc=0
    if [[ "$cls" != *TopicCommand ]]; then
        :
    elif [[ -s "$jsa" ]]; then
        cds=("-XX:SharedArchiveFile=$jsa")
    elif [[ -w "$CACHE" ]]; then
        # written under a private name and renamed: concurrent runs cannot clash
        cds=("-XX:ArchiveClassesAtExit=$jsa.$$")
    fi
    "$JAVA" "${TOOL_JVM_OPTS[@]}" "${cds[@]}" -Xlog:cds=off -Xlog:cds+dynamic=off \
        -cp "$(classpath)" "$cls" "$@" || rc=$?
    if [[ -s "$jsa.$$" ]]; then
        if ((rc == 0)); then mv -f "$jsa.$$" "$jsa"; else rm -f "$jsa.$$"; fi
    fi
    return $rc
}

# shellcheck source=deploy/proc.sh
. "$(dirname "${BASH_SOURCE[0]}")/proc.sh"

pid_alive() { pidfile_alive "$PID_FILE" 'kafka\.Kafka'; }

write_configs() {
    mkdir -p "$DATA_DIR" "$LOG_DIR"
    cat >"$CONFIG" <<EOF
# Generated by deploy/kafka.sh; rewritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$DATA_DIR
num.partitions=$KAFKA_PARTITIONS
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
log.segment.bytes=67108864
log.cleaner.dedupe.buffer.size=16777216
# One node is broker and controller on a small, busy machine: a heartbeat
# to itself can wait behind other work, and fencing the only broker for it
# takes every partition offline for a while.
broker.session.timeout.ms=60000
broker.heartbeat.interval.ms=2000
EOF
    if [[ -n "${KAFKA_SERVER_EXTRA:-}" ]]; then
        cat "$KAFKA_SERVER_EXTRA" >>"$CONFIG"
    fi
    cat >"$ADMIN_CONFIG" <<EOF
request.timeout.ms=5000
default.api.timeout.ms=10000
retry.backoff.ms=200
EOF
    if [[ -n "${KAFKA_ADMIN_EXTRA:-}" ]]; then
        cat "$KAFKA_ADMIN_EXTRA" >>"$ADMIN_CONFIG"
    fi
}

# Kafka's Uuid: 16 random bytes, URL-safe base64 without padding, not starting with '-'.
random_cluster_id() {
    local id
    while :; do
        id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
        [[ "$id" != -* && ${#id} -eq 22 ]] && break
    done
    echo "$id"
}

format_storage() {
    [[ -f "$DATA_DIR/meta.properties" ]] && return 0
    local id
    local extra=()
    read -ra extra <<<"${KAFKA_FORMAT_ARGS:-}"
    id="$(random_cluster_id)"
    log "formatting storage in $DATA_DIR (cluster id $id)"
    run_tool kafka.tools.StorageTool format -t "$id" -c "$CONFIG" --ignore-formatted "${extra[@]}" \
        >"$LOG_DIR/format.log" 2>&1 || {
        cat "$LOG_DIR/format.log" >&2
        die "storage format failed"
    }
}

# One metadata round trip through the admin client.
metadata_ok() {
    timeout 30 "$0" list-topics >/dev/null 2>&1
}

broker_log_tail() {
    echo "---- last lines of $LOG_DIR/server.log ----" >&2
    tail -n 40 "$LOG_DIR/server.log" >&2 2>/dev/null || true
    if [[ -s "$LOG_DIR/stdout.log" ]]; then
        echo "---- $LOG_DIR/stdout.log ----" >&2
        tail -n 20 "$LOG_DIR/stdout.log" >&2 || true
    fi
}

wait_ready() {
    local deadline=$((SECONDS + KAFKA_START_TIMEOUT)) pid
    pid="$(cat "$PID_FILE")"
    # Cheap checks first (port, "started" line), then one real metadata request.
    while ((SECONDS < deadline)); do
        proc_running "$pid" || {
            broker_log_tail
            rm -f "$PID_FILE"
            die "broker exited during start-up"
        }
        if port_open "$KAFKA_PORT" && grep -q 'Kafka Server started' "$LOG_DIR/server.log" 2>/dev/null; then
            break
        fi
        sleep 0.2
    done
    while ((SECONDS < deadline)); do
        if metadata_ok; then
            return 0
        fi
        proc_running "$pid" || break
        sleep 1
    done
    broker_log_tail
    die "broker on $BOOTSTRAP not answering metadata requests after ${KAFKA_START_TIMEOUT}s (pid $pid still running; '$0 stop' to end it)"
}

# Serialise start/stop of one KAFKA_DIR (parallel test runners).
lock_dir() {
    mkdir -p "$KAFKA_DIR"
    exec 9>"$KAFKA_DIR/.lock"
    flock -w 120 9 || die "timed out waiting for the lock on $KAFKA_DIR"
}

cmd_start() {
    need_jars
    lock_dir
    if pid_alive; then
        if port_open "$KAFKA_PORT"; then
            log "already running (pid $(cat "$PID_FILE"), $BOOTSTRAP)"
            return 0
        fi
        log "pid $(cat "$PID_FILE") alive but $BOOTSTRAP not answering yet; waiting"
        wait_ready
        log "ready on $BOOTSTRAP"
        return 0
    fi
    rm -f "$PID_FILE"
    local p
    for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
        port_open "$p" && die "port $p on 127.0.0.1 is already in use by another process"
    done
    write_configs
    format_storage

    local heap
    # shellcheck disable=SC2206
    heap=(${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m})
    # shellcheck disable=SC2206
    local extra=(${KAFKA_JVM_OPTS:-})
    local t0=$SECONDS
    log "starting broker on $BOOTSTRAP (controller 127.0.0.1:$KAFKA_CONTROLLER_PORT, dir $KAFKA_DIR)"
    : >"$LOG_DIR/stdout.log"
    # setsid: own session, so a Ctrl-C in the caller's terminal does not reach it.
    setsid "$JAVA" "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -Djava.awt.headless=true -Dkafka.logs.dir="$LOG_DIR" \
        "-Dlog4j.configuration=file:$ROOT/deploy/kafka/log4j.properties" \
        "${extra[@]}" -cp "$(classpath)" kafka.Kafka "$CONFIG" \
        </dev/null >>"$LOG_DIR/stdout.log" 2>&1 9>&- &
    echo $! >"$PID_FILE"
    wait_ready
    log "ready on $BOOTSTRAP (pid $(cat "$PID_FILE"), $((SECONDS - t0))s)"
}

cmd_stop() {
    lock_dir
    if ! pid_alive; then
        rm -f "$PID_FILE"
        log "not running"
        return 0
    fi
    local pid
    pid="$(cat "$PID_FILE")"
    log "stopping pid $pid"
    stop_pid "$pid" 30
    rm -f "$PID_FILE"
    log "stopped"
}

cmd_status() {
    if pid_alive && port_open "$KAFKA_PORT"; then
        log "running (pid $(cat "$PID_FILE"), $BOOTSTRAP)"
    elif pid_alive; then
        log "starting or stuck (pid $(cat "$PID_FILE"), $BOOTSTRAP not answering)"
        return 1
    else
        log "not running"
        return 3
    fi
}

topic_cmd() {
    need_jars
    [[ -f "$ADMIN_CONFIG" ]] || write_configs
    run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
        --command-config "$ADMIN_CONFIG" "$@"
}

cmd_list_topics() { topic_cmd --list --exclude-internal; }

cmd_topics() {
    local names=() n
    for n in "${STANDARD_TOPICS[@]}" "$@"; do names+=("$TOPIC_PREFIX$n"); done
    pid_alive || die "broker not running (run '$0 start')"
    # TopicCommand creates one topic per run; run two JVMs at a time.
    local pids=() failed=0 out="$KAFKA_DIR/topics.$$"
    mkdir -p "$out"
    local i=0
    for n in "${names[@]}"; do
        topic_cmd --create --if-not-exists --topic "$n" --partitions "$KAFKA_PARTITIONS" \
            --replication-factor 1 ${KAFKA_TOPIC_CONFIG:+--config "$KAFKA_TOPIC_CONFIG"} \
            >"$out/$i.log" 2>&1 &
        pids+=($!)
        i=$((i + 1))
        if ((${#pids[@]} >= 2)); then
            wait "${pids[0]}" || failed=1
            pids=("${pids[@]:1}")
        fi
    done
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
    if ((failed)); then
        cat "$out"/*.log >&2
        rm -rf "$out"
        die "creating topics failed"
    fi
    rm -rf "$out"
    log "topics ready ($KAFKA_PARTITIONS partitions): ${names[*]}"
}

cmd_delete_topics() {
    (($# > 0)) || die "usage: $0 delete-topics NAME..."
    local pattern="" n
    for n in "$@"; do
        n="$TOPIC_PREFIX$n"
        [[ "$n" =~ ^[A-Za-z0-9._-]+$ ]] || die "invalid topic name '$n'"
        pattern+="${pattern:+,}${n//./\\.}"
    done
    pid_alive || die "broker not running (run '$0 start')"
    # --topic takes a comma-separated list of regular expressions: one JVM for all.
    topic_cmd --delete --if-exists --topic "$pattern"
    log "deleted (if they existed): ${*/#/$TOPIC_PREFIX}"
}

case "${1:-}" in
fetch) cmd_fetch ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
topics)
    shift
    cmd_topics "$@"
    ;;
delete-topics)
    shift
    cmd_delete_topics "$@"
    ;;
list-topics) cmd_list_topics ;;
bootstrap) echo "$BOOTSTRAP" ;;
-h | --help | help) usage ;;
*)
    usage >&2
    exit 2
    ;;
esac
