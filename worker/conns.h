/* The event loop's two connections: PostgreSQL, connected without blocking
 * (PQconnectStartParams, polled by the loop), and one blocking Redis
 * context bounded by time-outs. Each reconnects with capped exponential
 * backoff and jitter; a lost connection is logged once and scheduled. */
#ifndef CONNS_H
#define CONNS_H

#include <apr_pools.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "worker_config.h"

typedef struct {
    double delay;        /* nominal delay before the next attempt */
    double next_at;      /* monotonic time of the next attempt */
    unsigned failures;   /* consecutive failed attempts */
} backoff_t;

typedef enum { PG_DOWN, PG_CONNECTING, PG_UP } pg_state_t;

typedef struct {
    const worker_config *cfg;
    apr_pool_t *pg_pool;                 /* the connect parameters */

    PGconn *pg;
    pg_state_t pg_state;
    PostgresPollingStatusType pg_poll;   /* what the connect waits for */
    double pg_deadline;                  /* connect_timeout, enforced here */
    backoff_t pg_retry;

    redisContext *redis;                 /* NULL while down */
    backoff_t redis_retry;
} conns;

/* Monotonic seconds: schedules must not follow wall-clock jumps. */
double now_mono(void);

void conns_init(conns *k, apr_pool_t *p, const worker_config *cfg);

/* Opens whatever is down and due (Redis only when redis_too); fails a
 * PostgreSQL connect past its deadline. */
void conns_ensure(conns *k, double now, int redis_too);

/* The PostgreSQL socket is ready: advances a connect, or reads what an
 * idle connection received (a notice, or its end). */
void conns_pg_ready(conns *k, double now);

/* The idle Redis socket is readable: the connection ended (or sent
 * something unasked); it is dropped and reconnected later. */
void conns_redis_ready(conns *k, double now);

/* A command found the connection dead: drop it, schedule a reconnect. */
void conns_pg_lost(conns *k, double now);
void conns_redis_lost(conns *k, double now);

/* When the next reconnect attempt or connect deadline falls (a Redis
 * reconnect only counts when redis_too, as in conns_ensure: one that is
 * not going to be made must not cut the loop's sleep short). */
double conns_next_due(const conns *k, double now, int redis_too);

void conns_close(conns *k);

#endif
