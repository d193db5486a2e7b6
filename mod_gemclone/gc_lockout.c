/* Per-account failure limit. */
#include "httpd.h"
#include "apr_strings.h"
#include "http_protocol.h"

#include "gc_db.h"
#include "gc_lockout.h"
#include "gc_http.h"
#include "gc_log.h"


gc_db_status gc_lockout_lookup(gc_req *q, const char *mobile, const char *id, gc_rows **rows)
{
    const char *args[3];
    args[0] = gc_sql_int(q, q->now - q->cfg->auth_failure_window);
    args[1] = gc_sql_int(q, q->cfg->auth_failure_limit - 1);
    args[2] = mobile ? mobile : id;
    return gc_db_select(q, mobile ? GC_SQL_USER_BY_MOBILE_AUTH : GC_SQL_USER_BY_ID_AUTH,
                        args, rows);
}

int gc_lockout_find_account(gc_req *q, const char *mobile, gc_rows **rows)
{
    gc_db_status st = gc_lockout_lookup(q, mobile, NULL, rows);
    if (st != GC_DB_OK) {
        return gc_db_fail(q, st), DONE;
    }
    if ((*rows)->nrows != 1) {
        gc_respond_error(q, HTTP_NOT_FOUND, GC_E_USER_NOT_FOUND,
                         "No account with this mobile number", "mobile", NULL);
        return DONE;
    }
    return OK;
}

int gc_lockout_check(gc_req *q, const gc_rows *rows)
{
    int64_t since;
    if (!gc_cell(rows, 0, GC_AUTH_COL_LOCK_SINCE)) {
        return OK;
    }
    since = gc_cell_i64(rows, 0, GC_AUTH_COL_LOCK_SINCE);
    GCLOG(q, APLOG_NOTICE, "GC00040", "account %s is locked after repeated failures",
          gc_cell(rows, 0, GC_USER_COL_ID));
    gc_respond_retry(q, HTTP_TOO_MANY_REQUESTS, GC_E_TOO_MANY,
                     "Too many failed attempts, try again later",
                     since + q->cfg->auth_failure_window - q->now);
    return DONE;
}

gc_db_status gc_lockout_record_failure(gc_req *q, int64_t user_id)
{
    const char *args[4];
    args[0] = gc_sql_int(q, user_id);
    args[1] = gc_sql_int(q, q->now - q->cfg->auth_failure_window);
    args[2] = args[0];
    args[3] = gc_sql_int(q, q->now);
    return gc_db_exec(q, GC_SQL_FAILURE_INSERT, args, NULL);
}
