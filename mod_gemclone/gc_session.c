/* Issuing and checking session tokens. */
#include "httpd.h"
#include <stdlib.h>
#include <string.h>

#include "apr_strings.h"
#include "apr_lib.h"
#include "http_protocol.h"

#include "gc_session.h"
#include "gc_http.h"
#include "gc_jwt.h"
#include "gc_json.h"
#include "gc_crypto.h"
#include "gc_log.h"

const char *gc_user_tier(gc_req *q, const gc_rows *rows, int row)
{
    const char *until = gc_cell(rows, row, GC_USER_COL_PRO_UNTIL);
    if (!until) {
        return "basic";
    }
    if (strcasecmp(until, "Infinity") == 0) {
        return "pro";
    }
    return strtoll(until, NULL, 10) > q->now ? "pro" : "basic";
}

json_t *gc_user_json(gc_req *q, const gc_rows *rows, int row)
{
    json_t *u = gc_json_own(q->r->pool, json_object());
    json_object_set_new(u, "id", json_integer(gc_cell_i64(rows, row, GC_USER_COL_ID)));
    gc_json_set_str(u, "mobile", gc_cell(rows, row, GC_USER_COL_MOBILE));
    gc_json_set_str(u, "name", gc_cell(rows, row, GC_USER_COL_NAME));
    gc_json_set_str(u, "tier", gc_user_tier(q, rows, row));
    json_object_set_new(u, "has_password",
                        json_boolean(gc_cell_bool(rows, row, GC_USER_COL_HAS_PASSWORD)));
    gc_json_set_time(q->r->pool, u, "created_at",
                     gc_cell_i64(rows, row, GC_USER_COL_CREATED));
    return u;
}

json_t *gc_session_issue(gc_req *q, const gc_rows *rows)
{
    gc_jwt_claims_t claims;
    const char *token;
    json_t *data;

    claims.sub = gc_cell(rows, 0, GC_USER_COL_ID);
    claims.iat = q->now;
    claims.exp = q->now + q->cfg->token_lifetime;
    claims.jti = gc_random_hex(q->r->pool, 16);
    claims.ver = gc_cell_i64(rows, 0, GC_USER_COL_VERSION);
    if (!claims.sub || !claims.jti) {
        return NULL;
    }
    token = gc_jwt_sign(q->r->pool, (const unsigned char *)q->cfg->jwt_secret,
                        q->cfg->jwt_secret_len, &claims);
    if (!token) {
        return NULL;
    }
    data = gc_json_own(q->r->pool, json_object());
    json_object_set_new(data, "token", json_string(token));
    json_object_set_new(data, "token_type", json_string("Bearer"));
    json_object_set_new(data, "expires_in", json_integer(q->cfg->token_lifetime));
    json_object_set(data, "user", gc_user_json(q, rows, 0));
    return data;
}

int gc_session_log_in(gc_req *q, const gc_rows *rows, const char *how)
{
    json_t *data = gc_session_issue(q, rows);
    if (!data) {
        return gc_fail_internal(q, "token signing failed");
    }
    GCLOG(q, APLOG_INFO, "GC00061", "user %s logged in with %s",
          gc_cell(rows, 0, GC_USER_COL_ID), how);
    return gc_respond(q, HTTP_OK, "Logged in", data, NULL);
}

static int refuse(gc_req *q, const char *code, const char *message)
{
    gc_respond_error(q, HTTP_UNAUTHORIZED, code, message, NULL, NULL);
    return DONE;
}

/* The token of an "Authorization: Bearer <token>" header, or NULL. */
static const char *bearer_token(request_rec *r)
{
    const char *h = apr_table_get(r->headers_in, "Authorization");
    if (!h || strncasecmp(h, "Bearer", 6) || (h[6] != ' ' && h[6] != '\t')) {
        return NULL;
    }
    h += 6;
    while (*h == ' ' || *h == '\t') {
        h++;
    }
    return *h ? h : NULL;
}

int gc_session_authenticate(gc_req *q)
{
    const char *token = bearer_token(q->r);
    gc_jwt_claims_t claims;
    gc_rows *rows = NULL;
    gc_db_status st;
    const char *args[2];

    if (!token) {
        return refuse(q, GC_E_UNAUTHORIZED, "Missing bearer token");
    }
    switch (gc_jwt_verify(q->r->pool, token, (const unsigned char *)q->cfg->jwt_secret,
                          q->cfg->jwt_secret_len, q->now, GC_TOKEN_LEEWAY, &claims)) {
    case GC_JWT_OK:
        break;
    case GC_JWT_EXPIRED:
        return refuse(q, GC_E_TOKEN_EXPIRED, "Token has expired");
    default:
        return refuse(q, GC_E_INVALID_TOKEN, "Invalid token");
    }

    args[0] = claims.jti;
    args[1] = claims.sub;
    if ((st = gc_db_select(q, GC_SQL_USER_FOR_TOKEN, args, &rows)) != GC_DB_OK) {
        gc_db_fail(q, st);
        return DONE;
    }
    if (rows->nrows != 1) {
        return refuse(q, GC_E_INVALID_TOKEN, "Invalid token");
    }
    if (gc_cell_i64(rows, 0, GC_USER_COL_VERSION) != claims.ver) {
        return refuse(q, GC_E_INVALID_TOKEN, "Token was issued before a password change");
    }
    if (gc_cell_bool(rows, 0, GC_USER_NCOLS)) {
        return refuse(q, GC_E_INVALID_TOKEN, "Token has been revoked");
    }

    q->user = apr_pcalloc(q->r->pool, sizeof(*q->user));
    q->user->id = gc_cell_i64(rows, 0, GC_USER_COL_ID);
    q->user->mobile = gc_cell(rows, 0, GC_USER_COL_MOBILE);
    q->user->name = gc_cell(rows, 0, GC_USER_COL_NAME);
    q->user->tier = gc_user_tier(q, rows, 0);
    q->user->has_password = gc_cell_bool(rows, 0, GC_USER_COL_HAS_PASSWORD);
    q->user->created_at = gc_cell_i64(rows, 0, GC_USER_COL_CREATED);
    q->user->token_version = claims.ver;
    q->user->jti = claims.jti;
    q->user->token_exp = claims.exp;
    q->user_rows = rows;
    return OK;
}
