# shellcheck shell=bash
# Builds the tree in place: autogen/configure only when needed, then make.

# gc_build [make targets...]: default target "all".
gc_build() {
    (
        cd "$GC_ROOT"
        if [[ ! -x configure || configure.ac -nt configure ]]; then
            gc_log "build: ./autogen.sh"
            ./autogen.sh
        fi
        # config.status newer than configure means configure already ran on
        # this version; make re-runs it itself when configure.ac changes later.
        if [[ ! -f Makefile || ! -f config.status || configure -nt config.status ]]; then
            gc_log "build: ./configure"
            ./configure ${GC_CONFIGURE_ARGS:-}
        fi
        gc_log "build: make -j${GC_MAKE_JOBS:-2} ${*:-all}"
        make -j"${GC_MAKE_JOBS:-2}" "${@:-all}"
    )
}
