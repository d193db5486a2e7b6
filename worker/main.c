/* gemclone-worker: consumes chat-reply jobs from Redis, calls Gemini and
 * writes the replies to PostgreSQL.
 *
 * This file is the command line: options, settings, start-up and
 * teardown. daemon.c holds signals, the pidfile and daemonizing; loop.c the
 * event loop; conns.c its PostgreSQL and Redis connections; consumer.c the
 * jobs.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "consumer.h"
#include "daemon.h"
#include "loop.h"
#include "worker_config.h"
#include "worker_log.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"   /* built outside configure */
#endif

#define EXIT_USAGE 2                /* bad option or bad settings */

/* ---- command line ---------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
        "Usage: gemclone-worker [OPTION]...\n"
        "Consumes gemclone chat-reply jobs: Redis queue in, Gemini, PostgreSQL out.\n"
        "\n"
        "  -c, --config FILE    read settings from FILE (`key = value` lines)\n"
        "  -f, --foreground     do not daemonize (for systemd and tests)\n"
        "  -p, --pidfile FILE   write the pid to FILE, remove it on exit\n"
        "  -h, --help           show this help and exit\n"
        "  -V, --version        show the version and exit\n"
        "\n"
        "Settings (file keys; the environment variable, when set, wins):\n"
        "  database_url          DATABASE_URL     PostgreSQL URI or conninfo (required)\n"
        "  redis_url             REDIS_URL        redis://[user:pass@]host[:port][/db]\n"
        "                                         or unix:///path[?db=N] (required)\n"
        "  gemini_api_key        GEMINI_API_KEY   (required)\n"
        "  gemini_api_base       GEMINI_API_BASE  default %s\n"
        "  gemini_model          GEMINI_MODEL     e.g. gemini-2.5-flash (required)\n"
        "  consumer_name         GEMCLONE_CONSUMER_NAME  Redis consumer, stable across\n"
        "                                         restarts; default the host name\n"
        "  concurrency                            Gemini calls in flight, default %d\n"
        "  max_attempts                           tries per job, default %d\n"
        "  history_budget_chars                   context size, default %ld\n"
        "  system_instruction                     sent as systemInstruction; default none\n"
        "  temperature                            0..2; default not sent\n"
        "  max_output_tokens                      default not sent\n"
        "  streaming                              true|false, default true\n"
        "  request_timeout_ms                     one Gemini call, default %ld\n"
        "  max_retry_wait_ms                      backoff waits per job, default %ld\n"
        "  lease_seconds                          claim lease, default %d\n"
        "  sweeper_grace                          s a swept reply waits, default %d\n"
        "  sweep_interval_ms                      default %ld\n"
        "  claim_idle_ms                          claim others' jobs idle this long, default %ld\n"
        "  shutdown_grace_ms                      calls may finish on TERM, default %ld\n"
        "  max_generations                        runs of a reply before it fails, default %d\n"
        "  test_clock_file       GEMCLONE_TEST_CLOCK_FILE  tests: clock offset file\n"
        "  log_level                              debug|info|notice|warn|error, default info\n"
        "\n"
        "Logs go to stderr. Signals: TERM/INT stop, HUP reload.\n"
        "Exit status: 0 stopped cleanly, 1 run-time failure, 2 bad usage or settings.\n",
        WORKER_DEFAULT_GEMINI_API_BASE, WORKER_DEFAULT_CONCURRENCY,
        WORKER_DEFAULT_MAX_ATTEMPTS, WORKER_DEFAULT_HISTORY_BUDGET,
        WORKER_DEFAULT_REQUEST_TIMEOUT_MS, WORKER_DEFAULT_MAX_RETRY_WAIT_MS,
        WORKER_DEFAULT_LEASE_SECONDS, WORKER_DEFAULT_SWEEPER_GRACE,
        WORKER_DEFAULT_SWEEP_INTERVAL_MS, WORKER_DEFAULT_CLAIM_IDLE_MS,
        WORKER_DEFAULT_SHUTDOWN_GRACE_MS, WORKER_DEFAULT_MAX_GENERATIONS);
}

int main(int argc, char **argv)
{
    static const struct option long_opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "foreground", no_argument, NULL, 'f' },
        { "pidfile", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    const char *config_file = NULL, *pidfile = NULL, *err;
    int foreground = 0, opt, rc, notify_fd = -1;
    apr_pool_t *pool;
    worker_config *cfg;
    worker_ctx w;

    while ((opt = getopt_long(argc, argv, "c:fp:hV", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config_file = optarg; break;
        case 'f': foreground = 1; break;
        case 'p': pidfile = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("gemclone-worker %s\n", PACKAGE_VERSION); return 0;
        default:  usage(stderr); return EXIT_USAGE;   /* getopt said why */
        }
    }
    if (optind < argc) {
        fprintf(stderr, "gemclone-worker: unexpected argument '%s'\n",
                argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }

    if (apr_initialize() != APR_SUCCESS
        || apr_pool_create(&pool, NULL) != APR_SUCCESS) {
        wlog(WLOG_ERROR, GCWNO(00021), "cannot initialise APR");
        return 1;
    }

    cfg = worker_config_create(pool);
    err = config_file ? worker_config_read_file(cfg, pool, config_file) : NULL;
    if (err == NULL) {
        worker_config_apply_env(cfg, pool);
        err = worker_config_validate(cfg, pool);
    }
    if (err != NULL) {
        wlog(WLOG_ERROR, GCWNO(00022), "bad settings: %s", err);
        apr_pool_destroy(pool);
        apr_terminate();
        return EXIT_USAGE;
    }
    wlog_set_level(cfg->log_level);
    if (pidfile != NULL)
        pidfile = absolute_path(pool, pidfile);

    if (!foreground && (notify_fd = daemonize()) < 0) {
        apr_pool_destroy(pool);
        apr_terminate();
        return 1;
    }
    if ((pidfile != NULL && pidfile_create(pidfile) != 0)
        || daemon_install_signals() != 0) {
        if (pidfile_held())
            pidfile_remove();
        report_started(notify_fd, 1);
        apr_pool_destroy(pool);
        apr_terminate();
        return 1;
    }

    srandom((unsigned)getpid() ^ (unsigned)time(NULL));
    memset(&w, 0, sizeof(w));
    w.pool = pool;
    w.cfg = cfg;
    conns_init(&w.k, pool, cfg);

    /* Once, before any thread: libcurl's global set-up is not thread-safe. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK
        || (w.multi = curl_multi_init()) == NULL
        || (w.cons = consumer_create(pool, cfg, w.multi,
                                     "gemclone-worker/" PACKAGE_VERSION)) == NULL) {
        wlog(WLOG_ERROR, GCWNO(00023), "cannot initialise libcurl");
        pidfile_remove();
        report_started(notify_fd, 1);
        apr_pool_destroy(pool);
        apr_terminate();
        return 1;
    }

    wlog(WLOG_INFO, GCWNO(00024), "gemclone-worker %s starting%s: "
         "database %s, redis %s, gemini %s model %s%s, consumer %s, "
         "concurrency %d, max_attempts %d, history_budget_chars %ld",
         PACKAGE_VERSION, foreground ? " in the foreground" : " as a daemon",
         cfg->database_display, cfg->redis_display, cfg->gemini_api_base,
         cfg->gemini_model, cfg->streaming ? " (streaming)" : "",
         cfg->consumer_name, cfg->concurrency, cfg->max_attempts,
         cfg->history_budget_chars);
    report_started(notify_fd, 0);

    rc = worker_run(&w);

    worker_close(&w);
    curl_global_cleanup();
    pidfile_remove();
    wlog(WLOG_INFO, GCWNO(00025), "stopped");
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
