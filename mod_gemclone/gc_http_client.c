/* Bounded outgoing HTTP calls with libcurl. */
#include <string.h>
#include <curl/curl.h>

#include "httpd.h"
#include "apr_strings.h"

#include "gc_http_client.h"

#define CONNECT_TIMEOUT_MS 3000L
#define MAX_RESPONSE_BYTES (1024 * 1024)

typedef struct {
    apr_pool_t *pool;
    char *buf;
    size_t len, cap;
    gc_http_result *out;
} sink;

/* Collects the body up to the cap; returning less aborts the transfer. */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    sink *s = userdata;
    size_t n = size * nmemb;
    if (s->len + n > MAX_RESPONSE_BYTES) {
        return 0;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        char *bigger;
        while (cap < s->len + n + 1) {
            cap *= 2;
        }
        bigger = apr_palloc(s->pool, cap);
        if (s->len) {
            memcpy(bigger, s->buf, s->len);
        }
        s->buf = bigger;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, ptr, n);
    s->len += n;
    return n;
}

/* Picks out the response headers we act on. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    sink *s = userdata;
    size_t n = size * nmemb;
    char *line = apr_pstrmemdup(s->pool, ptr, n), *colon = strchr(line, ':'), *v;
    if (!colon) {
        return n;
    }
    *colon = '\0';
    v = colon + 1;
    while (*v == ' ' || *v == '\t') {
        v++;
    }
    v[strcspn(v, "\r\n")] = '\0';
    if (strcasecmp(line, "Request-Id") == 0) {
        s->out->request_id = v;
    }
    else if (strcasecmp(line, "Stripe-Should-Retry") == 0) {
        s->out->should_retry = strcasecmp(v, "true") == 0;
    }
    return n;
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

int gc_http_post(gc_req *q, const char *url, const char *const headers[], const char *body,
                 size_t body_len, long timeout_ms, gc_http_result *out)
{
    apr_pool_t *p = q->r->pool;
    struct curl_slist *list = NULL;
    sink s;
    CURLcode rc;
    CURL *h = curl_easy_init();
    int i;

    memset(out, 0, sizeof(*out));
    out->should_retry = -1;
    if (!h) {
        out->transport_error = "out of memory";
        return -1;
    }
    for (i = 0; headers && headers[i]; i++) {
        struct curl_slist *longer = curl_slist_append(list, headers[i]);
        if (!longer) {
            curl_slist_free_all(list);
            curl_easy_cleanup(h);
            out->transport_error = "out of memory";
            return -1;
        }
        list = longer;
    }
    {
        struct curl_slist *longer =
            curl_slist_append(list, apr_pstrcat(p, "X-Request-Id: ", q->request_id, NULL));
        if (!longer) {
            curl_slist_free_all(list);
            curl_easy_cleanup(h);
            out->transport_error = "out of memory";
            return -1;
        }
        list = longer;
    }
    /* Cleanups run newest first: the handle goes before the list it uses. */
    apr_pool_cleanup_register(p, list, slist_cleanup, apr_pool_cleanup_null);
    apr_pool_cleanup_register(p, h, easy_cleanup, apr_pool_cleanup_null);

    memset(&s, 0, sizeof(s));
    s.pool = p;
    s.out = out;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)body_len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    rc = curl_easy_perform(h);
    out->body = s.buf ? s.buf : "";
    if (s.buf) {
        s.buf[s.len] = '\0';
    }
    out->body_len = s.len;
    if (rc != CURLE_OK) {
        out->transport_error = curl_easy_strerror(rc);
        return -1;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    return 0;
}
