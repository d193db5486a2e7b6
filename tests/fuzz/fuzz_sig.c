/* Stripe-Signature (gc_sig.c): the input is "<header>\n<body>". Any header
 * is verified without crashing; a header we build for the body verifies,
 * and stays valid (or becomes MALFORMED) when the fuzzed header's elements
 * are appended to it, never MISMATCH or STALE. */
#include "fuzz.h"
#include <apr_strings.h>
#include "gc_sig.h"

#define SECRET "whsec_test_secret"
#define NOW 1700000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hlen = nl ? (size_t)(nl - data) : size;
    char *header = apr_pstrmemdup(p, (const char *)data, hlen);
    const char *body = nl ? (const char *)nl + 1 : "";
    size_t blen = nl ? size - hlen - 1 : 0;
    gc_sig_status_t st;
    char *ours;

    /* Any header, against the real secret and at the extremes of time. */
    st = gc_sig_verify(p, header, SECRET, strlen(SECRET), body, blen, NOW, 300);
    FUZZ_ASSERT(st >= GC_SIG_OK && st <= GC_SIG_MISMATCH);
    if (st == GC_SIG_OK)
        FUZZ_ASSERT(strstr(header, "t=") != NULL && strstr(header, "v1=") != NULL);
    (void)gc_sig_verify(p, header, SECRET, strlen(SECRET), body, blen, INT64_MIN, 300);
    (void)gc_sig_verify(p, header, SECRET, strlen(SECRET), body, blen, INT64_MAX, INT64_MAX);
    (void)gc_sig_verify(p, header, "", 0, body, blen, NOW, 0);

    /* Our own header verifies, with any secret bytes (the header's). */
    ours = gc_sig_header(p, header, hlen, body, blen, NOW);
    FUZZ_ASSERT(ours != NULL);
    FUZZ_ASSERT(gc_sig_verify(p, ours, header, hlen, body, blen, NOW, 0) == GC_SIG_OK);
    FUZZ_ASSERT(gc_sig_verify(p, ours, header, hlen, body, blen, NOW + 301, 300) == GC_SIG_STALE);
    if (hlen > 0) {
        st = gc_sig_verify(p, apr_pstrcat(p, ours, ",", header, NULL), header, hlen, body, blen,
                           NOW, 300);
        FUZZ_ASSERT(st == GC_SIG_OK || st == GC_SIG_MALFORMED);
    }
    apr_pool_destroy(p);
    return 0;
}
