/* POST /chatroom/:id/message: store the prompt and its pending reply, queue
 * the job, then wait for the reply or answer 202 at once.
 *
 * Order matters for "nothing accepted is ever lost": the prompt is charged,
 * then stored (the reply carries a sweeper lease), then queued. If queueing
 * fails the worker's sweeper queues the reply once its lease runs out. */
#include <inttypes.h>
#include <string.h>

#include "httpd.h"
#include "apr_atomic.h"
#include "apr_strings.h"
#include "http_protocol.h"

#include "gc_handlers.h"
#include "gc_chat_json.h"
#include "gc_db.h"
#include "gc_http.h"
#include "gc_input.h"
#include "gc_job.h"
#include "gc_json.h"
#include "gc_messages.h"
#include "gc_quota.h"
#include "gc_redis.h"
#include "gc_room_cache.h"
#include "gc_slots.h"
#include "gc_log.h"

#define IDEMPOTENCY_WINDOW 86400
#define IDEMPOTENCY_KEY_MAX 255

static const char *const NAMES_CONTENT[] = { "content", "message", "text", NULL };

typedef struct {
    int64_t user_message_id;
    int64_t reply_id;
} prompt_ids;

/* The Idempotency-Key header: absent (NULL, OK), valid (OK) or 400 (DONE). */
static int read_idempotency_key(gc_req *q, const char **key)
{
    const char *k = apr_table_get(q->r->headers_in, "Idempotency-Key");
    const char *c;
    *key = NULL;
    if (!k) {
        return OK;
    }
    for (c = k; *c; c++) {
        if (*c < 0x21 || *c > 0x7e) {
            break;
        }
    }
    if (*c || c == k || c - k > IDEMPOTENCY_KEY_MAX) {
        gc_fail_validation(q, "Idempotency-Key",
                           "Idempotency-Key must be 1 to 255 visible ASCII characters");
        return DONE;
    }
    *key = k;
    return OK;
}

/* 1 when Prefer asks for respond-async. */
static int prefers_async(request_rec *r)
{
    const char *p = apr_table_get(r->headers_in, "Prefer");
    return p && ap_strcasestr(p, "respond-async") != NULL;
}

/* Blocks until the worker signals the reply is final, or the wait ends.
 * No database connection is held meanwhile. */
