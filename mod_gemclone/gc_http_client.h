/* Outgoing HTTP calls from request threads (Stripe, the OTP gateway): one
 * bounded libcurl call with connect/total time-outs and a response size cap,
 * every handle owned by the request pool. */
#ifndef GC_HTTP_CLIENT_H
#define GC_HTTP_CLIENT_H

#include "mod_gemclone.h"

typedef struct {
    long status;                 /* HTTP status, 0 when the call did not complete */
    const char *body;            /* NUL-terminated, pool memory */
    size_t body_len;
    const char *request_id;      /* the Request-Id response header, or NULL */
    int should_retry;            /* Stripe-Should-Retry: 1 true, 0 false, -1 absent */
    const char *transport_error; /* curl's message when status is 0 */
} gc_http_result;

/* POSTs body with the given extra headers (NULL-terminated array of
 * "Name: value"). Returns 0 when an HTTP answer came back (any status). */
int gc_http_post(gc_req *q, const char *url, const char *const headers[], const char *body,
                 size_t body_len, long timeout_ms, gc_http_result *out);

#endif
