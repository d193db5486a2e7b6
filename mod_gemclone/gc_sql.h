/* Every SQL statement of the module, as labelled prepared statements
 * (apr_dbd placeholders: %s text, %lld bigint). Times are passed in from the
 * injectable clock as Unix seconds and come back as Unix seconds. */
#ifndef GC_SQL_H
#define GC_SQL_H

typedef enum {
    GC_SQL_PING = 0,
    GC_SQL_USER_INSERT,
    GC_SQL_USER_MOBILE_TAKEN,
    GC_SQL_USER_BY_MOBILE_AUTH,
    GC_SQL_USER_BY_ID_AUTH,
    GC_SQL_USER_FOR_TOKEN,
    GC_SQL_USER_SET_PASSWORD,
    GC_SQL_OTP_UPSERT,
    GC_SQL_OTP_SENT_AT,
    GC_SQL_OTP_DELETE_CODE,
    GC_SQL_OTP_CONSUME,
    GC_SQL_OTP_MISS,
    GC_SQL_OTP_STATE,
    GC_SQL_FAILURE_INSERT,
    GC_SQL_TOKEN_REVOKE,
    GC_SQL_REVOKED_PURGE,
    GC_SQL_ROOM_INSERT,
    GC_SQL_ROOM_LIST,
    GC_SQL_ROOM_GET,
    GC_SQL_ROOM_RENAME,
    GC_SQL_ROOM_DELETE,
    GC_SQL_MESSAGE_PAGE,
    GC_SQL_MESSAGE_GET,
    GC_SQL_MESSAGE_PAIR,
    GC_SQL_PROMPT_INSERT,
    GC_SQL_IDEMPOTENCY_LOOKUP,
    GC_SQL_IDEMPOTENCY_EXPIRE,
    GC_SQL_PROMPTS_IN_DAY,
    GC_SQL_USER_CUSTOMER,
    GC_SQL_USER_LINK_CUSTOMER,
    GC_SQL_USER_BY_CUSTOMER,
    GC_SQL_USER_BY_SUBSCRIPTION,
    GC_SQL_USER_EXISTS,
    GC_SQL_STRIPE_EVENT_SEEN,
    GC_SQL_STRIPE_EVENT_RECORD,
    GC_SQL_SUBSCRIPTION_APPLY,
    GC_SQL_SUBSCRIPTION_PAID,
    GC_SQL_SUBSCRIPTION_PAYMENT_FAILED,
    GC_SQL_USER_PRO_RECOMPUTE,
    GC_SQL_SUBSCRIPTION_LATEST,
    GC_SQL_REPLIES_PENDING,
    GC_SQL_COUNT
} gc_sql_id;

typedef struct {
    const char *label;     /* the prepared statement's name */
    const char *sql;
    int nargs;             /* counted from the placeholders at start-up */
    int retry_safe;        /* may run twice (reads, idempotent writes) */
} gc_sql_stmt;

/* The statement with this id. */
const gc_sql_stmt *gc_sql(gc_sql_id id);

/* Counts placeholders once at start-up. */
void gc_sql_init(void);

/* Column positions of the user projection shared by several statements.
 * PRO_UNTIL is Unix seconds as text, "Infinity", or NULL (see gc_user_tier). */
enum {
    GC_USER_COL_ID = 0, GC_USER_COL_MOBILE, GC_USER_COL_NAME, GC_USER_COL_PRO_UNTIL,
    GC_USER_COL_HAS_PASSWORD, GC_USER_COL_CREATED, GC_USER_COL_VERSION,
    GC_USER_NCOLS
};

/* Column positions of the chatroom projection. */
enum {
    GC_ROOM_COL_ID = 0, GC_ROOM_COL_NAME, GC_ROOM_COL_CREATED, GC_ROOM_COL_UPDATED,
    GC_ROOM_COL_LAST_MESSAGE, GC_ROOM_COL_COUNT,
    GC_ROOM_NCOLS
};

/* Column positions of the message projection. */
enum {
    GC_MSG_COL_ID = 0, GC_MSG_COL_ROOM, GC_MSG_COL_ROLE, GC_MSG_COL_CONTENT,
    GC_MSG_COL_STATUS, GC_MSG_COL_ERROR, GC_MSG_COL_CREATED, GC_MSG_COL_COMPLETED,
    GC_MSG_NCOLS
};

#endif
