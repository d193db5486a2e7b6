/* Signed OTP delivery through the bounded HTTP client. */
#include <string.h>

#include "httpd.h"
#include "apr_strings.h"

#include "gc_otp_delivery.h"
#include "gc_http_client.h"
#include "gc_json.h"
#include "gc_sig.h"
#include "gc_log.h"

#define DELIVERY_TIMEOUT_MS 5000L

int gc_otp_deliver(gc_req *q, const char *mobile, const char *code, const char *purpose)
{
    apr_pool_t *p = q->r->pool;
    json_t *msg = gc_json_own(p, json_object());
    const char *body, *sig, *headers[3];
    gc_http_result res;
    size_t len = 0;
    int rc;

    json_object_set_new(msg, "mobile", json_string(mobile));
    json_object_set_new(msg, "otp", json_string(code));
    json_object_set_new(msg, "purpose", json_string(purpose));
    body = gc_json_dump(p, msg, &len);
    sig = gc_sig_header(p, q->cfg->otp_delivery_secret, strlen(q->cfg->otp_delivery_secret),
                        body, len, q->now);
    if (!body || !sig) {
        return -1;
    }
    headers[0] = "Content-Type: application/json";
    headers[1] = apr_pstrcat(p, "X-Gemclone-Signature: ", sig, NULL);
    headers[2] = NULL;
    rc = gc_http_post(q, q->cfg->otp_delivery_url, headers, body, len, DELIVERY_TIMEOUT_MS,
                      &res);
    if (rc != 0 || res.status < 200 || res.status > 299) {
        GCLOG(q, APLOG_ERR, "GC00050", "OTP delivery failed: %s (HTTP %ld)",
              rc != 0 ? res.transport_error : "receiver refused", res.status);
        return -1;
    }
    GCLOG(q, APLOG_INFO, "GC00051", "OTP (%s) delivered for user with mobile ending %s",
          purpose, mobile + (strlen(mobile) > 4 ? strlen(mobile) - 4 : 0));
    return 0;
}
