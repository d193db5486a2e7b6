/* GemClone* directives: parsing, merging, start-up validation. */
#include "httpd.h"
#include <errno.h>
#include <string.h>

#include "apr_strings.h"
#include "http_log.h"

#include "mod_gemclone.h"
#include "gc_config.h"
#include "gc_crypto.h"
#include "gc_log.h"
#include "ap_mpm.h"

#define DEFAULT_TOKEN_LIFETIME     86400
#define DEFAULT_REDIS_URL          "redis://127.0.0.1:6379/0"
#define DEFAULT_REDIS_TIMEOUT_MS   2000
#define DEFAULT_OTP_TTL            300
#define DEFAULT_OTP_RESEND         30
#define DEFAULT_OTP_MAX_ATTEMPTS   5
#define DEFAULT_FAILURE_LIMIT      10
#define DEFAULT_FAILURE_WINDOW     3600
#define DEFAULT_MAX_BODY           (1024 * 1024)
#define MIN_JWT_SECRET_LEN         32
#define DEFAULT_DAILY_LIMIT_BASIC  5
#define DEFAULT_DAILY_LIMIT_PRO    GC_UNLIMITED
#define DEFAULT_ROOM_CACHE_TTL     300
#define DEFAULT_MESSAGE_MAX_CHARS  8000
#define DEFAULT_REPLY_WAIT         30
/* Waiting requests per child: unset means three quarters of its threads,
 * so waiters never take every thread (see gc_config_child_init). */
#define DEFAULT_SWEEPER_GRACE      60
#define DEFAULT_SSE_KEEPALIVE      15
#define DEFAULT_STRIPE_API_BASE    "https://api.stripe.com"
#define DEFAULT_STRIPE_TOLERANCE   300
#define DEFAULT_PRO_GRACE          (3 * 86400)
#define DEFAULT_STRIPE_SUCCESS_URL "http://localhost:8080/subscription/status?checkout=success"
#define DEFAULT_STRIPE_CANCEL_URL  "http://localhost:8080/subscription/status?checkout=cancel"

/* The pepper that keys OTP hashes is derived from the JWT secret, so that a
 * stolen database alone does not let anyone test codes offline. */
static const char OTP_PEPPER_LABEL[] = "gemclone otp pepper v1";

gc_config *gc_config_get(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &gemclone_module);
}

void *gc_config_create_server(apr_pool_t *p, server_rec *s)
{
    gc_config *c = apr_pcalloc(p, sizeof(*c));
    c->token_lifetime = GC_UNSET;
    c->redis_timeout_ms = GC_UNSET;
    c->otp_ttl = GC_UNSET;
    c->otp_resend_interval = GC_UNSET;
    c->otp_max_attempts = GC_UNSET;
    c->auth_failure_limit = GC_UNSET;
    c->auth_failure_window = GC_UNSET;
    c->max_body = GC_UNSET;
    c->password_iterations = GC_UNSET;
    c->test_mode = GC_UNSET;
    c->daily_limit_basic = GC_UNSET;
    c->daily_limit_pro = GC_UNSET;
    c->room_cache_ttl = GC_UNSET;
    c->message_max_chars = GC_UNSET;
    c->reply_wait = GC_UNSET;
    c->max_waiters = GC_UNSET;
    c->sweeper_grace = GC_UNSET;
    c->sse_keepalive = GC_UNSET;
    c->stripe_tolerance = GC_UNSET;
    c->pro_grace = GC_UNSET;
    c->max_hashes = GC_UNSET;
    return c;
}

#define MERGE_PTR(f) m->f = add->f ? add->f : base->f
#define MERGE_INT(f) m->f = (add->f != GC_UNSET) ? add->f : base->f

