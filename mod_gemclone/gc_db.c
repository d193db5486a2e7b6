/* mod_dbd access with recovery from a PostgreSQL restart.
 *
 * After a restart every pooled connection fails once; apr_dbd_pgsql then
 * PQreset()s it and mod_dbd hands it out as healthy, but its prepared
 * statements are gone (SQLSTATE 26000) for good. So on a failure we look at
 * the native connection: a broken one is reset, a statement that no longer
 * exists is prepared again on that same connection, and the statement is
 * retried once when running it twice is harmless. A connection the server
 * closed while it sat in the pool is noticed when it is borrowed, before
 * anything is sent (heal_if_closed). */
#include "httpd.h"
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>

#include "apr_dbd.h"
#include "apr_strings.h"
#include "apr_optional.h"
#include "http_protocol.h"
#include "mod_dbd.h"
#include <libpq-fe.h>

#include "gc_db.h"
#include "gc_http.h"
#include "gc_log.h"

struct gc_db {
    ap_dbd_t *dbd;
    server_rec *s;
};

static APR_OPTIONAL_FN_TYPE(ap_dbd_open) *dbd_open_fn;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) *dbd_close_fn;
static APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *dbd_prepare_fn;

#define PREP_POOL_KEY "gemclone-prepared-pool"
#define SQLSTATE_NO_SUCH_STATEMENT "26000"

const char *gc_db_setup(server_rec *s)
{
    int i;
    dbd_open_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    dbd_close_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
    dbd_prepare_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
    if (!dbd_open_fn || !dbd_close_fn || !dbd_prepare_fn) {
        return "mod_dbd is not loaded: add LoadModule dbd_module and DBDriver pgsql";
    }
    gc_sql_init();
    /* mod_dbd prepares these on every new pooled connection. */
    for (i = 0; i < GC_SQL_COUNT; i++) {
        dbd_prepare_fn(s, gc_sql(i)->sql, gc_sql(i)->label);
    }
    return NULL;
}

static apr_status_t release_cleanup(void *data)
{
    gc_db *db = data;
    if (db->dbd) {
        dbd_close_fn(db->s, db->dbd);
        db->dbd = NULL;
    }
    return APR_SUCCESS;
}

void gc_db_release(gc_req *q)
{
    if (q->db && q->db->dbd) {
        apr_pool_cleanup_run(q->r->pool, q->db, release_cleanup);
    }
}

static int reprepare_all(gc_req *q, ap_dbd_t *dbd);

/* An idle connection has nothing to read. Data or an EOF waiting on its
 * socket means PostgreSQL said goodbye (a restart sends "terminating
 * connection" and closes; libpq would only notice at the next query):
 * reset it and prepare the statements again before anything is sent, so
 * that even a write that must not run twice is never lost to a restart. */
static void heal_if_closed(gc_req *q, ap_dbd_t *dbd)
{
    PGconn *conn = apr_dbd_native_handle(dbd->driver, dbd->handle);
    char b;
    ssize_t n;

    if (!conn || PQsocket(conn) < 0) {
        return;
    }
    n = recv(PQsocket(conn), &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    }
    GCLOG(q, APLOG_NOTICE, "GC00024", "PostgreSQL closed a pooled connection: resetting it");
    PQreset(conn);
    if (PQstatus(conn) == CONNECTION_OK) {
        reprepare_all(q, dbd);
    }
}

/* The request's connection, borrowed on first use. */
static ap_dbd_t *borrow(gc_req *q)
{
    if (!q->db) {
        q->db = apr_pcalloc(q->r->pool, sizeof(*q->db));
        q->db->s = q->r->server;
    }
    if (!q->db->dbd) {
        q->db->dbd = dbd_open_fn(q->r->pool, q->r->server);
        if (!q->db->dbd) {
            return NULL;
        }
        heal_if_closed(q, q->db->dbd);
        apr_pool_cleanup_register(q->r->pool, q->db, release_cleanup,
                                  apr_pool_cleanup_null);
    }
    return q->db->dbd;
}

