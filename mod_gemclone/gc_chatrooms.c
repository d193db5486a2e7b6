/* Chatrooms: create, list (cached), get with recent messages, rename, delete. */
#include <string.h>

#include "httpd.h"
#include "apr_strings.h"
#include "http_protocol.h"

#include "gc_handlers.h"
#include "gc_chat_json.h"
#include "gc_db.h"
#include "gc_http.h"
#include "gc_input.h"
#include "gc_json.h"
#include "gc_messages.h"
#include "gc_room_cache.h"
#include "gc_log.h"

#define ROOM_NAME_MAX 100
#define DEFAULT_ROOM_NAME "New chat"
#define ROOM_RECENT_MESSAGES 50

int gc_room_not_found(gc_req *q)
{
    return gc_respond_error(q, HTTP_NOT_FOUND, GC_E_NOT_FOUND, "Chatroom not found",
                            NULL, NULL);
}

gc_db_status gc_room_fetch(gc_req *q, int64_t room_id, gc_rows **rows)
{
    const char *args[2];
    args[0] = gc_sql_int(q, room_id);
    args[1] = gc_sql_int(q, q->user->id);
    return gc_db_select(q, GC_SQL_ROOM_GET, args, rows);
}

/* POST /chatroom {name?} -> 201 chatroom */
int gc_room_create(gc_req *q)
{
    const char *name, *args[4];
    gc_rows *rows = NULL;
    gc_db_status st;

    if (gc_input_string(q, GC_NAMES_NAME, GC_OPTIONAL, GC_TRIM, 1, ROOM_NAME_MAX,
                        &name) != OK) {
        return OK;
    }
    args[0] = gc_sql_int(q, q->user->id);
    args[1] = name ? name : DEFAULT_ROOM_NAME;
    args[2] = gc_sql_int(q, q->now);
    args[3] = args[2];
    if ((st = gc_db_select(q, GC_SQL_ROOM_INSERT, args, &rows)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    gc_room_cache_drop(q);
    return gc_respond(q, HTTP_CREATED, "Chatroom created",
                      gc_json_own(q->r->pool, gc_room_json(q, rows, 0)), NULL);
}

/* Sends a list whose data is the JSON text of an array of chatrooms. */
static int send_list(gc_req *q, const char *data_text, int hit)
{
    json_t *data = gc_json_own(q->r->pool, json_loads(data_text, 0, NULL));
    json_t *meta;
    if (!json_is_array(data)) {
        return gc_fail_internal(q, "cached chatroom list is not an array");
    }
    meta = gc_json_own(q->r->pool, json_object());
    json_object_set_new(meta, "count", json_integer((json_int_t)json_array_size(data)));
    apr_table_setn(q->r->headers_out, "X-Cache", hit ? "HIT" : "MISS");
    return gc_respond(q, HTTP_OK, "Chatrooms", data, meta);
}

/* GET /chatroom -> [chatroom], newest activity first; cached per user. */
int gc_room_list(gc_req *q)
{
    const char *generation, *cached = gc_room_cache_get(q, &generation), *args[1], *text;
    gc_rows *rows = NULL;
    gc_db_status st;
    json_t *list;
    int i;

    if (cached) {
        return send_list(q, cached, 1);
    }
    args[0] = gc_sql_int(q, q->user->id);
    if ((st = gc_db_select(q, GC_SQL_ROOM_LIST, args, &rows)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    list = gc_json_own(q->r->pool, json_array());
    for (i = 0; i < rows->nrows; i++) {
        json_array_append_new(list, gc_room_json(q, rows, i));
    }
    text = gc_json_dump(q->r->pool, list, NULL);
    gc_room_cache_put(q, generation, text);
    return send_list(q, text, 0);
}

/* GET /chatroom/:id -> chatroom + {messages: the last 50, oldest first} */
int gc_room_get(gc_req *q)
{
    gc_rows *rows = NULL;
    gc_db_status st;
    json_t *room, *messages = NULL;

    if ((st = gc_room_fetch(q, q->ids[0], &rows)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    if (rows->nrows != 1) {
        return gc_room_not_found(q);
    }
    room = gc_json_own(q->r->pool, gc_room_json(q, rows, 0));
    if ((st = gc_messages_page(q, q->ids[0], INT64_MAX, ROOM_RECENT_MESSAGES, &messages,
                               NULL)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    json_object_set(room, "messages", messages);
    return gc_respond(q, HTTP_OK, "Chatroom", room, NULL);
}

/* PATCH /chatroom/:id {name} -> chatroom */
int gc_room_rename(gc_req *q)
{
    const char *name, *args[4];
    gc_rows *rows = NULL;
    gc_db_status st;

    if (gc_input_string(q, GC_NAMES_NAME, GC_REQUIRED, GC_TRIM, 1, ROOM_NAME_MAX,
                        &name) != OK) {
        return OK;
    }
    args[0] = name;
    args[1] = gc_sql_int(q, q->now);
    args[2] = gc_sql_int(q, q->ids[0]);
    args[3] = gc_sql_int(q, q->user->id);
    if ((st = gc_db_select(q, GC_SQL_ROOM_RENAME, args, &rows)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    if (rows->nrows != 1) {
        return gc_room_not_found(q);
    }
    gc_room_cache_drop(q);
    return gc_respond(q, HTTP_OK, "Chatroom renamed",
                      gc_json_own(q->r->pool, gc_room_json(q, rows, 0)), NULL);
}

/* DELETE /chatroom/:id -> data null; its messages go too (ON DELETE CASCADE). */
int gc_room_delete(gc_req *q)
{
    const char *args[2];
    gc_db_status st;
    int affected = 0;

    args[0] = gc_sql_int(q, q->ids[0]);
    args[1] = gc_sql_int(q, q->user->id);
    if ((st = gc_db_exec(q, GC_SQL_ROOM_DELETE, args, &affected)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    if (affected != 1) {
        return gc_room_not_found(q);
    }
    gc_room_cache_drop(q);
    return gc_respond(q, HTTP_OK, "Chatroom deleted", NULL, NULL);
}
