# shellcheck shell=bash
# Logging, repository root, and one EXIT-handler registry shared by every
# script. Sourced; sets nothing but GC_* variables and gc_* functions.

# The repository root: scripts/lib/.. /.. of this file.
GC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

gc_log()  { printf '%s\n' "$*" >&2; }
gc_warn() { printf 'WARNING: %s\n' "$*" >&2; }
gc_die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# A single EXIT trap runs every registered command, newest first, so that
# timing, cleanup and the final summary line do not overwrite each other's trap.
GC_EXIT_HOOKS=()
gc_on_exit() { GC_EXIT_HOOKS+=("$1"); }
_gc_run_exit_hooks() {
    local rc=$? i
    for ((i = ${#GC_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
        eval "${GC_EXIT_HOOKS[i]}" || true
    done
    exit "$rc"
}
trap _gc_run_exit_hooks EXIT
# A signal ends the script through the EXIT trap, so cleanup still runs.
trap 'exit 130' INT
trap 'exit 143' TERM

# Absolute form of a path that may not exist yet (relative to $PWD).
gc_abspath() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$PWD" "${1#./}" ;;
    esac
}