/* A virtual host inherits every directive it does not set itself. */
void *gc_config_merge_server(apr_pool_t *p, void *basev, void *addv)
{
    const gc_config *base = basev, *add = addv;
    gc_config *m = apr_pcalloc(p, sizeof(*m));
    MERGE_PTR(jwt_secret);
    m->jwt_secret_len = add->jwt_secret ? add->jwt_secret_len : base->jwt_secret_len;
    MERGE_INT(token_lifetime);
    MERGE_PTR(redis_url);
    MERGE_INT(redis_timeout_ms);
    MERGE_INT(otp_ttl);
    MERGE_INT(otp_resend_interval);
    MERGE_INT(otp_max_attempts);
    MERGE_PTR(otp_delivery_url);
    MERGE_PTR(otp_delivery_secret);
    MERGE_INT(auth_failure_limit);
    MERGE_INT(auth_failure_window);
    MERGE_INT(max_body);
    MERGE_INT(password_iterations);
    MERGE_INT(test_mode);
    MERGE_PTR(test_clock_file);
    MERGE_INT(daily_limit_basic);
    MERGE_INT(daily_limit_pro);
    MERGE_INT(room_cache_ttl);
    MERGE_INT(message_max_chars);
    MERGE_INT(reply_wait);
    MERGE_INT(max_waiters);
    MERGE_INT(sweeper_grace);
    MERGE_INT(sse_keepalive);
    MERGE_PTR(stripe_secret_key);
    MERGE_PTR(stripe_price_id);
    MERGE_PTR(stripe_webhook_secret);
    MERGE_PTR(stripe_api_base);
    MERGE_PTR(stripe_success_url);
    MERGE_PTR(stripe_cancel_url);
    MERGE_INT(stripe_tolerance);
    MERGE_INT(pro_grace);
    MERGE_INT(max_hashes);
    return m;
}

/* httpd leaves an unset ${VAR} in place (warning AH00111 only). */
static const char *refuse_unexpanded(cmd_parms *cmd, const char *v)
{
    if (strstr(v, "${") != NULL) {
        return apr_psprintf(cmd->pool, "%s: the value holds an unexpanded ${...}: "
                            "is the environment variable set?", cmd->cmd->name);
    }
    return NULL;
}

/* Parses a whole decimal number within [min, max]. */
static const char *parse_bounded(cmd_parms *cmd, const char *v, apr_int64_t min,
                                 apr_int64_t max, apr_int64_t *out)
{
    char *end = NULL;
    apr_int64_t n;
    if (refuse_unexpanded(cmd, v)) {
        return refuse_unexpanded(cmd, v);
    }
    errno = 0;
    n = apr_strtoi64(v, &end, 10);
    if (!*v || *end || errno == ERANGE || n < min || n > max) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a whole number from %"
                            APR_INT64_T_FMT " to %" APR_INT64_T_FMT,
                            cmd->cmd->name, v, min, max);
    }
    *out = n;
    return NULL;
}

/* Integer directives: cmd->info is the field offset; limits from a table. */
typedef struct {
    const char *name;
    apr_int64_t min, max;
} int_limit;

static const int_limit INT_LIMITS[] = {
    { GC_DIR_TOKEN_LIFETIME,      60,    30 * 86400 },
    { GC_DIR_REDIS_TIMEOUT,       50,    60000 },
    { GC_DIR_OTP_TTL,             10,    86400 },
    { GC_DIR_OTP_RESEND,          0,     3600 },
    { GC_DIR_OTP_MAX_ATTEMPTS,    1,     100 },
    { GC_DIR_AUTH_FAILURE_LIMIT,  1,     100000 },
    { GC_DIR_AUTH_FAILURE_WINDOW, 1,     7 * 86400 },
    { GC_DIR_PASSWORD_ITERATIONS, 1,     10000000 },
    { GC_DIR_ROOM_CACHE_TTL,      1,     86400 },
    { GC_DIR_MESSAGE_MAX_CHARS,   1,     100000 },
    { GC_DIR_REPLY_WAIT,          0,     300 },
    { GC_DIR_MAX_WAITERS,         0,     10000 },
    { GC_DIR_SWEEPER_GRACE,       1,     86400 },
    { GC_DIR_SSE_KEEPALIVE,       1,     300 },
    { GC_DIR_STRIPE_TOLERANCE,    1,     86400 },
    { GC_DIR_PRO_GRACE,           0,     90 * 86400 },
    { GC_DIR_MAX_HASHES,          1,     1024 },
    { NULL, 0, 0 }
};

