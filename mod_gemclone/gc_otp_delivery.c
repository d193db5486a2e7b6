/* Signed OTP delivery with libcurl. */
#include "httpd.h"
#include <curl/curl.h>

#include "apr_strings.h"

#include "gc_otp_delivery.h"
#include "gc_json.h"
#include "gc_sig.h"
#include "gc_log.h"

#define DELIVERY_CONNECT_TIMEOUT_MS 2000L
#define DELIVERY_TOTAL_TIMEOUT_MS   5000L

/* The receiver's answer body is not needed: read and drop it. */
static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    return size * nmemb;
}

static apr_status_t easy_cleanup(void *h)
{
    curl_easy_cleanup(h);
    return APR_SUCCESS;
}

static apr_status_t slist_cleanup(void *l)
{
    curl_slist_free_all(l);
    return APR_SUCCESS;
}

int gc_otp_deliver(gc_req *q, const char *mobile, const char *code, const char *purpose)
{
    apr_pool_t *p = q->r->pool;
    json_t *msg = gc_json_own(p, json_object());
    struct curl_slist *headers = NULL;
    const char *body, *sig;
    size_t len = 0;
    long status = 0;
    CURLcode rc;
    CURL *h;

    json_object_set_new(msg, "mobile", json_string(mobile));
    json_object_set_new(msg, "otp", json_string(code));
    json_object_set_new(msg, "purpose", json_string(purpose));
    body = gc_json_dump(p, msg, &len);
    sig = gc_sig_header(p, q->cfg->otp_delivery_secret, strlen(q->cfg->otp_delivery_secret),
                        body, len, q->now);
    h = curl_easy_init();
    if (!body || !sig || !h) {
        if (h) {
            curl_easy_cleanup(h);
        }
        return -1;
    }
    apr_pool_cleanup_register(p, h, easy_cleanup, apr_pool_cleanup_null);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, apr_pstrcat(p, "X-Gemclone-Signature: ", sig, NULL));
    headers = curl_slist_append(headers, apr_pstrcat(p, "X-Request-Id: ", q->request_id, NULL));
    apr_pool_cleanup_register(p, headers, slist_cleanup, apr_pool_cleanup_null);

    curl_easy_setopt(h, CURLOPT_URL, q->cfg->otp_delivery_url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, DELIVERY_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, DELIVERY_TOTAL_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    rc = curl_easy_perform(h);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    }
    if (rc != CURLE_OK || status < 200 || status > 299) {
        GCLOG(q, APLOG_ERR, "GC00050", "OTP delivery failed: %s (HTTP %ld)",
              rc != CURLE_OK ? curl_easy_strerror(rc) : "receiver refused", status);
        return -1;
    }
    GCLOG(q, APLOG_INFO, "GC00051", "OTP (%s) delivered for user with mobile ending %s",
          purpose, mobile + (strlen(mobile) > 4 ? strlen(mobile) - 4 : 0));
    return 0;
}
