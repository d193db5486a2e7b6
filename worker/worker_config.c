/* gemclone-worker settings: see worker_config.h. Messages name keys and
 * lines, never values: a value may be a key or hold a password. */
#include "worker_config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>
#include <libpq-fe.h>

#define CONFIG_LINE_MAX 8192

/* Range checks for the numeric keys. */
#define CONCURRENCY_MAX 10000
#define MAX_ATTEMPTS_MAX 100
#define HISTORY_BUDGET_MIN 100L
#define HISTORY_BUDGET_MAX 10000000L

#define CONSUMER_NAME_MAX 200
#define SYSTEM_INSTRUCTION_MAX 7000      /* bytes; a config line is 8 KiB */
#define MAX_OUTPUT_TOKENS_MAX 1000000L

enum { K_DATABASE_URL, K_REDIS_URL, K_GEMINI_API_KEY, K_GEMINI_API_BASE,
       K_GEMINI_MODEL, K_CONCURRENCY, K_MAX_ATTEMPTS, K_HISTORY_BUDGET,
       K_LOG_LEVEL, K_CONSUMER_NAME, K_SYSTEM_INSTRUCTION, K_TEMPERATURE,
       K_MAX_OUTPUT_TOKENS, K_STREAMING, K_REQUEST_TIMEOUT_MS,
       K_MAX_RETRY_WAIT_MS, K_LEASE_SECONDS, K_SWEEPER_GRACE,
       K_SWEEP_INTERVAL_MS, K_CLAIM_IDLE_MS, K_TEST_CLOCK_FILE,
       K_SHUTDOWN_GRACE_MS, K_MAX_GENERATIONS, K_COUNT };

static const char *const key_names[K_COUNT] = {
    "database_url", "redis_url", "gemini_api_key", "gemini_api_base",
    "gemini_model", "concurrency", "max_attempts", "history_budget_chars",
    "log_level", "consumer_name", "system_instruction", "temperature",
    "max_output_tokens", "streaming", "request_timeout_ms",
    "max_retry_wait_ms", "lease_seconds", "sweeper_grace",
    "sweep_interval_ms", "claim_idle_ms", "test_clock_file",
    "shutdown_grace_ms", "max_generations"
};

/* Whole-number keys with their ranges (the rest are handled one by one). */
static const struct {
    int key;
    long min, max;
} ranges[] = {
    { K_MAX_OUTPUT_TOKENS, 1, MAX_OUTPUT_TOKENS_MAX },
    { K_REQUEST_TIMEOUT_MS, 1000, 3600000L },
    { K_MAX_RETRY_WAIT_MS, 0, 86400000L },
    { K_LEASE_SECONDS, 3, 86400 },
    { K_SWEEPER_GRACE, 1, 86400 },
    { K_SWEEP_INTERVAL_MS, 100, 3600000L },
    { K_CLAIM_IDLE_MS, 1000, 86400000L },
    { K_SHUTDOWN_GRACE_MS, 0, 600000L },
    { K_MAX_GENERATIONS, 1, 1000 },
};

worker_config *worker_config_create(apr_pool_t *p)
{
    worker_config *c = apr_pcalloc(p, sizeof(*c));

    c->gemini_api_base = WORKER_DEFAULT_GEMINI_API_BASE;
    c->concurrency = WORKER_DEFAULT_CONCURRENCY;
    c->max_attempts = WORKER_DEFAULT_MAX_ATTEMPTS;
    c->history_budget_chars = WORKER_DEFAULT_HISTORY_BUDGET;
    c->log_level = WLOG_INFO;
    c->streaming = 1;
    c->request_timeout_ms = WORKER_DEFAULT_REQUEST_TIMEOUT_MS;
    c->max_retry_wait_ms = WORKER_DEFAULT_MAX_RETRY_WAIT_MS;
    c->lease_seconds = WORKER_DEFAULT_LEASE_SECONDS;
    c->sweeper_grace = WORKER_DEFAULT_SWEEPER_GRACE;
    c->sweep_interval_ms = WORKER_DEFAULT_SWEEP_INTERVAL_MS;
    c->claim_idle_ms = WORKER_DEFAULT_CLAIM_IDLE_MS;
    c->shutdown_grace_ms = WORKER_DEFAULT_SHUTDOWN_GRACE_MS;
    c->max_generations = WORKER_DEFAULT_MAX_GENERATIONS;
    return c;
}

/* Parses a whole decimal number within [min, max]; returns 1 or 0. */
static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    if (*s == '\0' || isspace((unsigned char)*s))
        return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return 0;
    *out = v;
    return 1;
}

