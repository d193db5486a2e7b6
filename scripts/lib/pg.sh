# shellcheck shell=bash
# A private PostgreSQL 15 cluster: trust auth, TCP on 127.0.0.1 only, its
# socket in its own directory. initdb and postgres refuse root, so they run
# as the postgres user, which must be able to enter DATA's parents.

GC_PG_BIN=${GC_PG_BIN:-/usr/lib/postgresql/15/bin}

# Runs a PostgreSQL server program as postgres (or as ourselves if not root).
# From /: postgres cannot chdir into a clone under a 0700 /root and says so.
_gc_as_postgres() {
    if [[ $(id -u) == 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# gc_pg_init DATA: creates the cluster once (DATA/PG_VERSION marks it done).
gc_pg_init() {
    local data=$1
    [[ -f $data/PG_VERSION ]] && return 0
    mkdir -p "$data"
    [[ $(id -u) == 0 ]] && chown postgres: "$data"
    chmod 0700 "$data"
    _gc_as_postgres "$GC_PG_BIN/initdb" -D "$data" -A trust -U postgres -E UTF8 \
        --no-locale >"$data.initdb.log" 2>&1 ||
        { cat "$data.initdb.log" >&2; gc_die "initdb failed for $data"; }
}

# gc_pg_running DATA: true while the postmaster recorded in DATA runs.
gc_pg_running() {
    [[ -f $1/postmaster.pid ]] && gc_pid_alive "$1/postmaster.pid" postgres
}

# gc_pg_start DATA PORT LOG: starts the cluster unless it already runs.
# max_connections: see the DBD pool arithmetic in conf/gemclone-stack.conf.in.
gc_pg_start() {
    local data=$1 port=$2 log=$3
    gc_pg_running "$data" && return 0
    : >>"$log"
    if [[ $(id -u) == 0 ]]; then chown postgres: "$log"; fi
    # TCP only (-k ''): a Unix socket path under a deep CI workspace can exceed
    # the 107-byte limit, and every client here connects to 127.0.0.1 anyway.
    _gc_as_postgres "$GC_PG_BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 \
        -o "-p $port -k '' -c listen_addresses=127.0.0.1 -c max_connections=${GC_PG_MAX_CONNECTIONS:-150} -c fsync=${GC_PG_FSYNC:-on}" \
        start >/dev/null ||
        { tail -n 20 "$log" >&2; gc_die "PostgreSQL did not start (data $data, port $port)"; }
}

# gc_pg_stop DATA: fast shutdown of the postmaster recorded in DATA (pg_ctl
# signals the PID in postmaster.pid: our own server, never one found by name).
gc_pg_stop() {
    local data=$1
    gc_pg_running "$data" || return 0
    _gc_as_postgres "$GC_PG_BIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
}

# gc_pg_port DATA: the port the running postmaster listens on (postmaster.pid
# line 4), so callers never guess.
gc_pg_port() { sed -n 4p "$1/postmaster.pid"; }

# gc_pg_wait PORT: waits until the server accepts queries.
gc_pg_wait() {
    local tries=100
    until pg_isready -q -h 127.0.0.1 -p "$1"; do
        ((tries-- > 0)) || return 1
        sleep 0.1
    done
}

# gc_pg_createdb PORT NAME: creates database NAME unless it exists.
gc_pg_createdb() {
    local port=$1 name=$2 exists
    # Through stdin: psql interpolates :'name' in scripts, never in -c.
    exists=$(psql -X -q -At -h 127.0.0.1 -p "$port" -U postgres -d postgres \
        -v name="$name" <<<"SELECT 1 FROM pg_database WHERE datname = :'name'")
    [[ $exists == 1 ]] && return 0
    createdb -h 127.0.0.1 -p "$port" -U postgres "$name"
}
