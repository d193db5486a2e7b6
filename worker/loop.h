/* The worker's one event loop: keeps the PostgreSQL and Redis connections
 * up (conns.c), runs one consumer step per turn (consumer.c), and sleeps
 * in curl_multi_poll, so Gemini transfers, the connections' sockets and the
 * consumer's timers all wake the same loop. It wakes at least every
 * WORKER_TICK_MS to look at the signal flags (poll(2) also returns early on
 * a signal: the handlers are installed without SA_RESTART). */
#ifndef LOOP_H
#define LOOP_H

#include <apr_pools.h>
#include <curl/curl.h>

#include "conns.h"
#include "consumer.h"
#include "worker_config.h"

typedef struct worker_ctx {
    apr_pool_t *pool;               /* lives as long as the worker */
    const worker_config *cfg;
    conns k;                        /* PostgreSQL and Redis */

    /* Gemini calls: one easy handle per job in flight, all on this multi
     * handle; the loop polls its sockets with ours. */
    CURLM *multi;
    consumer *cons;
    wlinks links;                   /* lent to the consumer for a step */
    int redis_wanted;               /* Redis may reconnect now */
} worker_ctx;

/* Runs until SIGTERM or SIGINT, then drains (shutdown_grace_ms) and aborts
 * what is left. Returns the exit code. */
int worker_run(worker_ctx *w);

/* Closes the connections and the multi handle. */
void worker_close(worker_ctx *w);

#endif
