/* Prometheus metrics: shared request counters and a few gauges read at
 * scrape time. */
#include <string.h>

#include "httpd.h"
#include "apr_atomic.h"
#include "apr_shm.h"
#include "apr_strings.h"
#include "http_protocol.h"
#include "http_config.h"

#include "gc_metrics.h"
#include "gc_handlers.h"
#include "gc_db.h"
#include "gc_job.h"
#include "gc_redis.h"
#include "gc_routes.h"
#include "gc_slots.h"
#include "gc_log.h"

/* Status classes 1xx..5xx, for each route plus one slot for "no route". */
#define CLASSES 5

static apr_uint32_t *counters;   /* [(routes + 1) * CLASSES], shared */
static size_t nslots;

/* Kept across graceful restarts (ap_retained_data), so the counters survive
 * them and children from before a restart keep counting into the segment
 * that is still read. */
typedef struct {
    apr_shm_t *shm;
    size_t size;
} retained_metrics;

apr_status_t gc_metrics_init(apr_pool_t *pconf, server_rec *s)
{
    retained_metrics *kept = ap_retained_data_get("gemclone-metrics");
    apr_status_t rv;
    size_t size;

    nslots = gc_route_count() + 1;
    size = nslots * CLASSES * sizeof(apr_uint32_t);
    if (!kept) {
        kept = ap_retained_data_create("gemclone-metrics", sizeof(*kept));
    }
    if (!kept->shm || kept->size != size) {
        /* Anonymous shared memory in the process pool: every child inherits
         * it at fork, and it lives as long as the server. (A new module
         * build with another route table gets a new segment.) */
        rv = apr_shm_create(&kept->shm, size, NULL, s->process->pool);
        if (rv != APR_SUCCESS) {
            GCLOG_S(s, APLOG_ERR, rv, "GC00140", "no shared memory for metrics: counting is off");
            kept->shm = NULL;
            counters = NULL;
            return rv;
        }
        kept->size = size;
        memset(apr_shm_baseaddr_get(kept->shm), 0, size);
    }
    counters = apr_shm_baseaddr_get(kept->shm);
    return APR_SUCCESS;
}

void gc_metrics_count(const gc_route *route, int status)
{
    size_t slot = route ? gc_route_index(route) : nslots - 1;
    int cls = status / 100 - 1;
    if (counters && slot < nslots && cls >= 0 && cls < CLASSES) {
        apr_atomic_inc32(&counters[slot * CLASSES + (size_t)cls]);
    }
}

/* Appends one sample line. */
static void sample(apr_bucket_brigade *bb, const char *name, const char *labels, apr_int64_t v)
{
    apr_brigade_printf(bb, NULL, NULL, "%s%s %" APR_INT64_T_FMT "\n", name,
                       labels ? labels : "", v);
}

static void help(apr_bucket_brigade *bb, const char *name, const char *type, const char *text)
{
    apr_brigade_printf(bb, NULL, NULL, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void request_counters(request_rec *r, apr_bucket_brigade *bb)
{
    size_t slot;
    int cls;
    help(bb, "gemclone_http_requests_total", "counter",
         "Requests answered by the module, by route and status class.");
    for (slot = 0; counters && slot < nslots; slot++) {
        const gc_route *rt = slot + 1 < nslots ? gc_route_at(slot) : NULL;
        for (cls = 0; cls < CLASSES; cls++) {
            apr_uint32_t n = apr_atomic_read32(&counters[slot * CLASSES + (size_t)cls]);
            if (n == 0) {
                continue;
            }
            sample(bb, "gemclone_http_requests_total",
                   apr_psprintf(r->pool, "{method=\"%s\",route=\"%s\",code=\"%dxx\"}",
                                rt ? gc_route_method_name(r->pool, rt->method) : "",
                                rt ? rt->pattern : "(none)", cls + 1), n);
        }
    }
}

/* Gauges read from PostgreSQL and Redis now; each dependency's up gauge
 * says whether its numbers could be read. */
static void gauges(gc_req *q, apr_bucket_brigade *bb)
{
    gc_rows *rows = NULL;
    redisReply *len = gc_redis_command(q, "XLEN %s", GC_KEY_JOBS);
    int pg_up = gc_db_select(q, GC_SQL_REPLIES_PENDING, NULL, &rows) == GC_DB_OK;
    int redis_up = !gc_redis_is_error(len) && len->type == REDIS_REPLY_INTEGER;

    help(bb, "gemclone_dependency_up", "gauge", "1 when the dependency answered this scrape.");
    sample(bb, "gemclone_dependency_up", "{dependency=\"postgres\"}", pg_up);
    sample(bb, "gemclone_dependency_up", "{dependency=\"redis\"}", redis_up);
    if (pg_up) {
        help(bb, "gemclone_replies_pending", "gauge", "Replies not yet answered by a worker.");
        sample(bb, "gemclone_replies_pending", NULL, gc_cell_i64(rows, 0, 0));
    }
    if (redis_up) {
        help(bb, "gemclone_jobs_queued", "gauge", "Entries in the job stream not yet acknowledged.");
        sample(bb, "gemclone_jobs_queued", NULL, len->integer);
    }
    help(bb, "gemclone_child_waiting_requests", "gauge",
         "Requests of the answering child waiting for a reply or streaming events.");
    sample(bb, "gemclone_child_waiting_requests", NULL,
           apr_atomic_read32(&gc_waiter_slots.used));
}

/* GET /metrics */
int gc_metrics_endpoint(gc_req *q)
{
    request_rec *r = q->r;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_off_t len = 0;

    request_counters(r, bb);
    gauges(q, bb);
    gc_db_release(q);
    gc_redis_release(q);
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_brigade_length(bb, 1, &len);
    ap_set_content_length(r, len);
    if (r->header_only) {
        apr_brigade_cleanup(bb);
        return OK;
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    return ap_pass_brigade(r->output_filters, bb) == APR_SUCCESS ? OK : AP_FILTER_ERROR;
}
