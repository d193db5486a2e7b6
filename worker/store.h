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

/* Claims a pending reply for lease seconds (generation + 1). It must be
 * unclaimed, its lease run out, or (swept_generation >= 0) still at the
 * generation the sweeper saw. NOROW: final, deleted or leased by another. */
int store_claim(PGconn *pg, int64_t reply_id, int64_t now, int lease,
                int swept_generation, store_claim_row *out);

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

/* Writes the final state of a pending reply (content NULL when failed;
 * refunded when failed). NOROW: someone else finished it. Sets the owner
 * and the prompt's creation time (Unix s). */
int store_finish(PGconn *pg, int64_t reply_id, const char *status,
                 const char *content, const char *error, int64_t now,
                 int64_t *user_id, int64_t *prompt_created);

/* Leases up to 100 pending replies whose lease ran out for grace seconds
 * and returns their ids and generations. */
int store_sweep(PGconn *pg, apr_pool_t *p, int64_t now, int grace,
                int64_t **ids, int **generations, int *n);

#endif
