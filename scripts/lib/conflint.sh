# shellcheck shell=bash
# Keeps conf/gemclone.conf (the annotated reference) in step with what the
# code and the generated configs actually use.

# gc_conf_lint: prints each drift and returns non-zero if there is any.
gc_conf_lint() {
    local ref=$GC_ROOT/conf/gemclone.conf bad=0 line d
    # 1. The ErrorDocuments are repeated verbatim in the reference.
    while IFS= read -r line; do
        grep -qxF -- "$line" "$ref" || { gc_log "conf-lint: not in conf/gemclone.conf: $line"; bad=1; }
    done < <(grep '^ErrorDocument' "$GC_ROOT/conf/gemclone-errors.conf")
    # 2. Every GemClone* directive the module declares, or a config we
    #    generate uses, is documented (set or commented out) in the reference.
    while IFS= read -r d; do
        grep -qE "^[[:space:]]*#?[[:space:]]*$d([[:space:]]|\$)" "$ref" ||
            { gc_log "conf-lint: $d is not documented in conf/gemclone.conf"; bad=1; }
    done < <(
        {
            grep -ohE '"GemClone[A-Za-z0-9]+"' "$GC_ROOT"/mod_gemclone/*.[ch] 2>/dev/null | tr -d '"' || true
            grep -ohE '\bGemClone[A-Za-z0-9]+\b' "$GC_ROOT/conf/gemclone-stack.conf.in" \
                "$GC_ROOT/scripts/lib/stackconf.sh" "$GC_ROOT/t/conf/extra.conf.in" || true
        } | sort -u
    )
    return "$bad"
}