/* Trims s in place at both ends; returns the new start. */
static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Parses true/false, yes/no, on/off, 1/0 (any case); returns 1 or 0. */
static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 1;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 1;
        }
    }
    return 0;
}

/* 1 if s holds only printable ASCII without spaces. */
static int is_token(const char *s)
{
    for (; *s; s++)
        if (*s <= 0x20 || *s >= 0x7f)
            return 0;
    return 1;
}

/* Stores one key's value; returns NULL or an error naming the key. */
static const char *set_key(worker_config *c, apr_pool_t *p, int k,
                           const char *v)
{
    long n;
    double d;
    char *end;
    size_t i;

    for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        if (ranges[i].key != k)
            continue;
        if (!parse_long(v, ranges[i].min, ranges[i].max, &n))
            return apr_psprintf(p, "%s: expected a whole number from %ld "
                                "to %ld", key_names[k], ranges[i].min,
                                ranges[i].max);
        switch (k) {
        case K_MAX_OUTPUT_TOKENS:   c->max_output_tokens = n; break;
        case K_REQUEST_TIMEOUT_MS:  c->request_timeout_ms = n; break;
        case K_MAX_RETRY_WAIT_MS:   c->max_retry_wait_ms = n; break;
        case K_LEASE_SECONDS:       c->lease_seconds = (int)n; break;
        case K_SWEEPER_GRACE:       c->sweeper_grace = (int)n; break;
        case K_SWEEP_INTERVAL_MS:   c->sweep_interval_ms = n; break;
        case K_CLAIM_IDLE_MS:       c->claim_idle_ms = n; break;
        case K_SHUTDOWN_GRACE_MS:   c->shutdown_grace_ms = n; break;
        case K_MAX_GENERATIONS:     c->max_generations = (int)n; break;
        }
        return NULL;
    }

    switch (k) {
    case K_CONSUMER_NAME:
        if (!is_token(v) || strlen(v) > CONSUMER_NAME_MAX)
            return apr_psprintf(p, "consumer_name: expected up to %d "
                                "printable characters without spaces",
                                CONSUMER_NAME_MAX);
        c->consumer_name = apr_pstrdup(p, v);
        break;
    case K_SYSTEM_INSTRUCTION:
        if (strlen(v) > SYSTEM_INSTRUCTION_MAX)
            return apr_psprintf(p, "system_instruction: longer than %d bytes",
                                SYSTEM_INSTRUCTION_MAX);
        c->system_instruction = apr_pstrdup(p, v);
        break;
    case K_TEMPERATURE:
        errno = 0;
        d = strtod(v, &end);
        if (*v == '\0' || isspace((unsigned char)*v) || *end != '\0'
            || errno != 0 || !(d >= 0.0 && d <= 2.0))
            return "temperature: expected a number from 0 to 2";
        c->temperature = d;
        c->has_temperature = 1;
        break;
    case K_STREAMING:
        if (!parse_bool(v, &c->streaming))
            return "streaming: expected true or false";
        break;
    case K_TEST_CLOCK_FILE:
        c->test_clock_file = apr_pstrdup(p, v);
        break;
    case K_DATABASE_URL:   c->database_url = apr_pstrdup(p, v); break;
    case K_REDIS_URL:      c->redis_url = apr_pstrdup(p, v); break;
    case K_GEMINI_API_KEY: c->gemini_api_key = apr_pstrdup(p, v); break;
    case K_GEMINI_API_BASE: c->gemini_api_base = apr_pstrdup(p, v); break;
    case K_GEMINI_MODEL:   c->gemini_model = apr_pstrdup(p, v); break;
    case K_CONCURRENCY:
        if (!parse_long(v, 1, CONCURRENCY_MAX, &n))
            return apr_psprintf(p, "concurrency: expected a whole number "
                                "from 1 to %d", CONCURRENCY_MAX);
        c->concurrency = (int)n;
        break;
    case K_MAX_ATTEMPTS:
        if (!parse_long(v, 1, MAX_ATTEMPTS_MAX, &n))
            return apr_psprintf(p, "max_attempts: expected a whole number "
                                "from 1 to %d", MAX_ATTEMPTS_MAX);
        c->max_attempts = (int)n;
        break;
    case K_HISTORY_BUDGET:
        if (!parse_long(v, HISTORY_BUDGET_MIN, HISTORY_BUDGET_MAX, &n))
            return apr_psprintf(p, "history_budget_chars: expected a whole "
                                "number from %ld to %ld", HISTORY_BUDGET_MIN,
                                HISTORY_BUDGET_MAX);
        c->history_budget_chars = n;
        break;
    case K_LOG_LEVEL:
        if (!wlog_parse_level(v, &c->log_level))
            return "log_level: expected debug, info, notice, warn or error";
        break;
    default:
        return "internal error: unknown key";
    }
    return NULL;
}

