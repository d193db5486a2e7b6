/* Daily prompt limit. */
#include <inttypes.h>
#include <string.h>

#include "httpd.h"
#include "apr_strings.h"
#include "http_protocol.h"

#include "gc_quota.h"
#include "gc_db.h"
#include "gc_http.h"
#include "gc_job.h"
#include "gc_redis.h"
#include "gc_time.h"
#include "gc_log.h"

#define GC_E_RATE_LIMITED "RATE_LIMITED"

/* Check and count in one step. KEYS[1] the day's counter, ARGV[1] the limit
 * (-1: none). Returns {1, count} when counted, {-1, count} when the limit
 * is reached, {-2, 0} when the counter is missing (rebuild it first). */
static const char CHARGE_LUA[] =
    "local v = redis.call('GET', KEYS[1]) "
    "if not v then return {-2, 0} end "
    "local c = tonumber(v) local limit = tonumber(ARGV[1]) "
    "if limit >= 0 and c >= limit then return {-1, c} end "
    "return {1, redis.call('INCR', KEYS[1])}";


int64_t gc_quota_limit(gc_req *q)
{
    int lim = strcmp(q->user->tier, "pro") == 0 ? q->cfg->daily_limit_pro
                                                : q->cfg->daily_limit_basic;
    return lim == GC_UNLIMITED ? GC_UNLIMITED : lim;
}

static const char *quota_key(gc_req *q, int64_t t)
{
    return apr_psprintf(q->r->pool, GC_KEY_QUOTA_FMT, (int64_t)q->user->id,
                        gc_job_day(q->r->pool, t));
}

/* Recreates a lost counter from PostgreSQL (SET NX: a concurrent rebuild
 * or charge wins). Returns 0, or -1 when a dependency failed. */
static int rebuild(gc_req *q, const char *key, gc_db_status *dbst)
{
    int64_t day = gc_time_utc_day_start(q->now);
    const char *args[3];
    gc_rows *rows = NULL;

    args[0] = gc_sql_int(q, q->user->id);
    args[1] = gc_sql_int(q, day);
    args[2] = gc_sql_int(q, day + 86400);
    if ((*dbst = gc_db_select(q, GC_SQL_PROMPTS_IN_DAY, args, &rows)) != GC_DB_OK) {
        return -1;
    }
    GCLOG(q, APLOG_INFO, "GC00090", "rebuilt the prompt count of user %s: %s",
          args[0], gc_cell(rows, 0, 0));
    return gc_redis_is_error(gc_redis_command(q, "SET %s %s NX EX %d", key,
                             gc_cell(rows, 0, 0), GC_QUOTA_TTL)) ? -1 : 0;
}

/* Sends the 503 for whichever dependency failed. */
static int unavailable(gc_req *q, gc_db_status dbst)
{
    return dbst != GC_DB_OK ? gc_db_fail(q, dbst) : gc_fail_unavailable(q, "Redis");
}

int gc_quota_charge(gc_req *q, gc_quota *out)
{
    const char *key = quota_key(q, q->now);
    gc_db_status dbst = GC_DB_OK;
    redisReply *reply = NULL;
    int tries;

    out->limit = gc_quota_limit(q);
    out->reset_at = gc_time_next_utc_midnight(q->now);
    for (tries = 0; tries < 2; tries++) {
        reply = gc_redis_command(q, "EVAL %s 1 %s %lld", CHARGE_LUA, key,
                                 (long long)(out->limit == GC_UNLIMITED ? -1 : out->limit));
        if (gc_redis_is_error(reply) || reply->type != REDIS_REPLY_ARRAY
            || reply->elements != 2) {
            return unavailable(q, GC_DB_OK), DONE;
        }
        if (reply->element[0]->integer != -2) {
            break;
        }
        if (rebuild(q, key, &dbst) != 0) {
            return unavailable(q, dbst), DONE;
        }
    }
    if (reply->element[0]->integer == -2) {
        return unavailable(q, GC_DB_OK), DONE;
    }
    out->used = reply->element[1]->integer;
    gc_quota_headers(q, out);
    if (reply->element[0]->integer == -1) {
        gc_respond_retry(q, HTTP_TOO_MANY_REQUESTS, GC_E_RATE_LIMITED,
                         apr_psprintf(q->r->pool, "Daily limit of %" APR_INT64_T_FMT
                                      " prompts reached; it resets at midnight UTC",
                                      (apr_int64_t)out->limit),
                         out->reset_at - q->now);
        return DONE;
    }
    return OK;
}

int gc_quota_peek(gc_req *q, gc_quota *out, int send_errors)
{
    const char *key = quota_key(q, q->now);
    gc_db_status dbst = GC_DB_OK;
    redisReply *reply;

    out->limit = gc_quota_limit(q);
    out->reset_at = gc_time_next_utc_midnight(q->now);
    reply = gc_redis_command(q, "GET %s", key);
    if (!gc_redis_is_error(reply) && reply->type == REDIS_REPLY_NIL) {
        if (rebuild(q, key, &dbst) == 0) {
            reply = gc_redis_command(q, "GET %s", key);
        }
    }
    if (gc_redis_is_error(reply) || reply->type != REDIS_REPLY_STRING) {
        if (send_errors) {
            unavailable(q, dbst);
        }
        return DONE;
    }
    out->used = apr_atoi64(reply->str);
    return OK;
}

void gc_quota_refund(gc_req *q, int64_t prompt_time)
{
    if (gc_redis_is_error(gc_redis_command(q, "EVAL %s 1 %s", GC_LUA_QUOTA_REFUND,
                                           quota_key(q, prompt_time)))) {
        GCLOG(q, APLOG_WARNING, "GC00091", "could not refund a prompt of user %"
              APR_INT64_T_FMT " in Redis (PostgreSQL still counts it refunded)",
              (apr_int64_t)q->user->id);
    }
}

void gc_quota_headers(gc_req *q, const gc_quota *qt)
{
    apr_table_t *h = q->r->err_headers_out;
    if (qt->limit == GC_UNLIMITED) {
        apr_table_setn(h, "X-RateLimit-Limit", "unlimited");
        apr_table_setn(h, "X-RateLimit-Remaining", "unlimited");
    }
    else {
        int64_t left = qt->limit - qt->used;
        apr_table_setn(h, "X-RateLimit-Limit", gc_sql_int(q, qt->limit));
        apr_table_setn(h, "X-RateLimit-Remaining", gc_sql_int(q, left > 0 ? left : 0));
    }
    apr_table_setn(h, "X-RateLimit-Reset", gc_sql_int(q, qt->reset_at));
}
