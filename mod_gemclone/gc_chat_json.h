/* JSON shapes of the chat resources: chatroom and message objects. */
#ifndef GC_CHAT_JSON_H
#define GC_CHAT_JSON_H

#include <jansson.h>

#include "mod_gemclone.h"
#include "gc_db.h"

/* {id, name, created_at, updated_at, last_message_at, message_count} from a
 * row in GC_ROOM_COL_* order (a new reference, not pool-owned). */
json_t *gc_room_json(gc_req *q, const gc_rows *rows, int row);

/* {id, chatroom_id, role, content, status, error, created_at, completed_at}
 * from a row in GC_MSG_COL_* order (a new reference, not pool-owned). */
json_t *gc_message_json(gc_req *q, const gc_rows *rows, int row);

#endif
