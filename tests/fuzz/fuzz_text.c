/* Text rules (gc_text.c) on any bytes: UTF-8 validity and length, trim,
 * mobile numbers, path ids, request ids and the form escape, each with the
 * cheap invariant its header promises. */
#include "fuzz.h"
#include <inttypes.h>
#include <apr_strings.h>
#include "gc_text.h"

/* A white-space code point that gc_trim must remove at either end. */
static int starts_with_space(const char *s, size_t len)
{
    static const char *const sp[] = {
        " ", "\t", "\n", "\v", "\f", "\r", "\xC2\xA0", "\xE1\x9A\x80", "\xE2\x80\xA8",
        "\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE3\x80\x80", "\xEF\xBB\xBF",
        "\xE2\x80\x80", "\xE2\x80\x8A", NULL
    };
    size_t i;

    for (i = 0; sp[i]; i++)
        if (len >= strlen(sp[i]) && memcmp(s, sp[i], strlen(sp[i])) == 0)
            return 1;
    return 0;
}

static void check_trim(apr_pool_t *p, const char *s, size_t len)
{
    size_t tlen = 0, t2len = 0;
    char *t = gc_trim(p, s, len, &tlen), *t2;

    FUZZ_ASSERT(t != NULL && tlen <= len && t[tlen] == '\0');
    /* A contiguous piece of the input... */
    FUZZ_ASSERT(tlen == 0 || memmem(s, len, t, tlen) != NULL);
    /* ...without white space at its start... */
    FUZZ_ASSERT(!starts_with_space(t, tlen));
    /* ...and trimming is idempotent. */
    t2 = gc_trim(p, t, tlen, &t2len);
    FUZZ_ASSERT(t2len == tlen && memcmp(t2, t, tlen) == 0);
    /* Valid input stays valid and never gains code points. */
    if (gc_utf8_valid(s, len)) {
        FUZZ_ASSERT(gc_utf8_valid(t, tlen));
        FUZZ_ASSERT(gc_utf8_length(t, tlen) <= gc_utf8_length(s, len));
    }
}

static void check_mobile(apr_pool_t *p, const char *s)
{
    char *m = gc_mobile_normalize(p, s);
    size_t i, digits = 0;

    if (m == NULL)
        return;
    for (i = 0; m[i]; i++) {
        if (i == 0 && m[i] == '+')
            continue;
        FUZZ_ASSERT(m[i] >= '0' && m[i] <= '9');
        digits++;
    }
    FUZZ_ASSERT(digits >= 8 && digits <= 15);
    FUZZ_ASSERT(strcmp(gc_mobile_normalize(p, m), m) == 0);   /* idempotent */
}

static void check_path_id(apr_pool_t *p, const char *s, size_t len)
{
    int64_t id = -1;

    if (!gc_parse_path_id(s, len, &id))
        return;
    /* Exactly one spelling: the id printed back is the input. */
    FUZZ_ASSERT(id > 0);
    FUZZ_ASSERT(strlen(apr_psprintf(p, "%" PRId64, id)) == len
                && memcmp(apr_psprintf(p, "%" PRId64, id), s, len) == 0);
}

static void check_request_id(const char *s)
{
    size_t i, n = strlen(s);

    if (!gc_request_id_acceptable(s))
        return;
    FUZZ_ASSERT(n >= 1 && n <= 128);
    for (i = 0; i < n; i++)
        FUZZ_ASSERT(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-",
                           s[i]) != NULL);
}

static int hexv(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void check_form_escape(apr_pool_t *p, const char *s)
{
    char *e = gc_form_escape(p, s), *dec, *o;
    const char *q;

    FUZZ_ASSERT(e != NULL);
    dec = apr_palloc(p, strlen(e) + 1);
    o = dec;
    for (q = e; *q; q++) {
        if (*q == '%') {
            FUZZ_ASSERT(hexv(q[1]) >= 0 && hexv(q[2]) >= 0);
            *o++ = (char)(hexv(q[1]) * 16 + hexv(q[2]));
            q += 2;
        }
        else {
            FUZZ_ASSERT(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~",
                               *q) != NULL);
            *o++ = *q;
        }
    }
    *o = '\0';
    FUZZ_ASSERT(strcmp(dec, s) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    const char *s = (const char *)data;
    char *cs = fuzz_cstr(data, size);
    size_t cps = gc_utf8_length(s, size);

    FUZZ_ASSERT(cps <= size);
    if (gc_utf8_valid(s, size)) {
        /* A prefix cut on a code point boundary is valid too. */
        size_t i = size / 2;
        while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
            i--;
        FUZZ_ASSERT(gc_utf8_valid(s, i) && gc_utf8_valid(s + i, size - i));
    }
    check_trim(p, s, size);
    check_mobile(p, cs);
    check_path_id(p, s, size);
    check_request_id(cs);
    check_form_escape(p, cs);
    free(cs);
    apr_pool_destroy(p);
    return 0;
}
