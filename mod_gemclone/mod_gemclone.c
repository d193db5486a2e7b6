/* mod_gemclone: a Gemini-style chat backend inside httpd. One handler walks
 * the route table; endpoint functions live in one file per resource family. */
#define GC_DECLARES_MODULE
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"
#include <curl/curl.h>

#include "mod_gemclone.h"
#include "gc_config.h"
#include "gc_clock.h"
#include "gc_db.h"
#include "gc_http.h"
#include "gc_redis.h"
#include "gc_routes.h"
#include "gc_session.h"
#include "gc_log.h"
#include "gc_metrics.h"
#include "gc_crypto.h"

/* The request path with trailing slashes dropped ("/chatroom/" = "/chatroom"). */
static const char *route_path(request_rec *r)
{
    size_t n = strlen(r->uri);
    while (n > 1 && r->uri[n - 1] == '/') {
        n--;
    }
    return apr_pstrmemdup(r->pool, r->uri, n);
}

/* Routes, authenticates, reads the body and runs the endpoint. */
static int dispatch(gc_req *q, const char **allow)
{
    switch (gc_route_match(q, route_path(q->r), allow)) {
    case GC_ROUTE_NO_PATH:
        return gc_respond_error(q, HTTP_NOT_FOUND, GC_E_NOT_FOUND, "Not found", NULL, NULL);
    case GC_ROUTE_NO_METHOD:
        apr_table_setn(q->r->err_headers_out, "Allow", *allow);
        return gc_respond_error(q, HTTP_METHOD_NOT_ALLOWED, GC_E_METHOD,
                                "Method not allowed", NULL, NULL);
    case GC_ROUTE_FOUND:
        break;
    }
    if (q->route->auth == GC_BEARER && gc_session_authenticate(q) != OK) {
        return OK;
    }
    if (q->route->body == GC_JSON_BODY) {
        /* A slow client's body must not keep a connection idle. */
        gc_db_release(q);
        if (gc_read_json_body(q) != OK) {
            return OK;
        }
    }
    return q->route->fn(q);
}

static int gemclone_handler(request_rec *r)
{
    gc_req *q;
    const char *allow = NULL;
    int rc;

    if (!r->handler || strcmp(r->handler, GC_HANDLER_NAME)) {
        return DECLINED;
    }
    q = apr_pcalloc(r->pool, sizeof(*q));
    q->r = r;
    q->cfg = gc_config_get(r->server);
    q->request_id = gc_request_id(r);
    q->now = gc_clock_now(q->cfg);

    rc = dispatch(q, &allow);
    /* Connections go back before the response is flushed to a slow client. */
    gc_db_release(q);
    gc_redis_release(q);
    /* An endpoint that gave up returns the status httpd will send. */
    gc_metrics_count(q->route, rc >= 100 ? rc : r->status);
    return rc;
}

/* Every response gets a request id, including the error pages httpd sends
 * before any header is read (a bad request line, oversize headers): a fresh
 * id when the request is created, the client's own once its headers are in. */
static int gemclone_create_request(request_rec *r)
{
    const char *id = gc_random_hex(r->pool, 12);
    if (id) {
        apr_table_setn(r->err_headers_out, "X-Request-Id", id);
    }
    return OK;
}

static int gemclone_post_read_request(request_rec *r)
{
    gc_request_id(r);
    return DECLINED;
}

static int gemclone_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    /* Not thread-safe: done once in the parent before any child exists. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return OK;
}

/* Validation runs here so that `apachectl configtest` catches mistakes. */
static int gemclone_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                                 server_rec *s)
{
    server_rec *sp;
    const char *err;

    for (sp = s; sp; sp = sp->next) {
        err = gc_config_finish(pconf, sp, gc_config_get(sp));
        /* One Redis pool per child, made from the main server's URL. */
        if (!err && sp != s && strcmp(gc_config_get(sp)->redis_url, gc_config_get(s)->redis_url)) {
            err = GC_DIR_REDIS_URL " may only be set in the main server "
                  "(each child keeps one Redis pool)";
        }
        if (err) {
            GCLOG_S(sp, APLOG_STARTUP | APLOG_EMERG, 0, "GC00001",
                    "mod_gemclone configuration error%s%s: %s",
                    sp->defn_name ? " in the virtual host at " : "",
                    sp->defn_name ? apr_psprintf(ptemp, "%s:%d", sp->defn_name,
                                                 sp->defn_line_number) : "", err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    if ((err = gc_db_setup(s)) != NULL) {
        GCLOG_S(s, APLOG_STARTUP | APLOG_EMERG, 0, "GC00002", "mod_gemclone: %s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static int gemclone_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                                server_rec *s)
{
    gc_metrics_init(pconf, s);
    return OK;
}

static void gemclone_child_init(apr_pool_t *pchild, server_rec *s)
{
    gc_config_child_init(s);
    gc_redis_child_init(pchild, s);
}

static void gemclone_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(gemclone_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(gemclone_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(gemclone_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(gemclone_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_create_request(gemclone_create_request, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(gemclone_post_read_request, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(gemclone_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(gemclone) = {
    STANDARD20_MODULE_STUFF,
    NULL,                          /* per-directory config */
    NULL,                          /* merge per-directory */
    gc_config_create_server,
    gc_config_merge_server,
    gc_config_directives,
    gemclone_register_hooks,
    AP_MODULE_FLAG_NONE
};
