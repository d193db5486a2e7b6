/* The Stripe signature scheme, used both to verify Stripe webhooks and to
 * sign our own OTP delivery requests:
 *   header "t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>[,v1=...][,v0=...]" */
#ifndef GC_SIG_H
#define GC_SIG_H

#include <stddef.h>
#include <stdint.h>
#include <apr_pools.h>

typedef enum {
    GC_SIG_OK = 0,
    GC_SIG_MISSING,    /* no header, or no t= or no v1= in it */
    GC_SIG_MALFORMED,  /* unparseable timestamp or element */
    GC_SIG_STALE,      /* |now - t| > tolerance */
    GC_SIG_MISMATCH    /* no v1 matches */
} gc_sig_status_t;

/* Builds "t=<now>,v1=<hex>" for body under secret (used whole). */
char *gc_sig_header(apr_pool_t *p, const char *secret, size_t secretlen,
                    const char *body, size_t bodylen, int64_t now);

/* Verifies header (may be NULL) against the raw body bytes. Any v1 may match
 * (constant-time compare each); unknown schemes (v0, ...) are ignored.
 * The MAC is checked before the timestamp tolerance so that a forged header
 * is never reported as merely stale. An element without '=' (or empty),
 * a second t=, or a t= that is not 1..18 digits is MALFORMED; v1 must be
 * lower-case hex as Stripe sends it; only the first 16 v1 values count. */
gc_sig_status_t gc_sig_verify(apr_pool_t *p, const char *header,
                              const char *secret, size_t secretlen,
                              const char *body, size_t bodylen,
                              int64_t now, int64_t tolerance);

#endif
