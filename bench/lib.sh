# Shared by the benchmarks: a private stack on a free port, a logged-in user.
# shellcheck shell=bash
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../scripts/lib/common.sh
source "$BENCH_ROOT/scripts/lib/common.sh"
# shellcheck source=../scripts/lib/ports.sh
source "$BENCH_ROOT/scripts/lib/ports.sh"

# Starts a stack of our own under a temporary state directory; stopped on exit.
bench_stack_up() {
    BENCH_STATE=$(mktemp -d /tmp/gemclone-bench.XXXXXX)
    chmod 755 "$BENCH_STATE"
    BENCH_PORT=$(gc_free_port)
    BASE="http://127.0.0.1:$BENCH_PORT"
    export GEMCLONE_STATE=$BENCH_STATE GEMCLONE_PORT=$BENCH_PORT
    trap bench_stack_down EXIT
    "$BENCH_ROOT/scripts/stack" up >"$BENCH_STATE/stack-up.log" 2>&1 \
        || { cat "$BENCH_STATE/stack-up.log"; exit 1; }
}

bench_stack_down() {
    "$BENCH_ROOT/scripts/stack" down >/dev/null 2>&1 || true
    rm -rf "$BENCH_STATE"
}

# json_field JSON PATH: a field of a JSON document (python3 stdlib).
json_field() {
    python3 -c 'import json,sys
v=json.loads(sys.argv[1])
for k in sys.argv[2].split("."):
    v=v[int(k)] if isinstance(v,list) else v[k]
print(v)' "$1" "$2"
}

# Signs a fresh user up and prints a session token.
bench_login() {
    local mobile="+1555$(printf '%07d' $((RANDOM * 32768 + RANDOM)))" otp
    curl -sf -XPOST "$BASE/auth/signup" -H 'Content-Type: application/json' \
        -d "{\"mobile\":\"$mobile\"}" >/dev/null
    otp=$(json_field "$(curl -sf -XPOST "$BASE/auth/send-otp" -H 'Content-Type: application/json' \
        -d "{\"mobile\":\"$mobile\"}")" data.otp)
    json_field "$(curl -sf -XPOST "$BASE/auth/verify-otp" -H 'Content-Type: application/json' \
        -d "{\"mobile\":\"$mobile\",\"otp\":\"$otp\"}")" data.token
}
