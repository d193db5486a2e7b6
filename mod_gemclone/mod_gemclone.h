/* Shared types of mod_gemclone: the per-request context every endpoint
 * function receives, and the module record. */
#ifndef MOD_GEMCLONE_H
#define MOD_GEMCLONE_H

#include <stdint.h>

#include "httpd.h"
#include "http_config.h"
#include <jansson.h>

#include "gc_config.h"

extern module AP_MODULE_DECLARE_DATA gemclone_module;

#define GC_HANDLER_NAME "gemclone"
#define GC_MAX_PATH_IDS 2

typedef struct gc_db gc_db;
typedef struct gc_route gc_route;
typedef struct gc_rows gc_rows;

/* The authenticated caller, filled in by gc_session_authenticate. */
typedef struct {
    int64_t id;
    const char *mobile;
    const char *name;          /* NULL when unset */
    const char *tier;          /* "basic" or "pro" */
    int has_password;
    int64_t created_at;
    int64_t token_version;
    const char *jti;           /* of the presented token */
    int64_t token_exp;
} gc_user;

/* Everything an endpoint function needs, built once by the handler. */
typedef struct gc_req {
    request_rec *r;
    const gc_config *cfg;
    const char *request_id;
    int64_t now;                      /* the injectable clock, read once */
    const gc_route *route;
    int64_t ids[GC_MAX_PATH_IDS];     /* ids from the path, in order */
    int nids;
    json_t *body;                     /* the parsed JSON object, or NULL */
    gc_user *user;                    /* set on authenticated routes */
    const gc_rows *user_rows;         /* the caller's row, GC_USER_COL_* order */
    gc_db *db;                        /* lazily opened, see gc_db.h */
} gc_req;

#endif
