# shellcheck shell=bash
# Process helpers shared by deploy/kafka.sh and deploy/redis.sh (sourced).

# Alive and not a zombie waiting to be reaped by init.
proc_running() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat%% *}" != Z ]]
}

# The process named by pid file $1 runs and its command line matches $2
# (a guard against a recycled pid).
pidfile_alive() {
    local pid
    [[ -f "$1" ]] || return 1
    pid="$(cat "$1" 2>/dev/null)" || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    proc_running "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$2"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# SIGTERM pid $1, wait up to $2 seconds, then SIGKILL and wait up to 5 s more.
# Logs through the caller's log().
stop_pid() {
    local pid="$1" secs="$2" i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < secs * 10; i++)); do
        proc_running "$pid" || return 0
        sleep 0.1
    done
    log "still running after ${secs}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        proc_running "$pid" || return 0
        sleep 0.1
    done
}
