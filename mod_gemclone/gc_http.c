/* JSON envelope, errors and request bodies. */
#include "httpd.h"
#include <string.h>

#include "apr_strings.h"
#include "http_protocol.h"
#include "http_request.h"

#include "gc_http.h"
#include "gc_json.h"
#include "gc_text.h"
#include "gc_crypto.h"
#include "gc_log.h"

/* Sends body as the response with the JSON content type. */
static int send_json(gc_req *q, int status, json_t *body)
{
    request_rec *r = q->r;
    size_t len = 0;
    char *text = gc_json_dump(r->pool, body, &len);

    if (!text) {
        /* Cannot happen short of memory exhaustion; answer something valid. */
        text = "{\"success\":false,\"message\":\"Internal error\","
               "\"error\":{\"code\":\"INTERNAL_ERROR\"}}";
        len = strlen(text);
        status = HTTP_INTERNAL_SERVER_ERROR;
    }
    r->status = status;
    ap_set_content_type(r, "application/json; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only) {
        ap_rwrite(text, (int)len, r);
    }
    return OK;
}

int gc_respond(gc_req *q, int status, const char *message, json_t *data, json_t *meta)
{
    json_t *env = gc_json_own(q->r->pool, json_object());
    json_object_set_new(env, "success", json_true());
    json_object_set_new(env, "message", json_string(message));
    json_object_set(env, "data", data ? data : json_null());
    if (meta) {
        json_object_set(env, "meta", meta);
    }
    return send_json(q, status, env);
}

int gc_respond_error(gc_req *q, int status, const char *code, const char *message,
                     const char *field, json_t *data)
{
    json_t *env = gc_json_own(q->r->pool, json_object());
    json_t *err = json_object();
    json_object_set_new(err, "code", json_string(code));
    if (field) {
        json_object_set_new(err, "field", json_string(field));
    }
    json_object_set_new(env, "success", json_false());
    json_object_set_new(env, "message", json_string(message));
    json_object_set_new(env, "error", err);
    if (data) {
        json_object_set(env, "data", data);
    }
    if (status == HTTP_UNAUTHORIZED) {
        /* RFC 6750: tell the client which scheme we expect. */
        int token_at_fault = strcmp(code, GC_E_INVALID_TOKEN) == 0
                             || strcmp(code, GC_E_TOKEN_EXPIRED) == 0;
        apr_table_setn(q->r->err_headers_out, "WWW-Authenticate",
                       token_at_fault ? "Bearer error=\"invalid_token\"" : "Bearer");
    }
    return send_json(q, status, env);
}

int gc_respond_retry(gc_req *q, int status, const char *code, const char *message,
                     int64_t retry_after)
{
    if (retry_after < 0) {
        retry_after = 0;
    }
    apr_table_setn(q->r->err_headers_out, "Retry-After",
                   apr_psprintf(q->r->pool, "%" APR_INT64_T_FMT, (apr_int64_t)retry_after));
    return gc_respond_error(q, status, code, message, NULL, NULL);
}

int gc_fail_validation(gc_req *q, const char *field, const char *message)
{
    return gc_respond_error(q, HTTP_BAD_REQUEST, GC_E_VALIDATION, message, field, NULL);
}

int gc_fail_unavailable(gc_req *q, const char *what)
{
    GCLOG(q, APLOG_ERR, "GC00010", "%s is unavailable: answering 503", what);
    return gc_respond_retry(q, HTTP_SERVICE_UNAVAILABLE, GC_E_UNAVAILABLE,
                            "Service temporarily unavailable, please retry",
                            GC_RETRY_AFTER_UNAVAILABLE);
}

int gc_fail_internal(gc_req *q, const char *what)
{
    GCLOG(q, APLOG_ERR, "GC00011", "internal error: %s", what);
    return gc_respond_error(q, HTTP_INTERNAL_SERVER_ERROR, GC_E_INTERNAL,
                            "Internal error", NULL, NULL);
}

/* 1 when the Content-Type is application/json (any parameters). */
static int is_json_media_type(const char *ct)
{
    size_t n;
    if (!ct) {
        return 0;
    }
    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n)) {
        return 0;
    }
    ct += n;
    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    return *ct == '\0' || *ct == ';';
}

/* Reads the whole body into pool memory, up to limit bytes. Returns OK with
 * *len set; HTTP_REQUEST_ENTITY_TOO_LARGE when over the limit (the rest is
 * then drained); HTTP_BAD_REQUEST when the client's body is broken. */
static int read_body(request_rec *r, apr_off_t limit, char **out, apr_size_t *len)
{
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_size_t total = 0, cap = 4096;
    char *buf = apr_palloc(r->pool, cap + 1);
    int seen_eos = 0;

    while (!seen_eos) {
        apr_bucket *b;
        apr_status_t rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                                         APR_BLOCK_READ, 8192);
        if (rv != APR_SUCCESS) {
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t n;
            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = 1;
                break;
            }
            if (apr_bucket_read(b, &data, &n, APR_BLOCK_READ) != APR_SUCCESS) {
                return HTTP_BAD_REQUEST;
            }
            if ((apr_off_t)(total + n) > limit) {
                apr_brigade_cleanup(bb);
                ap_discard_request_body(r);
                return HTTP_REQUEST_ENTITY_TOO_LARGE;
            }
            if (total + n > cap) {
                char *bigger;
                while (total + n > cap) {
                    cap *= 2;
                }
                bigger = apr_palloc(r->pool, cap + 1);
                memcpy(bigger, buf, total);
                buf = bigger;
            }
            memcpy(buf + total, data, n);
            total += n;
        }
        apr_brigade_cleanup(bb);
    }
    buf[total] = '\0';
    *out = buf;
    *len = total;
    return OK;
}

