/* All SQL of the module in one table. */
#include "httpd.h"
#include <ctype.h>

#include "gc_sql.h"

/* The user projection; its column order is GC_USER_COL_*. */
#define USER_COLS \
    "u.id, u.mobile, u.name, extract(epoch FROM u.pro_until), (u.password_hash IS NOT NULL), " \
    "extract(epoch FROM u.created_at)::bigint, u.token_version"

/* The time of the (limit)th newest failure inside the window, or NULL while
 * fewer failures than the limit: when it leaves the window the account is
 * usable again. Arguments: window start, limit - 1. */
#define LOCK_SINCE \
    "(SELECT extract(epoch FROM f.failed_at)::bigint FROM auth_failures f " \
    " WHERE f.user_id = u.id AND f.failed_at > to_timestamp(%lld) " \
    " ORDER BY f.failed_at DESC OFFSET %lld LIMIT 1)"

#define ROOM_COLS \
    "c.id, c.name, extract(epoch FROM c.created_at)::bigint, " \
    "extract(epoch FROM c.updated_at)::bigint, " \
    "extract(epoch FROM c.last_message_at)::bigint, c.message_count"

#define MSG_COLS \
    "m.id, m.chatroom_id, m.role, m.content, m.status, m.error, " \
    "extract(epoch FROM m.created_at)::bigint, extract(epoch FROM m.completed_at)::bigint"

