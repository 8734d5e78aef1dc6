#!/usr/bin/env bash
# Start or stop every local service the integration tests and the demo need:
# Redis (deploy/redis.sh) and a single-node Kafka (deploy/kafka.sh); and, when
# asked, a local Redis Cluster (deploy/redis-cluster.sh).
#
#   deploy/services.sh up       fetch the Kafka jars (once), start Redis and Kafka, create topics
#   deploy/services.sh down     stop Kafka and Redis
#   deploy/services.sh status   show both; exit 0 only if both run
#
#   deploy/services.sh cluster-up      start a local Redis Cluster (deploy/redis-cluster.sh):
#                                      3 masters, 3 replicas, 127.0.0.1:17001-17006
#   deploy/services.sh cluster-down    stop it (its data and configuration stay)
#   deploy/services.sh cluster-status  show its nodes; exit 0 only if all agree on every slot
#
# The environment of deploy/redis.sh, deploy/redis-cluster.sh and deploy/kafka.sh
# applies (REDIS_PORT, REDIS_CLUSTER_PORT, KAFKA_PORT, TOPIC_PREFIX, ...).
# Packages come from deploy/install-deps.sh build.
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
cluster-up) "$DEPLOY/redis-cluster.sh" start ;;
cluster-down) "$DEPLOY/redis-cluster.sh" stop ;;
cluster-status) "$DEPLOY/redis-cluster.sh" status ;;
*)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
