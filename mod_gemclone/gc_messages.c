/* GET /chatroom/:id/messages and GET /chatroom/:id/messages/:mid */
#include <string.h>

#include "httpd.h"
#include "apr_strings.h"
#include "http_protocol.h"
#include "util_script.h"

#include "gc_db.h"
#include "gc_handlers.h"
#include "gc_messages.h"
#include "gc_chat_json.h"
#include "gc_http.h"
#include "gc_json.h"
#include "gc_text.h"

#define PAGE_DEFAULT 50
#define PAGE_MAX 100

gc_db_status gc_messages_page(gc_req *q, int64_t room_id, int64_t before, int limit,
                              json_t **out, int64_t *next_before)
{
    const char *args[3];
    gc_rows *rows = NULL;
    gc_db_status st;
    json_t *list;
    int i, shown;

    args[0] = gc_sql_int(q, room_id);
    args[1] = gc_sql_int(q, before);
    args[2] = gc_sql_int(q, limit + 1);
    if ((st = gc_db_select(q, GC_SQL_MESSAGE_PAGE, args, &rows)) != GC_DB_OK) {
        return st;
    }
    /* Rows come newest first; one extra row means older messages remain. */
    shown = rows->nrows > limit ? limit : rows->nrows;
    list = gc_json_own(q->r->pool, json_array());
    for (i = shown - 1; i >= 0; i--) {
        json_array_append_new(list, gc_message_json(q, rows, i));
    }
    if (next_before) {
        *next_before = rows->nrows > limit ? gc_cell_i64(rows, shown - 1, GC_MSG_COL_ID) : 0;
    }
    *out = list;
    return GC_DB_OK;
}

/* Reads ?before= and ?limit=; an empty value counts as absent. */
static int read_paging(gc_req *q, int64_t *before, int *limit)
{
    apr_table_t *args = NULL;
    const char *b, *l;
    int64_t n;

    ap_args_to_table(q->r, &args);
    b = args ? apr_table_get(args, "before") : NULL;
    l = args ? apr_table_get(args, "limit") : NULL;
    *before = INT64_MAX;
    *limit = PAGE_DEFAULT;
    if (b && *b && !gc_parse_path_id(b, strlen(b), before)) {
        gc_fail_validation(q, "before", "before must be a message id (a positive integer)");
        return DONE;
    }
    if (l && *l) {
        if (!gc_parse_path_id(l, strlen(l), &n) || n > PAGE_MAX) {
            gc_fail_validation(q, "limit", "limit must be an integer from 1 to 100");
            return DONE;
        }
        *limit = (int)n;
    }
    return OK;
}

/* GET /chatroom/:id/messages?before=&limit= -> a page, oldest first */
int gc_message_list(gc_req *q)
{
    gc_rows *room = NULL;
    gc_db_status st;
    json_t *page = NULL, *meta;
    int64_t before, next = 0;
    int limit;

    if (read_paging(q, &before, &limit) != OK) {
        return OK;
    }
    if ((st = gc_room_fetch(q, q->ids[0], &room)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    if (room->nrows != 1) {
        return gc_room_not_found(q);
    }
    if ((st = gc_messages_page(q, q->ids[0], before, limit, &page, &next)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    meta = gc_json_own(q->r->pool, json_object());
    json_object_set_new(meta, "count", json_integer((json_int_t)json_array_size(page)));
    json_object_set_new(meta, "next_before", next ? json_integer(next) : json_null());
    return gc_respond(q, HTTP_OK, "Messages", page, meta);
}

/* 1 when the client asks for the event stream. */
static int wants_event_stream(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");
    return accept && ap_strcasestr(accept, "text/event-stream") != NULL;
}

gc_db_status gc_message_fetch(gc_req *q, int64_t room_id, int64_t message_id, gc_rows **rows)
{
    const char *args[3];
    args[0] = gc_sql_int(q, message_id);
    args[1] = gc_sql_int(q, room_id);
    args[2] = gc_sql_int(q, q->user->id);
    return gc_db_select(q, GC_SQL_MESSAGE_GET, args, rows);
}

/* GET /chatroom/:id/messages/:mid -> message, or its event stream */
int gc_message_get(gc_req *q)
{
    gc_rows *rows = NULL;
    gc_db_status st;

    if ((st = gc_message_fetch(q, q->ids[0], q->ids[1], &rows)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    if (rows->nrows != 1) {
        return gc_respond_error(q, HTTP_NOT_FOUND, GC_E_NOT_FOUND, "Message not found",
                                NULL, NULL);
    }
    if (wants_event_stream(q->r) && !q->r->header_only) {
        return gc_events_stream(q, q->ids[0], q->ids[1]);
    }
    return gc_respond(q, HTTP_OK, "Message",
                      gc_json_own(q->r->pool, gc_message_json(q, rows, 0)), NULL);
}
