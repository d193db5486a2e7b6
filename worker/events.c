/* Reply events, wake-ups and refunds in Redis: see events.h. */
#include "events.h"

#include <inttypes.h>
#include <stdio.h>

#include "gc_job.h"
#include "wredis.h"

int events_publish(redisContext *c, int64_t reply_id, const char *type,
                   const char *text, size_t len, char *err, size_t errlen)
{
    wredis_pipe pp = { 0 };
    char key[64], ttl[16];

    snprintf(key, sizeof(key), GC_KEY_EVENTS_FMT, reply_id);
    snprintf(ttl, sizeof(ttl), "%d", GC_EVENTS_TTL);
    if (text != NULL)
        wredis_add(&pp, text, len, "XADD", key, "*", "type", type, "text",
                   (const char *)NULL);
    else
        wredis_add(&pp, NULL, 0, "XADD", key, "*", "type", type,
                   (const char *)NULL);
    wredis_add(&pp, NULL, 0, "EXPIRE", key, ttl, (const char *)NULL);
    return wredis_run(c, &pp, NULL, err, errlen);
}

int events_wake(redisContext *c, int64_t reply_id, char *err, size_t errlen)
{
    wredis_pipe pp = { 0 };
    char key[64], ttl[16];

    snprintf(key, sizeof(key), GC_KEY_WAKE_FMT, reply_id);
    snprintf(ttl, sizeof(ttl), "%d", GC_WAKE_TTL);
    wredis_add(&pp, NULL, 0, "RPUSH", key, "1", (const char *)NULL);
    wredis_add(&pp, NULL, 0, "EXPIRE", key, ttl, (const char *)NULL);
    return wredis_run(c, &pp, NULL, err, errlen);
}

int events_refund(redisContext *c, apr_pool_t *p, int64_t reply_id,
                  int64_t user_id, int64_t prompt_created, char *err,
                  size_t errlen)
{
    wredis_pipe pp = { 0 };
    char key[96], mark[64];

    snprintf(key, sizeof(key), GC_KEY_QUOTA_FMT, user_id,
             gc_job_day(p, prompt_created));
    snprintf(mark, sizeof(mark), GC_KEY_REFUND_FMT, reply_id);
    wredis_add(&pp, NULL, 0, "EVAL", GC_LUA_QUOTA_REFUND, "2", key, mark,
               (const char *)NULL);
    return wredis_run(c, &pp, NULL, err, errlen);
}
