/* The loop's PostgreSQL and Redis connections: see conns.h. */
#include "conns.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <apr_strings.h>

#include "pg_params.h"
#include "worker_log.h"

#define BACKOFF_INITIAL_S 0.5       /* first reconnect delay ... */
#define BACKOFF_MAX_S 30.0          /* ... doubling up to this */
#define REDIS_CONNECT_TIMEOUT_MS 2000
#define REDIS_COMMAND_TIMEOUT_MS 2000

/* ---- time and backoff -------------------------------------------------- */

/* Monotonic seconds: reconnect schedules must not follow wall-clock jumps. */
double now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


/* Records a failure and returns the wait before the next attempt: the
 * nominal delay minus up to 20% jitter (so that many workers restarted
 * together do not reconnect in step), never above BACKOFF_MAX_S. */
static double backoff_fail(backoff_t *b, double now)
{
    double wait;

    if (b->failures++ == 0 || b->delay < BACKOFF_INITIAL_S)
        b->delay = BACKOFF_INITIAL_S;
    wait = b->delay * (0.8 + 0.2 * ((double)random() / RAND_MAX));
    b->next_at = now + wait;
    b->delay *= 2;
    if (b->delay > BACKOFF_MAX_S)
        b->delay = BACKOFF_MAX_S;
    return wait;
}

static void backoff_reset(backoff_t *b)
{
    b->delay = BACKOFF_INITIAL_S;
    b->next_at = 0;
    b->failures = 0;
}

/* ---- connections ------------------------------------------------------- */

/* Logs a PostgreSQL notice (e.g. a server shutting down) as a tagged line
 * instead of libpq's default untagged write to stderr. */
static void pg_notice(void *arg, const char *message)
{
    (void)arg;
    wlog(WLOG_NOTICE, GCWNO(00002), "postgres: %s", message);
}

static void pg_close(conns *k)
{
    if (k->pg != NULL)
        PQfinish(k->pg);
    k->pg = NULL;
    k->pg_state = PG_DOWN;
}

/* Drops the connection or the attempt and schedules the next attempt.
 * lost: an established connection ended (else a connect failed); reason
 * overrides libpq's message. libpq's messages name host and port, never
 * the password. */
static void pg_failed(conns *k, double now, int lost, const char *reason)
{
    char msg[512];
    double wait;
    size_t n;

    snprintf(msg, sizeof(msg), "%s", reason ? reason
             : k->pg ? PQerrorMessage(k->pg) : "out of memory");
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    pg_close(k);                   /* frees libpq's message: copied above */
    wait = backoff_fail(&k->pg_retry, now);
    if (lost)
        wlog(WLOG_WARN, GCWNO(00006), "postgres: connection to %s lost: %s; "
             "reconnecting in %.1f s", k->cfg->database_display,
             msg[0] ? msg : "unknown error", wait);
    else
        wlog(WLOG_WARN, GCWNO(00003), "postgres: cannot connect to %s "
             "(attempt %u): %s; retrying in %.1f s", k->cfg->database_display,
             k->pg_retry.failures, msg[0] ? msg : "unknown error", wait);
}

/* Starts a non-blocking connect; the loop polls it to completion, so a
 * signal is seen within a tick even when the server does not answer.
 * (Host name resolution inside PQconnectStartParams still blocks.) */
