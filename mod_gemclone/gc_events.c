/* The event stream of a reply (Accept: text/event-stream): the pieces the
 * worker publishes to the reply's Redis Stream as `delta` events, `reset`
 * when a generation starts over, and a final `message` event carrying the
 * row from PostgreSQL, which is authoritative. Reading the stream from id 0
 * means a client that connects late still gets every piece.
 *
 * A stream holds a thread and a Redis connection, so streams share the
 * waiter cap with waiting POSTs, last at most MAX_STREAM_SECONDS, and keep
 * per-event memory in a pool cleared at every turn of the loop. */
#include <inttypes.h>
#include <string.h>

#include "httpd.h"
#include "apr_strings.h"
#include "http_protocol.h"

#include "gc_messages.h"
#include "gc_chat_json.h"
#include "gc_db.h"
#include "gc_http.h"
#include "gc_job.h"
#include "gc_json.h"
#include "gc_redis.h"
#include "gc_slots.h"
#include "gc_log.h"

#define EVENTS_PER_READ 100
#define MAX_STREAM_SECONDS 600
#define STREAM_ID_MAX 64

/* Writes one SSE frame and flushes it. -1 when the client has gone. */
static int send_frame(request_rec *r, const char *frame)
{
    if (ap_rputs(frame, r) < 0 || ap_rflush(r) < 0 || r->connection->aborted) {
        return -1;
    }
    return 0;
}

static int send_event(request_rec *r, apr_pool_t *p, const char *name, json_t *data)
{
    const char *text = gc_json_dump(p, data, NULL);
    return send_frame(r, apr_pstrcat(p, "event: ", name, "\ndata: ", text, "\n\n", NULL));
}

/* Reads the row; 1 when it is final (done/failed) or gone, after sending
 * the final event when it exists (or when force is set). */
static int send_final_if_done(gc_req *q, apr_pool_t *p, int64_t room_id, int64_t message_id,
                              int force)
{
    gc_rows *rows = NULL;
    gc_db_status st = gc_message_fetch(q, room_id, message_id, &rows);
    int final;

    gc_db_release(q);
    if (st != GC_DB_OK) {
        return 0;
    }
    if (rows->nrows != 1) {
        return 1;
    }
    final = strcmp(gc_cell(rows, 0, GC_MSG_COL_STATUS), "pending") != 0;
    if (final || force) {
        send_event(q->r, p, "message", gc_json_own(p, gc_message_json(q, rows, 0)));
    }
    return final;
}

/* Sends the events of one XREAD reply; updates last_id. Returns 1 when the
 * stream is over (final sent or client gone), else 0. */
static int relay(gc_req *q, apr_pool_t *p, const redisReply *reply, int64_t room_id,
                 int64_t message_id, char last_id[STREAM_ID_MAX])
{
    const redisReply *entries;
    size_t i, f;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1
        || reply->element[0]->elements < 2) {
        return 0;
    }
    entries = reply->element[0]->element[1];
    for (i = 0; i < entries->elements; i++) {
        const redisReply *entry = entries->element[i], *fields;
        const char *type = NULL, *text = NULL;
        if (entry->elements < 2) {
            continue;
        }
        apr_cpystrn(last_id, entry->element[0]->str, STREAM_ID_MAX);
        fields = entry->element[1];
        for (f = 0; f + 1 < fields->elements; f += 2) {
            if (strcmp(fields->element[f]->str, "type") == 0) {
                type = fields->element[f + 1]->str;
            }
            else if (strcmp(fields->element[f]->str, "text") == 0) {
                text = fields->element[f + 1]->str;
            }
        }
        if (!type) {
            continue;
        }
        if (strcmp(type, "delta") == 0 && text) {
            json_t *d = gc_json_own(p, json_object());
            json_object_set_new(d, "text", json_string(text));
            if (send_event(q->r, p, "delta", d) != 0) {
                return 1;
            }
        }
        else if (strcmp(type, "reset") == 0) {
            if (send_event(q->r, p, "reset", gc_json_own(p, json_object())) != 0) {
                return 1;
            }
        }
        else if (strcmp(type, "final") == 0) {
            send_final_if_done(q, p, room_id, message_id, 1);
            return 1;
        }
    }
    return 0;
}

/* The loop: relay events until the final one, the client leaves or the
 * stream has lasted long enough (the client may then reconnect). */
static void stream_events(gc_req *q, apr_pool_t *turn, int64_t room_id, int64_t message_id)
{
    const char *key = apr_psprintf(q->r->pool, GC_KEY_EVENTS_FMT, message_id);
    char last_id[STREAM_ID_MAX] = "0";
    int block_ms = q->cfg->sse_keepalive * 1000;
    apr_time_t until = apr_time_now() + apr_time_from_sec(MAX_STREAM_SECONDS);

    while (apr_time_now() < until) {
        redisReply *reply;
        int over = 0;

        apr_pool_clear(turn);
        reply = gc_redis_blocking(q, block_ms + 2000, "XREAD COUNT %d BLOCK %d STREAMS %s %s",
                                  EVENTS_PER_READ, block_ms, key, last_id);
        if (!gc_redis_is_error(reply) && reply->type == REDIS_REPLY_ARRAY) {
            over = relay(q, turn, reply, room_id, message_id, last_id);
            gc_redis_free(q, reply);
            if (over) {
                return;
            }
            continue;
        }
        if (gc_redis_is_error(reply)) {
            /* Without Redis there are no pieces; the row still tells the end. */
            apr_sleep(apr_time_from_msec(block_ms));
        }
        gc_redis_free(q, reply);
        /* Quiet for a while: keep the connection alive and look at the row,
         * in case the final event was lost with Redis's data. */
        if (send_frame(q->r, ": keep-alive\n\n") != 0
            || send_final_if_done(q, turn, room_id, message_id, 0)) {
            return;
        }
    }
    GCLOG(q, APLOG_INFO, "GC00131", "event stream of message %" APR_INT64_T_FMT
          " ended after %d s; the client may reconnect", (apr_int64_t)message_id,
          MAX_STREAM_SECONDS);
}

int gc_events_stream(gc_req *q, int64_t room_id, int64_t message_id)
{
    request_rec *r = q->r;
    apr_pool_t *turn;

    if (!gc_slot_take(&gc_waiter_slots, q->cfg->max_waiters)) {
        return gc_respond_retry(q, HTTP_SERVICE_UNAVAILABLE, GC_E_UNAVAILABLE,
                                "Too many open event streams, please retry or poll", 1);
    }
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/event-stream; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    apr_table_setn(r->headers_out, "X-Accel-Buffering", "no");
    apr_pool_create(&turn, r->pool);
    if (!send_final_if_done(q, turn, room_id, message_id, 0)) {
        stream_events(q, turn, room_id, message_id);
    }
    apr_pool_destroy(turn);
    gc_slot_give(&gc_waiter_slots);
    return OK;
}
