/* The per-user chatroom list cache in Redis (GemCloneRoomListCacheTTL).
 * Any change that alters the list drops it. Redis trouble never fails a
 * request here: the list is then served from PostgreSQL. */
#ifndef GC_ROOM_CACHE_H
#define GC_ROOM_CACHE_H

#include "mod_gemclone.h"

/* The cached list's JSON text, or NULL on a miss. */
const char *gc_room_cache_get(gc_req *q);

/* Stores the list's JSON text with the TTL. */
void gc_room_cache_put(gc_req *q, const char *json_text);

/* Drops the caller's cached list. */
void gc_room_cache_drop(gc_req *q);

#endif
