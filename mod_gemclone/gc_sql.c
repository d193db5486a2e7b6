/* All SQL of the module in one table. */
#include "httpd.h"
#include <ctype.h>

#include "gc_sql.h"

/* The user projection; its column order is GC_USER_COL_*. */
#define USER_COLS \
    "u.id, u.mobile, u.name, u.tier, (u.password_hash IS NOT NULL), " \
    "extract(epoch FROM u.created_at)::bigint, u.token_version"

/* The time of the (limit)th newest failure inside the window, or NULL while
 * fewer failures than the limit: when it leaves the window the account is
 * usable again. Arguments: window start, limit - 1. */
#define LOCK_SINCE \
    "(SELECT extract(epoch FROM f.failed_at)::bigint FROM auth_failures f " \
    " WHERE f.user_id = u.id AND f.failed_at > to_timestamp(%lld) " \
    " ORDER BY f.failed_at DESC OFFSET %lld LIMIT 1)"

static gc_sql_stmt STATEMENTS[GC_SQL_COUNT] = {
    [GC_SQL_PING] = { "gc_ping", "SELECT 1", 0, 1 },

    [GC_SQL_USER_INSERT] = { "gc_user_insert",
        "INSERT INTO users AS u (mobile, name, password_hash, created_at, updated_at) "
        "VALUES (%s, %s, %s, to_timestamp(%lld), to_timestamp(%lld)) "
        "ON CONFLICT (mobile) DO NOTHING RETURNING " USER_COLS, 0, 0 },

    /* Login, OTP and reset: the user, its hash and its lockout state. */
    [GC_SQL_USER_BY_MOBILE_AUTH] = { "gc_user_by_mobile_auth",
        "SELECT " USER_COLS ", u.password_hash, " LOCK_SINCE
        " FROM users u WHERE u.mobile = %s", 0, 1 },

    [GC_SQL_USER_BY_ID_AUTH] = { "gc_user_by_id_auth",
        "SELECT " USER_COLS ", u.password_hash, " LOCK_SINCE
        " FROM users u WHERE u.id = %lld", 0, 1 },

    /* Every authenticated request: the user and whether this jti is revoked. */
    [GC_SQL_USER_FOR_TOKEN] = { "gc_user_for_token",
        "SELECT " USER_COLS ", EXISTS (SELECT 1 FROM revoked_tokens t WHERE t.jti = %s) "
        "FROM users u WHERE u.id = %lld", 0, 1 },

    /* A new password kills every older token through the version. */
    [GC_SQL_USER_SET_PASSWORD] = { "gc_user_set_password",
        "UPDATE users SET password_hash = %s, token_version = token_version + 1, "
        "updated_at = to_timestamp(%lld) WHERE id = %lld RETURNING token_version", 0, 0 },

    /* A resend replaces the code, but only once the throttle allows: no row
     * comes back while the last send is too recent. */
    [GC_SQL_OTP_UPSERT] = { "gc_otp_upsert",
        "INSERT INTO otp_codes AS o (user_id, purpose, code_hash, sent_at, expires_at, "
        "attempts, consumed_at) VALUES (%lld, %s, %s, to_timestamp(%lld), "
        "to_timestamp(%lld), 0, NULL) ON CONFLICT (user_id, purpose) DO UPDATE SET "
        "code_hash = EXCLUDED.code_hash, sent_at = EXCLUDED.sent_at, "
        "expires_at = EXCLUDED.expires_at, attempts = 0, consumed_at = NULL "
        "WHERE o.sent_at <= to_timestamp(%lld) RETURNING 1", 0, 0 },

    [GC_SQL_OTP_SENT_AT] = { "gc_otp_sent_at",
        "SELECT extract(epoch FROM sent_at)::bigint FROM otp_codes "
        "WHERE user_id = %lld AND purpose = %s", 0, 1 },

    /* Undoes a send whose delivery failed, so the throttle does not block a retry. */
    [GC_SQL_OTP_DELETE_CODE] = { "gc_otp_delete_code",
        "DELETE FROM otp_codes WHERE user_id = %lld AND purpose = %s AND code_hash = %s",
        0, 1 },

    /* Single use under concurrency: only one UPDATE can flip consumed_at. */
    [GC_SQL_OTP_CONSUME] = { "gc_otp_consume",
        "UPDATE otp_codes SET consumed_at = to_timestamp(%lld) "
        "WHERE user_id = %lld AND purpose = %s AND code_hash = %s "
        "AND consumed_at IS NULL AND attempts < %lld AND expires_at > to_timestamp(%lld) "
        "RETURNING 1", 0, 0 },

    /* A wrong guess against a live code; no row when there is no live code. */
    [GC_SQL_OTP_MISS] = { "gc_otp_miss",
        "UPDATE otp_codes SET attempts = attempts + 1 "
        "WHERE user_id = %lld AND purpose = %s AND consumed_at IS NULL "
        "AND attempts < %lld AND expires_at > to_timestamp(%lld) RETURNING attempts", 0, 0 },

    [GC_SQL_OTP_STATE] = { "gc_otp_state",
        "SELECT attempts, (consumed_at IS NOT NULL), extract(epoch FROM expires_at)::bigint, "
        "extract(epoch FROM sent_at)::bigint FROM otp_codes "
        "WHERE user_id = %lld AND purpose = %s", 0, 1 },

    /* Records a failure and forgets this account's failures that left the window. */
    [GC_SQL_FAILURE_INSERT] = { "gc_failure_insert",
        "WITH purge AS (DELETE FROM auth_failures WHERE user_id = %lld "
        "AND failed_at <= to_timestamp(%lld)) "
        "INSERT INTO auth_failures (user_id, failed_at) VALUES (%lld, to_timestamp(%lld))",
        0, 0 },

    [GC_SQL_TOKEN_REVOKE] = { "gc_token_revoke",
        "INSERT INTO revoked_tokens (jti, user_id, expires_at) "
        "VALUES (%s, %lld, to_timestamp(%lld)) ON CONFLICT (jti) DO NOTHING", 0, 1 },

    /* Revocations past their token's expiry (and leeway) serve no purpose. */
    [GC_SQL_REVOKED_PURGE] = { "gc_revoked_purge",
        "DELETE FROM revoked_tokens WHERE jti IN (SELECT jti FROM revoked_tokens "
        "WHERE expires_at < to_timestamp(%lld) LIMIT 100)", 0, 1 },
};

const gc_sql_stmt *gc_sql(gc_sql_id id)
{
    return &STATEMENTS[id];
}

void gc_sql_init(void)
{
    int i;
    for (i = 0; i < GC_SQL_COUNT; i++) {
        const char *c;
        int n = 0;
        for (c = STATEMENTS[i].sql; *c; c++) {
            if (c[0] == '%' && isalpha((unsigned char)c[1])) {
                n++;
            }
        }
        STATEMENTS[i].nargs = n;
    }
}
