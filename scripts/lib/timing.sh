# shellcheck shell=bash
# Phase timing: gc_phase_begin NAME ... gc_phase_end prints "== phase NAME: Ns".
# A phase still open when the script exits is reported as failed, so CI logs
# show how long the failing phase ran.

GC_PHASE_NAME=""
GC_PHASE_T0=0

_gc_now_ms() { local t=${EPOCHREALTIME/./}; printf '%s\n' $((t / 1000)); }

gc_phase_begin() {
    GC_PHASE_NAME=$1
    GC_PHASE_T0=$(_gc_now_ms)
    printf '== phase %s: start\n' "$GC_PHASE_NAME" >&2
}

# Seconds since the phase began, rounded to whole seconds.
_gc_phase_secs() { printf '%s\n' $((($(_gc_now_ms) - GC_PHASE_T0 + 500) / 1000)); }

gc_phase_end() {
    [[ -n $GC_PHASE_NAME ]] || return 0
    printf '== phase %s: %ss\n' "$GC_PHASE_NAME" "$(_gc_phase_secs)" >&2
    GC_PHASE_NAME=""
}

_gc_phase_on_exit() {
    [[ -n $GC_PHASE_NAME ]] || return 0
    printf '== phase %s: %ss (FAILED)\n' "$GC_PHASE_NAME" "$(_gc_phase_secs)" >&2
    GC_PHASE_NAME=""
}
gc_on_exit _gc_phase_on_exit

# gc_phase NAME CMD...: run CMD as a timed phase (a failure exits under set -e).
gc_phase() {
    local name=$1
    shift
    gc_phase_begin "$name"
    "$@"
    gc_phase_end
}
