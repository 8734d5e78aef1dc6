#!/usr/bin/env bash
# Start or stop every local service the integration tests and the demo need:
# Redis (deploy/redis.sh) and a single-node Kafka (deploy/kafka.sh).
#
#   deploy/services.sh up       fetch the Kafka jars (once), start Redis and Kafka, create topics
#   deploy/services.sh down     stop Kafka and Redis
#   deploy/services.sh status   show both; exit 0 only if both run
#
# The environment of deploy/redis.sh and deploy/kafka.sh applies (REDIS_PORT,
# KAFKA_PORT, TOPIC_PREFIX, ...). Packages come from deploy/install-deps.sh build.
set -euo pipefail

DEPLOY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

case "${1:-}" in
up)
    "$DEPLOY/kafka.sh" fetch
    "$DEPLOY/redis.sh" start
    "$DEPLOY/kafka.sh" start
    "$DEPLOY/kafka.sh" topics
    echo "services: up (redis $("$DEPLOY/redis.sh" url), kafka $("$DEPLOY/kafka.sh" bootstrap))"
    ;;
down)
    rc=0
    "$DEPLOY/kafka.sh" stop || rc=1
    "$DEPLOY/redis.sh" stop || rc=1
    exit $rc
    ;;
status)
    rc=0
    "$DEPLOY/redis.sh" status || rc=1
    "$DEPLOY/kafka.sh" status || rc=1
    exit $rc
    ;;
*)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