const char *worker_config_read_file(worker_config *c, apr_pool_t *p,
                                    const char *path)
{
    FILE *f;
    char *buf = NULL, *line, *eq, *key, *val;
    size_t cap = 0, vlen;
    ssize_t got;
    unsigned lineno = 0;
    int seen[K_COUNT] = { 0 };
    const char *err = NULL;
    struct stat st;
    int k;

    f = fopen(path, "r");
    if (f == NULL)
        return apr_psprintf(p, "cannot open config file %s: %s", path,
                            strerror(errno));

    while ((got = getline(&buf, &cap, f)) >= 0) {
        lineno++;
        if (got > CONFIG_LINE_MAX) {
            err = apr_psprintf(p, "%s:%u: line longer than %d bytes",
                               path, lineno, CONFIG_LINE_MAX);
            break;
        }
        if (memchr(buf, '\0', (size_t)got) != NULL) {
            err = apr_psprintf(p, "%s:%u: NUL byte in line", path, lineno);
            break;
        }
        line = trim(buf);
        /* A comment is a whole line: '#' may occur inside a key or URL. */
        if (*line == '\0' || *line == '#')
            continue;
        eq = strchr(line, '=');
        if (eq == NULL) {
            err = apr_psprintf(p, "%s:%u: expected `key = value`", path, lineno);
            break;
        }
        *eq = '\0';
        key = trim(line);
        val = trim(eq + 1);
        vlen = strlen(val);
        if (vlen >= 2 && val[0] == '"' && val[vlen - 1] == '"') {
            val[vlen - 1] = '\0';
            val++;
        }

        for (k = 0; k < K_COUNT; k++)
            if (strcmp(key, key_names[k]) == 0)
                break;
        if (k == K_COUNT) {
            /* The key is safe to echo: it is not a known key's value. */
            err = apr_psprintf(p, "%s:%u: unknown key \"%.64s\"", path,
                               lineno, key);
            break;
        }
        if (seen[k]) {
            err = apr_psprintf(p, "%s:%u: %s: set twice", path, lineno,
                               key_names[k]);
            break;
        }
        seen[k] = 1;
        if (*val == '\0') {
            err = apr_psprintf(p, "%s:%u: %s: empty value", path, lineno,
                               key_names[k]);
            break;
        }
        err = set_key(c, p, k, val);
        if (err != NULL) {
            err = apr_psprintf(p, "%s:%u: %s", path, lineno, err);
            break;
        }
    }
    if (err == NULL && ferror(f))
        err = apr_psprintf(p, "error reading config file %s", path);

    /* The file may hold the API key and passwords: say so if others can
     * read it (a warning only; packaging decides the mode). */
    if (err == NULL && fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH)
        && (seen[K_GEMINI_API_KEY] || seen[K_DATABASE_URL]
            || seen[K_REDIS_URL]))
        wlog(WLOG_WARN, GCWNO(00001), "config file %s is readable by all "
             "users and holds secrets: chmod o-r it", path);

    if (buf != NULL) {
        /* Scrub the last line read: it may have held a secret. */
        memset(buf, 0, cap);
        free(buf);
    }
    fclose(f);
    return err;
}

void worker_config_apply_env(worker_config *c, apr_pool_t *p)
{
    static const struct { const char *name; int key; } vars[] = {
        { "DATABASE_URL", K_DATABASE_URL },
        { "REDIS_URL", K_REDIS_URL },
        { "GEMINI_API_KEY", K_GEMINI_API_KEY },
        { "GEMINI_API_BASE", K_GEMINI_API_BASE },
        { "GEMINI_MODEL", K_GEMINI_MODEL },
        { "GEMCLONE_CONSUMER_NAME", K_CONSUMER_NAME },
        { "GEMCLONE_TEST_CLOCK_FILE", K_TEST_CLOCK_FILE },
    };
    const char *v;
    size_t i;

    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        v = getenv(vars[i].name);
        /* String keys; only a bad consumer name can fail: validate says so. */
        if (v != NULL && *v != '\0' && c->env_error == NULL)
            c->env_error = set_key(c, p, vars[i].key, v);
    }
}

