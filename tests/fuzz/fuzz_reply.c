/* Gemini response bodies (worker/reply_parse.c), their classification
 * (worker/outcome.c) and the retry hints (worker/retry.c). The body is
 * parsed as the worker does for a whole reply, a stream chunk and an HTTP
 * error; the outcome's client-facing error must stay our own printable
 * words, and the scrubbed detail must respect its cap and hide the key. */
#include "fuzz.h"
#include <apr_strings.h>
#include "outcome.h"
#include "reply_parse.h"
#include "retry.h"

#define KEY "AIzaSyFUZZKEY"
#define DURATION_MAX_MS (7L * 86400 * 1000)

/* Only printable ASCII. */
static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

static void check_outcome(apr_pool_t *p, const attempt_result *r)
{
    outcome o;
    char *d;

    outcome_classify(p, r, &o);
    FUZZ_ASSERT(o.kind == OUTCOME_DONE || o.kind == OUTCOME_FAILED || o.kind == OUTCOME_RETRY);
    FUZZ_ASSERT(o.kind == OUTCOME_DONE || o.error != NULL);
    if (o.error != NULL) {
        /* Our own words and sanitised enum names: printable ASCII only. */
        FUZZ_ASSERT(printable(o.error));
    }
    FUZZ_ASSERT(o.kind == OUTCOME_RETRY || o.hint_ms == -1);
    if (o.detail != NULL) {
        d = outcome_scrub(p, o.detail, KEY, 200);
        FUZZ_ASSERT(strlen(d) <= 200 && strstr(d, KEY) == NULL);
        for (; *d; d++)
            FUZZ_ASSERT((unsigned char)*d >= 0x20 && *d != 0x7f);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    attempt_result r;
    reply_chunk c;
    char *s = fuzz_cstr(data, size);
    long ms;

    if (reply_parse(p, (const char *)data, size, &c) == 0) {
        FUZZ_ASSERT(c.text != NULL && strlen(c.text) == c.text_len);
        FUZZ_ASSERT(c.retry_delay_ms >= -1 && c.retry_delay_ms <= DURATION_MAX_MS);
        FUZZ_ASSERT(c.is_error || c.retry_delay_ms == -1);

        /* A 200 (whole or streamed) and an HTTP error, as gemini.c fills them. */
        memset(&r, 0, sizeof(r));
        r.http_status = 200;
        r.streaming = (int)(size & 1);
        r.retry_delay_ms = -1;
        r.retry_after_ms = -1;
        if (c.is_error) {
            r.error_seen = r.error_json = 1;
            r.error_code = c.code;
            r.error_status = c.status;
            r.error_message = c.message;
            r.retry_delay_ms = c.retry_delay_ms;
        }
        r.has_candidates = c.has_candidates;
        r.finish_reason = c.finish_reason;
        r.block_reason = c.block_reason;
        r.text_len = c.text_len;
        check_outcome(p, &r);
        r.http_status = 503;
        r.error_seen = 1;
        r.error_code = 503;
        r.retry_after_ms = 1000;
        check_outcome(p, &r);
    }
    else {
        memset(&r, 0, sizeof(r));
        r.http_status = 200;
        r.malformed = 1;
        r.retry_delay_ms = r.retry_after_ms = -1;
        check_outcome(p, &r);
        r.http_status = 502;
        r.error_seen = 1;
        r.error_code = 502;
        r.error_snippet = s;
        check_outcome(p, &r);
    }

    /* The body as a Duration and as a Retry-After value. */
    ms = retry_parse_duration_ms(s);
    FUZZ_ASSERT(ms >= -1 && ms <= DURATION_MAX_MS);
    ms = retry_parse_retry_after_ms(s, 1700000000);
    FUZZ_ASSERT(ms >= -1 && ms <= DURATION_MAX_MS);
    ms = retry_wait_ms((int)(size % 8), ms, (double)(size % 7) / 6.0);
    FUZZ_ASSERT(ms >= RETRY_MIN_WAIT_MS);
    /* Scrubbing any text with the input as the secret. */
    (void)outcome_scrub(p, s, s, size % 64);
    free(s);
    apr_pool_destroy(p);
    return 0;
}
