/* The SSE parser (worker/sse_parse.c). The first byte picks a split point
 * and the cap; the rest is the stream. Fed whole, fed in two chunks at the
 * split point and fed byte by byte, it must hand over the same events and
 * end the same way; no event may be larger than the input or the cap. Each
 * event is also read as a GenerateContentResponse (as the worker does). */
#include "fuzz.h"
#include "sse_parse.h"
#include "reply_parse.h"

/* What one run saw: the events joined with a separator byte and counted. */
typedef struct {
    char *buf;
    size_t len, cap;
    size_t events;
    size_t input;     /* size of the whole stream */
    size_t max;
    apr_pool_t *pool; /* non-NULL: parse each event as a reply */
} seen_t;

static int on_event(void *arg, const char *data, size_t len)
{
    seen_t *s = arg;
    reply_chunk c;

    FUZZ_ASSERT(len <= s->input && len <= s->max);
    FUZZ_ASSERT(data[len] == '\0');
    if (s->len + len + 1 > s->cap) {
        s->cap = (s->len + len + 1) * 2;
        s->buf = realloc(s->buf, s->cap);
        FUZZ_ASSERT(s->buf != NULL);
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    s->buf[s->len++] = '\x01';
    s->events++;
    if (s->pool != NULL) {
        if (reply_parse(s->pool, data, len, &c) == 0)
            FUZZ_ASSERT(c.text != NULL && strlen(c.text) == c.text_len);
        apr_pool_clear(s->pool);
    }
    return 0;
}

/* Feeds the stream in pieces cut at the given points (ascending). */
static int run(const char *in, size_t n, const size_t *cuts, size_t ncuts, seen_t *s)
{
    sse_parser sp;
    size_t at = 0, k;
    int rc = 0;

    sse_init(&sp, s->max);
    for (k = 0; k <= ncuts && rc == 0; k++) {
        size_t to = k < ncuts ? cuts[k] : n;
        rc = sse_feed(&sp, in + at, to - at, on_event, s);
        at = to;
    }
    if (rc == 0)
        rc = sse_end(&sp, on_event, s);
    sse_free(&sp);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    seen_t whole, two, bytes;
    size_t split, cut[1], *cuts, i, max;
    int rc1, rc2, rc3;
    const char *in;
    apr_pool_t *p;

    if (size < 1)
        return 0;
    in = (const char *)data + 1;
    size--;
    /* A small cap in a quarter of the runs, to reach SSE_TOO_BIG. */
    max = (data[0] & 3) == 0 ? 16 + (data[0] >> 2) : 1 << 20;
    split = size ? (size_t)data[0] * size / 255 : 0;
    p = fuzz_pool();

    memset(&whole, 0, sizeof(whole));
    whole.input = size;
    whole.max = max;
    two = bytes = whole;
    whole.pool = p;

    rc1 = run(in, size, NULL, 0, &whole);
    cut[0] = split;
    rc2 = run(in, size, cut, 1, &two);
    cuts = malloc((size + 1) * sizeof(*cuts));
    for (i = 0; i < size; i++)
        cuts[i] = i;
    rc3 = run(in, size, cuts, size, &bytes);
    free(cuts);

    FUZZ_ASSERT(rc1 == rc2 && rc1 == rc3);
    FUZZ_ASSERT(rc1 == 0 || rc1 == SSE_TOO_BIG);
    FUZZ_ASSERT(whole.events == two.events && whole.events == bytes.events);
    FUZZ_ASSERT(whole.len == two.len && whole.len == bytes.len);
    FUZZ_ASSERT(whole.len == 0 || (memcmp(whole.buf, two.buf, whole.len) == 0
                                   && memcmp(whole.buf, bytes.buf, whole.len) == 0));
    free(whole.buf);
    free(two.buf);
    free(bytes.buf);
    apr_pool_destroy(p);
    return 0;
}
