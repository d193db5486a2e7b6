/* The job consumer: reads jobs from the queue, claims their replies in
 * PostgreSQL, runs one Gemini call per job on the shared curl multi handle
 * (retries wait on timers, never blocking the loop), writes the result,
 * tells the reply's readers, and acknowledges the job. worker_run calls
 * consumer_step once per turn of its loop and sleeps at most
 * consumer_timeout_ms. */
#ifndef CONSUMER_H
#define CONSUMER_H

#include <apr_pools.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "worker_config.h"

/* The loop's connections, lent to the consumer for one step. A command
 * that finds its connection dead sets the broken flag; the loop then drops
 * and reconnects it (the consumer never frees a connection). */
typedef struct {
    PGconn *pg;              /* NULL while down or connecting */
    redisContext *redis;     /* NULL while down */
    int pg_broken;
    int redis_broken;
} wlinks;

typedef struct consumer consumer;

consumer *consumer_create(apr_pool_t *p, const worker_config *cfg, CURLM *multi,
                          const char *user_agent);

/* Does what is due: drives the transfers, fires timers (retries, finish
 * writes, heartbeats), sweeps, claims dead consumers' entries and reads new
 * jobs (blocking briefly in Redis only when nothing is in flight). While
 * stopping, nothing new starts: no reads, no sweeps, no new attempts. */
void consumer_step(consumer *c, wlinks *l, int stopping);

/* How long the loop may sleep (ms, at most tick_ms) before the next step. */
int consumer_timeout_ms(const consumer *c, int tick_ms);

/* A connection came (back) up: check the group, re-read own pending entries. */
void consumer_links_changed(consumer *c);

/* Jobs that may still end by themselves (all but those waiting to retry). */
int consumer_busy(const consumer *c);

/* Shutdown: drops every job without acknowledging it (its entry stays
 * pending, to be re-read on restart, claimed or swept), ending our leases
 * so that a restart can claim them at once. A job whose result is already
 * stored loses nothing: the restart's claim finds the row final and runs
 * its final steps (refund, final event, wake-up) then. */
void consumer_abort_all(consumer *c, wlinks *l);

#endif
