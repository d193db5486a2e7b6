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
 * sweeper only "generation" = the reply's generation when it was swept and
 * "lease_until" = the lease the sweeper set (microseconds since the Unix
 * epoch): a claim may then take a reply whose lease the sweeper itself set,
 * as long as nobody claimed it since and its owner has not renewed the
 * lease (a renewal changes lease_until and so cancels the swept entry). */
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

/* Per reply: set (NX) by the refund of a failed reply, so that a refund
 * repeated after a lost reply or a worker crash decrements only once. */
#define GC_KEY_REFUND_FMT "gemclone:refund:%" PRId64
#define GC_REFUND_MARK_TTL 172800   /* s: outlives the day's counter */

#define GC_STR_(x) #x
#define GC_STR(x) GC_STR_(x)

/* Refund one prompt of a day: only an existing counter is decremented,
 * never below zero; a missing one is rebuilt from PostgreSQL, which counts
 * only replies not marked refunded.
 *   KEYS[1] = the quota key;
 *   KEYS[2] (optional) = the reply's refund marker (GC_KEY_REFUND_FMT):
 *     the decrement happens only when the marker is newly set, so the
 *     refund of one reply may be repeated safely (the worker).
 * Called with the quota key alone it decrements unconditionally (the
 * module, for a prompt it charged but could not store).
 * Returns the new count, -1 when the counter is missing, or -2 when the
 * marker was already set (refunded before: nothing done).
 * The worker writes a failed reply with refunded = false, runs this, then
 * sets refunded = true: a rebuilt counter and this decrement never both
 * give the same prompt back. */
#define GC_LUA_QUOTA_REFUND \
    "if #KEYS > 1 and not redis.call('SET', KEYS[2], '1', 'NX', 'EX', " \
    "'" GC_STR(GC_REFUND_MARK_TTL) "') then return -2 end " \
    "local c = tonumber(redis.call('GET', KEYS[1]) or '-1') " \
    "if c > 0 then return redis.call('DECR', KEYS[1]) end return c"

typedef struct {
    int version;
    int64_t reply_id;
    int64_t enqueued_at;
    int swept_generation;      /* -1 when the job was not queued by the sweeper */
    int64_t swept_lease_until; /* "lease_until" (µs since the epoch), or -1 */
} gc_job_t;

/* Fills *job from the field/value pairs of a stream entry (fields[i],
 * values[i], n pairs). Returns NULL, or what is wrong (unknown version,
 * missing or bad reply_id). */
const char *gc_job_decode(const char *const *fields, const char *const *values, int n,
                          gc_job_t *job);

/* "YYYYMMDD" of the UTC day holding t, in pool memory. */
char *gc_job_day(apr_pool_t *p, int64_t t);

#endif
