# bench/common.sh - what bench/run.sh and bench/ab.sh share (sourced by both,
# from the repository's root).

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
