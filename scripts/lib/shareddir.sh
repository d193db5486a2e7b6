# shellcheck shell=bash
# The "shared" directory: where files that postgres (the cluster) and httpd's
# children (user nobody) must reach live. It is the state directory itself
# unless a 0700 parent (a clone under /root) keeps those users out; then it is
# /var/tmp/gemclone-<hash of the state path>, recorded in STATE/shared-dir so
# that `down` and the next `up` find it even if the rule changes.

# True when USER can enter (search) every component of DIR.
gc_user_can_enter() {
    runuser -u "$1" -- test -x "$2" 2>/dev/null
}

# gc_shared_dir STATE: prints (and creates, mode 0755) the shared directory.
gc_shared_dir() {
    local state=$1 dir hash
    if [[ -s $state/shared-dir ]]; then
        dir=$(<"$state/shared-dir")
    elif gc_user_can_enter postgres "$state" && gc_user_can_enter nobody "$state"; then
        dir=$state
    else
        hash=$(printf '%s' "$state" | sha256sum | cut -c1-12)
        dir=/var/tmp/gemclone-$hash
        printf '%s\n' "$dir" >"$state/shared-dir"
        gc_log "note: postgres/nobody cannot enter $state (a 0700 parent?); using $dir"
    fi
    mkdir -p "$dir"
    [[ $dir == "$state" ]] || chmod 0755 "$dir"
    printf '%s\n' "$dir"
}
