/* The worker's PostgreSQL statements, all in one place: claim, heartbeat,
 * context, finish, release and sweep of model messages (sql/002_chat.sql).
 * "now" is always passed in (the injectable clock): no SQL here calls
 * now(). Failures are logged here with a tag. */
#ifndef STORE_H
#define STORE_H

#include <stdint.h>
#include <apr_pools.h>
#include <libpq-fe.h>

#include "request.h"

#define STORE_OK 0
#define STORE_NOROW 1        /* the statement matched no row */
#define STORE_ERR (-1)       /* the statement failed, the connection is fine */
#define STORE_BROKEN (-2)    /* the connection is gone: reconnect */

typedef struct {
    int64_t chatroom_id;
    int64_t user_id;
    int64_t reply_to;
    int generation;          /* after the claim's bump: 1 on a first run */
} store_claim_row;

/* What store_read finds of a model message. */
typedef struct {
    char status[16];         /* "pending", "done" or "failed" */
    int refunded;
    int64_t user_id;
    int64_t prompt_created;  /* Unix s: names the quota day */
    int generation;
} store_reply_row;

/* Claims a pending reply for lease seconds (generation + 1). It must be
 * unclaimed, its lease run out, or (swept_generation >= 0) still at the
 * generation the sweeper saw with the lease the sweeper set
 * (swept_lease_until, µs since the epoch; -1: none). NOROW: final, deleted
 * or leased by another. */
int store_claim(PGconn *pg, int64_t reply_id, int64_t now, int lease,
                int swept_generation, int64_t swept_lease_until,
                store_claim_row *out);

/* Extends the lease of our generation; NOROW: no longer ours or pending. */
int store_heartbeat(PGconn *pg, int64_t reply_id, int generation, int64_t now,
                    int lease);

/* Ends our lease at once (shutdown), so a restart can claim it again. */
int store_release(PGconn *pg, int64_t reply_id, int generation, int64_t now);

/* The new user turn (the content of reply_to; NOROW when gone or empty) and
 * the room's earlier done exchanges, newest first (at most 200). */
int store_context(PGconn *pg, apr_pool_t *p, int64_t chatroom_id,
                  int64_t reply_id, int64_t reply_to, const char **prompt,
                  history_pair **pairs, int *n);

/* Writes the final state of a reply still pending at our generation
 * (content NULL when failed; refunded stays false until
 * store_mark_refunded). NOROW: final, deleted or no longer ours. Sets the
 * owner and the prompt's creation time (Unix s). */
int store_finish(PGconn *pg, int64_t reply_id, int generation,
                 const char *status, const char *content, const char *error,
                 int64_t now, int64_t *user_id, int64_t *prompt_created);

/* refunded = true on a failed reply, once Redis gave the prompt back.
 * NOROW: not failed, or marked already. */
int store_mark_refunded(PGconn *pg, int64_t reply_id);

/* Reads a model message's state. NOROW: no such reply (deleted). */
int store_read(PGconn *pg, int64_t reply_id, store_reply_row *out);

/* Leases the pending replies whose lease ran out (up to 100) for grace
 * seconds (plus half a second: see SQL_SWEEP) and returns their ids,
 * generations and the leases set (µs since the epoch). A reply is swept
 * as soon as its lease ends; its owner can still cancel the swept entry by
 * renewing the lease before the entry is claimed. */
int store_sweep(PGconn *pg, apr_pool_t *p, int64_t now, int grace,
                int64_t **ids, int **generations, int64_t **leases, int *n);

#endif
