/* What a reply tells its readers through Redis (gccore/gc_job.h): its event
 * stream (delta, reset, final), the wake list, and the quota refund. */
#ifndef EVENTS_H
#define EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <apr_pools.h>
#include <hiredis/hiredis.h>

/* XADD type=<type> [text=<text>] to the reply's event stream, then EXPIRE
 * GC_EVENTS_TTL, in one round trip. text is NULL except for "delta".
 * Returns WREDIS_OK/ERR/BROKEN. */
int events_publish(redisContext *c, int64_t reply_id, const char *type,
                   const char *text, size_t len, char *err, size_t errlen);

/* RPUSH "1" to the reply's wake list, then EXPIRE GC_WAKE_TTL. */
int events_wake(redisContext *c, int64_t reply_id, char *err, size_t errlen);

/* Gives a failed reply's prompt back: GC_LUA_QUOTA_REFUND on the quota key
 * of the user and of the UTC day holding prompt_created (Unix s;
 * gc_job_day names the day), with the reply's refund marker: repeating it
 * (a lost reply, a re-run after a crash) refunds once. */
int events_refund(redisContext *c, apr_pool_t *p, int64_t reply_id,
                  int64_t user_id, int64_t prompt_created, char *err,
                  size_t errlen);

#endif
