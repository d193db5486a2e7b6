/* Chatroom list cache. Each cached list carries the generation it was read
 * at; a change bumps the generation first, so a list read before the change
 * can neither be stored afterwards nor be served. */
#include <inttypes.h>
#include <string.h>

#include "httpd.h"
#include "apr_strings.h"

#include "gc_room_cache.h"
#include "gc_redis.h"
#include "gc_job.h"
#include "gc_log.h"

/* Stores ARGV[2] under KEYS[1] tagged with generation ARGV[1], unless the
 * generation (KEYS[2]) moved meanwhile. ARGV[3] is the TTL. */
static const char PUT_LUA[] =
    "if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end "
    "redis.call('SET', KEYS[1], ARGV[1] .. '\\n' .. ARGV[2], 'EX', ARGV[3]) return 1";

static const char *cache_key(gc_req *q)
{
    return apr_psprintf(q->r->pool, GC_KEY_ROOMS_FMT, (int64_t)q->user->id);
}

static const char *generation_key(gc_req *q)
{
    return apr_psprintf(q->r->pool, GC_KEY_ROOMS_GEN_FMT, (int64_t)q->user->id);
}

const char *gc_room_cache_get(gc_req *q, const char **generation)
{
    redisReply *reply = gc_redis_command(q, "MGET %s %s", cache_key(q), generation_key(q));
    const redisReply *cached, *gen;
    const char *nl;

    *generation = NULL;
    if (gc_redis_is_error(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        return NULL;
    }
    cached = reply->element[0];
    gen = reply->element[1];
    *generation = gen->type == REDIS_REPLY_STRING
                      ? apr_pstrmemdup(q->r->pool, gen->str, gen->len) : "0";
    if (cached->type != REDIS_REPLY_STRING
        || !(nl = memchr(cached->str, '\n', cached->len))
        || (size_t)(nl - cached->str) != strlen(*generation)
        || memcmp(cached->str, *generation, strlen(*generation)) != 0) {
        return NULL;
    }
    return apr_pstrmemdup(q->r->pool, nl + 1, cached->len - (size_t)(nl + 1 - cached->str));
}

void gc_room_cache_put(gc_req *q, const char *generation, const char *json_text)
{
    if (generation) {
        gc_redis_command(q, "EVAL %s 2 %s %s %s %s %d", PUT_LUA, cache_key(q),
                         generation_key(q), generation, json_text, q->cfg->room_cache_ttl);
    }
}

/* Bumps the generation (kept a day past any list it could tag; a missing
 * one reads as 0, and every list tagged before has expired by then). */
static const char BUMP_LUA[] =
    "local g = redis.call('INCR', KEYS[1]) redis.call('EXPIRE', KEYS[1], ARGV[1]) "
    "redis.call('DEL', KEYS[2]) return g";

void gc_room_cache_drop(gc_req *q)
{
    if (gc_redis_is_error(gc_redis_command(q, "EVAL %s 2 %s %s %d", BUMP_LUA,
                                           generation_key(q), cache_key(q),
                                           q->cfg->room_cache_ttl + 86400))) {
        GCLOG(q, APLOG_WARNING, "GC00080", "could not drop the chatroom list cache of user %"
              APR_INT64_T_FMT, (apr_int64_t)q->user->id);
    }
}
