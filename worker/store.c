/* PostgreSQL statements of the worker: see store.h. */
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "worker_log.h"

#define HISTORY_ROWS 200

/* A swept entry ($4 >= 0) may take the reply only while the lease is still
 * the one the sweeper set ($5, µs since the epoch): a heartbeat of a live
 * owner changes it and so cancels the entry. */
static const char SQL_CLAIM[] =
    "UPDATE messages SET generation = generation + 1, "
    "lease_until = to_timestamp($2::bigint + $3::int) "
    "WHERE id = $1 AND role = 'model' AND status = 'pending' "
    "AND (generation = 0 OR lease_until <= to_timestamp($2::bigint) "
    "OR (generation = $4::int "
    "AND (extract(epoch FROM lease_until) * 1000000)::bigint = $5::bigint)) "
    "RETURNING chatroom_id, user_id, reply_to, generation";

static const char SQL_HEARTBEAT[] =
    "UPDATE messages SET lease_until = to_timestamp($2::bigint + $3::int) "
    "WHERE id = $1 AND status = 'pending' AND generation = $4::int";

static const char SQL_RELEASE[] =
    "UPDATE messages SET lease_until = to_timestamp($2::bigint) "
    "WHERE id = $1 AND status = 'pending' AND generation = $3::int";

static const char SQL_PROMPT[] =
    "SELECT content FROM messages WHERE id = $1";

static const char SQL_HISTORY[] =
    "SELECT u.content, m.content FROM messages m "
    "JOIN messages u ON u.id = m.reply_to "
    "WHERE m.chatroom_id = $1 AND m.role = 'model' AND m.status = 'done' "
    "AND m.id < $2 ORDER BY m.id DESC LIMIT 200";

/* The prompt's created_at: "reply_to" must name the updated row's column,
 * hence the aliases (unqualified, it would resolve to the subquery's own). */
#define PROMPT_CREATED \
    "coalesce(extract(epoch FROM (SELECT u.created_at " \
    "FROM messages u WHERE u.id = m.reply_to)), " \
    "extract(epoch FROM m.created_at))::bigint"

/* Only our generation may write the result. A failed reply is written
 * with refunded = false: it becomes true once Redis has given the prompt
 * back (SQL_REFUNDED), so a counter rebuilt from PostgreSQL in between
 * still counts it and the Redis decrement is the only refund. */
static const char SQL_FINISH[] =
    "UPDATE messages m SET status = $2::text, content = $3, error = $4, "
    "completed_at = to_timestamp($5::bigint), refunded = false "
    "WHERE m.id = $1 AND m.status = 'pending' AND m.generation = $6::int "
    "RETURNING m.user_id, " PROMPT_CREATED;

static const char SQL_REFUNDED[] =
    "UPDATE messages SET refunded = true "
    "WHERE id = $1 AND status = 'failed' AND NOT refunded";

static const char SQL_READ[] =
    "SELECT m.status, m.refunded, m.user_id, " PROMPT_CREATED ", m.generation "
    "FROM messages m WHERE m.id = $1 AND m.role = 'model'";

/* Replies whose lease ran out, leased for the grace. The lease ends half a
 * second past a whole second, a value no claim or heartbeat writes (they
 * use whole seconds), so a swept entry can tell the sweeper's lease from a
 * renewal (SQL_CLAIM). */
static const char SQL_SWEEP[] =
    "UPDATE messages SET lease_until = to_timestamp($1::bigint + $2::int) "
    "+ interval '500 milliseconds' "
    "WHERE id IN (SELECT id FROM messages WHERE role = 'model' "
    "AND status = 'pending' AND lease_until <= to_timestamp($1::bigint) "
    "ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED) "
    "RETURNING id, generation, "
    "(extract(epoch FROM lease_until) * 1000000)::bigint";

/* Runs one statement with text parameters; returns the result, or NULL
 * with *rc set (BROKEN or ERR, logged under what). */