static void pg_start(conns *k, double now)
{
    const char *const *keys, *const *vals;
    const char *err;
    PQconninfoOption *opts, *o;
    int timeout = atoi(PG_DEFAULT_CONNECT_TIMEOUT);

    /* database_url's own settings win; ours fill the gaps (pg_params.h). */
    apr_pool_clear(k->pg_pool);
    err = pg_params_build(k->pg_pool, k->cfg->database_url, &keys, &vals);
    if (err != NULL) {
        pg_failed(k, now, 0, err);
        return;
    }
    k->pg = PQconnectStartParams(keys, vals, 0);
    if (k->pg == NULL || PQstatus(k->pg) == CONNECTION_BAD) {
        pg_failed(k, now, 0, NULL);
        return;
    }
    /* libpq ignores connect_timeout in PQconnectPoll: apply it here. */
    opts = PQconninfo(k->pg);
    for (o = opts; o != NULL && o->keyword != NULL; o++)
        if (strcmp(o->keyword, "connect_timeout") == 0 && o->val != NULL
            && atoi(o->val) > 0)
            timeout = atoi(o->val);
    PQconninfoFree(opts);

    k->pg_state = PG_CONNECTING;
    k->pg_poll = PGRES_POLLING_WRITING;
    k->pg_deadline = now + timeout;
    wlog(WLOG_DEBUG, GCWNO(00004), "postgres: connecting to %s (timeout %d s)",
         k->cfg->database_display, timeout);
}

/* Advances a connect whose socket is ready. */
static void pg_continue(conns *k, double now)
{
    k->pg_poll = PQconnectPoll(k->pg);
    if (k->pg_poll == PGRES_POLLING_FAILED) {
        pg_failed(k, now, 0, NULL);
    } else if (k->pg_poll == PGRES_POLLING_OK) {
        k->pg_state = PG_UP;
        PQsetNoticeProcessor(k->pg, pg_notice, NULL);
        wlog(WLOG_INFO, GCWNO(00005), "postgres: connected to %s "
             "(server %d, on attempt %u)", k->cfg->database_display,
             PQserverVersion(k->pg), k->pg_retry.failures + 1);
        backoff_reset(&k->pg_retry);
    }
}

/* Reads whatever an idle connection received: a notification, a notice,
 * or the end of the connection (server restart, admin termination). */
static void pg_check(conns *k, double now)
{
    PGnotify *n;

    if (!PQconsumeInput(k->pg) || PQstatus(k->pg) == CONNECTION_BAD) {
        pg_failed(k, now, 1, NULL);
        return;
    }
    while ((n = PQnotifies(k->pg)) != NULL)   /* none are LISTENed to yet */
        PQfreemem(n);
}

static void redis_close(conns *k)
{
    if (k->redis != NULL)
        redisFree(k->redis);
    k->redis = NULL;
}

/* Runs a command whose reply only has to be a non-error; on failure
 * copies the reason into err. */
static int redis_simple(redisContext *c, char *err, size_t errlen,
                        const char *fmt, ...)
{
    redisReply *r;
    va_list ap;
    int rc = 0;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r == NULL) {
        snprintf(err, errlen, "%s", c->errstr[0] ? c->errstr : "I/O error");
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "%.*s", (int)r->len, r->str);
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

/* Connects, authenticates, selects the database and pings. Blocking, but
 * bounded by the two time-outs; a signal cuts the connect short. */
static void redis_connect(conns *k, double now)
{
    const gc_redis_url_t *u = &k->cfg->redis;
    struct timeval ctv = { REDIS_CONNECT_TIMEOUT_MS / 1000,
                           (REDIS_CONNECT_TIMEOUT_MS % 1000) * 1000 };
    struct timeval rtv = { REDIS_COMMAND_TIMEOUT_MS / 1000,
                           (REDIS_COMMAND_TIMEOUT_MS % 1000) * 1000 };
    char err[256] = "";
    redisContext *c;
    double wait;

    if (u->socket != NULL)
        c = redisConnectUnixWithTimeout(u->socket, ctv);
    else
        c = redisConnectWithTimeout(u->host, u->port, ctv);

    if (c == NULL)
        snprintf(err, sizeof(err), "out of memory");
    else if (c->err)
        snprintf(err, sizeof(err), "%s", c->errstr);
    else if (redisSetTimeout(c, rtv) != REDIS_OK)
        snprintf(err, sizeof(err), "cannot set time-out: %s", c->errstr);
    else if (u->socket == NULL && redisEnableKeepAlive(c) != REDIS_OK)
        snprintf(err, sizeof(err), "cannot enable keepalive: %s", c->errstr);
    else if (u->password != NULL
             && (u->username != NULL
                 ? redis_simple(c, err, sizeof(err), "AUTH %s %s",
                                u->username, u->password)
                 : redis_simple(c, err, sizeof(err), "AUTH %s",
                                u->password)) != 0)
        ;   /* err says why; the server's text never echoes the password */
    else if (u->db != 0
             && redis_simple(c, err, sizeof(err), "SELECT %d", u->db) != 0)
        ;
    else
        redis_simple(c, err, sizeof(err), "PING");

    if (err[0] != '\0') {
        if (c != NULL)
            redisFree(c);
        wait = backoff_fail(&k->redis_retry, now);
        wlog(WLOG_WARN, GCWNO(00007), "redis: connect to %s failed "
             "(attempt %u): %s; retrying in %.1f s", k->cfg->redis_display,
             k->redis_retry.failures, err, wait);
        return;
    }
    k->redis = c;
    wlog(WLOG_INFO, GCWNO(00008), "redis: connected to %s (on attempt %u)",
         k->cfg->redis_display, k->redis_retry.failures + 1);
    backoff_reset(&k->redis_retry);
}

