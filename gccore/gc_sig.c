/* The Stripe signature scheme: "t=<unix>,v1=<hex HMAC-SHA256(secret, t.body)>". */
#include <string.h>
#include <apr_strings.h>

#include "gc_crypto.h"
#include "gc_sig.h"

/* HMAC-SHA256 of "<t>.<body>" under secret. */
static int sig_mac(apr_pool_t *p, const char *secret, size_t secretlen, const char *body,
                   size_t bodylen, int64_t t, unsigned char mac[GC_SHA256_LEN])
{
    const char *prefix = apr_psprintf(p, "%" APR_INT64_T_FMT ".", t);
    size_t plen = strlen(prefix);
    char *msg = apr_palloc(p, plen + bodylen + 1);

    memcpy(msg, prefix, plen);
    if (bodylen > 0)
        memcpy(msg + plen, body, bodylen);
    return gc_hmac_sha256(secret, secretlen, msg, plen + bodylen, mac);
}

/* Builds "t=<now>,v1=<hex>". */
char *gc_sig_header(apr_pool_t *p, const char *secret, size_t secretlen,
                    const char *body, size_t bodylen, int64_t now)
{
    unsigned char mac[GC_SHA256_LEN];

    if (sig_mac(p, secret, secretlen, body, bodylen, now, mac) != 0)
        return NULL;
    return apr_psprintf(p, "t=%" APR_INT64_T_FMT ",v1=%s", now, gc_hex(p, mac, sizeof(mac)));
}

/* What the header says: its timestamp and its v1 signatures. */
typedef struct {
    int have_t;
    int64_t t;
    int nv1;
    const char *v1[16];   /* later v1 values past 16 are ignored */
    size_t v1len[16];
} sig_header_t;

/* Parses a timestamp: 1 to 18 ASCII digits (no sign, no space). */
static int sig_parse_t(const char *s, size_t len, int64_t *out)
{
    int64_t v = 0;
    size_t i;

    if (len == 0 || len > 18)
        return 0;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

/* Reads one "key=value" element of len bytes at e into h. */
static gc_sig_status_t sig_element(const char *e, size_t len, sig_header_t *h)
{
    const char *eq = memchr(e, '=', len);
    size_t klen, vlen;

    if (eq == NULL || eq == e)
        return GC_SIG_MALFORMED;
    klen = (size_t)(eq - e);
    vlen = len - klen - 1;
    if (klen == 1 && e[0] == 't') {
        if (h->have_t || !sig_parse_t(eq + 1, vlen, &h->t))
            return GC_SIG_MALFORMED;
        h->have_t = 1;
    }
    else if (klen == 2 && e[0] == 'v' && e[1] == '1') {
        if (h->nv1 < 16) {
            h->v1[h->nv1] = eq + 1;
            h->v1len[h->nv1] = vlen;
            h->nv1++;
        }
    }
    /* Other schemes (v0, future ones) are ignored, as Stripe asks. */
    return GC_SIG_OK;
}

/* Splits the header at commas (a space after a comma is tolerated). */
static gc_sig_status_t sig_parse(const char *header, sig_header_t *h)
{
    const char *s = header;

    memset(h, 0, sizeof(*h));
    for (;;) {
        const char *comma;
        size_t len;
        gc_sig_status_t st;

        while (*s == ' ')
            s++;
        comma = strchr(s, ',');
        len = comma ? (size_t)(comma - s) : strlen(s);
        if ((st = sig_element(s, len, h)) != GC_SIG_OK)
            return st;
        if (comma == NULL)
            break;
        s = comma + 1;
    }
    return h->have_t && h->nv1 > 0 ? GC_SIG_OK : GC_SIG_MISSING;
}

/* Verifies header against the raw body: MAC first, then the tolerance. */
gc_sig_status_t gc_sig_verify(apr_pool_t *p, const char *header,
                              const char *secret, size_t secretlen,
                              const char *body, size_t bodylen,
                              int64_t now, int64_t tolerance)
{
    unsigned char mac[GC_SHA256_LEN];
    const char *expected;
    sig_header_t h;
    gc_sig_status_t st;
    int64_t dist;
    int i, match = 0;

    if (header == NULL || *header == '\0')
        return GC_SIG_MISSING;
    if ((st = sig_parse(header, &h)) != GC_SIG_OK)
        return st;
    if (sig_mac(p, secret, secretlen, body, bodylen, h.t, mac) != 0)
        return GC_SIG_MISMATCH;
    expected = gc_hex(p, mac, sizeof(mac));
    /* Compare every candidate, without stopping at the first match. Stripe
     * sends lower-case hex, which is what we compare against. */
    for (i = 0; i < h.nv1; i++)
        match |= gc_ct_equal(expected, 2 * GC_SHA256_LEN, h.v1[i], h.v1len[i]);
    if (!match)
        return GC_SIG_MISMATCH;
    /* |now - t| > tolerance; a distance that overflows int64 (a "now" far
     * below zero) is stale too, rather than undefined (found by fuzzing). */
    if (__builtin_sub_overflow(h.t > now ? h.t : now, h.t > now ? now : h.t, &dist)
        || dist > tolerance)
        return GC_SIG_STALE;
    return GC_SIG_OK;
}
