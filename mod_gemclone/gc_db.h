/* PostgreSQL through mod_dbd: borrow a pooled connection, run labelled
 * prepared statements, give it back. A connection is taken lazily on the
 * first query of a request and returned when the request ends, or earlier
 * with gc_db_release before slow work (a password hash, a wait), so that no
 * connection idles while the request does something else. */
#ifndef GC_DB_H
#define GC_DB_H

#include "mod_gemclone.h"
#include "gc_sql.h"

typedef enum {
    GC_DB_OK = 0,
    GC_DB_UNAVAILABLE,   /* no connection, or it broke: 503 */
    GC_DB_ERROR          /* the statement failed: a bug, 500 */
} gc_db_status;

/* A result copied into request memory: cells[row * ncols + col], NULL for SQL NULL. */
struct gc_rows {
    int nrows;
    int ncols;
    const char **cells;
};

/* Runs a statement and copies its rows (for SELECT and ... RETURNING). */
gc_db_status gc_db_select(gc_req *q, gc_sql_id id, const char *const *args, gc_rows **out);

/* Runs a statement that returns no rows; *affected may be NULL. */
gc_db_status gc_db_exec(gc_req *q, gc_sql_id id, const char *const *args, int *affected);

/* Gives the request's connection back to the pool now. */
void gc_db_release(gc_req *q);

/* Sends the 503 or 500 that st calls for. Returns OK. */
int gc_db_fail(gc_req *q, gc_db_status st);

/* A bigint statement argument: v as decimal text in request memory. */
const char *gc_sql_int(gc_req *q, int64_t v);

/* One cell, or NULL. */
const char *gc_cell(const gc_rows *rows, int row, int col);

/* Cell helpers: a bigint cell (0 when NULL), a boolean cell ("t"). */
int64_t gc_cell_i64(const gc_rows *rows, int row, int col);
int gc_cell_bool(const gc_rows *rows, int row, int col);

/* Start-up: fetches mod_dbd's optional functions and registers every
 * statement with it. Returns NULL or an error message. */
const char *gc_db_setup(server_rec *s);

#endif
