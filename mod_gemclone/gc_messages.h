/* Reading messages: pages of a room, one message (or its event stream). */
#ifndef GC_MESSAGES_H
#define GC_MESSAGES_H

#include <stdint.h>
#include <jansson.h>

#include "mod_gemclone.h"
#include "gc_db.h"

/* The newest `limit` messages of room with id < before, oldest first, as a
 * pool-owned JSON array; *next_before (when not NULL) gets the smallest id
 * of the page while older messages remain, else 0. */
gc_db_status gc_messages_page(gc_req *q, int64_t room_id, int64_t before, int limit,
                              json_t **out, int64_t *next_before);

/* One message of the caller's room (0 or 1 row, GC_MSG_COL_* order). */
gc_db_status gc_message_fetch(gc_req *q, int64_t room_id, int64_t message_id, gc_rows **rows);

/* Chatroom helpers shared with the message endpoints (gc_chatrooms.c). */
gc_db_status gc_room_fetch(gc_req *q, int64_t room_id, gc_rows **rows);
int gc_room_not_found(gc_req *q);

/* The event stream of one reply (gc_events.c). Returns OK. */
int gc_events_stream(gc_req *q, int64_t room_id, int64_t message_id);

#endif
