/* The jobs stream: see queue.h. */
#include "queue.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "wredis.h"

int queue_ensure_group(redisContext *c, char *err, size_t errlen)
{
    wredis_pipe pp = { 0 };
    int rc;

    /* From "0", not "$": entries are deleted once acknowledged, so what the
     * stream holds is unprocessed work. After Redis lost the group (FLUSHALL,
     * DEL, a restart), jobs the module or the sweeper added before the group
     * came back would otherwise be skipped until their lease ran out. */
    wredis_add(&pp, NULL, 0, "XGROUP", "CREATE", GC_KEY_JOBS, GC_JOB_GROUP,
               "0", "MKSTREAM", (const char *)NULL);
    rc = wredis_run(c, &pp, NULL, err, errlen);
    if (rc == WREDIS_ERR && strncmp(err, "BUSYGROUP", 9) == 0)
        rc = WREDIS_OK;
    return rc;
}

/* One entry [id, [f, v, ...]] (fields nil: deleted while pending). */
static void read_entry(apr_pool_t *p, const redisReply *e, queue_entry *q)
{
    const redisReply *kv;
    const char **fields, **values;
    size_t i;
    int n = 0;

    memset(q, 0, sizeof(*q));
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 1
        || e->element[0]->type != REDIS_REPLY_STRING) {
        q->bad = "malformed entry";
        return;
    }
    snprintf(q->id, sizeof(q->id), "%.*s", (int)e->element[0]->len,
             e->element[0]->str);
    kv = e->elements >= 2 ? e->element[1] : NULL;
    if (kv == NULL || kv->type != REDIS_REPLY_ARRAY) {
        q->bad = "entry deleted";
        return;
    }
    fields = apr_pcalloc(p, sizeof(char *) * (kv->elements / 2 + 1));
    values = apr_pcalloc(p, sizeof(char *) * (kv->elements / 2 + 1));
    for (i = 0; i + 1 < kv->elements; i += 2) {
        if (kv->element[i]->type != REDIS_REPLY_STRING
            || kv->element[i + 1]->type != REDIS_REPLY_STRING)
            continue;
        fields[n] = apr_pstrmemdup(p, kv->element[i]->str, kv->element[i]->len);
        values[n] = apr_pstrmemdup(p, kv->element[i + 1]->str,
                                   kv->element[i + 1]->len);
        n++;
    }
    q->bad = gc_job_decode(fields, values, n, &q->job);
}

/* Entries of an array reply into *out. */
static void read_entries(apr_pool_t *p, const redisReply *arr,
                         queue_entry **out, int *n)
{
    size_t i;

    *n = 0;
    *out = NULL;
    if (arr == NULL || arr->type != REDIS_REPLY_ARRAY || arr->elements == 0)
        return;
    *out = apr_pcalloc(p, sizeof(queue_entry) * arr->elements);
    for (i = 0; i < arr->elements; i++)
        read_entry(p, arr->element[i], &(*out)[(*n)++]);
}

/* Turns an error reply into a code; NOGROUP gets its own. */
static int reply_error(const redisReply *r, char *err, size_t errlen)
{
    snprintf(err, errlen, "%.*s", (int)r->len, r->str);
    return strncmp(r->str, "NOGROUP", 7) == 0 ? QUEUE_NOGROUP : WREDIS_ERR;
}

int queue_read(redisContext *c, apr_pool_t *p, const char *consumer,
               const char *start_id, int count, long block_ms,
               queue_entry **out, int *n, char *err, size_t errlen)
{
    wredis_pipe pp = { 0 };
    redisReply *r = NULL;
    char cnt[16], blk[24];
    int rc;

    *n = 0;
    *out = NULL;
    snprintf(cnt, sizeof(cnt), "%d", count);
    snprintf(blk, sizeof(blk), "%ld", block_ms);
    if (start_id == NULL && block_ms > 0)
        wredis_add(&pp, NULL, 0, "XREADGROUP", "GROUP", GC_JOB_GROUP, consumer,
                   "COUNT", cnt, "BLOCK", blk, "STREAMS", GC_KEY_JOBS, ">",
                   (const char *)NULL);
    else
        wredis_add(&pp, NULL, 0, "XREADGROUP", "GROUP", GC_JOB_GROUP, consumer,
                   "COUNT", cnt, "STREAMS", GC_KEY_JOBS,
                   start_id ? start_id : ">", (const char *)NULL);
    rc = wredis_run(c, &pp, &r, err, errlen);
    if (rc != WREDIS_OK)
        return rc;
    if (r->type == REDIS_REPLY_ERROR)
        rc = reply_error(r, err, errlen);
    else if (r->type == REDIS_REPLY_ARRAY && r->elements > 0
             && r->element[0]->type == REDIS_REPLY_ARRAY
             && r->element[0]->elements == 2)
        read_entries(p, r->element[0]->element[1], out, n);
    freeReplyObject(r);
    return rc;
}