static gc_sql_stmt STATEMENTS[GC_SQL_COUNT] = {
    [GC_SQL_PING] = { "gc_ping", "SELECT 1", 0, 1 },

    [GC_SQL_USER_INSERT] = { "gc_user_insert",
        "INSERT INTO users AS u (mobile, name, password_hash, created_at, updated_at) "
        "VALUES (%s, %s, %s, to_timestamp(%lld), to_timestamp(%lld)) "
        "ON CONFLICT (mobile) DO NOTHING RETURNING " USER_COLS, 0, 0 },

    [GC_SQL_USER_MOBILE_TAKEN] = { "gc_user_mobile_taken",
        "SELECT 1 FROM users WHERE mobile = %s", 0, 1 },

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

    [GC_SQL_ROOM_INSERT] = { "gc_room_insert",
        "INSERT INTO chatrooms AS c (user_id, name, created_at, updated_at) "
        "VALUES (%lld, %s, to_timestamp(%lld), to_timestamp(%lld)) RETURNING " ROOM_COLS,
        0, 0 },

    /* Newest activity first; the expression matches chatrooms_user_activity. */
    [GC_SQL_ROOM_LIST] = { "gc_room_list",
        "SELECT " ROOM_COLS " FROM chatrooms c WHERE c.user_id = %lld "
        "ORDER BY coalesce(c.last_message_at, c.created_at) DESC, c.id DESC", 0, 1 },

    /* Ownership lives in the WHERE clause: another user's room is absent. */
    [GC_SQL_ROOM_GET] = { "gc_room_get",
        "SELECT " ROOM_COLS " FROM chatrooms c WHERE c.id = %lld AND c.user_id = %lld",
        0, 1 },

    [GC_SQL_ROOM_RENAME] = { "gc_room_rename",
        "UPDATE chatrooms c SET name = %s, updated_at = to_timestamp(%lld) "
        "WHERE c.id = %lld AND c.user_id = %lld RETURNING " ROOM_COLS, 0, 1 },

    [GC_SQL_ROOM_DELETE] = { "gc_room_delete",
        "DELETE FROM chatrooms WHERE id = %lld AND user_id = %lld", 0, 1 },

    /* The newest (limit + 1) messages below an id; the extra row tells
     * whether older ones remain. Caller checked the room is the user's. */
    [GC_SQL_MESSAGE_PAGE] = { "gc_message_page",
        "SELECT " MSG_COLS " FROM messages m WHERE m.chatroom_id = %lld AND m.id < %lld "
        "ORDER BY m.id DESC LIMIT %lld", 0, 1 },

    [GC_SQL_MESSAGE_GET] = { "gc_message_get",
        "SELECT " MSG_COLS " FROM messages m JOIN chatrooms c ON c.id = m.chatroom_id "
        "WHERE m.id = %lld AND m.chatroom_id = %lld AND c.user_id = %lld", 0, 1 },

    [GC_SQL_MESSAGE_PAIR] = { "gc_message_pair",
        "SELECT " MSG_COLS " FROM messages m WHERE m.id IN (%lld, %lld) ORDER BY m.id",
        0, 1 },

    /* One statement stores a prompt: the user message (unless its
     * Idempotency-Key is taken), the pending reply with its sweeper lease,
     * and the room's counters. No row back: key taken or room gone.
     * Arguments: content, now, now, key, room, user, lease_until, now, room. */
    [GC_SQL_PROMPT_INSERT] = { "gc_prompt_insert",
        "WITH um AS ("
        " INSERT INTO messages (chatroom_id, user_id, role, content, status, created_at,"
        "  completed_at, idempotency_key)"
        " SELECT c.id, c.user_id, 'user', %s, 'done', to_timestamp(%lld), to_timestamp(%lld), %s"
        " FROM chatrooms c WHERE c.id = %lld AND c.user_id = %lld"
        " ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"
        " RETURNING id, chatroom_id, user_id, created_at), "
        "mm AS ("
        " INSERT INTO messages (chatroom_id, user_id, role, status, created_at, reply_to,"
        "  lease_until)"
        " SELECT chatroom_id, user_id, 'model', 'pending', created_at, id, to_timestamp(%lld)"
        " FROM um RETURNING id), "
        "rc AS ("
        " UPDATE chatrooms SET message_count = message_count + 2,"
        "  last_message_at = to_timestamp(%lld)"
        " WHERE id = %lld AND EXISTS (SELECT 1 FROM um)) "
        "SELECT um.id, mm.id FROM um, mm", 0, 0 },

    /* A live key (younger than 24 h): the prompt it made and its reply. */
    [GC_SQL_IDEMPOTENCY_LOOKUP] = { "gc_idempotency_lookup",
        "SELECT um.id, um.chatroom_id, um.content, mm.id FROM messages um "
        "JOIN messages mm ON mm.reply_to = um.id "
        "WHERE um.user_id = %lld AND um.idempotency_key = %s "
        "AND um.created_at > to_timestamp(%lld)", 0, 1 },

    /* A key older than 24 h may be used again. */
    [GC_SQL_IDEMPOTENCY_EXPIRE] = { "gc_idempotency_expire",
        "UPDATE messages SET idempotency_key = NULL WHERE user_id = %lld "
        "AND idempotency_key = %s AND created_at <= to_timestamp(%lld)", 0, 1 },

    /* Accepted, unrefunded prompts of a UTC day (rebuilds the Redis count). */
    [GC_SQL_PROMPTS_IN_DAY] = { "gc_prompts_in_day",
        "SELECT count(*) FROM messages WHERE user_id = %lld AND role = 'model' "
        "AND NOT refunded AND created_at >= to_timestamp(%lld) "
        "AND created_at < to_timestamp(%lld)", 0, 1 },

    [GC_SQL_USER_CUSTOMER] = { "gc_user_customer",
        "SELECT stripe_customer_id FROM users WHERE id = %lld", 0, 1 },

    [GC_SQL_USER_LINK_CUSTOMER] = { "gc_user_link_customer",
        "UPDATE users SET stripe_customer_id = %s WHERE id = %lld "
        "AND stripe_customer_id IS DISTINCT FROM %s", 0, 1 },

    [GC_SQL_USER_BY_CUSTOMER] = { "gc_user_by_customer",
        "SELECT id FROM users WHERE stripe_customer_id = %s", 0, 1 },

    [GC_SQL_USER_BY_SUBSCRIPTION] = { "gc_user_by_subscription",
        "SELECT user_id FROM subscriptions WHERE id = %s", 0, 1 },

    [GC_SQL_USER_EXISTS] = { "gc_user_exists",
        "SELECT id FROM users WHERE id = %lld", 0, 1 },

    [GC_SQL_STRIPE_EVENT_SEEN] = { "gc_stripe_event_seen",
        "SELECT 1 FROM stripe_events WHERE id = %s", 0, 1 },

    [GC_SQL_STRIPE_EVENT_RECORD] = { "gc_stripe_event_record",
        "INSERT INTO stripe_events (id, type, event_created, received_at) "
        "VALUES (%s, %s, %lld, to_timestamp(%lld)) ON CONFLICT (id) DO NOTHING", 0, 1 },

    /* A subscription's state from an event, unless a newer event was applied
     * already (ties: gc_subscription_rank). NULL period end or cancel flag
     * keep what is stored; a subscription first seen past_due starts its
     * grace at the event. Arguments: id, user, customer, status, period end,
     * cancel_at_period_end, event created, now. */
    [GC_SQL_SUBSCRIPTION_APPLY] = { "gc_subscription_apply",
        "INSERT INTO subscriptions AS s (id, user_id, customer_id, status, current_period_end,"
        " cancel_at_period_end, past_due_since, event_created, created_at, updated_at) "
        "SELECT v.id, v.user_id, v.customer, v.status, v.period_end, v.cancel,"
        " CASE WHEN v.status = 'past_due' THEN to_timestamp(v.created) END,"
        " v.created, v.now, v.now "
        "FROM (VALUES (%s, %lld, %s, %s, to_timestamp(%lld), %s::boolean, %lld,"
        " to_timestamp(%lld))) AS v (id, user_id, customer, status, period_end, cancel,"
        " created, now) "
        "ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status,"
        " customer_id = coalesce(EXCLUDED.customer_id, s.customer_id),"
        " current_period_end = coalesce(EXCLUDED.current_period_end, s.current_period_end),"
        " cancel_at_period_end = coalesce(EXCLUDED.cancel_at_period_end, s.cancel_at_period_end),"
        " past_due_since = CASE WHEN EXCLUDED.status = 'past_due'"
        "   THEN coalesce(s.past_due_since, to_timestamp(EXCLUDED.event_created))"
        "   WHEN EXCLUDED.status IN ('active', 'trialing') THEN NULL ELSE s.past_due_since END,"
        " event_created = EXCLUDED.event_created, updated_at = EXCLUDED.updated_at "
        "WHERE s.event_created < EXCLUDED.event_created OR (s.event_created = EXCLUDED.event_created"
        " AND gc_subscription_rank(EXCLUDED.status) >= gc_subscription_rank(s.status)) "
        "RETURNING user_id", 0, 1 },

    /* invoice.paid: active again, unless the subscription already ended. */
    [GC_SQL_SUBSCRIPTION_PAID] = { "gc_subscription_paid",
        "UPDATE subscriptions SET status = 'active', past_due_since = NULL,"
        " event_created = %lld, updated_at = to_timestamp(%lld) "
        "WHERE id = %s AND status NOT IN ('canceled', 'incomplete_expired')"
        " AND event_created <= %lld RETURNING user_id", 0, 1 },

    /* invoice.payment_failed: past_due only for a subscription that was paid
     * (active or trialing); a failed first payment stays incomplete. */
    [GC_SQL_SUBSCRIPTION_PAYMENT_FAILED] = { "gc_subscription_payment_failed",
        "UPDATE subscriptions SET status = 'past_due',"
        " past_due_since = coalesce(past_due_since, to_timestamp(%lld)),"
        " event_created = %lld, updated_at = to_timestamp(%lld) "
        "WHERE id = %s AND status IN ('active', 'trialing', 'past_due')"
        " AND event_created <= %lld RETURNING user_id", 0, 1 },

    /* Pro until: for ever while active or trialing, to the end of the grace
     * while past_due. Arguments: grace seconds, user. */
    [GC_SQL_USER_PRO_RECOMPUTE] = { "gc_user_pro_recompute",
        "UPDATE users u SET pro_until = (SELECT max(CASE"
        " WHEN s.status IN ('active', 'trialing') THEN 'infinity'::timestamptz"
        " WHEN s.status = 'past_due' AND s.past_due_since IS NOT NULL"
        "  THEN s.past_due_since + make_interval(secs => %lld) END)"
        " FROM subscriptions s WHERE s.user_id = u.id) WHERE u.id = %lld", 0, 1 },

    /* The most recently changed subscription; within one second (the
     * clock's resolution) one that still counts for the tier wins, so a
     * resubscription is not hidden behind the cancellation before it. */
    /* Served by the partial index messages_pending_lease. */
    [GC_SQL_REPLIES_PENDING] = { "gc_replies_pending",
        "SELECT count(*) FROM messages WHERE status = 'pending' AND role = 'model'", 0, 1 },

    [GC_SQL_SUBSCRIPTION_LATEST] = { "gc_subscription_latest",
        "SELECT status, extract(epoch FROM current_period_end)::bigint,"
        " coalesce(cancel_at_period_end, false) FROM subscriptions WHERE user_id = %lld "
        "ORDER BY updated_at DESC, (status IN ('active', 'trialing', 'past_due')) DESC,"
        " event_created DESC, created_at DESC, id LIMIT 1", 0, 1 },
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
