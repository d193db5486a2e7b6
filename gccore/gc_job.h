/* The contract between the module and the worker, in one place: Redis key
 * names, the job format on the queue (versioned), and the event format of a
 * reply's stream. Both binaries link this file (habit 7: share the codec). */
#ifndef GC_JOB_H
#define GC_JOB_H

#include <stdint.h>
#include <apr_pools.h>

#define GC_JOB_VERSION 1

/* Redis Stream holding jobs; consumed by the group GC_JOB_GROUP.
 * Entry fields: "v" = GC_JOB_VERSION, "reply_id" = the model message id,
 * "enqueued_at" = Unix seconds (informational), and from the worker's
 * sweeper only "generation" = the reply's generation when it was swept: a
 * claim may then take a reply whose lease the sweeper itself set, as long
 * as nobody claimed it since. */
#define GC_KEY_JOBS       "gemclone:jobs"
#define GC_JOB_GROUP      "gemclone-workers"

/* Per reply: a list the worker RPUSHes "1" to when the reply is final
 * (done or failed), so a waiting request's BLPOP wakes; each waiter pushes
 * it on again for the next one. Expires after GC_WAKE_TTL seconds. */
#define GC_KEY_WAKE_FMT   "gemclone:wake:%" PRId64
#define GC_WAKE_TTL       300

/* Per reply: a Redis Stream of generation events, read by the event-stream
 * endpoint from id 0 so late readers see every piece. Entry fields:
 *   "type" = "delta" with "text" = the piece;
 *   "type" = "reset" (a generation starts over: drop the pieces so far);
 *   "type" = "final" (the row in PostgreSQL is final: read it).
 * Expires GC_EVENTS_TTL seconds after the last event. */
#define GC_KEY_EVENTS_FMT "gemclone:events:%" PRId64
#define GC_EVENTS_TTL     3600

/* Per user and UTC day (YYYYMMDD): accepted prompts. Rebuilt from
 * PostgreSQL when missing; expires two days after it was made. */
#define GC_KEY_QUOTA_FMT  "gemclone:quota:%" PRId64 ":%s"
#define GC_QUOTA_TTL      (2 * 86400)

/* Per user: the cached chatroom list ("<generation>\n<JSON text>"), and the
 * list's generation, bumped by every change so that a list read before a
 * change is never stored after it. */
#define GC_KEY_ROOMS_FMT      "gemclone:rooms:%" PRId64
#define GC_KEY_ROOMS_GEN_FMT  "gemclone:rooms-gen:%" PRId64

/* Refund one prompt of a day (a reply failed for good): only an existing
 * counter is decremented, never below zero; a missing one is rebuilt from
 * PostgreSQL, where the reply is marked refunded. KEYS[1] = the quota key. */
#define GC_LUA_QUOTA_REFUND \
    "local c = tonumber(redis.call('GET', KEYS[1]) or '-1') " \
    "if c > 0 then return redis.call('DECR', KEYS[1]) end return c"

typedef struct {
    int version;
    int64_t reply_id;
    int64_t enqueued_at;
    int swept_generation;      /* -1 when the job was not queued by the sweeper */
} gc_job_t;

/* Fills *job from the field/value pairs of a stream entry (fields[i],
 * values[i], n pairs). Returns NULL, or what is wrong (unknown version,
 * missing or bad reply_id). */
const char *gc_job_decode(const char *const *fields, const char *const *values, int n,
                          gc_job_t *job);

/* "YYYYMMDD" of the UTC day holding t, in pool memory. */
char *gc_job_day(apr_pool_t *p, int64_t t);

#endif