static const char *set_int(cmd_parms *cmd, void *dummy, const char *v)
{
    gc_config *c = gc_config_get(cmd->server);
    const int_limit *l;
    apr_int64_t n;
    const char *err;
    for (l = INT_LIMITS; l->name && strcasecmp(l->name, cmd->cmd->name); l++)
        ;
    if (!l->name) {
        return apr_psprintf(cmd->pool, "%s: no limits known (a bug)", cmd->cmd->name);
    }
    if ((err = parse_bounded(cmd, v, l->min, l->max, &n)) != NULL) {
        return err;
    }
    *(int *)((char *)c + (size_t)cmd->info) = (int)n;
    return NULL;
}

/* A daily limit: a whole number, or "unlimited". */
static const char *set_daily_limit(cmd_parms *cmd, void *dummy, const char *v)
{
    gc_config *c = gc_config_get(cmd->server);
    int *field = (int *)((char *)c + (size_t)cmd->info);
    apr_int64_t n;
    const char *err;
    if (strcasecmp(v, "unlimited") == 0) {
        *field = GC_UNLIMITED;
        return NULL;
    }
    if ((err = parse_bounded(cmd, v, 0, 1000000, &n)) != NULL) {
        return apr_pstrcat(cmd->pool, err, ", or unlimited", NULL);
    }
    *field = (int)n;
    return NULL;
}

static const char *set_max_body(cmd_parms *cmd, void *dummy, const char *v)
{
    apr_int64_t n;
    const char *err = parse_bounded(cmd, v, 1024, APR_INT64_C(1) << 30, &n);
    if (!err) {
        gc_config_get(cmd->server)->max_body = (apr_off_t)n;
    }
    return err;
}

/* String directives: cmd->info is the field offset. */
static const char *set_string(cmd_parms *cmd, void *dummy, const char *v)
{
    gc_config *c = gc_config_get(cmd->server);
    const char *err = refuse_unexpanded(cmd, v);
    if (err) {
        return err;
    }
    if (!*v) {
        return apr_psprintf(cmd->pool, "%s: must not be empty", cmd->cmd->name);
    }
    *(const char **)((char *)c + (size_t)cmd->info) = v;
    return NULL;
}

static const char *set_jwt_secret(cmd_parms *cmd, void *dummy, const char *v)
{
    gc_config *c = gc_config_get(cmd->server);
    const char *err = refuse_unexpanded(cmd, v);
    if (err) {
        return err;
    }
    /* The bytes as given: never decoded, never trimmed. */
    if (strlen(v) < MIN_JWT_SECRET_LEN) {
        return apr_psprintf(cmd->pool, "%s: must be at least %d bytes long",
                            cmd->cmd->name, MIN_JWT_SECRET_LEN);
    }
    c->jwt_secret = v;
    c->jwt_secret_len = strlen(v);
    return NULL;
}

static const char *set_test_mode(cmd_parms *cmd, void *dummy, int on)
{
    gc_config_get(cmd->server)->test_mode = on ? 1 : 0;
    return NULL;
}

#define OFF(f) (void *)APR_OFFSETOF(gc_config, f)

