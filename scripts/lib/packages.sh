# shellcheck shell=bash
# Debian packages the build, the stack and the tests need.

# The ENV-NOTES install line plus libpq-dev (the worker) and wrk (benchmarks).
# Never nodejs/npm: they come preinstalled and apt would refuse the whole line.
GC_PACKAGES=(
    apache2 apache2-dev libapr1-dev libaprutil1-dev libaprutil1-dbd-pgsql
    libhiredis-dev libjansson-dev libcurl4-openssl-dev libssl-dev postgresql
    redis-server libapache2-mod-perl2 autoconf automake libtool pkg-config
    libpq-dev wrk
    # the fuzz smoke of scripts/check: clang with libFuzzer and the sanitizers
    clang libclang-rt-14-dev
)

# Prints the packages of GC_PACKAGES that are not fully installed.
gc_missing_packages() {
    local p status
    for p in "${GC_PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [[ $status == "install ok installed" ]] || printf '%s\n' "$p"
    done
}

# Installs what is missing; does nothing (no apt-get update) when all is there,
# so repeated runs stay fast.
gc_ensure_packages() {
    local missing
    mapfile -t missing < <(gc_missing_packages)
    if ((${#missing[@]} == 0)); then
        gc_log "packages: all ${#GC_PACKAGES[@]} present"
        return 0
    fi
    [[ $(id -u) == 0 ]] || gc_die "missing packages (${missing[*]}); run as root to install them"
    gc_log "packages: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The whole list, as in ENV-NOTES: apt resolves it in one transaction.
    apt-get install -y -qq "${GC_PACKAGES[@]}" </dev/null
    # Debian's postinst may start the stock services; ours use private ones,
    # and the stock ones would hold 5432/6379 for nothing. Leave them alone
    # otherwise: stopping someone's database is not our call.
}