static PGresult *run(PGconn *pg, const char *what, const char *sql, int n,
                     const char *const *params, int *rc)
{
    PGresult *res;
    ExecStatusType st;

    res = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        *rc = STORE_OK;
        return res;
    }
    if (PQstatus(pg) == CONNECTION_BAD) {
        *rc = STORE_BROKEN;
        wlog(WLOG_WARN, GCWNO(00026), "postgres: %s: connection lost: %s",
             what, PQerrorMessage(pg));
    } else {
        *rc = STORE_ERR;
        wlog(WLOG_ERROR, GCWNO(00027), "postgres: %s failed: %s", what,
             res ? PQresultErrorMessage(res) : PQerrorMessage(pg));
    }
    PQclear(res);
    return NULL;
}

/* Number of rows an UPDATE without RETURNING changed. */
static int changed(PGresult *res)
{
    return atoi(PQcmdTuples(res));
}

int store_claim(PGconn *pg, int64_t reply_id, int64_t now, int lease,
                int swept_generation, int64_t swept_lease_until,
                store_claim_row *out)
{
    char id[24], t[24], l[16], g[16], lu[24];
    const char *params[] = { id, t, l, g, lu };
    PGresult *res;
    int rc;

    snprintf(id, sizeof(id), "%" PRId64, reply_id);
    snprintf(t, sizeof(t), "%" PRId64, now);
    snprintf(l, sizeof(l), "%d", lease);
    snprintf(g, sizeof(g), "%d", swept_generation >= 0 ? swept_generation : -1);
    snprintf(lu, sizeof(lu), "%" PRId64, swept_lease_until > 0 ? swept_lease_until : -1);
    if ((res = run(pg, "claim", SQL_CLAIM, 5, params, &rc)) == NULL)
        return rc;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return STORE_NOROW;
    }
    out->chatroom_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    out->user_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    out->reply_to = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    out->generation = atoi(PQgetvalue(res, 0, 3));
    PQclear(res);
    return STORE_OK;
}

int store_heartbeat(PGconn *pg, int64_t reply_id, int generation, int64_t now,
                    int lease)
{
    char id[24], t[24], l[16], g[16];
    const char *params[] = { id, t, l, g };
    PGresult *res;
    int rc;

    snprintf(id, sizeof(id), "%" PRId64, reply_id);
    snprintf(t, sizeof(t), "%" PRId64, now);
    snprintf(l, sizeof(l), "%d", lease);
    snprintf(g, sizeof(g), "%d", generation);
    if ((res = run(pg, "heartbeat", SQL_HEARTBEAT, 4, params, &rc)) == NULL)
        return rc;
    rc = changed(res) == 1 ? STORE_OK : STORE_NOROW;
    PQclear(res);
    return rc;
}

int store_release(PGconn *pg, int64_t reply_id, int generation, int64_t now)
{
    char id[24], t[24], g[16];
    const char *params[] = { id, t, g };
    PGresult *res;
    int rc;

    snprintf(id, sizeof(id), "%" PRId64, reply_id);
    snprintf(t, sizeof(t), "%" PRId64, now);
    snprintf(g, sizeof(g), "%d", generation);
    if ((res = run(pg, "release", SQL_RELEASE, 3, params, &rc)) == NULL)
        return rc;
    rc = changed(res) == 1 ? STORE_OK : STORE_NOROW;
    PQclear(res);
    return rc;
}