const command_rec gc_config_directives[] = {
    AP_INIT_TAKE1(GC_DIR_JWT_SECRET, set_jwt_secret, NULL, RSRC_CONF,
                  "HS256 key for session tokens, at least 32 bytes, used as given"),
    AP_INIT_TAKE1(GC_DIR_TOKEN_LIFETIME, set_int, OFF(token_lifetime), RSRC_CONF,
                  "Session token lifetime in seconds (default 86400)"),
    AP_INIT_TAKE1(GC_DIR_REDIS_URL, set_string, OFF(redis_url), RSRC_CONF,
                  "redis://[:password@]host[:port][/db] or unix:///path (default "
                  DEFAULT_REDIS_URL ")"),
    AP_INIT_TAKE1(GC_DIR_REDIS_TIMEOUT, set_int, OFF(redis_timeout_ms), RSRC_CONF,
                  "Redis connect and command time-out in milliseconds (default 2000)"),
    AP_INIT_TAKE1(GC_DIR_OTP_TTL, set_int, OFF(otp_ttl), RSRC_CONF,
                  "Seconds an OTP stays valid (default 300)"),
    AP_INIT_TAKE1(GC_DIR_OTP_RESEND, set_int, OFF(otp_resend_interval), RSRC_CONF,
                  "Minimum seconds between two OTPs for one mobile and purpose (default 30)"),
    AP_INIT_TAKE1(GC_DIR_OTP_MAX_ATTEMPTS, set_int, OFF(otp_max_attempts), RSRC_CONF,
                  "Wrong guesses after which an OTP is void (default 5)"),
    AP_INIT_TAKE1(GC_DIR_OTP_DELIVERY_URL, set_string, OFF(otp_delivery_url), RSRC_CONF,
                  "Production OTP mode: POST codes to this URL instead of returning them"),
    AP_INIT_TAKE1(GC_DIR_OTP_DELIVERY_SECRET, set_string, OFF(otp_delivery_secret), RSRC_CONF,
                  "HMAC secret that signs OTP delivery requests"),
    AP_INIT_TAKE1(GC_DIR_AUTH_FAILURE_LIMIT, set_int, OFF(auth_failure_limit), RSRC_CONF,
                  "Failed logins/OTPs per account within the window before 429 (default 10)"),
    AP_INIT_TAKE1(GC_DIR_AUTH_FAILURE_WINDOW, set_int, OFF(auth_failure_window), RSRC_CONF,
                  "The failure window in seconds (default 3600)"),
    AP_INIT_TAKE1(GC_DIR_MAX_BODY, set_max_body, NULL, RSRC_CONF,
                  "Largest accepted request body in bytes (default 1048576)"),
    AP_INIT_TAKE1(GC_DIR_PASSWORD_ITERATIONS, set_int, OFF(password_iterations), RSRC_CONF,
                  "PBKDF2-HMAC-SHA256 iterations for new password hashes (default 600000)"),
    AP_INIT_FLAG(GC_DIR_TEST_MODE, set_test_mode, NULL, RSRC_CONF,
                 "Allow test-only settings (a shiftable clock, cheap password hashes)"),
    AP_INIT_TAKE1(GC_DIR_TEST_CLOCK_FILE, set_string, OFF(test_clock_file), RSRC_CONF,
                  "Test mode only: file holding seconds to add to the clock"),
    AP_INIT_TAKE1(GC_DIR_DAILY_LIMIT_BASIC, set_daily_limit, OFF(daily_limit_basic), RSRC_CONF,
                  "Prompts per UTC day for Basic users, or unlimited (default 5)"),
    AP_INIT_TAKE1(GC_DIR_DAILY_LIMIT_PRO, set_daily_limit, OFF(daily_limit_pro), RSRC_CONF,
                  "Prompts per UTC day for Pro users, or unlimited (default unlimited)"),
    AP_INIT_TAKE1(GC_DIR_ROOM_CACHE_TTL, set_int, OFF(room_cache_ttl), RSRC_CONF,
                  "Seconds a cached chatroom list may be served (default 300)"),
    AP_INIT_TAKE1(GC_DIR_MESSAGE_MAX_CHARS, set_int, OFF(message_max_chars), RSRC_CONF,
                  "Longest prompt in code points (default 8000)"),
    AP_INIT_TAKE1(GC_DIR_REPLY_WAIT, set_int, OFF(reply_wait), RSRC_CONF,
                  "Seconds POST /message waits for the reply before answering 202 (default 30)"),
    AP_INIT_TAKE1(GC_DIR_MAX_WAITERS, set_int, OFF(max_waiters), RSRC_CONF,
                  "Requests per child that may wait for a reply at once; more get 202 "
                  "(default: three quarters of its threads)"),
    AP_INIT_TAKE1(GC_DIR_SWEEPER_GRACE, set_int, OFF(sweeper_grace), RSRC_CONF,
                  "Seconds before a pending reply without a live job is queued again (default 60)"),
    AP_INIT_TAKE1(GC_DIR_SSE_KEEPALIVE, set_int, OFF(sse_keepalive), RSRC_CONF,
                  "Seconds between keep-alive comments on an event stream (default 15)"),
    AP_INIT_TAKE1(GC_DIR_STRIPE_SECRET_KEY, set_string, OFF(stripe_secret_key), RSRC_CONF,
                  "Stripe secret API key (sk_...); unset: subscriptions answer 503"),
    AP_INIT_TAKE1(GC_DIR_STRIPE_PRICE_ID, set_string, OFF(stripe_price_id), RSRC_CONF,
                  "The Stripe price of the Pro plan (price_...)"),
    AP_INIT_TAKE1(GC_DIR_STRIPE_WEBHOOK_SECRET, set_string, OFF(stripe_webhook_secret),
                  RSRC_CONF, "The webhook endpoint's signing secret (whsec_...)"),
    AP_INIT_TAKE1(GC_DIR_STRIPE_API_BASE, set_string, OFF(stripe_api_base), RSRC_CONF,
                  "Stripe API base URL (default " DEFAULT_STRIPE_API_BASE ")"),
    AP_INIT_TAKE1(GC_DIR_STRIPE_SUCCESS_URL, set_string, OFF(stripe_success_url), RSRC_CONF,
                  "Where Checkout sends the user after paying"),
    AP_INIT_TAKE1(GC_DIR_STRIPE_CANCEL_URL, set_string, OFF(stripe_cancel_url), RSRC_CONF,
                  "Where Checkout sends the user after cancelling"),
    AP_INIT_TAKE1(GC_DIR_STRIPE_TOLERANCE, set_int, OFF(stripe_tolerance), RSRC_CONF,
                  "Seconds a webhook signature's timestamp may be off (default 300)"),
    AP_INIT_TAKE1(GC_DIR_PRO_GRACE, set_int, OFF(pro_grace), RSRC_CONF,
                  "Seconds a past_due subscription stays Pro after its first failed "
                  "payment (default 259200)"),
    AP_INIT_TAKE1(GC_DIR_MAX_HASHES, set_int, OFF(max_hashes), RSRC_CONF,
                  "Password hashes computed at once per child; more answer 503 (default 4)"),
    { NULL }
};

