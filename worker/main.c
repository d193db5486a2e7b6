/* gemclone-worker: consumes chat-reply jobs from Redis, calls Gemini and
 * writes the replies to PostgreSQL.
 *
 * This is the daemon's frame: options, settings, daemonizing, the pidfile,
 * signals, and one event loop (worker_run) that keeps a PostgreSQL and a
 * Redis connection up, reconnecting with capped exponential backoff. The job
 * consumer (consumer.c) runs one step per turn of the loop; worker_wait
 * sleeps in curl_multi_poll, so Gemini transfers, the two connections'
 * sockets and the consumer's timers all wake the same loop.
 *
 * Signal handlers only set flags; the loop wakes at least every
 * WORKER_TICK_MS to look at them (poll(2) also returns early on a signal,
 * since the handlers are installed without SA_RESTART).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "consumer.h"
#include "worker_config.h"
#include "worker_log.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"   /* built outside configure */
#endif

#define EXIT_USAGE 2                /* bad option or bad settings */

#define WORKER_TICK_MS 200          /* longest sleep between flag checks */
#define BACKOFF_INITIAL_S 0.5       /* first reconnect delay ... */
#define BACKOFF_MAX_S 30.0          /* ... doubling up to this */
#define PG_CONNECT_TIMEOUT_DEFAULT "5"  /* s; database_url may override */
#define REDIS_CONNECT_TIMEOUT_MS 2000
#define REDIS_COMMAND_TIMEOUT_MS 2000

/* ---- signals --------------------------------------------------------- */

static volatile sig_atomic_t stop_signal;   /* SIGTERM or SIGINT received */
static volatile sig_atomic_t reload_flag;   /* SIGHUP received */

static void on_stop(int sig)
{
    stop_signal = sig;
}

static void on_hup(int sig)
{
    (void)sig;
    reload_flag = 1;
}

/* Installs the flag-setting handlers. No SA_RESTART: a signal must cut a
 * poll(2) or a connect short so the loop sees the flag at once. */
static int install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return -1;
    sa.sa_handler = on_hup;
    if (sigaction(SIGHUP, &sa, NULL) != 0)
        return -1;
    /* A write to a closed Redis or HTTP socket must be an error, not death. */
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}

/* ---- time and backoff -------------------------------------------------- */

/* Monotonic seconds: reconnect schedules must not follow wall-clock jumps. */
static double now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
    double delay;        /* nominal delay before the next attempt */
    double next_at;      /* monotonic time of the next attempt */
    unsigned failures;   /* consecutive failed attempts */
} backoff_t;

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

/* ---- the worker -------------------------------------------------------- */

typedef enum { PG_DOWN, PG_CONNECTING, PG_UP } pg_state_t;

typedef struct worker_ctx {
    apr_pool_t *pool;               /* lives as long as the worker */
    const worker_config *cfg;

    /* PostgreSQL, connected without blocking (PQconnectStartParams). */
    PGconn *pg;
    pg_state_t pg_state;
    PostgresPollingStatusType pg_poll;   /* what the connect waits for */
    double pg_deadline;                  /* connect_timeout, enforced here */
    backoff_t pg_retry;

    /* Redis: one blocking context, owned by this loop. */
    redisContext *redis;
    backoff_t redis_retry;

    /* Gemini calls: one easy handle per job in flight, all on this multi
     * handle; worker_wait polls its sockets with ours. */
    CURLM *multi;
    consumer *cons;
    wlinks links;                   /* lent to the consumer for a step */
} worker_ctx;

/* Logs a PostgreSQL notice (e.g. a server shutting down) as a tagged line
 * instead of libpq's default untagged write to stderr. */
static void pg_notice(void *arg, const char *message)
{
    (void)arg;
    wlog(WLOG_NOTICE, GCWNO(00002), "postgres: %s", message);
}

static void pg_close(worker_ctx *w)
{
    if (w->pg != NULL)
        PQfinish(w->pg);
    w->pg = NULL;
    w->pg_state = PG_DOWN;
}