int store_context(PGconn *pg, apr_pool_t *p, int64_t chatroom_id,
                  int64_t reply_id, int64_t reply_to, const char **prompt,
                  history_pair **pairs, int *n)
{
    char room[24], id[24], to[24];
    const char *pparams[] = { to };
    const char *hparams[] = { room, id };
    PGresult *res;
    int rc, i, rows;

    *prompt = NULL;
    *pairs = NULL;
    *n = 0;
    snprintf(room, sizeof(room), "%" PRId64, chatroom_id);
    snprintf(id, sizeof(id), "%" PRId64, reply_id);
    snprintf(to, sizeof(to), "%" PRId64, reply_to);

    if ((res = run(pg, "prompt", SQL_PROMPT, 1, pparams, &rc)) == NULL)
        return rc;
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)
        || *PQgetvalue(res, 0, 0) == '\0') {
        PQclear(res);
        return STORE_NOROW;
    }
    *prompt = apr_pstrdup(p, PQgetvalue(res, 0, 0));
    PQclear(res);

    if ((res = run(pg, "history", SQL_HISTORY, 2, hparams, &rc)) == NULL)
        return rc;
    rows = PQntuples(res);
    if (rows > HISTORY_ROWS)
        rows = HISTORY_ROWS;
    *pairs = apr_pcalloc(p, sizeof(history_pair) * (size_t)(rows + 1));
    for (i = 0; i < rows; i++) {
        (*pairs)[i].user = PQgetisnull(res, i, 0) ? NULL
                         : apr_pstrdup(p, PQgetvalue(res, i, 0));
        (*pairs)[i].model = PQgetisnull(res, i, 1) ? NULL
                          : apr_pstrdup(p, PQgetvalue(res, i, 1));
    }
    *n = rows;
    PQclear(res);
    return STORE_OK;
}

int store_finish(PGconn *pg, int64_t reply_id, int generation,
                 const char *status, const char *content, const char *error,
                 int64_t now, int64_t *user_id, int64_t *prompt_created)
{
    char id[24], t[24], g[16];
    const char *params[] = { id, status, content, error, t, g };
    PGresult *res;
    int rc;

    snprintf(id, sizeof(id), "%" PRId64, reply_id);
    snprintf(t, sizeof(t), "%" PRId64, now);
    snprintf(g, sizeof(g), "%d", generation);
    if ((res = run(pg, "finish", SQL_FINISH, 6, params, &rc)) == NULL)
        return rc;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return STORE_NOROW;
    }
    *user_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    *prompt_created = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    return STORE_OK;
}

int store_mark_refunded(PGconn *pg, int64_t reply_id)
{
    char id[24];
    const char *params[] = { id };
    PGresult *res;
    int rc;

    snprintf(id, sizeof(id), "%" PRId64, reply_id);
    if ((res = run(pg, "mark refunded", SQL_REFUNDED, 1, params, &rc)) == NULL)
        return rc;
    rc = changed(res) == 1 ? STORE_OK : STORE_NOROW;
    PQclear(res);
    return rc;
}

int store_read(PGconn *pg, int64_t reply_id, store_reply_row *out)
{
    char id[24];
    const char *params[] = { id };
    PGresult *res;
    int rc;

    snprintf(id, sizeof(id), "%" PRId64, reply_id);
    if ((res = run(pg, "read", SQL_READ, 1, params, &rc)) == NULL)
        return rc;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return STORE_NOROW;
    }
    snprintf(out->status, sizeof(out->status), "%s", PQgetvalue(res, 0, 0));
    out->refunded = PQgetvalue(res, 0, 1)[0] == 't';
    out->user_id = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    out->prompt_created = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    out->generation = atoi(PQgetvalue(res, 0, 4));
    PQclear(res);
    return STORE_OK;
}

int store_sweep(PGconn *pg, apr_pool_t *p, int64_t now, int grace,
                int64_t **ids, int **generations, int64_t **leases, int *n)
{
    char t[24], g[16];
    const char *params[] = { t, g };
    PGresult *res;
    int rc, i, rows;

    *n = 0;
    snprintf(t, sizeof(t), "%" PRId64, now);
    snprintf(g, sizeof(g), "%d", grace);
    if ((res = run(pg, "sweep", SQL_SWEEP, 2, params, &rc)) == NULL)
        return rc;
    rows = PQntuples(res);
    *ids = apr_pcalloc(p, sizeof(int64_t) * (size_t)(rows + 1));
    *generations = apr_pcalloc(p, sizeof(int) * (size_t)(rows + 1));
    *leases = apr_pcalloc(p, sizeof(int64_t) * (size_t)(rows + 1));
    for (i = 0; i < rows; i++) {
        (*ids)[i] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        (*generations)[i] = atoi(PQgetvalue(res, i, 1));
        (*leases)[i] = strtoll(PQgetvalue(res, i, 2), NULL, 10);
    }
    *n = rows;
    PQclear(res);
    return STORE_OK;
}
