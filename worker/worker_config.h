/* gemclone-worker settings: defaults, a `key = value` file, then the
 * environment (which wins), then validation. Every string lives in the pool
 * passed to worker_config_create. */
#ifndef WORKER_CONFIG_H
#define WORKER_CONFIG_H

#include <apr_pools.h>

#include "gc_redis_url.h"
#include "worker_log.h"

#define WORKER_DEFAULT_GEMINI_API_BASE "https://generativelanguage.googleapis.com"
#define WORKER_DEFAULT_CONCURRENCY 64
#define WORKER_DEFAULT_MAX_ATTEMPTS 5
#define WORKER_DEFAULT_HISTORY_BUDGET 24000L
#define WORKER_DEFAULT_REQUEST_TIMEOUT_MS 120000L
#define WORKER_DEFAULT_MAX_RETRY_WAIT_MS 120000L
#define WORKER_DEFAULT_LEASE_SECONDS 60
#define WORKER_DEFAULT_SWEEPER_GRACE 60
#define WORKER_DEFAULT_SWEEP_INTERVAL_MS 5000L
#define WORKER_DEFAULT_CLAIM_IDLE_MS 60000L
#define WORKER_DEFAULT_SHUTDOWN_GRACE_MS 5000L
#define WORKER_DEFAULT_MAX_GENERATIONS 5

typedef struct {
    /* From the file or the environment. */
    const char *database_url;    /* libpq URI or key=value string: secret */
    const char *redis_url;       /* redis:// or unix://: may hold a password */
    const char *gemini_api_key;  /* secret: never logged */
    const char *gemini_api_base;
    const char *gemini_model;
    int concurrency;             /* Gemini calls in flight at once */
    int max_attempts;            /* tries per job before it fails for good */
    long history_budget_chars;   /* context sent to Gemini, in characters */
    wlog_level log_level;
    const char *consumer_name;   /* Redis consumer; default: the host name */
    const char *system_instruction; /* NULL: none sent */
    double temperature;          /* sent only when has_temperature */
    int has_temperature;
    long max_output_tokens;      /* 0: not sent */
    int streaming;               /* 1: streamGenerateContent?alt=sse */
    long request_timeout_ms;     /* whole Gemini call */
    long max_retry_wait_ms;      /* sum of backoff waits of one job */
    int lease_seconds;           /* a claimed reply's lease, heartbeat lease/3 */
    int sweeper_grace;           /* s a swept reply waits for a worker */
    long sweep_interval_ms;
    long claim_idle_ms;          /* XAUTOCLAIM entries idle this long */
    const char *test_clock_file; /* offset added to the clock; NULL: none */
    long shutdown_grace_ms;      /* calls in flight may finish this long */
    int max_generations;         /* runs of one reply (re-runs after a worker
                                  * died) before it fails for good */

    const char *env_error;       /* a bad value from the environment */

    /* Derived by worker_config_validate. */
    gc_redis_url_t redis;        /* redis_url, parsed */
    const char *database_display; /* database_url with the password masked */
    const char *redis_display;    /* redis_url with the password masked */
} worker_config;

/* A config holding the defaults. */
worker_config *worker_config_create(apr_pool_t *p);

/* Reads `key = value` lines ('#' starts a comment line; a value may be put
 * in double quotes). Returns NULL, or an error message (in p) naming the
 * file, the line and the key; the message never holds a value. */
const char *worker_config_read_file(worker_config *c, apr_pool_t *p,
                                    const char *path);

/* DATABASE_URL, REDIS_URL, GEMINI_API_KEY, GEMINI_API_BASE, GEMINI_MODEL,
 * GEMCLONE_CONSUMER_NAME and GEMCLONE_TEST_CLOCK_FILE override the file when
 * set and not empty. */
void worker_config_apply_env(worker_config *c, apr_pool_t *p);

/* Checks required keys and values, parses the URLs, fills the display
 * forms and defaults consumer_name to the host name. Returns NULL, or an error message naming the key. */
const char *worker_config_validate(worker_config *c, apr_pool_t *p);

/* postgresql://user:***@host:port/dbname for a libpq URI or key=value
 * string (whichever it was given as); NULL if libpq cannot parse it. */
const char *worker_config_mask_database_url(apr_pool_t *p, const char *conninfo);

#endif