/* A body that could not be read: too slow (408) or broken (400). */
static void body_unreadable(gc_req *q, int rc)
{
    if (rc == HTTP_REQUEST_TIME_OUT) {
        gc_respond_error(q, rc, "REQUEST_TIMEOUT", "The request body arrived too slowly",
                         NULL, NULL);
        return;
    }
    gc_respond_error(q, HTTP_BAD_REQUEST, GC_E_INVALID_JSON, "Request body could not be read",
                     NULL, NULL);
}

/* Finds the first string holding a NUL, for VALIDATION_ERROR with its field. */
static const char *field_with_nul(json_t *obj)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (json_is_string(v) && strlen(json_string_value(v)) != json_string_length(v)) {
            return key;
        }
    }
    return NULL;
}

int gc_read_raw_body(gc_req *q, const char **body, size_t *len)
{
    char *buf = "";
    apr_size_t n = 0;
    int rc = OK;
    if (apr_table_get(q->r->headers_in, "Content-Length")
        || apr_table_get(q->r->headers_in, "Transfer-Encoding")) {
        rc = read_body(q->r, q->cfg->max_body, &buf, &n);
    }
    if (rc == HTTP_REQUEST_ENTITY_TOO_LARGE) {
        gc_respond_error(q, rc, GC_E_TOO_LARGE, apr_psprintf(q->r->pool,
                         "Request body exceeds %" APR_OFF_T_FMT " bytes", q->cfg->max_body),
                         NULL, NULL);
        return DONE;
    }
    if (rc != OK) {
        body_unreadable(q, rc);
        return DONE;
    }
    *body = buf;
    *len = n;
    return OK;
}

int gc_read_json_body(gc_req *q)
{
    request_rec *r = q->r;
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    const char *te = apr_table_get(r->headers_in, "Transfer-Encoding");
    int has_body = (te != NULL) || (cl && strcmp(cl, "0") != 0);
    char *body = "";
    apr_size_t len = 0;
    const char *jerr = NULL, *nul_field;
    int rc;

    if (has_body && !is_json_media_type(apr_table_get(r->headers_in, "Content-Type"))) {
        ap_discard_request_body(r);
        gc_respond_error(q, HTTP_UNSUPPORTED_MEDIA_TYPE, GC_E_MEDIA_TYPE,
                         "Request body must be application/json", NULL, NULL);
        return DONE;
    }
    if (has_body) {
        rc = read_body(r, q->cfg->max_body, &body, &len);
        if (rc == HTTP_REQUEST_ENTITY_TOO_LARGE) {
            gc_respond_error(q, rc, GC_E_TOO_LARGE, apr_psprintf(r->pool,
                             "Request body exceeds %" APR_OFF_T_FMT " bytes",
                             q->cfg->max_body), NULL, NULL);
            return DONE;
        }
        if (rc != OK) {
            body_unreadable(q, rc);
            return DONE;
        }
    }
    switch (gc_json_parse_body(r->pool, body, len, &q->body, &jerr)) {
    case GC_JSON_PARSED:
        break;
    case GC_JSON_NOT_OBJECT:
        gc_respond_error(q, HTTP_BAD_REQUEST, GC_E_VALIDATION,
                         "Request body must be a JSON object", NULL, NULL);
        return DONE;
    default:
        /* Jansson's message quotes the body (a password, an OTP): not logged. */
        GCLOG(q, APLOG_INFO, "GC00012", "unparseable JSON body of %" APR_SIZE_T_FMT " bytes",
              len);
        gc_respond_error(q, HTTP_BAD_REQUEST, GC_E_INVALID_JSON,
                         "Request body is not valid JSON", NULL, NULL);
        return DONE;
    }
    if ((nul_field = field_with_nul(q->body)) != NULL) {
        gc_fail_validation(q, nul_field, apr_psprintf(r->pool,
                           "%s must not contain NUL characters", nul_field));
        return DONE;
    }
    return OK;
}

const char *gc_request_id(request_rec *r)
{
    const char *id = apr_table_get(r->notes, GC_REQUEST_ID_NOTE);
    if (id) {
        return id;
    }
    id = apr_table_get(r->headers_in, "X-Request-Id");
    if (!id || !gc_request_id_acceptable(id)) {
        /* The one create_request made, when there is one. */
        id = apr_table_get(r->err_headers_out, "X-Request-Id");
    }
    if (!id || !gc_request_id_acceptable(id)) {
        id = gc_random_hex(r->pool, 12);
        if (!id) {
            id = apr_psprintf(r->pool, "%" APR_TIME_T_FMT, r->request_time);
        }
    }
    apr_table_setn(r->notes, GC_REQUEST_ID_NOTE, id);
    apr_table_setn(r->err_headers_out, "X-Request-Id", id);
    return id;
}
