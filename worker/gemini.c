/* Gemini calls over libcurl multi: see gemini.h. */
#include "gemini.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <apr_strings.h>

#include "reply_parse.h"
#include "retry.h"
#include "sse_parse.h"

#define SNIPPET_MAX 160

struct gemini_call {
    apr_pool_t *pool;
    apr_pool_t *scratch;      /* one chunk's parse, cleared after each */
    CURLM *multi;
    CURL *easy;
    struct curl_slist *headers;
    int streaming;
    gemini_delta_fn fn;
    void *fn_arg;

    sse_parser sse;
    int events;               /* SSE events seen */
    size_t received;          /* response bytes so far */
    long status;              /* HTTP status, once known */
    int stopped;              /* we ended the transfer on purpose */

    char *raw;                /* whole body (not streaming, an error, or a
                               * stream before its first event) */
    size_t raw_len, raw_cap;
    char *text;               /* the reply text so far */
    size_t text_len, text_cap;

    attempt_result r;         /* strings in pool */
};

/* Appends to a malloc'd buffer; 0, or -1 out of memory. */
static int grow(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    size_t want = *len + n + 1, ncap;
    char *nb;

    if (want > *cap) {
        ncap = *cap ? *cap : 1024;
        while (ncap < want)
            ncap *= 2;
        if ((nb = realloc(*buf, ncap)) == NULL)
            return -1;
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

/* Takes one parsed response (a whole reply, or a chunk) into the call.
 * Returns 0 to go on, 1 when the transfer should stop (an error). */
static int take(gemini_call *g, const reply_chunk *c)
{
    if (c->is_error) {
        g->r.error_seen = 1;
        g->r.error_json = 1;
        g->r.error_code = c->code;
        g->r.error_status = c->status ? apr_pstrdup(g->pool, c->status) : NULL;
        g->r.error_message = c->message ? apr_pstrdup(g->pool, c->message) : NULL;
        g->r.retry_delay_ms = c->retry_delay_ms;
        return 1;
    }
    if (c->has_candidates)
        g->r.has_candidates = 1;
    if (c->finish_reason != NULL)
        g->r.finish_reason = apr_pstrdup(g->pool, c->finish_reason);
    if (c->block_reason != NULL)
        g->r.block_reason = apr_pstrdup(g->pool, c->block_reason);
    if (c->text_len > 0) {
        if (grow(&g->text, &g->text_len, &g->text_cap, c->text, c->text_len) != 0) {
            g->r.too_large = 1;
            return 1;
        }
        if (g->streaming && g->fn != NULL)
            g->fn(g->fn_arg, c->text, c->text_len);
    }
    return 0;
}

/* One SSE event: a complete GenerateContentResponse. */
static int on_event(void *arg, const char *data, size_t len)
{
    gemini_call *g = arg;
    reply_chunk c;
    int rc;

    g->events++;
    if (g->raw != NULL) {        /* it is SSE after all: no fallback needed */
        free(g->raw);
        g->raw = NULL;
        g->raw_len = g->raw_cap = 0;
    }
    if (reply_parse(g->scratch, data, len, &c) != 0) {
        g->r.malformed = 1;
        apr_pool_clear(g->scratch);
        return 1;
    }
    rc = take(g, &c);
    apr_pool_clear(g->scratch);
    return rc;
}

/* libcurl write callback: streams go through the SSE parser; a whole
 * reply and error bodies are kept until the end. */
static size_t on_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
    gemini_call *g = arg;
    size_t n = size * nmemb;

    if (g->status == 0)
        curl_easy_getinfo(g->easy, CURLINFO_RESPONSE_CODE, &g->status);
    g->received += n;
    if (g->received > GEMINI_RESPONSE_MAX) {
        g->r.too_large = 1;
        g->stopped = 1;
        return 0;
    }
    if (g->status < 200 || g->status >= 300) {
        /* An error body: keep its head, read (and drop) the rest. */
        if (g->raw_len < GEMINI_ERROR_BODY_MAX)
            grow(&g->raw, &g->raw_len, &g->raw_cap, ptr,
                 n < GEMINI_ERROR_BODY_MAX - g->raw_len
                 ? n : GEMINI_ERROR_BODY_MAX - g->raw_len);
        return n;
    }
    if (!g->streaming || g->events == 0) {
        /* Not streaming; or a stream that may yet turn out to be plain
         * JSON (the content type is not relied on): kept until the first
         * event shows it is SSE. */
        if (grow(&g->raw, &g->raw_len, &g->raw_cap, ptr, n) != 0) {
            g->r.too_large = 1;
            g->stopped = 1;
            return 0;
        }
        if (!g->streaming)
            return n;
    }
    switch (sse_feed(&g->sse, ptr, n, on_event, g)) {
    case 0:
        return n;
    case SSE_TOO_BIG:
        g->r.too_large = 1;
        /* fall through */
    default:
        g->stopped = 1;
        return 0;
    }
}

/* libcurl header callback: a new status line starts a new response (after
 * a 100 Continue); Retry-After is remembered. */
static size_t on_header(char *buf, size_t size, size_t nitems, void *arg)
{
    gemini_call *g = arg;
    size_t n = size * nitems;
    char val[128];
    size_t vlen;

    if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        g->r.retry_after_ms = -1;
        g->status = 0;
    } else if (n > 12 && strncasecmp(buf, "retry-after:", 12) == 0) {
        vlen = n - 12 < sizeof(val) - 1 ? n - 12 : sizeof(val) - 1;
        memcpy(val, buf + 12, vlen);
        val[vlen] = '\0';
        g->r.retry_after_ms = retry_parse_retry_after_ms(val, (int64_t)time(NULL));
    }
    return n;
}

