/* Password login and password change. The KDF never runs while a database
 * connection is held: look up, give the connection back, hash, borrow again. */
#include "httpd.h"
#include <string.h>

#include "apr_strings.h"
#include "http_protocol.h"

#include "gc_handlers.h"
#include "gc_db.h"
#include "gc_http.h"
#include "gc_input.h"
#include "gc_lockout.h"
#include "gc_kdf.h"
#include "gc_session.h"
#include "gc_log.h"

/* Longest password login will hash: a longer one can never have been set. */
#define LOGIN_PASSWORD_MAX 1024

/* Sends 401 INVALID_CREDENTIALS after counting the failure. */
static int wrong_password(gc_req *q, int64_t user_id, const char *field)
{
    gc_db_status st = gc_lockout_record_failure(q, user_id);
    if (st != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    return gc_respond_error(q, HTTP_UNAUTHORIZED, GC_E_INVALID_CREDS,
                            "Invalid mobile number or password", field, NULL);
}

/* POST /auth/login {mobile, password} -> {token, token_type, expires_in, user} */
int gc_auth_login(gc_req *q)
{
    const char *mobile, *password;
    gc_rows *rows = NULL;

    if (gc_input_mobile(q, &mobile) != OK
        || gc_input_string(q, GC_NAMES_PASSWORD, GC_REQUIRED, GC_KEEP, 1,
                           LOGIN_PASSWORD_MAX, &password) != OK) {
        return OK;
    }
    if (gc_lockout_find_account(q, mobile, &rows) != OK || gc_lockout_check(q, rows) != OK) {
        return OK;
    }
    gc_db_release(q);
    switch (gc_kdf_verify(q, password, gc_cell(rows, 0, GC_AUTH_COL_PASSWORD_HASH))) {
    case GC_KDF_MATCH:
        break;
    case GC_KDF_MISMATCH:
        return wrong_password(q, gc_cell_i64(rows, 0, GC_USER_COL_ID), NULL);
    default:
        return OK;
    }
    return gc_session_log_in(q, rows, "a password");
}

/* POST /auth/change-password {new_password, current_password?} -> a fresh token */
int gc_auth_change_password(gc_req *q)
{
    const char *fresh, *current, *hash, *user_id, *args[3];
    gc_rows *rows = NULL, *updated = NULL;
    gc_db_status st;
    json_t *data;

    if (gc_input_string(q, GC_NAMES_NEW_PASSWORD, GC_REQUIRED, GC_KEEP, GC_PASSWORD_MIN,
                        GC_PASSWORD_MAX, &fresh) != OK
        || gc_input_string(q, GC_NAMES_CURRENT_PASSWORD,
                           q->user->has_password ? GC_REQUIRED : GC_OPTIONAL, GC_KEEP, 1,
                           LOGIN_PASSWORD_MAX, &current) != OK) {
        return OK;
    }
    user_id = gc_sql_int(q, q->user->id);
    if ((st = gc_lockout_lookup(q, NULL, user_id, &rows)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    if (rows->nrows != 1) {
        return gc_respond_error(q, HTTP_UNAUTHORIZED, GC_E_INVALID_TOKEN, "Invalid token",
                                NULL, NULL);
    }
    if (gc_lockout_check(q, rows) != OK) {
        return OK;
    }
    gc_db_release(q);
    /* The fresh row decides: a password set since the token was checked
     * (a concurrent change) makes current_password required after all. */
    if (gc_cell(rows, 0, GC_AUTH_COL_PASSWORD_HASH)) {
        gc_kdf_result k = gc_kdf_verify(q, current, gc_cell(rows, 0, GC_AUTH_COL_PASSWORD_HASH));
        if (k == GC_KDF_MISMATCH) {
            return wrong_password(q, q->user->id, "current_password");
        }
        if (k != GC_KDF_MATCH) {
            return OK;
        }
    }
    if (gc_kdf_hash(q, fresh, &hash) != GC_KDF_MATCH) {
        return OK;
    }
    args[0] = hash;
    args[1] = gc_sql_int(q, q->now);
    args[2] = user_id;
    if ((st = gc_db_select(q, GC_SQL_USER_SET_PASSWORD, args, &updated)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    /* The fresh token carries the new version; every older token is dead. */
    rows->cells[GC_USER_COL_VERSION] = gc_cell(updated, 0, 0);
    rows->cells[GC_USER_COL_HAS_PASSWORD] = "t";
    if (!(data = gc_session_issue(q, rows))) {
        return gc_fail_internal(q, "token signing failed");
    }
    GCLOG(q, APLOG_INFO, "GC00071", "user %s changed the password", user_id);
    return gc_respond(q, HTTP_OK, "Password changed", data, NULL);
}