int queue_autoclaim(redisContext *c, apr_pool_t *p, const char *consumer,
                    long min_idle_ms, char *cursor, int count,
                    queue_entry **out, int *n, char *err, size_t errlen)
{
    wredis_pipe pp = { 0 };
    redisReply *r = NULL;
    char idle[24], cnt[16];
    int rc;

    *n = 0;
    *out = NULL;
    snprintf(idle, sizeof(idle), "%ld", min_idle_ms);
    snprintf(cnt, sizeof(cnt), "%d", count);
    wredis_add(&pp, NULL, 0, "XAUTOCLAIM", GC_KEY_JOBS, GC_JOB_GROUP, consumer,
               idle, cursor, "COUNT", cnt, (const char *)NULL);
    rc = wredis_run(c, &pp, &r, err, errlen);
    if (rc != WREDIS_OK)
        return rc;
    if (r->type == REDIS_REPLY_ERROR) {
        rc = reply_error(r, err, errlen);
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2
               && r->element[0]->type == REDIS_REPLY_STRING) {
        snprintf(cursor, QUEUE_ID_MAX, "%.*s", (int)r->element[0]->len,
                 r->element[0]->str);
        read_entries(p, r->element[1], out, n);
    } else {
        snprintf(cursor, QUEUE_ID_MAX, "0-0");
    }
    freeReplyObject(r);
    return rc;
}

int queue_done(redisContext *c, const char *id, char *err, size_t errlen)
{
    wredis_pipe pp = { 0 };

    wredis_add(&pp, NULL, 0, "XACK", GC_KEY_JOBS, GC_JOB_GROUP, id,
               (const char *)NULL);
    wredis_add(&pp, NULL, 0, "XDEL", GC_KEY_JOBS, id, (const char *)NULL);
    return wredis_run(c, &pp, NULL, err, errlen);
}

int queue_touch(redisContext *c, const char *consumer, const char *id,
                char *err, size_t errlen)
{
    wredis_pipe pp = { 0 };

    wredis_add(&pp, NULL, 0, "XCLAIM", GC_KEY_JOBS, GC_JOB_GROUP, consumer,
               "0", id, "JUSTID", (const char *)NULL);
    return wredis_run(c, &pp, NULL, err, errlen);
}

int queue_add(redisContext *c, int64_t reply_id, int64_t now, int generation,
              int64_t lease_until, char *err, size_t errlen)
{
    wredis_pipe pp = { 0 };
    char v[8], id[24], at[24], gen[16], lu[24];

    snprintf(v, sizeof(v), "%d", GC_JOB_VERSION);
    snprintf(id, sizeof(id), "%" PRId64, reply_id);
    snprintf(at, sizeof(at), "%" PRId64, now);
    snprintf(gen, sizeof(gen), "%d", generation);
    snprintf(lu, sizeof(lu), "%" PRId64, lease_until);
    if (generation >= 0)
        wredis_add(&pp, NULL, 0, "XADD", GC_KEY_JOBS, "*", "v", v, "reply_id",
                   id, "enqueued_at", at, "generation", gen, "lease_until", lu,
                   (const char *)NULL);
    else
        wredis_add(&pp, NULL, 0, "XADD", GC_KEY_JOBS, "*", "v", v, "reply_id",
                   id, "enqueued_at", at, (const char *)NULL);
    return wredis_run(c, &pp, NULL, err, errlen);
}
