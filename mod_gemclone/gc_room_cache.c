/* Chatroom list cache. */
#include <inttypes.h>

#include "httpd.h"
#include "apr_strings.h"

#include "gc_room_cache.h"
#include "gc_redis.h"
#include "gc_job.h"
#include "gc_log.h"

static const char *cache_key(gc_req *q)
{
    return apr_psprintf(q->r->pool, GC_KEY_ROOMS_FMT, (int64_t)q->user->id);
}

const char *gc_room_cache_get(gc_req *q)
{
    redisReply *reply = gc_redis_command(q, "GET %s", cache_key(q));
    if (reply && reply->type == REDIS_REPLY_STRING) {
        return apr_pstrmemdup(q->r->pool, reply->str, reply->len);
    }
    return NULL;
}

void gc_room_cache_put(gc_req *q, const char *json_text)
{
    gc_redis_command(q, "SET %s %s EX %d", cache_key(q), json_text, q->cfg->room_cache_ttl);
}

void gc_room_cache_drop(gc_req *q)
{
    if (gc_redis_is_error(gc_redis_command(q, "DEL %s", cache_key(q)))) {
        GCLOG(q, APLOG_WARNING, "GC00080", "could not drop the chatroom list cache of user %"
              APR_INT64_T_FMT, (apr_int64_t)q->user->id);
    }
}
