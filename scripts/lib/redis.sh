# shellcheck shell=bash
# A private Redis: no persistence (it is cache and queue; PostgreSQL holds
# what must survive), bound to 127.0.0.1, daemonized with a pidfile.

# gc_redis_running DIR: true while the server recorded in DIR/redis.pid runs.
gc_redis_running() { gc_pid_alive "$1/redis.pid" redis-server; }

# gc_redis_start DIR PORT: starts a server with its files in DIR.
gc_redis_start() {
    local dir=$1 port=$2 tries=50
    gc_redis_running "$dir" && return 0
    mkdir -p "$dir"
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --dir "$dir" \
        --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
        --save '' --appendonly no >/dev/null
    # --daemonize returns before the pidfile exists; wait for PONG.
    until [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]]; do
        ((tries-- > 0)) || { tail -n 20 "$dir/redis.log" >&2; gc_die "Redis did not start on port $port"; }
        sleep 0.1
    done
    printf '%s\n' "$port" >"$dir/redis.port"
}

# gc_redis_stop DIR: SHUTDOWN NOSAVE (synchronous) to the server recorded in
# DIR; falls back to SIGTERM by the recorded PID if it does not answer.
gc_redis_stop() {
    local dir=$1 port
    gc_redis_running "$dir" || { rm -f "$dir/redis.pid"; return 0; }
    port=$(<"$dir/redis.port")
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    gc_stop_pid "$dir/redis.pid" redis-server 10
}