const char *worker_config_mask_database_url(apr_pool_t *p, const char *conninfo)
{
    PQconninfoOption *opts, *o;
    char *errmsg = NULL;
    const char *host = NULL, *hostaddr = NULL, *port = NULL, *user = NULL,
               *password = NULL, *dbname = NULL, *out;

    opts = PQconninfoParse(conninfo, &errmsg);
    if (opts == NULL) {
        PQfreemem(errmsg);  /* may quote the string: not shown */
        return NULL;
    }
    for (o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || *o->val == '\0')
            continue;
        if (strcmp(o->keyword, "host") == 0) host = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0) hostaddr = o->val;
        else if (strcmp(o->keyword, "port") == 0) port = o->val;
        else if (strcmp(o->keyword, "user") == 0) user = o->val;
        else if (strcmp(o->keyword, "password") == 0) password = o->val;
        else if (strcmp(o->keyword, "dbname") == 0) dbname = o->val;
    }
    if (host == NULL)
        host = hostaddr;
    out = apr_pstrcat(p, "postgresql://",
                      user ? user : "", password ? ":***" : "",
                      (user || password) ? "@" : "",
                      host ? host : "", port ? ":" : "", port ? port : "",
                      dbname ? "/" : "", dbname ? dbname : "", NULL);
    PQconninfoFree(opts);
    return out;
}

/* redis://user:***@host:port/db or unix:///path?db=N, from the parsed URL. */
static const char *mask_redis(apr_pool_t *p, const gc_redis_url_t *u)
{
    const char *auth = "";

    if (u->username != NULL || u->password != NULL)
        auth = apr_pstrcat(p, u->username ? u->username : "",
                           u->password ? ":***" : "", "@", NULL);
    if (u->socket != NULL)
        return apr_psprintf(p, "unix://%s%s?db=%d", auth, u->socket, u->db);
    return apr_psprintf(p, strchr(u->host, ':') ? "redis://%s[%s]:%d/%d"
                                                : "redis://%s%s:%d/%d",
                        auth, u->host, u->port, u->db);
}

const char *worker_config_validate(worker_config *c, apr_pool_t *p)
{
    const char *err;
    size_t n;
    char *base;

    if (c->database_url == NULL)
        return "database_url: not set (config file or DATABASE_URL)";
    c->database_display = worker_config_mask_database_url(p, c->database_url);
    if (c->database_display == NULL)
        return "database_url: not a valid PostgreSQL URI or key=value "
               "connection string";

    if (c->redis_url == NULL)
        return "redis_url: not set (config file or REDIS_URL)";
    err = gc_redis_url_parse(p, c->redis_url, &c->redis);
    if (err != NULL)
        return apr_pstrcat(p, "redis_url: ", err, NULL);
    if (c->redis.socket == NULL && c->redis.host == NULL)
        return "redis_url: no host or socket";
    c->redis_display = mask_redis(p, &c->redis);

    /* The key goes into a request header: no spaces or line breaks. */
    if (c->gemini_api_key == NULL)
        return "gemini_api_key: not set (config file or GEMINI_API_KEY)";
    if (!is_token(c->gemini_api_key))
        return "gemini_api_key: holds spaces or control characters";

    if (strncmp(c->gemini_api_base, "https://", 8) != 0
        && strncmp(c->gemini_api_base, "http://", 7) != 0)
        return "gemini_api_base: expected an http:// or https:// URL";
    if (!is_token(c->gemini_api_base))
        return "gemini_api_base: holds spaces or control characters";
    /* Paths are appended as "/v1beta/...": drop trailing slashes. */
    base = apr_pstrdup(p, c->gemini_api_base);
    n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        base[--n] = '\0';
    c->gemini_api_base = base;

    /* The model becomes a path segment: accept "models/x" and plain "x". */
    if (c->gemini_model == NULL)
        return "gemini_model: not set (config file or GEMINI_MODEL)";
    if (strncmp(c->gemini_model, "models/", 7) == 0)
        c->gemini_model += 7;
    if (*c->gemini_model == '\0'
        || strspn(c->gemini_model, "abcdefghijklmnopqrstuvwxyz"
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
           != strlen(c->gemini_model))
        return "gemini_model: expected a model name such as gemini-2.5-flash "
               "(letters, digits, '.', '-', '_')";

    /* A restarted worker must find its own pending entries: the name is
     * stable (the host name), never host-pid. */
    if (c->env_error != NULL)
        return apr_pstrcat(p, c->env_error, " (from the environment)", NULL);
    if (c->consumer_name == NULL) {
        char host[256];

        if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
            return "consumer_name: not set and the host name is unknown";
        host[sizeof(host) - 1] = '\0';
        if (!is_token(host))
            return "consumer_name: not set and the host name holds spaces";
        c->consumer_name = apr_pstrdup(p, host);
    }
    return NULL;
}