/* An idle Redis connection received something: the end of the connection
 * or data nobody asked for. Either way the context is no longer usable
 * (drop a context that has errored), so it is dropped and reconnected. */
static void redis_check(conns *k, double now)
{
    char b;
    ssize_t n = recv(k->redis->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    const char *why;
    double wait;

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    why = n == 0 ? "server closed the connection"
        : n < 0 ? strerror(errno) : "unexpected data while idle";
    redis_close(k);
    wait = backoff_fail(&k->redis_retry, now);
    wlog(WLOG_WARN, GCWNO(00009), "redis: connection to %s lost: %s; "
         "reconnecting in %.1f s", k->cfg->redis_display, why, wait);
}

/* Opens whatever is down and due; checks a pending PostgreSQL connect
 * against its deadline. */
void conns_ensure(conns *k, double now, int redis_too)
{
    if (k->pg_state == PG_DOWN && now >= k->pg_retry.next_at)
        pg_start(k, now);
    if (k->pg_state == PG_CONNECTING && now >= k->pg_deadline)
        pg_failed(k, now, 0, "timed out (connect_timeout)");
    if (k->redis == NULL && now >= k->redis_retry.next_at && redis_too)
        redis_connect(k, now);
}

void conns_init(conns *k, apr_pool_t *p, const worker_config *cfg)
{
    memset(k, 0, sizeof(*k));
    k->cfg = cfg;
    apr_pool_create(&k->pg_pool, p);
    backoff_reset(&k->pg_retry);
    backoff_reset(&k->redis_retry);
}

void conns_pg_ready(conns *k, double now)
{
    if (k->pg_state == PG_CONNECTING)
        pg_continue(k, now);
    else if (k->pg_state == PG_UP)
        pg_check(k, now);
}

void conns_redis_ready(conns *k, double now)
{
    if (k->redis != NULL)
        redis_check(k, now);
}

void conns_pg_lost(conns *k, double now)
{
    if (k->pg_state == PG_UP)
        pg_failed(k, now, 1, NULL);
}

void conns_redis_lost(conns *k, double now)
{
    char why[128];
    double wait;

    if (k->redis == NULL)
        return;
    snprintf(why, sizeof(why), "%s", k->redis->errstr[0]
             ? k->redis->errstr : "I/O error");
    redis_close(k);
    wait = backoff_fail(&k->redis_retry, now);
    wlog(WLOG_WARN, GCWNO(00047), "redis: connection to %s lost: %s; "
         "reconnecting in %.1f s", k->cfg->redis_display, why, wait);
}

double conns_next_due(const conns *k, double now, int redis_too)
{
    double due = k->pg_state == PG_DOWN ? k->pg_retry.next_at
               : k->pg_state == PG_CONNECTING ? k->pg_deadline : now + 1;

    if (redis_too && k->redis == NULL && k->redis_retry.next_at < due)
        due = k->redis_retry.next_at;
    return due;
}

void conns_close(conns *k)
{
    pg_close(k);
    redis_close(k);
}
