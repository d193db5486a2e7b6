/* The per-user chatroom list cache in Redis (GemCloneRoomListCacheTTL).
 * Any change that alters the list drops it. Redis trouble never fails a
 * request here: the list is then served from PostgreSQL. */
#ifndef GC_ROOM_CACHE_H
#define GC_ROOM_CACHE_H

#include "mod_gemclone.h"

/* The cached list's JSON text, or NULL on a miss; *generation gets the
 * list's current generation (NULL when Redis did not answer), to hand to
 * gc_room_cache_put after reading the list from PostgreSQL. */
const char *gc_room_cache_get(gc_req *q, const char **generation);

/* Stores the list's JSON text unless the list changed since *generation
 * was read. */
void gc_room_cache_put(gc_req *q, const char *generation, const char *json_text);

/* Drops the caller's cached list. */
void gc_room_cache_drop(gc_req *q);

#endif
