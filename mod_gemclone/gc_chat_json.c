/* Chatroom and message objects. */
#include "httpd.h"

#include "gc_chat_json.h"
#include "gc_json.h"

/* A nullable timestamp cell: NULL in SQL is null in JSON. */
static void set_time_cell(gc_req *q, json_t *o, const char *key, const gc_rows *rows,
                          int row, int col)
{
    gc_json_set_time(q->r->pool, o, key,
                     gc_cell(rows, row, col) ? gc_cell_i64(rows, row, col) : -1);
}

json_t *gc_room_json(gc_req *q, const gc_rows *rows, int row)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(gc_cell_i64(rows, row, GC_ROOM_COL_ID)));
    gc_json_set_str(o, "name", gc_cell(rows, row, GC_ROOM_COL_NAME));
    set_time_cell(q, o, "created_at", rows, row, GC_ROOM_COL_CREATED);
    set_time_cell(q, o, "updated_at", rows, row, GC_ROOM_COL_UPDATED);
    set_time_cell(q, o, "last_message_at", rows, row, GC_ROOM_COL_LAST_MESSAGE);
    json_object_set_new(o, "message_count",
                        json_integer(gc_cell_i64(rows, row, GC_ROOM_COL_COUNT)));
    return o;
}

json_t *gc_message_json(gc_req *q, const gc_rows *rows, int row)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(gc_cell_i64(rows, row, GC_MSG_COL_ID)));
    json_object_set_new(o, "chatroom_id",
                        json_integer(gc_cell_i64(rows, row, GC_MSG_COL_ROOM)));
    gc_json_set_str(o, "role", gc_cell(rows, row, GC_MSG_COL_ROLE));
    gc_json_set_str(o, "content", gc_cell(rows, row, GC_MSG_COL_CONTENT));
    gc_json_set_str(o, "status", gc_cell(rows, row, GC_MSG_COL_STATUS));
    gc_json_set_str(o, "error", gc_cell(rows, row, GC_MSG_COL_ERROR));
    set_time_cell(q, o, "created_at", rows, row, GC_MSG_COL_CREATED);
    set_time_cell(q, o, "completed_at", rows, row, GC_MSG_COL_COMPLETED);
    return o;
}