static void wait_for_reply(gc_req *q, int64_t reply_id)
{
    const char *key = apr_psprintf(q->r->pool, GC_KEY_WAKE_FMT, reply_id);
    apr_time_t deadline = apr_time_now() + apr_time_from_sec(q->cfg->reply_wait);
    apr_interval_time_t left;
    redisReply *reply;

    gc_db_release(q);
    while ((left = deadline - apr_time_now()) > 0) {
        int secs = (int)((left + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC);
        reply = gc_redis_blocking(q, secs * 1000 + 2000, "BLPOP %s %d", key, secs);
        if (gc_redis_is_error(reply) || reply->type == REDIS_REPLY_NIL) {
            return;
        }
        if (reply->type == REDIS_REPLY_ARRAY) {
            /* Wake the next waiter on the same reply (an idempotent retry). */
            gc_redis_command(q, "RPUSH %s 1", key);
            gc_redis_command(q, "EXPIRE %s %d", key, GC_WAKE_TTL);
            return;
        }
    }
}

/* Answers with the prompt's current state: 200 done, 502 failed, 202 pending
 * (waiting first unless the client or the waiter cap says not to). */
static int respond_state(gc_req *q, int64_t room_id, const prompt_ids *ids, int may_wait)
{
    const char *args[2];
    gc_rows *rows = NULL;
    gc_db_status st;
    json_t *data;
    const char *status;

    args[0] = gc_sql_int(q, ids->user_message_id);
    args[1] = gc_sql_int(q, ids->reply_id);
    if ((st = gc_db_select(q, GC_SQL_MESSAGE_PAIR, args, &rows)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    if (rows->nrows != 2) {
        /* The room was deleted meanwhile. */
        return gc_room_not_found(q);
    }
    status = gc_cell(rows, 1, GC_MSG_COL_STATUS);
    if (strcmp(status, "pending") == 0 && may_wait && q->cfg->reply_wait > 0
        && !prefers_async(q->r)) {
        if (gc_slot_take(&gc_waiter_slots, q->cfg->max_waiters)) {
            wait_for_reply(q, ids->reply_id);
            gc_slot_give(&gc_waiter_slots);
            return respond_state(q, room_id, ids, 0);
        }
    }
    data = gc_json_own(q->r->pool, json_object());
    json_object_set_new(data, "user_message", gc_message_json(q, rows, 0));
    json_object_set_new(data, "reply", gc_message_json(q, rows, 1));
    if (strcmp(status, "done") == 0) {
        return gc_respond(q, HTTP_OK, "Reply received", data, NULL);
    }
    if (strcmp(status, "failed") == 0) {
        return gc_respond_error(q, HTTP_BAD_GATEWAY, GC_E_UPSTREAM,
                                "The model could not answer this prompt", NULL, data);
    }
    if (prefers_async(q->r)) {
        apr_table_setn(q->r->headers_out, "Preference-Applied", "respond-async");
    }
    apr_table_setn(q->r->headers_out, "Location",
                   apr_psprintf(q->r->pool, "/chatroom/%" APR_INT64_T_FMT "/messages/%"
                                APR_INT64_T_FMT, (apr_int64_t)room_id,
                                (apr_int64_t)ids->reply_id));
    return gc_respond(q, HTTP_ACCEPTED, "Reply pending", data, NULL);
}

/* Looks the key up. OK with *found set (0/1); DONE after a 409 or 503. */
static int find_by_key(gc_req *q, const char *key, int64_t room_id, const char *content,
                       prompt_ids *ids, int *found)
{
    const char *args[3];
    gc_rows *rows = NULL;
    gc_db_status st;

    *found = 0;
    args[0] = gc_sql_int(q, q->user->id);
    args[1] = key;
    args[2] = gc_sql_int(q, q->now - IDEMPOTENCY_WINDOW);
    if ((st = gc_db_select(q, GC_SQL_IDEMPOTENCY_LOOKUP, args, &rows)) != GC_DB_OK) {
        return gc_db_fail(q, st), DONE;
    }
    if (rows->nrows == 0) {
        return OK;
    }
    if (gc_cell_i64(rows, 0, 1) != room_id || strcmp(gc_cell(rows, 0, 2), content) != 0) {
        gc_quota quota;
        /* Like every answer once the room is found, the 409 carries the
         * rate-limit headers (when the count can be read; nothing is charged). */
        if (gc_quota_peek(q, &quota, 0) == OK) {
            gc_quota_headers(q, &quota);
        }
        gc_respond_error(q, HTTP_CONFLICT, GC_E_CONFLICT, "This Idempotency-Key was used "
                         "for another prompt", "Idempotency-Key", NULL);
        return DONE;
    }
    ids->user_message_id = gc_cell_i64(rows, 0, 0);
    ids->reply_id = gc_cell_i64(rows, 0, 3);
    *found = 1;
    return OK;
}

/* A retry with a known key: the original prompt, never charged again. */
static int replay(gc_req *q, int64_t room_id, const prompt_ids *ids)
{
    gc_quota quota;
    if (gc_quota_peek(q, &quota, 0) == OK) {
        gc_quota_headers(q, &quota);
    }
    GCLOG(q, APLOG_INFO, "GC00100", "idempotent replay of reply %" APR_INT64_T_FMT,
          (apr_int64_t)ids->reply_id);
    return respond_state(q, room_id, ids, 1);
}

/* Stores the prompt. OK with ids, or *taken when the key won a race. */
static gc_db_status store_prompt(gc_req *q, int64_t room_id, const char *content,
                                 const char *key, prompt_ids *ids, int *stored)
{
    const char *args[9];
    gc_rows *rows = NULL;
    gc_db_status st;

    args[0] = content;
    args[1] = gc_sql_int(q, q->now);
    args[2] = args[1];
    args[3] = key;
    args[4] = gc_sql_int(q, room_id);
    args[5] = gc_sql_int(q, q->user->id);
    args[6] = gc_sql_int(q, q->now + q->cfg->sweeper_grace);
    args[7] = args[1];
    args[8] = args[4];
    st = gc_db_select(q, GC_SQL_PROMPT_INSERT, args, &rows);
    *stored = st == GC_DB_OK && rows->nrows == 1;
    if (*stored) {
        ids->user_message_id = gc_cell_i64(rows, 0, 0);
        ids->reply_id = gc_cell_i64(rows, 0, 1);
    }
    return st;
}

/* Puts the job on the queue; a failure is logged and left to the sweeper. */
static void enqueue(gc_req *q, int64_t reply_id)
{
    redisReply *reply = gc_redis_command(q, "XADD %s * v %d reply_id %" PRId64
                                         " enqueued_at %" PRId64, GC_KEY_JOBS,
                                         GC_JOB_VERSION, reply_id, (int64_t)q->now);
    if (gc_redis_is_error(reply)) {
        GCLOG(q, APLOG_WARNING, "GC00101", "could not queue reply %" APR_INT64_T_FMT
              ": the sweeper will queue it after %d s", (apr_int64_t)reply_id,
              q->cfg->sweeper_grace);
    }
}

int gc_prompt_post(gc_req *q)
{
    const char *content, *key;
    int64_t room_id = q->ids[0];
    gc_rows *room = NULL;
    gc_db_status st;
    prompt_ids ids;
    gc_quota quota;
    int found = 0, stored = 0;

    if (gc_input_string(q, NAMES_CONTENT, GC_REQUIRED, GC_TRIM, 1,
                        (size_t)q->cfg->message_max_chars, &content) != OK
        || read_idempotency_key(q, &key) != OK) {
        return OK;
    }
    if ((st = gc_room_fetch(q, room_id, &room)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    if (room->nrows != 1) {
        return gc_room_not_found(q);
    }
    if (key && find_by_key(q, key, room_id, content, &ids, &found) != OK) {
        return OK;
    }
    if (found) {
        return replay(q, room_id, &ids);
    }
    if (gc_quota_charge(q, &quota) != OK) {
        return OK;
    }
    if (key) {
        const char *args[3] = { gc_sql_int(q, q->user->id), key, gc_sql_int(q, q->now - IDEMPOTENCY_WINDOW) };
        gc_db_exec(q, GC_SQL_IDEMPOTENCY_EXPIRE, args, NULL);
    }
    st = store_prompt(q, room_id, content, key, &ids, &stored);
    if (!stored) {
        /* Not stored, so not charged: a lost key race, a deleted room, or an outage. */
        gc_quota_refund(q, q->now);
        quota.used--;
        gc_quota_headers(q, &quota);
        if (st == GC_DB_ERROR && gc_room_fetch(q, room_id, &room) == GC_DB_OK
            && room->nrows == 0) {
            /* The room was deleted while the prompt was being stored. */
            return gc_room_not_found(q);
        }
        if (st != GC_DB_OK) {
            return gc_db_fail(q, st);
        }
        if (key && find_by_key(q, key, room_id, content, &ids, &found) != OK) {
            return OK;
        }
        return found ? replay(q, room_id, &ids) : gc_room_not_found(q);
    }
    gc_room_cache_drop(q);
    enqueue(q, ids.reply_id);
    GCLOG(q, APLOG_INFO, "GC00102", "prompt %" APR_INT64_T_FMT " stored, reply %"
          APR_INT64_T_FMT " queued", (apr_int64_t)ids.user_message_id,
          (apr_int64_t)ids.reply_id);
    return respond_state(q, room_id, &ids, 1);
}
