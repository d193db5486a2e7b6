/* Issuing and consuming one-time codes. */
#include "httpd.h"
#include "apr_strings.h"
#include "http_protocol.h"

#include "gc_otp_store.h"
#include "gc_otp_delivery.h"
#include "gc_otp.h"
#include "gc_db.h"
#include "gc_http.h"
#include "gc_input.h"
#include "gc_json.h"
#include "gc_lockout.h"
#include "gc_log.h"


static const char *code_hash(gc_req *q, const char *mobile, const char *purpose,
                             const char *code)
{
    return gc_otp_hash(q->r->pool, q->cfg->otp_pepper, sizeof(q->cfg->otp_pepper),
                       mobile, purpose, code);
}

/* 429 OTP_THROTTLED with the seconds left until a resend is allowed. */
static int throttled(gc_req *q, const char *user_id, const char *purpose)
{
    const char *args[2] = { user_id, purpose };
    gc_rows *rows = NULL;
    gc_db_status st = gc_db_select(q, GC_SQL_OTP_SENT_AT, args, &rows);
    int64_t wait = q->cfg->otp_resend_interval;
    if (st != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    if (rows->nrows == 1) {
        wait = gc_cell_i64(rows, 0, 0) + q->cfg->otp_resend_interval - q->now;
    }
    return gc_respond_retry(q, HTTP_TOO_MANY_REQUESTS, GC_E_OTP_THROTTLED,
                            "An OTP was sent recently, please wait before asking again",
                            wait > 0 ? wait : 1);
}

int gc_otp_send(gc_req *q, const char *purpose)
{
    const char *mobile, *code, *hash, *user_id, *args[6];
    gc_rows *rows = NULL;
    gc_db_status st;
    json_t *data;

    if (gc_input_mobile(q, &mobile) != OK) {
        return OK;
    }
    if (gc_lockout_find_account(q, mobile, &rows) != OK) {
        return OK;
    }
    user_id = gc_cell(rows, 0, GC_USER_COL_ID);
    code = gc_otp_generate(q->r->pool);
    if (!code) {
        return gc_fail_internal(q, "CSPRNG failure");
    }
    hash = code_hash(q, mobile, purpose, code);

    args[0] = user_id;
    args[1] = purpose;
    args[2] = hash;
    args[3] = gc_sql_int(q, q->now);
    args[4] = gc_sql_int(q, q->now + q->cfg->otp_ttl);
    args[5] = gc_sql_int(q, q->now - q->cfg->otp_resend_interval);
    if ((st = gc_db_select(q, GC_SQL_OTP_UPSERT, args, &rows)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    if (rows->nrows == 0) {
        return throttled(q, user_id, purpose);
    }

    data = gc_json_own(q->r->pool, json_object());
    if (q->cfg->otp_delivery_url) {
        /* No connection is held while the gateway answers. */
        gc_db_release(q);
        if (gc_otp_deliver(q, mobile, code, purpose) != 0) {
            args[2] = hash;
            gc_db_exec(q, GC_SQL_OTP_DELETE_CODE, args, NULL);
            return gc_respond_error(q, HTTP_BAD_GATEWAY, GC_E_UPSTREAM,
                                    "The OTP could not be delivered, please retry",
                                    NULL, NULL);
        }
    }
    else {
        json_object_set_new(data, "otp", json_string(code));
    }
    json_object_set_new(data, "expires_in", json_integer(q->cfg->otp_ttl));
    return gc_respond(q, HTTP_OK, q->cfg->otp_delivery_url ? "OTP sent" : "OTP generated",
                      data, NULL);
}

/* Why a code did not match: sends the answer and returns DONE. */
static int explain_miss(gc_req *q, int64_t user_id, const char *purpose)
{
    const char *args[4];
    gc_rows *rows = NULL;
    gc_db_status st;

    args[0] = gc_sql_int(q, user_id);
    args[1] = purpose;
    args[2] = gc_sql_int(q, q->cfg->otp_max_attempts);
    args[3] = gc_sql_int(q, q->now);
    /* A wrong guess at a live code counts against it and the account. */
    if ((st = gc_db_select(q, GC_SQL_OTP_MISS, args, &rows)) != GC_DB_OK) {
        return gc_db_fail(q, st), DONE;
    }
    if (rows->nrows == 0) {
        if ((st = gc_db_select(q, GC_SQL_OTP_STATE, args, &rows)) != GC_DB_OK) {
            return gc_db_fail(q, st), DONE;
        }
        if (rows->nrows == 1 && !gc_cell_bool(rows, 0, 1)) {
            if (gc_cell_i64(rows, 0, 0) >= q->cfg->otp_max_attempts) {
                int64_t resend_at = gc_cell_i64(rows, 0, 3) + q->cfg->otp_resend_interval;
                gc_respond_retry(q, HTTP_TOO_MANY_REQUESTS, GC_E_TOO_MANY,
                                 "Too many wrong codes: request a new OTP",
                                 resend_at - q->now);
                return DONE;
            }
            if (gc_cell_i64(rows, 0, 2) <= q->now) {
                gc_respond_error(q, HTTP_BAD_REQUEST, GC_E_OTP_EXPIRED,
                                 "The OTP has expired: request a new one", "otp", NULL);
                return DONE;
            }
        }
    }
    if ((st = gc_lockout_record_failure(q, user_id)) != GC_DB_OK) {
        return gc_db_fail(q, st), DONE;
    }
    gc_respond_error(q, HTTP_BAD_REQUEST, GC_E_INVALID_OTP, "Invalid OTP", "otp", NULL);
    return DONE;
}

int gc_otp_consume(gc_req *q, int64_t user_id, const char *mobile, const char *purpose,
                   const char *code)
{
    const char *args[6];
    gc_rows *rows = NULL;
    gc_db_status st;

    args[0] = gc_sql_int(q, q->now);
    args[1] = gc_sql_int(q, user_id);
    args[2] = purpose;
    args[3] = code_hash(q, mobile, purpose, code);
    args[4] = gc_sql_int(q, q->cfg->otp_max_attempts);
    args[5] = args[0];
    if ((st = gc_db_select(q, GC_SQL_OTP_CONSUME, args, &rows)) != GC_DB_OK) {
        gc_db_fail(q, st);
        return DONE;
    }
    if (rows->nrows == 1) {
        return OK;
    }
    return explain_miss(q, user_id, purpose);
}