/* Drops the connection or the attempt and schedules the next attempt.
 * lost: an established connection ended (else a connect failed); reason
 * overrides libpq's message. libpq's messages name host and port, never
 * the password. */
static void pg_failed(worker_ctx *w, double now, int lost, const char *reason)
{
    char msg[512];
    double wait;
    size_t n;

    snprintf(msg, sizeof(msg), "%s", reason ? reason
             : w->pg ? PQerrorMessage(w->pg) : "out of memory");
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    pg_close(w);                   /* frees libpq's message: copied above */
    wait = backoff_fail(&w->pg_retry, now);
    if (lost)
        wlog(WLOG_WARN, GCWNO(00006), "postgres: connection to %s lost: %s; "
             "reconnecting in %.1f s", w->cfg->database_display,
             msg[0] ? msg : "unknown error", wait);
    else
        wlog(WLOG_WARN, GCWNO(00003), "postgres: cannot connect to %s "
             "(attempt %u): %s; retrying in %.1f s", w->cfg->database_display,
             w->pg_retry.failures, msg[0] ? msg : "unknown error", wait);
}

/* Starts a non-blocking connect; worker_wait polls it to completion, so a
 * signal is seen within a tick even when the server does not answer.
 * (Host name resolution inside PQconnectStartParams still blocks.) */
static void pg_start(worker_ctx *w, double now)
{
    /* Our defaults come before dbname: the expanded database_url (a URI or
     * key=value string) overrides them, e.g. with its own connect_timeout. */
    static const char *const keys[] = {
        "connect_timeout", "keepalives", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "fallback_application_name",
        "dbname", NULL
    };
    const char *vals[] = {
        PG_CONNECT_TIMEOUT_DEFAULT, "1", "30", "10", "3", "gemclone-worker",
        w->cfg->database_url, NULL
    };
    PQconninfoOption *opts, *o;
    int timeout = atoi(PG_CONNECT_TIMEOUT_DEFAULT);

    w->pg = PQconnectStartParams(keys, vals, 1);
    if (w->pg == NULL || PQstatus(w->pg) == CONNECTION_BAD) {
        pg_failed(w, now, 0, NULL);
        return;
    }
    /* libpq ignores connect_timeout in PQconnectPoll: apply it here. */
    opts = PQconninfo(w->pg);
    for (o = opts; o != NULL && o->keyword != NULL; o++)
        if (strcmp(o->keyword, "connect_timeout") == 0 && o->val != NULL
            && atoi(o->val) > 0)
            timeout = atoi(o->val);
    PQconninfoFree(opts);

    w->pg_state = PG_CONNECTING;
    w->pg_poll = PGRES_POLLING_WRITING;
    w->pg_deadline = now + timeout;
    wlog(WLOG_DEBUG, GCWNO(00004), "postgres: connecting to %s (timeout %d s)",
         w->cfg->database_display, timeout);
}

/* Advances a connect whose socket is ready. */
static void pg_continue(worker_ctx *w, double now)
{
    w->pg_poll = PQconnectPoll(w->pg);
    if (w->pg_poll == PGRES_POLLING_FAILED) {
        pg_failed(w, now, 0, NULL);
    } else if (w->pg_poll == PGRES_POLLING_OK) {
        w->pg_state = PG_UP;
        PQsetNoticeProcessor(w->pg, pg_notice, NULL);
        wlog(WLOG_INFO, GCWNO(00005), "postgres: connected to %s "
             "(server %d, on attempt %u)", w->cfg->database_display,
             PQserverVersion(w->pg), w->pg_retry.failures + 1);
        backoff_reset(&w->pg_retry);
    }
}

/* Reads whatever an idle connection received: a notification, a notice,
 * or the end of the connection (server restart, admin termination). */
static void pg_check(worker_ctx *w, double now)
{
    PGnotify *n;

    if (!PQconsumeInput(w->pg) || PQstatus(w->pg) == CONNECTION_BAD) {
        pg_failed(w, now, 1, NULL);
        return;
    }
    while ((n = PQnotifies(w->pg)) != NULL)   /* none are LISTENed to yet */
        PQfreemem(n);
}

