/* Auth endpoints built on one-time codes: signup, OTP login, password
 * reset, logout. */
#include "httpd.h"
#include "apr_strings.h"
#include "http_protocol.h"

#include "gc_handlers.h"
#include "gc_db.h"
#include "gc_http.h"
#include "gc_input.h"
#include "gc_json.h"
#include "gc_lockout.h"
#include "gc_otp_store.h"
#include "gc_kdf.h"
#include "gc_session.h"
#include "gc_log.h"

#define NAME_MAX_POINTS 100

static int mobile_taken(gc_req *q)
{
    return gc_respond_error(q, HTTP_CONFLICT, GC_E_CONFLICT,
                            "This mobile number is already registered", "mobile", NULL);
}

/* POST /auth/signup {mobile, name?, password?} -> 201 user */
int gc_auth_signup(gc_req *q)
{
    const char *mobile, *name, *password, *hash = NULL, *args[5];
    gc_rows *rows = NULL;
    gc_db_status st;

    if (gc_input_mobile(q, &mobile) != OK
        || gc_input_string(q, GC_NAMES_NAME, GC_OPTIONAL, GC_TRIM, 1, NAME_MAX_POINTS,
                           &name) != OK
        || gc_input_string(q, GC_NAMES_PASSWORD, GC_OPTIONAL, GC_KEEP, GC_PASSWORD_MIN,
                           GC_PASSWORD_MAX, &password) != OK) {
        return OK;
    }
    if (password) {
        /* A taken mobile is refused before the costly hash, which then runs
         * with no connection held. */
        args[0] = mobile;
        if ((st = gc_db_select(q, GC_SQL_USER_MOBILE_TAKEN, args, &rows)) != GC_DB_OK) {
            return gc_db_fail(q, st);
        }
        if (rows->nrows > 0) {
            return mobile_taken(q);
        }
        gc_db_release(q);
        if (gc_kdf_hash(q, password, &hash) != GC_KDF_MATCH) {
            return OK;
        }
    }
    args[0] = mobile;
    args[1] = name;
    args[2] = hash;
    args[3] = gc_sql_int(q, q->now);
    args[4] = args[3];
    if ((st = gc_db_select(q, GC_SQL_USER_INSERT, args, &rows)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    if (rows->nrows != 1) {
        return mobile_taken(q);
    }
    GCLOG(q, APLOG_INFO, "GC00060", "user %s signed up", gc_cell(rows, 0, GC_USER_COL_ID));
    return gc_respond(q, HTTP_CREATED, "Signed up", gc_user_json(q, rows, 0), NULL);
}

/* POST /auth/send-otp {mobile} -> {otp?, expires_in} */
int gc_auth_send_otp(gc_req *q)
{
    return gc_otp_send(q, GC_OTP_PURPOSE_LOGIN);
}

/* POST /auth/forgot-password {mobile} -> {otp?, expires_in} (a reset code) */
int gc_auth_forgot_password(gc_req *q)
{
    return gc_otp_send(q, GC_OTP_PURPOSE_RESET);
}

/* Looks up mobile for an OTP check: DONE with INVALID_OTP for an unknown
 * mobile (no account, so no failure to count), 429 when locked. */
static int lookup_for_otp(gc_req *q, const char *mobile, gc_rows **rows)
{
    gc_db_status st = gc_lockout_lookup(q, mobile, NULL, rows);
    if (st != GC_DB_OK) {
        return gc_db_fail(q, st), DONE;
    }
    if ((*rows)->nrows != 1) {
        gc_respond_error(q, HTTP_BAD_REQUEST, GC_E_INVALID_OTP, "Invalid OTP", "otp", NULL);
        return DONE;
    }
    return gc_lockout_check(q, *rows);
}

/* POST /auth/verify-otp {mobile, otp} -> {token, token_type, expires_in, user} */
int gc_auth_verify_otp(gc_req *q)
{
    const char *mobile, *otp;
    gc_rows *rows = NULL;

    if (gc_input_mobile(q, &mobile) != OK || gc_input_otp(q, &otp) != OK
        || lookup_for_otp(q, mobile, &rows) != OK
        || gc_otp_consume(q, gc_cell_i64(rows, 0, GC_USER_COL_ID), mobile,
                          GC_OTP_PURPOSE_LOGIN, otp) != OK) {
        return OK;
    }
    return gc_session_log_in(q, rows, "an OTP");
}

/* POST /auth/reset-password {mobile, otp, new_password} -> 200 */
int gc_auth_reset_password(gc_req *q)
{
    const char *mobile, *otp, *password, *hash, *args[3];
    gc_rows *rows = NULL;
    gc_db_status st;
    const char *user_id;

    if (gc_input_mobile(q, &mobile) != OK || gc_input_otp(q, &otp) != OK
        || gc_input_string(q, GC_NAMES_NEW_PASSWORD, GC_REQUIRED, GC_KEEP, GC_PASSWORD_MIN,
                           GC_PASSWORD_MAX, &password) != OK
        || lookup_for_otp(q, mobile, &rows) != OK) {
        return OK;
    }
    user_id = gc_cell(rows, 0, GC_USER_COL_ID);
    /* The code is spent before the costly hash, so guesses stay cheap to refuse. */
    if (gc_otp_consume(q, gc_cell_i64(rows, 0, GC_USER_COL_ID), mobile,
                       GC_OTP_PURPOSE_RESET, otp) != OK) {
        return OK;
    }
    gc_db_release(q);
    if (gc_kdf_hash(q, password, &hash) != GC_KDF_MATCH) {
        return OK;
    }
    args[0] = hash;
    args[1] = gc_sql_int(q, q->now);
    args[2] = user_id;
    if ((st = gc_db_select(q, GC_SQL_USER_SET_PASSWORD, args, &rows)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    GCLOG(q, APLOG_INFO, "GC00062", "user %s reset the password", user_id);
    return gc_respond(q, HTTP_OK, "Password has been reset", NULL, NULL);
}

/* POST /auth/logout -> 200, data null; this token is refused from now on. */
int gc_auth_logout(gc_req *q)
{
    const char *args[3];
    gc_db_status st;

    args[0] = q->user->jti;
    args[1] = gc_sql_int(q, q->user->id);
    args[2] = gc_sql_int(q, q->user->token_exp + GC_TOKEN_LEEWAY);
    if ((st = gc_db_exec(q, GC_SQL_TOKEN_REVOKE, args, NULL)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    /* Housekeeping: revocations of tokens that expired anyway. */
    args[0] = gc_sql_int(q, q->now);
    gc_db_exec(q, GC_SQL_REVOKED_PURGE, args, NULL);
    GCLOG(q, APLOG_INFO, "GC00063", "user %" APR_INT64_T_FMT " logged out",
          (apr_int64_t)q->user->id);
    return gc_respond(q, HTTP_OK, "Logged out", NULL, NULL);
}
