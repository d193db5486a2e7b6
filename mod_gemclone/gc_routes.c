/* The route table and its matcher. */
#include "httpd.h"
#include <string.h>

#include "apr_strings.h"
#include "http_protocol.h"

#include "gc_routes.h"
#include "gc_handlers.h"
#include "gc_text.h"

/* Every endpoint of API.md. Aliases are rows of their own pointing at the
 * same function; HEAD is served by the GET rows. */
static const gc_route ROUTES[] = {
    { M_POST,   "/auth/signup",            GC_PUBLIC, GC_JSON_BODY, gc_auth_signup },
    { M_POST,   "/auth/send-otp",          GC_PUBLIC, GC_JSON_BODY, gc_auth_send_otp },
    { M_POST,   "/auth/verify-otp",        GC_PUBLIC, GC_JSON_BODY, gc_auth_verify_otp },
    { M_POST,   "/auth/login",             GC_PUBLIC, GC_JSON_BODY, gc_auth_login },
    { M_POST,   "/auth/forgot-password",   GC_PUBLIC, GC_JSON_BODY, gc_auth_forgot_password },
    { M_POST,   "/auth/reset-password",    GC_PUBLIC, GC_JSON_BODY, gc_auth_reset_password },
    { M_POST,   "/auth/change-password",   GC_BEARER, GC_JSON_BODY, gc_auth_change_password },
    { M_POST,   "/auth/logout",            GC_BEARER, GC_JSON_BODY, gc_auth_logout },
    { M_GET,    "/user/me",                GC_BEARER, GC_NO_BODY,   gc_user_me },
    { M_POST,   "/chatroom",                       GC_BEARER, GC_JSON_BODY, gc_room_create },
    { M_GET,    "/chatroom",                       GC_BEARER, GC_NO_BODY,   gc_room_list },
    { M_GET,    "/chatroom/:id",                   GC_BEARER, GC_NO_BODY,   gc_room_get },
    { M_PATCH,  "/chatroom/:id",                   GC_BEARER, GC_JSON_BODY, gc_room_rename },
    { M_DELETE, "/chatroom/:id",                   GC_BEARER, GC_NO_BODY,   gc_room_delete },
    { M_GET,    "/chatroom/:id/messages",          GC_BEARER, GC_NO_BODY,   gc_message_list },
    { M_POST,   "/chatroom/:id/message",           GC_BEARER, GC_JSON_BODY, gc_prompt_post },
    { M_GET,    "/chatroom/:id/messages/:id",      GC_BEARER, GC_NO_BODY,   gc_message_get },
    { M_POST,   "/subscribe/pro",                  GC_BEARER, GC_JSON_BODY, gc_subscribe_pro },
    { M_POST,   "/subscription/pro",               GC_BEARER, GC_JSON_BODY, gc_subscribe_pro },
    { M_GET,    "/subscription/status",            GC_BEARER, GC_NO_BODY,   gc_subscription_status },
    { M_GET,    "/subscribe/status",               GC_BEARER, GC_NO_BODY,   gc_subscription_status },
    { M_POST,   "/webhook/stripe",                 GC_PUBLIC, GC_RAW_BODY,  gc_webhook_stripe },
    { M_GET,    "/metrics",                        GC_PUBLIC, GC_NO_BODY,   gc_metrics_endpoint },
    { M_GET,    "/health",                 GC_PUBLIC, GC_NO_BODY,   gc_ops_health },
    { M_GET,    "/ready",                  GC_PUBLIC, GC_NO_BODY,   gc_ops_ready },
    { 0, NULL, 0, 0, NULL }
};

/* Matches one pattern against path; fills ids. 1 on a match. */
static int match_pattern(const char *pattern, const char *path, int64_t ids[], int *nids)
{
    const char *p = pattern, *s = path;
    int n = 0;

    while (*p && *s) {
        if (p[0] == ':' && strncmp(p, ":id", 3) == 0) {
            size_t len = strcspn(s, "/");
            if (n >= GC_MAX_PATH_IDS || !gc_parse_path_id(s, len, &ids[n])) {
                return 0;
            }
            n++;
            p += 3;
            s += len;
            continue;
        }
        if (*p != *s) {
            return 0;
        }
        p++;
        s++;
    }
    if (*p || *s) {
        return 0;
    }
    *nids = n;
    return 1;
}

/* The method's name for Allow. Not ap_method_name_of(): httpd registers both
 * "GET" and "HEAD" as M_GET, and its reverse lookup may answer "HEAD". */
const char *gc_route_method_name(apr_pool_t *pool, int m)
{
    switch (m) {
    case M_GET:    return "GET";
    case M_PUT:    return "PUT";
    case M_POST:   return "POST";
    case M_DELETE: return "DELETE";
    case M_PATCH:  return "PATCH";
    default:       return ap_method_name_of(pool, m);
    }
}

/* Adds a method name to the Allow list once. */
static const char *allow_add(apr_pool_t *pool, const char *allow, const char *m)
{
    return allow ? apr_pstrcat(pool, allow, ", ", m, NULL) : m;
}

gc_route_result gc_route_match(gc_req *q, const char *path, const char **allow)
{
    request_rec *r = q->r;
    const gc_route *rt;
    const char *methods = NULL;
    int64_t ids[GC_MAX_PATH_IDS];
    int nids = 0, path_known = 0;
    int method = r->method_number;

    for (rt = ROUTES; rt->pattern; rt++) {
        if (!match_pattern(rt->pattern, path, ids, &nids)) {
            continue;
        }
        path_known = 1;
        if (rt->method == method) {
            q->route = rt;
            memcpy(q->ids, ids, sizeof(ids));
            q->nids = nids;
            return GC_ROUTE_FOUND;
        }
        methods = allow_add(r->pool, methods, gc_route_method_name(r->pool, rt->method));
        if (rt->method == M_GET) {
            methods = allow_add(r->pool, methods, "HEAD");
        }
    }
    *allow = methods;
    return path_known ? GC_ROUTE_NO_METHOD : GC_ROUTE_NO_PATH;
}

size_t gc_route_count(void)
{
    return sizeof(ROUTES) / sizeof(ROUTES[0]) - 1;
}

size_t gc_route_index(const gc_route *route)
{
    return (size_t)(route - ROUTES);
}

const gc_route *gc_route_at(size_t i)
{
    return i < gc_route_count() ? &ROUTES[i] : NULL;
}