static void redis_close(worker_ctx *w)
{
    if (w->redis != NULL)
        redisFree(w->redis);
    w->redis = NULL;
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
static void redis_connect(worker_ctx *w, double now)
{
    const gc_redis_url_t *u = &w->cfg->redis;
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
        wait = backoff_fail(&w->redis_retry, now);
        wlog(WLOG_WARN, GCWNO(00007), "redis: connect to %s failed "
             "(attempt %u): %s; retrying in %.1f s", w->cfg->redis_display,
             w->redis_retry.failures, err, wait);
        return;
    }
    w->redis = c;
    wlog(WLOG_INFO, GCWNO(00008), "redis: connected to %s (on attempt %u)",
         w->cfg->redis_display, w->redis_retry.failures + 1);
    backoff_reset(&w->redis_retry);
}

/* An idle Redis connection received something: the end of the connection
 * or data nobody asked for. Either way the context is no longer usable
 * (drop a context that has errored), so it is dropped and reconnected. */
static void redis_check(worker_ctx *w, double now)
{
    char b;
    ssize_t n = recv(w->redis->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    const char *why;
    double wait;

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    why = n == 0 ? "server closed the connection"
        : n < 0 ? strerror(errno) : "unexpected data while idle";
    redis_close(w);
    wait = backoff_fail(&w->redis_retry, now);
    wlog(WLOG_WARN, GCWNO(00009), "redis: connection to %s lost: %s; "
         "reconnecting in %.1f s", w->cfg->redis_display, why, wait);
}

/* Opens whatever is down and due; checks a pending PostgreSQL connect
 * against its deadline. */
static void ensure_connections(worker_ctx *w, double now)
{
    if (w->pg_state == PG_DOWN && now >= w->pg_retry.next_at)
        pg_start(w, now);
    if (w->pg_state == PG_CONNECTING && now >= w->pg_deadline)
        pg_failed(w, now, 0, "timed out (connect_timeout)");
    if (w->redis == NULL && now >= w->redis_retry.next_at && !stop_signal)
        redis_connect(w, now);
}

/* Sleeps until a socket (ours or a Gemini transfer's) wants attention, a
 * reconnect or a consumer timer is due, or WORKER_TICK_MS passes; a signal
 * ends it early. Then handles what woke it. */
static void worker_wait(worker_ctx *w)
{
    struct curl_waitfd fds[2];
    int nfds = 0, pg_i = -1, redis_i = -1, timeout_ms = WORKER_TICK_MS, numfds;
    double now = now_mono(), due;
    CURLMcode mc;

    if (w->pg_state != PG_DOWN && PQsocket(w->pg) >= 0) {
        fds[nfds].fd = PQsocket(w->pg);
        fds[nfds].events = (w->pg_state == PG_CONNECTING
                            && w->pg_poll == PGRES_POLLING_WRITING)
                           ? CURL_WAIT_POLLOUT : CURL_WAIT_POLLIN;
        fds[nfds].revents = 0;
        pg_i = nfds++;
    }
    if (w->redis != NULL) {
        fds[nfds].fd = w->redis->fd;
        fds[nfds].events = CURL_WAIT_POLLIN;
        fds[nfds].revents = 0;
        redis_i = nfds++;
    }
    /* Wake for the earliest scheduled reconnect or connect deadline. */
    due = w->pg_state == PG_DOWN ? w->pg_retry.next_at
        : w->pg_state == PG_CONNECTING ? w->pg_deadline : now + 1;
    if (w->redis == NULL && w->redis_retry.next_at < due)
        due = w->redis_retry.next_at;
    if ((due - now) * 1000 < timeout_ms)
        timeout_ms = due <= now ? 0 : (int)((due - now) * 1000) + 1;

    /* The consumer's timers; curl_multi_poll also stops at curl's own
     * (time-outs) and returns on EINTR without an error. */
    timeout_ms = consumer_timeout_ms(w->cons, timeout_ms);
    mc = curl_multi_poll(w->multi, fds, (unsigned)nfds, timeout_ms, &numfds);
    if (mc != CURLM_OK) {
        wlog(WLOG_ERROR, GCWNO(00011), "curl_multi_poll: %s",
             curl_multi_strerror(mc));
        return;
    }
    now = now_mono();
    if (pg_i >= 0 && fds[pg_i].revents != 0) {
        if (w->pg_state == PG_CONNECTING)
            pg_continue(w, now);
        else
            pg_check(w, now);
    }
    if (redis_i >= 0 && fds[redis_i].revents != 0 && w->redis != NULL)
        redis_check(w, now);
}

/* Hands the connections that are up to the consumer for one step. */
static void links_lend(worker_ctx *w)
{
    w->links.pg = w->pg_state == PG_UP ? w->pg : NULL;
    w->links.redis = w->redis;
    w->links.pg_broken = 0;
    w->links.redis_broken = 0;
}

/* Drops the connections the consumer found dead; they reconnect later. */
static void links_return(worker_ctx *w)
{
    double now = now_mono(), wait;

    if (w->links.pg_broken && w->pg_state == PG_UP)
        pg_failed(w, now, 1, NULL);
    if (w->links.redis_broken && w->redis != NULL) {
        char why[128];

        snprintf(why, sizeof(why), "%s", w->redis->errstr[0]
                 ? w->redis->errstr : "I/O error");
        redis_close(w);
        wait = backoff_fail(&w->redis_retry, now);
        wlog(WLOG_WARN, GCWNO(00047), "redis: connection to %s lost: %s; "
             "reconnecting in %.1f s", w->cfg->redis_display, why, wait);
    }
    w->links.pg = NULL;
    w->links.redis = NULL;
}

/* One consumer step with the connections lent. */
static void consumer_turn(worker_ctx *w, int stopping)
{
    links_lend(w);
    consumer_step(w->cons, &w->links, stopping);
    links_return(w);
}

/* Shutdown: nothing new starts; calls in flight and results being stored
 * get up to shutdown_grace_ms; what is left is dropped unacknowledged. */
static void worker_drain(worker_ctx *w)
{
    double deadline = now_mono() + w->cfg->shutdown_grace_ms / 1000.0;
    int busy;

    while ((busy = consumer_busy(w->cons)) > 0 && now_mono() < deadline) {
        ensure_connections(w, now_mono());
        consumer_turn(w, 1);
        worker_wait(w);
    }
    if (busy > 0)
        wlog(WLOG_NOTICE, GCWNO(00048), "shutdown grace of %ld ms over: "
             "aborting %d job%s", w->cfg->shutdown_grace_ms, busy,
             busy == 1 ? "" : "s");
    links_lend(w);
    consumer_abort_all(w->cons, &w->links);
    links_return(w);
}

/* The main loop: runs until SIGTERM or SIGINT. Returns the exit code. */
static int worker_run(worker_ctx *w)
{
    int ready, was_ready = 0;

    while (!stop_signal) {
        if (reload_flag) {
            reload_flag = 0;
            /* Reload comes with the consumer: settings that can change
             * safely (log level, concurrency) are re-read here. */
            wlog(WLOG_NOTICE, GCWNO(00012), "SIGHUP received: reload is not "
                 "implemented yet, settings unchanged");
        }

        ensure_connections(w, now_mono());

        ready = w->pg_state == PG_UP && w->redis != NULL;
        if (ready != was_ready) {
            wlog(WLOG_INFO, GCWNO(00013), ready
                 ? "PostgreSQL and Redis up: consuming jobs"
                 : "PostgreSQL or Redis down: not claiming jobs until both "
                   "are back");
            was_ready = ready;
            if (ready)
                consumer_links_changed(w->cons);
        }
        /* Always: transfers and timers go on while a connection is down;
         * the consumer only claims jobs when both are up. */
        consumer_turn(w, 0);

        worker_wait(w);
    }

    wlog(WLOG_NOTICE, GCWNO(00014), "received %s, shutting down",
         stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    worker_drain(w);
    return 0;
}

static void worker_close(worker_ctx *w)
{
    pg_close(w);
    redis_close(w);
    if (w->multi != NULL)
        curl_multi_cleanup(w->multi);
    w->multi = NULL;
}

/* ---- pidfile ------------------------------------------------------------ */

static const char *pidfile_path;
static int pidfile_fd = -1;

/* Creates and locks the pidfile; a held lock means another instance runs.
 * The lock (not the file's presence) decides, so a stale file left by a
 * crash does not block a restart. Returns 0 or -1 (logged). */
static int pidfile_create(const char *path)
{
    struct flock fl;
    char buf[32];
    int fd, len;
    ssize_t n;

    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        wlog(WLOG_ERROR, GCWNO(00015), "cannot open pidfile %s: %s", path,
             strerror(errno));
        return -1;
    }
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        n = read(fd, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        wlog(WLOG_ERROR, GCWNO(00016), "pidfile %s is locked: another "
             "gemclone-worker runs (pid %s)", path, buf[0] ? buf : "?");
        close(fd);
        return -1;
    }
    len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || write(fd, buf, (size_t)len) != len) {
        wlog(WLOG_ERROR, GCWNO(00017), "cannot write pidfile %s: %s", path,
             strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    pidfile_path = path;
    pidfile_fd = fd;
    return 0;
}

/* Removes the pidfile while still holding its lock, so a new instance
 * cannot have written its own pid into it in between. */
static void pidfile_remove(void)
{
    if (pidfile_fd < 0)
        return;
    if (unlink(pidfile_path) != 0)
        wlog(WLOG_WARN, GCWNO(00018), "cannot remove pidfile %s: %s",
             pidfile_path, strerror(errno));
    close(pidfile_fd);
    pidfile_fd = -1;
}

/* ---- daemonizing ---------------------------------------------------------- */

/* Double fork and setsid. The original process waits on a pipe until the
 * daemon reports that it has started (pidfile written) and exits with the
 * daemon's status, so `gemclone-worker --pidfile F && cat F` works and a
 * start-up failure is not hidden behind exit 0. Returns, in the daemon
 * only, the pipe's write end (see report_started), or -1 on error. */
static int daemonize(void)
{
    int fds[2], devnull;
    pid_t pid;
    ssize_t n;
    unsigned char status;

    if (pipe(fds) != 0) {
        wlog(WLOG_ERROR, GCWNO(00019), "pipe: %s", strerror(errno));
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        wlog(WLOG_ERROR, GCWNO(00020), "fork: %s", strerror(errno));
        return -1;
    }
    if (pid > 0) {
        close(fds[1]);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        do
            n = read(fds[0], &status, 1);
        while (n < 0 && errno == EINTR);
        _exit(n == 1 ? status : 1);   /* EOF: the daemon died on the way */
    }

    close(fds[0]);
    if (setsid() < 0)
        _exit(1);
    pid = fork();                     /* no longer a session leader: it can */
    if (pid < 0)                      /* never regain a controlling tty */
        _exit(1);
    if (pid > 0)
        _exit(0);

    if (chdir("/") != 0)
        _exit(1);
    /* stdin and stdout go to /dev/null; stderr stays: it carries the log
     * (redirect it to a file, or run under systemd with --foreground). */
    devnull = open("/dev/null", O_RDWR);
    if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0
        || dup2(devnull, STDOUT_FILENO) < 0)
        _exit(1);
    if (devnull > STDERR_FILENO)
        close(devnull);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return fds[1];
}

/* Tells the waiting original process our exit status and closes the pipe. */
static void report_started(int fd, unsigned char status)
{
    ssize_t n;

    if (fd < 0)
        return;
    do
        n = write(fd, &status, 1);
    while (n < 0 && errno == EINTR);
    close(fd);
}

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
        WORKER_DEFAULT_SHUTDOWN_GRACE_MS);
}

/* An absolute form of path: daemonizing changes directory to /. */
static const char *absolute_path(apr_pool_t *p, const char *path)
{
    char cwd[4096];

    if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
        return path;
    return apr_pstrcat(p, cwd, "/", path, NULL);
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
        || install_signals() != 0) {
        if (pidfile_fd >= 0)
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
    backoff_reset(&w.pg_retry);
    backoff_reset(&w.redis_retry);

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
