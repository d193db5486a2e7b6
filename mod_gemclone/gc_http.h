/* The HTTP edge of the module: the JSON envelope every response leaves
 * through, the error codes of the contract, and bounded body reading. */
#ifndef GC_HTTP_H
#define GC_HTTP_H

#include <stdint.h>
#include <jansson.h>

#include "mod_gemclone.h"

/* Error codes of API.md. */
#define GC_E_VALIDATION        "VALIDATION_ERROR"
#define GC_E_INVALID_JSON      "INVALID_JSON"
#define GC_E_INVALID_OTP       "INVALID_OTP"
#define GC_E_OTP_EXPIRED       "OTP_EXPIRED"
#define GC_E_UNAUTHORIZED      "UNAUTHORIZED"
#define GC_E_TOKEN_EXPIRED     "TOKEN_EXPIRED"
#define GC_E_INVALID_TOKEN     "INVALID_TOKEN"
#define GC_E_INVALID_CREDS     "INVALID_CREDENTIALS"
#define GC_E_NOT_FOUND         "NOT_FOUND"
#define GC_E_USER_NOT_FOUND    "USER_NOT_FOUND"
#define GC_E_METHOD            "METHOD_NOT_ALLOWED"
#define GC_E_CONFLICT          "CONFLICT"
#define GC_E_TOO_LARGE         "PAYLOAD_TOO_LARGE"
#define GC_E_MEDIA_TYPE        "UNSUPPORTED_MEDIA_TYPE"
#define GC_E_OTP_THROTTLED     "OTP_THROTTLED"
#define GC_E_TOO_MANY          "TOO_MANY_ATTEMPTS"
#define GC_E_INTERNAL          "INTERNAL_ERROR"
#define GC_E_UPSTREAM          "UPSTREAM_ERROR"
#define GC_E_UNAVAILABLE       "SERVICE_UNAVAILABLE"

/* Seconds a client should wait after a 503 for a dependency. */
#define GC_RETRY_AFTER_UNAVAILABLE 5

/* 2xx: {"success": true, "message", "data"[, "meta"]}. data and meta are
 * borrowed (may be NULL: data then is JSON null). Returns OK. */
int gc_respond(gc_req *q, int status, const char *message, json_t *data, json_t *meta);

/* 4xx/5xx: {"success": false, "message", "error": {"code"[, "field"]}[, "data"]}.
 * field and data may be NULL. Returns OK. */
int gc_respond_error(gc_req *q, int status, const char *code, const char *message,
                     const char *field, json_t *data);

/* gc_respond_error plus a Retry-After header of seconds (clamped at 0). */
int gc_respond_retry(gc_req *q, int status, const char *code, const char *message,
                     int64_t retry_after);

/* The usual shorthands. */
int gc_fail_validation(gc_req *q, const char *field, const char *message);
int gc_fail_unavailable(gc_req *q, const char *what);
int gc_fail_internal(gc_req *q, const char *what);

/* Reads and parses the request body into q->body as the contract says
 * (415, 413 after draining, 400 INVALID_JSON / VALIDATION_ERROR). Returns OK,
 * or DONE when an error response has been sent. */
int gc_read_json_body(gc_req *q);

/* Reads the body as bytes, unparsed (the Stripe webhook verifies them
 * byte for byte). Returns OK, or DONE after a 413/400. */
int gc_read_raw_body(gc_req *q, const char **body, size_t *len);

/* The request id of r: the client's X-Request-Id when acceptable, else a
 * fresh one; set on the response and kept in r->notes. */
const char *gc_request_id(request_rec *r);

#endif
