/* Operations endpoints: liveness and readiness. */
#include "httpd.h"
#include "http_protocol.h"

#include "gc_handlers.h"
#include "gc_db.h"
#include "gc_http.h"
#include "gc_json.h"
#include "gc_redis.h"

/* GET /health: 200 while the process serves; touches no dependency. */
int gc_ops_health(gc_req *q)
{
    json_t *data = gc_json_own(q->r->pool, json_object());
    json_object_set_new(data, "status", json_string("ok"));
    return gc_respond(q, HTTP_OK, "OK", data, NULL);
}

/* GET /ready: both dependencies answer, or 503 saying which does not. */
int gc_ops_ready(gc_req *q)
{
    gc_rows *rows = NULL;
    redisReply *pong = gc_redis_command(q, "PING");
    int redis_up = pong && pong->type == REDIS_REPLY_STATUS;
    int pg_up = gc_db_select(q, GC_SQL_PING, NULL, &rows) == GC_DB_OK;
    json_t *data = gc_json_own(q->r->pool, json_object());

    json_object_set_new(data, "postgres", json_string(pg_up ? "up" : "down"));
    json_object_set_new(data, "redis", json_string(redis_up ? "up" : "down"));
    if (pg_up && redis_up) {
        return gc_respond(q, HTTP_OK, "Ready", data, NULL);
    }
    apr_table_setn(q->r->err_headers_out, "Retry-After", "5");
    return gc_respond_error(q, HTTP_SERVICE_UNAVAILABLE, GC_E_UNAVAILABLE,
                            "A dependency is unavailable", NULL, data);
}
