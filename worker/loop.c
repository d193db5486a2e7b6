/* The worker's event loop: see loop.h. */
#include "loop.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "worker_log.h"

#define WORKER_TICK_MS 200          /* longest sleep between flag checks */
#define DRAIN_RECONNECT_S 0.5       /* grace left for a Redis reconnect */

/* Sleeps until a socket (ours or a Gemini transfer's) wants attention, a
 * reconnect or a consumer timer is due, or WORKER_TICK_MS passes; a signal
 * ends it early. Then handles what woke it. */
static void worker_wait(worker_ctx *w)
{
    struct curl_waitfd fds[2];
    int nfds = 0, pg_i = -1, redis_i = -1, timeout_ms = WORKER_TICK_MS, numfds;
    double now = now_mono(), due;
    CURLMcode mc;

    if (w->k.pg_state != PG_DOWN && PQsocket(w->k.pg) >= 0) {
        fds[nfds].fd = PQsocket(w->k.pg);
        fds[nfds].events = (w->k.pg_state == PG_CONNECTING
                            && w->k.pg_poll == PGRES_POLLING_WRITING)
                           ? CURL_WAIT_POLLOUT : CURL_WAIT_POLLIN;
        fds[nfds].revents = 0;
        pg_i = nfds++;
    }
    if (w->k.redis != NULL) {
        fds[nfds].fd = w->k.redis->fd;
        fds[nfds].events = CURL_WAIT_POLLIN;
        fds[nfds].revents = 0;
        redis_i = nfds++;
    }
    /* Wake for the earliest scheduled reconnect or connect deadline. */
    due = conns_next_due(&w->k, now, w->redis_wanted);
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
    if (pg_i >= 0 && fds[pg_i].revents != 0)
        conns_pg_ready(&w->k, now);
    if (redis_i >= 0 && fds[redis_i].revents != 0)
        conns_redis_ready(&w->k, now);
}

/* Hands the connections that are up to the consumer for one step. */
static void links_lend(worker_ctx *w)
{
    w->links.pg = w->k.pg_state == PG_UP ? w->k.pg : NULL;
    w->links.redis = w->k.redis;
    w->links.pg_broken = 0;
    w->links.redis_broken = 0;
}

/* Drops the connections the consumer found dead; they reconnect later. */
static void links_return(worker_ctx *w)
{
    double now = now_mono();

    if (w->links.pg_broken)
        conns_pg_lost(&w->k, now);
    if (w->links.redis_broken)
        conns_redis_lost(&w->k, now);
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
 * get up to shutdown_grace_ms; what is left is dropped unacknowledged.
 * Redis may reconnect meanwhile (the final steps of a stored result need
 * it) while enough of the grace is left for its bounded connect. */
static void worker_drain(worker_ctx *w)
{
    double deadline = now_mono() + w->cfg->shutdown_grace_ms / 1000.0;
    int busy;

    while ((busy = consumer_busy(w->cons)) > 0 && now_mono() < deadline) {
        w->redis_wanted = deadline - now_mono() > DRAIN_RECONNECT_S;
        conns_ensure(&w->k, now_mono(), w->redis_wanted);
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
int worker_run(worker_ctx *w)
{
    int ready, was_ready = 0;

    while (!daemon_stop_signal()) {
        if (daemon_take_reload()) {
            /* Reload comes with the consumer: settings that can change
             * safely (log level, concurrency) are re-read here. */
            wlog(WLOG_NOTICE, GCWNO(00012), "SIGHUP received: reload is not "
                 "implemented yet, settings unchanged");
        }

        w->redis_wanted = 1;
        conns_ensure(&w->k, now_mono(), 1);

        ready = w->k.pg_state == PG_UP && w->k.redis != NULL;
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
         daemon_stop_signal() == SIGINT ? "SIGINT" : "SIGTERM");
    worker_drain(w);
    return 0;
}

void worker_close(worker_ctx *w)
{
    conns_close(&w->k);
    if (w->multi != NULL)
        curl_multi_cleanup(w->multi);
    w->multi = NULL;
}
