/* The event stream of a reply (Accept: text/event-stream): the pieces the
 * worker publishes to the reply's Redis Stream as `delta` events, `reset`
 * when a generation starts over, and a final `message` event carrying the
 * row from PostgreSQL, which is authoritative. Reading the stream from id 0
 * means a client that connects late still gets every piece. */
#include <inttypes.h>
#include <string.h>

#include "httpd.h"
#include "apr_strings.h"
#include "http_protocol.h"

#include "gc_messages.h"
#include "gc_chat_json.h"
#include "gc_db.h"
#include "gc_job.h"
#include "gc_json.h"
#include "gc_redis.h"
#include "gc_log.h"

#define EVENTS_PER_READ 100

/* Writes one SSE frame and flushes it. -1 when the client has gone. */
static int send_frame(request_rec *r, const char *frame)
{
    if (ap_rputs(frame, r) < 0 || ap_rflush(r) < 0 || r->connection->aborted) {
        return -1;
    }
    return 0;
}

static int send_event(gc_req *q, const char *name, json_t *data)
{
    const char *text = gc_json_dump(q->r->pool, data, NULL);
    return send_frame(q->r, apr_pstrcat(q->r->pool, "event: ", name, "\ndata: ", text,
                                        "\n\n", NULL));
}

/* Reads the row; 1 when it is final (done/failed) or gone, after sending
 * the final event when it exists. */
static int send_final_if_done(gc_req *q, int64_t room_id, int64_t message_id, int force)
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
        send_event(q, "message", gc_json_own(q->r->pool, gc_message_json(q, rows, 0)));
    }
    return final;
}

/* Sends the events of one XREAD reply; updates *last_id. Returns 1 when the
 * stream is over (final sent or client gone), else 0. */
static int relay(gc_req *q, redisReply *reply, int64_t room_id, int64_t message_id,
                 const char **last_id)
{
    redisReply *entries;
    size_t i, f;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1
        || reply->element[0]->elements < 2) {
        return 0;
    }
    entries = reply->element[0]->element[1];
    for (i = 0; i < entries->elements; i++) {
        redisReply *entry = entries->element[i], *fields;
        const char *type = NULL, *text = NULL;
        if (entry->elements < 2) {
            continue;
        }
        *last_id = apr_pstrdup(q->r->pool, entry->element[0]->str);
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
            json_t *d = gc_json_own(q->r->pool, json_object());
            json_object_set_new(d, "text", json_string(text));
            if (send_event(q, "delta", d) != 0) {
                return 1;
            }
        }
        else if (strcmp(type, "reset") == 0) {
            if (send_event(q, "reset", gc_json_own(q->r->pool, json_object())) != 0) {
                return 1;
            }
        }
        else if (strcmp(type, "final") == 0) {
            send_final_if_done(q, room_id, message_id, 1);
            return 1;
        }
    }
    return 0;
}

int gc_events_stream(gc_req *q, int64_t room_id, int64_t message_id)
{
    request_rec *r = q->r;
    const char *key = apr_psprintf(r->pool, GC_KEY_EVENTS_FMT, message_id);
    const char *last_id = "0";
    int block_ms = q->cfg->sse_keepalive * 1000;

    r->status = HTTP_OK;
    ap_set_content_type(r, "text/event-stream; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    apr_table_setn(r->headers_out, "X-Accel-Buffering", "no");
    if (send_final_if_done(q, room_id, message_id, 0)) {
        return OK;
    }
    for (;;) {
        redisReply *reply = gc_redis_blocking(q, block_ms + 2000,
                                              "XREAD COUNT %d BLOCK %d STREAMS %s %s",
                                              EVENTS_PER_READ, block_ms, key, last_id);
        if (!gc_redis_is_error(reply) && reply->type == REDIS_REPLY_ARRAY) {
            if (relay(q, reply, room_id, message_id, &last_id)) {
                return OK;
            }
            continue;
        }
        if (gc_redis_is_error(reply)) {
            /* Without Redis there are no pieces; the row still tells the end. */
            apr_sleep(apr_time_from_msec(block_ms < 1000 ? block_ms : 1000));
        }
        /* Quiet for a while: keep the connection alive and look at the row,
         * in case the final event was lost with Redis's data. */
        if (send_frame(r, ": keep-alive\n\n") != 0
            || send_final_if_done(q, room_id, message_id, 0)) {
            return OK;
        }
    }
}
