# shellcheck shell=bash
# Processes by recorded PID only: never by name (other tenants run the same
# programs). The name check only guards against a recycled PID.

# gc_pid_alive PIDFILE [NAME]: true when PIDFILE names a live process whose
# command line contains NAME.
gc_pid_alive() {
    local pidfile=$1 name=${2:-} pid
    [[ -s $pidfile ]] || return 1
    pid=$(head -n1 "$pidfile" | tr -dc 0-9)
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    [[ -z $name ]] && return 0
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$name"
}

gc_pid_of() { head -n1 "$1" | tr -dc 0-9; }

# gc_stop_pid PIDFILE NAME [SECONDS]: SIGTERM the recorded process, wait for it
# to go (SIGKILL after SECONDS, default 15), then remove the pidfile.
gc_stop_pid() {
    local pidfile=$1 name=$2 secs=${3:-15} pid tries
    if ! gc_pid_alive "$pidfile" "$name"; then
        rm -f "$pidfile"
        return 0
    fi
    pid=$(gc_pid_of "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    tries=$((secs * 10))
    while kill -0 "$pid" 2>/dev/null && ((tries-- > 0)); do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        gc_warn "$name (pid $pid) ignored SIGTERM for ${secs}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

# gc_start_bg PIDFILE LOGFILE CMD...: starts CMD in the background with its
# output appended to LOGFILE and records its PID.
gc_start_bg() {
    local pidfile=$1 log=$2
    shift 2
    # setsid: the daemon must not die with our terminal or the CI step.
    setsid "$@" </dev/null >>"$log" 2>&1 &
    printf '%s\n' "$!" >"$pidfile"
}
