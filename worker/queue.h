/* The jobs queue: the Redis Stream GC_KEY_JOBS read through the consumer
 * group GC_JOB_GROUP (gccore/gc_job.h). Entries are acknowledged and deleted
 * when their job ends; a dead consumer's entries are claimed (XAUTOCLAIM),
 * and a restarted consumer re-reads its own pending ones. */
#ifndef QUEUE_H
#define QUEUE_H

#include <stdint.h>
#include <apr_pools.h>
#include <hiredis/hiredis.h>

#include "gc_job.h"

#define QUEUE_ID_MAX 48
#define QUEUE_NOGROUP 1      /* the group (or the stream) is gone */

typedef struct {
    char id[QUEUE_ID_MAX];   /* the stream entry id */
    const char *bad;         /* why the entry cannot be a job, or NULL */
    gc_job_t job;            /* job.swept_generation: see gccore/gc_job.h */
} queue_entry;

/* XGROUP CREATE GC_KEY_JOBS GC_JOB_GROUP 0 MKSTREAM; an existing group
 * (BUSYGROUP) is fine. Returns WREDIS_OK/ERR/BROKEN (err says why). */
int queue_ensure_group(redisContext *c, char *err, size_t errlen);

/* XREADGROUP for consumer: from ">" (new entries, BLOCK block_ms when > 0)
 * or, with start_id, this consumer's pending entries after that id.
 * Fills *out (pool p) and *n. Returns WREDIS_OK/ERR/BROKEN or QUEUE_NOGROUP. */
int queue_read(redisContext *c, apr_pool_t *p, const char *consumer,
               const char *start_id, int count, long block_ms,
               queue_entry **out, int *n, char *err, size_t errlen);

/* XAUTOCLAIM entries idle at least min_idle_ms from cursor (in/out;
 * "0-0" when the scan is complete). Returns as queue_read. */
int queue_autoclaim(redisContext *c, apr_pool_t *p, const char *consumer,
                    long min_idle_ms, char *cursor, int count,
                    queue_entry **out, int *n, char *err, size_t errlen);

/* XACK + XDEL of one entry. */
int queue_done(redisContext *c, const char *id, char *err, size_t errlen);

/* XCLAIM ... 0 id JUSTID: keeps an entry in flight ours and resets its
 * idle time, so no other worker autoclaims a long job. */
int queue_touch(redisContext *c, const char *consumer, const char *id,
                char *err, size_t errlen);

/* XADD of a job (v, reply_id, enqueued_at, and generation and
 * lease_until when generation >= 0: a swept entry). */
int queue_add(redisContext *c, int64_t reply_id, int64_t now, int generation,
              int64_t lease_until, char *err, size_t errlen);

#endif
