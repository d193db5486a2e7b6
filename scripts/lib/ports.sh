# shellcheck shell=bash
# Free TCP port picking on 127.0.0.1.

# True when nothing listens on 127.0.0.1:PORT. SO_REUSEADDR, as the servers
# themselves use it: a port our own stopped server left in TIME_WAIT is free
# for them, while Linux still refuses it if anyone listens there.
gc_port_free() {
    python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

# Prints a port the kernel considers free now. Others may take it before we
# bind, so callers start the server right away and fail loudly if it is gone.
# Picked from the ephemeral range by the kernel itself, avoiding guessed
# "obvious" ports that other tenants of the machine hold.
gc_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# gc_port_reuse_or_pick FILE: the port recorded in FILE if it is still free
# (so URLs stay stable across restarts), else a fresh one, recorded in FILE.
gc_port_reuse_or_pick() {
    local file=$1 port=""
    [[ -s $file ]] && port=$(<"$file")
    if [[ -z $port ]] || ! gc_port_free "$port"; then
        port=$(gc_free_port)
        printf '%s\n' "$port" >"$file"
    fi
    printf '%s\n' "$port"
}

# gc_wait_port PORT SECONDS: waits until something accepts on 127.0.0.1:PORT.
gc_wait_port() {
    local port=$1 tries=$(($2 * 10))
    while ((tries-- > 0)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
