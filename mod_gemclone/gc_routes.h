/* The route table: method + path pattern -> endpoint function. The handler
 * answers 404 for an unknown path and 405 (with Allow) for a wrong method. */
#ifndef GC_ROUTES_H
#define GC_ROUTES_H

#include "mod_gemclone.h"

typedef int (*gc_endpoint_fn)(gc_req *q);

typedef enum { GC_PUBLIC = 0, GC_BEARER = 1 } gc_route_auth;
typedef enum { GC_NO_BODY = 0, GC_JSON_BODY = 1, GC_RAW_BODY = 2 } gc_route_body;

struct gc_route {
    int method;              /* M_GET (HEAD included), M_POST, M_PATCH, M_DELETE */
    const char *pattern;     /* "/chatroom/:id/messages/:id"; ":id" = a path id */
    gc_route_auth auth;
    gc_route_body body;
    gc_endpoint_fn fn;
};

typedef enum {
    GC_ROUTE_FOUND = 0,
    GC_ROUTE_NO_PATH,        /* 404 */
    GC_ROUTE_NO_METHOD       /* 405, *allow lists the methods */
} gc_route_result;

/* Matches r's method and path. On FOUND, q->route and q->ids are set. */
gc_route_result gc_route_match(gc_req *q, const char *path, const char **allow);

/* A method's name ("GET" for M_GET, never "HEAD"). */
const char *gc_route_method_name(apr_pool_t *pool, int m);

/* The table's size, a route's position in it, and the route at a position
 * (for the shared metrics counters). */
size_t gc_route_count(void);
size_t gc_route_index(const gc_route *route);
const gc_route *gc_route_at(size_t i);

#endif