#define DEFAULT_INT(f, d) if (cfg->f == GC_UNSET) cfg->f = (d)

const char *gc_config_finish(apr_pool_t *p, server_rec *s, gc_config *cfg)
{
    const char *err;
    int test_mode;

    if (!cfg->jwt_secret) {
        return GC_DIR_JWT_SECRET " is required (at least 32 bytes)";
    }
    DEFAULT_INT(token_lifetime, DEFAULT_TOKEN_LIFETIME);
    DEFAULT_INT(redis_timeout_ms, DEFAULT_REDIS_TIMEOUT_MS);
    DEFAULT_INT(otp_ttl, DEFAULT_OTP_TTL);
    DEFAULT_INT(otp_resend_interval, DEFAULT_OTP_RESEND);
    DEFAULT_INT(otp_max_attempts, DEFAULT_OTP_MAX_ATTEMPTS);
    DEFAULT_INT(auth_failure_limit, DEFAULT_FAILURE_LIMIT);
    DEFAULT_INT(auth_failure_window, DEFAULT_FAILURE_WINDOW);
    DEFAULT_INT(max_body, DEFAULT_MAX_BODY);
    DEFAULT_INT(password_iterations, 600000);
    DEFAULT_INT(test_mode, 0);
    DEFAULT_INT(daily_limit_basic, DEFAULT_DAILY_LIMIT_BASIC);
    DEFAULT_INT(daily_limit_pro, DEFAULT_DAILY_LIMIT_PRO);
    DEFAULT_INT(room_cache_ttl, DEFAULT_ROOM_CACHE_TTL);
    DEFAULT_INT(message_max_chars, DEFAULT_MESSAGE_MAX_CHARS);
    DEFAULT_INT(reply_wait, DEFAULT_REPLY_WAIT);
    DEFAULT_INT(sweeper_grace, DEFAULT_SWEEPER_GRACE);
    DEFAULT_INT(sse_keepalive, DEFAULT_SSE_KEEPALIVE);
    DEFAULT_INT(stripe_tolerance, DEFAULT_STRIPE_TOLERANCE);
    DEFAULT_INT(pro_grace, DEFAULT_PRO_GRACE);
    DEFAULT_INT(max_hashes, 4);
    if (!cfg->stripe_api_base) {
        cfg->stripe_api_base = DEFAULT_STRIPE_API_BASE;
    }
    if (!cfg->stripe_success_url) {
        cfg->stripe_success_url = DEFAULT_STRIPE_SUCCESS_URL;
    }
    if (!cfg->stripe_cancel_url) {
        cfg->stripe_cancel_url = DEFAULT_STRIPE_CANCEL_URL;
    }
    if (cfg->stripe_secret_key && !cfg->stripe_price_id) {
        return GC_DIR_STRIPE_PRICE_ID " is required with " GC_DIR_STRIPE_SECRET_KEY;
    }
    test_mode = cfg->test_mode;

    if (!cfg->redis_url) {
        cfg->redis_url = DEFAULT_REDIS_URL;
    }
    if ((err = gc_redis_url_parse(p, cfg->redis_url, &cfg->redis)) != NULL) {
        return apr_psprintf(p, GC_DIR_REDIS_URL ": %s", err);
    }
    if (cfg->test_clock_file && !test_mode) {
        return GC_DIR_TEST_CLOCK_FILE " is refused unless " GC_DIR_TEST_MODE " is On";
    }
    if (cfg->password_iterations < GC_MIN_PASSWORD_ITERATIONS && !test_mode) {
        return apr_psprintf(p, GC_DIR_PASSWORD_ITERATIONS " below %d is refused unless "
                            GC_DIR_TEST_MODE " is On", GC_MIN_PASSWORD_ITERATIONS);
    }
    if (!cfg->otp_delivery_url != !cfg->otp_delivery_secret) {
        return GC_DIR_OTP_DELIVERY_URL " and " GC_DIR_OTP_DELIVERY_SECRET
               " must be set together";
    }
    if (cfg->otp_delivery_url && strncasecmp(cfg->otp_delivery_url, "http://", 7)
        && strncasecmp(cfg->otp_delivery_url, "https://", 8)) {
        return GC_DIR_OTP_DELIVERY_URL " must be an http:// or https:// URL";
    }
    if (gc_hmac_sha256(cfg->jwt_secret, cfg->jwt_secret_len, OTP_PEPPER_LABEL,
                       sizeof(OTP_PEPPER_LABEL) - 1, cfg->otp_pepper) != 0) {
        return "could not derive the OTP pepper (OpenSSL failure)";
    }
    return NULL;
}

void gc_config_child_init(server_rec *s)
{
    server_rec *sp;
    int threads = 1;
    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS || threads < 1) {
        threads = 1;
    }
    for (sp = s; sp; sp = sp->next) {
        gc_config *cfg = gc_config_get(sp);
        if (cfg->max_waiters == GC_UNSET) {
            cfg->max_waiters = threads * 3 / 4 > 0 ? threads * 3 / 4 : 1;
        }
    }
}