/* Prepares every statement again on this connection, into a fresh subpool
 * of the connection's own pool (the old subpool goes afterwards). */
static int reprepare_all(gc_req *q, ap_dbd_t *dbd)
{
    apr_pool_t *fresh, *old = NULL;
    int i, failures = 0;

    apr_dbd_query(dbd->driver, dbd->handle, &i, "DEALLOCATE ALL");
    if (apr_pool_create(&fresh, dbd->pool) != APR_SUCCESS) {
        return -1;
    }
    for (i = 0; i < GC_SQL_COUNT; i++) {
        apr_dbd_prepared_t *stmt = NULL;
        const gc_sql_stmt *st = gc_sql(i);
        if (apr_dbd_prepare(dbd->driver, fresh, dbd->handle, st->sql, st->label, &stmt) == 0) {
            apr_hash_set(dbd->prepared, st->label, APR_HASH_KEY_STRING, stmt);
        }
        else {
            apr_hash_set(dbd->prepared, st->label, APR_HASH_KEY_STRING, NULL);
            failures++;
        }
    }
    apr_pool_userdata_get((void **)&old, PREP_POOL_KEY, dbd->pool);
    apr_pool_userdata_setn(fresh, PREP_POOL_KEY, NULL, dbd->pool);
    if (old) {
        apr_pool_destroy(old);
    }
    GCLOG(q, APLOG_NOTICE, "GC00020", "re-prepared %d statements on a reset connection "
          "(%d failed)", GC_SQL_COUNT - failures, failures);
    return failures ? -1 : 0;
}

/* 1 when PostgreSQL no longer knows the statement label on this connection. */
static int statement_vanished(PGconn *conn, const char *label)
{
    PGresult *res = PQdescribePrepared(conn, label);
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    int gone = state && strcmp(state, SQLSTATE_NO_SUCH_STATEMENT) == 0;
    PQclear(res);
    return gone;
}

typedef enum { RUN_SELECT, RUN_EXEC } run_kind;

/* Runs statement id once; *results / *affected filled by the driver. */
static int run_once(gc_req *q, ap_dbd_t *dbd, const gc_sql_stmt *st, run_kind kind,
                    const char *const *args, apr_dbd_results_t **results, int *affected)
{
    apr_dbd_prepared_t *stmt = apr_hash_get(dbd->prepared, st->label, APR_HASH_KEY_STRING);
    if (!stmt) {
        return -1;
    }
    *results = NULL;
    if (kind == RUN_SELECT) {
        /* random access (seek=1): the driver reports errors and holds the
         * whole result, so the connection is never left mid-result */
        return apr_dbd_pselect(dbd->driver, q->r->pool, dbd->handle, results, stmt, 1,
                               st->nargs, (const char **)args);
    }
    return apr_dbd_pquery(dbd->driver, q->r->pool, dbd->handle, affected, stmt,
                          st->nargs, (const char **)args);
}

/* Decides what a failed statement means and repairs the connection.
 * Returns 1 when the caller should retry, 0 when it should not. */
static int recover(gc_req *q, ap_dbd_t *dbd, const gc_sql_stmt *st, int rv,
                   gc_db_status *status)
{
    PGconn *conn = apr_dbd_native_handle(dbd->driver, dbd->handle);
    const char *err = apr_dbd_error(dbd->driver, dbd->handle, rv);

    if (!conn || PQstatus(conn) == CONNECTION_BAD) {
        GCLOG(q, APLOG_WARNING, "GC00021", "statement %s: connection lost (%s)",
              st->label, err ? err : "?");
        *status = GC_DB_UNAVAILABLE;
        if (apr_dbd_check_conn(dbd->driver, q->r->pool, dbd->handle) != APR_SUCCESS
            || reprepare_all(q, dbd) != 0) {
            return 0;
        }
        /* After a broken connection we cannot know whether a write ran. */
        return st->retry_safe;
    }
    if (!apr_hash_get(dbd->prepared, st->label, APR_HASH_KEY_STRING)
        || statement_vanished(conn, st->label)) {
        *status = GC_DB_UNAVAILABLE;
        return reprepare_all(q, dbd) == 0;
    }
    GCLOG(q, APLOG_ERR, "GC00022", "statement %s failed: %s", st->label, err ? err : "?");
    *status = GC_DB_ERROR;
    return 0;
}

