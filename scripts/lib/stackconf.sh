# shellcheck shell=bash
# Generates the stack's httpd config from conf/gemclone-stack.conf.in.
# Values are written literally (not as ${VAR}): a graceful restart re-reads
# the file but keeps the parent's original environment, so ${VAR} would pin
# the values of the first start.

# gc_conf_quote VALUE: VALUE as a double-quoted httpd config string. Refuses
# what httpd would mangle: a newline, a double quote, or "${" (httpd expands
# it as a variable).
gc_conf_quote() {
    local v=$1
    case $v in
        *$'\n'* | *'"'* | *'${'*) gc_die "config value contains a newline, '\"' or '\${': refused" ;;
    esac
    printf '"%s"' "$v"
}

# gc_directive NAME VALUE: one line "NAME "VALUE"", or nothing when VALUE is
# empty (the module's default applies).
gc_directive() {
    [[ -n $2 ]] || return 0
    printf '%s %s\n' "$1" "$(gc_conf_quote "$2")"
}

# gc_stack_directives: every GemClone* line of the stack's config. Reads the
# variables scripts/stack resolved (JWT_SECRET, GC_REDIS_URL, ...). Later
# issues add their directives here (Gemini, Stripe, chat), guarded by their
# variables so that an unset one keeps the module's default.
gc_stack_directives() {
    gc_directive GemCloneJWTSecret "$JWT_SECRET"
    gc_directive GemCloneRedisURL "$GC_REDIS_URL"
    gc_directive GemCloneTokenLifetime "${GEMCLONE_TOKEN_LIFETIME:-}"
    gc_directive GemCloneMaxBodySize "${GEMCLONE_MAX_BODY_SIZE:-}"
    gc_directive GemClonePasswordIterations "${GEMCLONE_PASSWORD_ITERATIONS:-}"
    # Production OTP delivery only when asked for; otherwise the OTP comes
    # back in the response (development mode).
    if [[ -n ${GEMCLONE_OTP_DELIVERY_URL:-} ]]; then
        gc_directive GemCloneOTPDeliveryURL "$GEMCLONE_OTP_DELIVERY_URL"
        gc_directive GemCloneOTPDeliverySecret "${GEMCLONE_OTP_DELIVERY_SECRET:-}"
    fi
    # Stripe: unset keys leave the subscription routes answering 503 (or a
    # stand-in, when one exists, sets STRIPE_API_BASE and a key).
    gc_directive GemCloneStripeSecretKey "${STRIPE_SECRET_KEY:-}"
    gc_directive GemCloneStripePriceID "${STRIPE_PRICE_ID:-}"
    gc_directive GemCloneStripeWebhookSecret "${STRIPE_WEBHOOK_SECRET:-}"
    gc_directive GemCloneStripeAPIBase "${STRIPE_API_BASE:-}"
    gc_directive GemCloneStripeSuccessURL "${STRIPE_SUCCESS_URL:-}"
    gc_directive GemCloneStripeCancelURL "${STRIPE_CANCEL_URL:-}"
    gc_directive GemCloneTestMode Off
}

# gc_render_template TEMPLATE KEY=VALUE...: prints TEMPLATE with each @KEY@
# replaced literally; an unreplaced @TOKEN@ left over is an error.
gc_render_template() {
    local template=$1 line rest kv key
    shift
    while IFS= read -r line || [[ -n $line ]]; do
        # Unknown tokens are looked for in the template line, never in the
        # values (a secret may well contain "@X@").
        rest=$line
        for kv in "$@"; do rest=${rest//"@${kv%%=*}@"/}; done
        [[ $rest =~ @[A-Z_]+@ ]] && gc_die "template $template: unknown token ${BASH_REMATCH[0]}"
        for kv in "$@"; do
            key=${kv%%=*}
            # Quoted replacement: taken literally (no & or \ expansion).
            line=${line//"@$key@"/"${kv#*=}"}
        done
        printf '%s\n' "$line"
    done <"$template"
}

# gc_pg_url_to_conninfo URL: a libpq URL as key=value pairs for DBDParams
# (values single-quoted, percent-decoding done, query parameters kept).
gc_pg_url_to_conninfo() {
    python3 - "$1" <<'PY'
import sys
from urllib.parse import urlsplit, unquote, parse_qsl
u = urlsplit(sys.argv[1])
if u.scheme not in ("postgres", "postgresql"):
    # Already key=value (or something libpq will judge): pass it through.
    print(sys.argv[1]); sys.exit(0)
def q(v): return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
pairs = []
if u.hostname: pairs.append(("host", unquote(u.hostname)))
if u.port: pairs.append(("port", str(u.port)))
if u.username: pairs.append(("user", unquote(u.username)))
if u.password: pairs.append(("password", unquote(u.password)))
db = unquote(u.path.lstrip("/"))
if db: pairs.append(("dbname", db))
pairs += parse_qsl(u.query)
print(" ".join(f"{k}={q(v)}" for k, v in pairs))
PY
}