/* Pool cleanup: the transfer leaves the multi handle and everything of it
 * is freed. */
static apr_status_t call_cleanup(void *data)
{
    gemini_call *g = data;

    if (g->easy != NULL) {
        curl_multi_remove_handle(g->multi, g->easy);
        curl_easy_cleanup(g->easy);
        g->easy = NULL;
    }
    curl_slist_free_all(g->headers);
    g->headers = NULL;
    sse_free(&g->sse);
    free(g->raw);
    free(g->text);
    g->raw = g->text = NULL;
    return APR_SUCCESS;
}

const char *gemini_url(apr_pool_t *p, const gemini_target *t)
{
    return apr_pstrcat(p, t->api_base, "/v1beta/models/", t->model,
                       t->streaming ? ":streamGenerateContent?alt=sse"
                                    : ":generateContent", NULL);
}

gemini_call *gemini_start(apr_pool_t *p, CURLM *multi, const gemini_target *t,
                          const char *body, size_t len, gemini_delta_fn fn,
                          void *arg, void *priv)
{
    gemini_call *g = apr_pcalloc(p, sizeof(*g));
    struct curl_slist *h;
    long low_time = GEMINI_LOW_SPEED_TIME_S;

    g->pool = p;
    g->multi = multi;
    g->streaming = t->streaming;
    g->fn = fn;
    g->fn_arg = arg;
    g->r.retry_delay_ms = -1;
    g->r.retry_after_ms = -1;
    sse_init(&g->sse, GEMINI_RESPONSE_MAX);
    if (apr_pool_create(&g->scratch, p) != APR_SUCCESS)
        return NULL;
    apr_pool_cleanup_register(p, g, call_cleanup, apr_pool_cleanup_null);

    if ((g->easy = curl_easy_init()) == NULL)
        return NULL;
    h = curl_slist_append(NULL, "Content-Type: application/json");
    if (h != NULL)
        g->headers = h;
    h = curl_slist_append(g->headers, apr_pstrcat(p, "x-goog-api-key: ",
                                                  t->api_key, NULL));
    if (h != NULL)
        g->headers = h;
    h = curl_slist_append(g->headers, "Expect:");   /* no 100-continue wait */
    if (h == NULL || g->headers == NULL)
        return NULL;
    g->headers = h;

    if (low_time * 1000 > t->timeout_ms)
        low_time = (t->timeout_ms + 999) / 1000;
    curl_easy_setopt(g->easy, CURLOPT_URL, gemini_url(p, t));
    curl_easy_setopt(g->easy, CURLOPT_HTTPHEADER, g->headers);
    curl_easy_setopt(g->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(g->easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(g->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(g->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(g->easy, CURLOPT_WRITEDATA, g);
    curl_easy_setopt(g->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(g->easy, CURLOPT_HEADERDATA, g);
    curl_easy_setopt(g->easy, CURLOPT_PRIVATE, priv);
    curl_easy_setopt(g->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(g->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     t->timeout_ms < GEMINI_CONNECT_TIMEOUT_MS
                     ? t->timeout_ms : GEMINI_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(g->easy, CURLOPT_TIMEOUT_MS, t->timeout_ms);
    curl_easy_setopt(g->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(g->easy, CURLOPT_LOW_SPEED_TIME, low_time);
    curl_easy_setopt(g->easy, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)GEMINI_RESPONSE_MAX);
    curl_easy_setopt(g->easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(g->easy, CURLOPT_FOLLOWLOCATION, 0L);
    /* HTTP/2 (https, ALPN): wait to share the connection. Plain http is
     * HTTP/1.1 only, where waiting holds every new call back until the
     * first call's response headers arrive (seconds for a slow answer). */
    if (strncasecmp(t->api_base, "https:", 6) == 0)
        curl_easy_setopt(g->easy, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(g->easy, CURLOPT_USERAGENT, t->user_agent);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(g->easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(g->easy, CURLOPT_PROTOCOLS,
                     (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (curl_multi_add_handle(multi, g->easy) != CURLM_OK) {
        curl_easy_cleanup(g->easy);
        g->easy = NULL;
        return NULL;
    }
    return g;
}

/* The first bytes of a non-JSON error body, printable, one line. */
static const char *snippet(apr_pool_t *p, const char *s, size_t n)
{
    char *out;
    size_t i, k = 0;

    if (n > SNIPPET_MAX)
        n = SNIPPET_MAX;
    out = apr_palloc(p, n + 1);
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch < 0x7f)
            out[k++] = (char)ch;
        else if ((ch == '\n' || ch == '\r' || ch == '\t') && k > 0 && out[k - 1] != ' ')
            out[k++] = ' ';
    }
    while (k > 0 && out[k - 1] == ' ')
        k--;
    out[k] = '\0';
    return out;
}

void gemini_result(gemini_call *g, CURLcode rc, apr_pool_t *out,
                   attempt_result *r, const char **text, size_t *text_len)
{
    reply_chunk c;

    curl_easy_getinfo(g->easy, CURLINFO_RESPONSE_CODE, &g->status);
    g->r.http_status = g->status;

    if (rc == CURLE_OK && g->status >= 200 && g->status < 300) {
        /* An error, malformed or oversized last chunk is noted in g->r. */
        if (g->streaming)
            (void)sse_end(&g->sse, on_event, g);
        if (!g->r.error_seen && !g->r.malformed && !g->r.too_large
            && g->raw != NULL && g->raw_len > 0
            && (!g->streaming || g->events == 0)) {
            /* A whole reply; or a "stream" that was plain JSON after all. */
            if (reply_parse(g->scratch, g->raw, g->raw_len, &c) != 0)
                g->r.malformed = 1;
            else
                take(g, &c);
        }
    } else if (g->status >= 300 || (g->status > 0 && g->status < 200)) {
        g->r.error_seen = 1;
        g->r.error_code = g->status;
        if (g->raw != NULL && reply_parse(g->scratch, g->raw, g->raw_len, &c) == 0
            && c.is_error) {
            g->r.error_json = 1;
            /* The HTTP status decides; the body's code only names it. */
            g->r.error_status = c.status ? apr_pstrdup(g->pool, c.status) : NULL;
            g->r.error_message = c.message ? apr_pstrdup(g->pool, c.message) : NULL;
            g->r.retry_delay_ms = c.retry_delay_ms;
        } else if (g->raw != NULL) {
            g->r.error_snippet = snippet(g->pool, g->raw, g->raw_len);
        }
    }
    if (rc != CURLE_OK && !g->stopped && !g->r.error_seen)
        g->r.transport_error = apr_pstrdup(g->pool, curl_easy_strerror(rc));
    if (rc == CURLE_FILESIZE_EXCEEDED)
        g->r.too_large = 1;

    *r = g->r;
    r->streaming = g->streaming;
    r->text_len = g->text_len;
    /* Strings out of the call's pool, which the caller is about to drop. */
    r->error_status = r->error_status ? apr_pstrdup(out, r->error_status) : NULL;
    r->error_message = r->error_message ? apr_pstrdup(out, r->error_message) : NULL;
    r->error_snippet = r->error_snippet ? apr_pstrdup(out, r->error_snippet) : NULL;
    r->finish_reason = r->finish_reason ? apr_pstrdup(out, r->finish_reason) : NULL;
    r->block_reason = r->block_reason ? apr_pstrdup(out, r->block_reason) : NULL;
    r->transport_error = r->transport_error ? apr_pstrdup(out, r->transport_error) : NULL;
    *text = g->text ? apr_pstrmemdup(out, g->text, g->text_len) : "";
    *text_len = g->text_len;
}