static gc_db_status run(gc_req *q, gc_sql_id id, run_kind kind, const char *const *args,
                        apr_dbd_results_t **results, int *affected)
{
    const gc_sql_stmt *st = gc_sql(id);
    gc_db_status status = GC_DB_UNAVAILABLE;
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        ap_dbd_t *dbd = borrow(q);
        int rv;
        if (!dbd) {
            GCLOG(q, APLOG_ERR, "GC00023", "no PostgreSQL connection for %s", st->label);
            return GC_DB_UNAVAILABLE;
        }
        rv = run_once(q, dbd, st, kind, args, results, affected);
        if (rv == 0) {
            return GC_DB_OK;
        }
        if (!recover(q, dbd, st, rv, &status)) {
            break;
        }
    }
    return status;
}

gc_db_status gc_db_select(gc_req *q, gc_sql_id id, const char *const *args, gc_rows **out)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    gc_rows *rows;
    int n, c, r;
    gc_db_status st = run(q, id, RUN_SELECT, args, &res, NULL);
    const apr_dbd_driver_t *driver;

    if (st != GC_DB_OK) {
        return st;
    }
    driver = q->db->dbd->driver;
    rows = apr_pcalloc(q->r->pool, sizeof(*rows));
    n = apr_dbd_num_tuples(driver, res);
    rows->nrows = n > 0 ? n : 0;
    rows->ncols = apr_dbd_num_cols(driver, res);
    rows->cells = apr_pcalloc(q->r->pool, sizeof(char *) * (rows->nrows * rows->ncols + 1));
    /* Read to the end (-1) so the driver releases the result. */
    for (r = 0; apr_dbd_get_row(driver, q->r->pool, res, &row, -1) == 0; r++) {
        for (c = 0; c < rows->ncols && r < rows->nrows; c++) {
            const char *v = NULL;
            /* get_entry gives "" for SQL NULL; datum_get tells them apart */
            if (apr_dbd_datum_get(driver, row, c, APR_DBD_TYPE_STRING, &v) == APR_SUCCESS
                && v) {
                rows->cells[r * rows->ncols + c] = apr_pstrdup(q->r->pool, v);
            }
        }
    }
    *out = rows;
    return GC_DB_OK;
}

gc_db_status gc_db_exec(gc_req *q, gc_sql_id id, const char *const *args, int *affected)
{
    apr_dbd_results_t *unused = NULL;
    int n = 0;
    gc_db_status st = run(q, id, RUN_EXEC, args, &unused, &n);
    if (affected) {
        *affected = n;
    }
    return st;
}

int gc_db_fail(gc_req *q, gc_db_status st)
{
    if (st == GC_DB_UNAVAILABLE) {
        return gc_fail_unavailable(q, "PostgreSQL");
    }
    return gc_fail_internal(q, "database statement failed");
}

const char *gc_sql_int(gc_req *q, int64_t v)
{
    return apr_psprintf(q->r->pool, "%" APR_INT64_T_FMT, (apr_int64_t)v);
}

const char *gc_cell(const gc_rows *rows, int row, int col)
{
    if (!rows || row >= rows->nrows || col >= rows->ncols) {
        return NULL;
    }
    return rows->cells[row * rows->ncols + col];
}

int64_t gc_cell_i64(const gc_rows *rows, int row, int col)
{
    const char *v = gc_cell(rows, row, col);
    return v ? (int64_t)strtoll(v, NULL, 10) : 0;
}

int gc_cell_bool(const gc_rows *rows, int row, int col)
{
    const char *v = gc_cell(rows, row, col);
    return v && v[0] == 't';
}
