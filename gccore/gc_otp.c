/* One-time codes: uniform CSPRNG digits, kept only as a keyed hash. */
#include <string.h>
#include <apr_strings.h>

#include "gc_crypto.h"
#include "gc_otp.h"

/* A fresh code: one uniform draw in [0, 10^6), zero-padded to 6 digits
 * (drawing the whole number avoids per-digit modulo bias). */
char *gc_otp_generate(apr_pool_t *p)
{
    uint32_t v;

    if (gc_random_uniform(1000000u, &v) != 0)
        return NULL;
    return apr_psprintf(p, "%06u", (unsigned)v);
}

/* 1 when s is exactly GC_OTP_DIGITS ASCII digits. */
int gc_otp_is_well_formed(const char *s)
{
    int i;

    if (s == NULL)
        return 0;
    for (i = 0; i < GC_OTP_DIGITS; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return s[GC_OTP_DIGITS] == '\0';
}

/* Hex HMAC-SHA256(pepper, "mobile:purpose:code"). The parts cannot run
 * into each other: a normalised mobile and a purpose hold no ':'. The
 * purpose in the message keeps a login code from passing as a reset code. */
char *gc_otp_hash(apr_pool_t *p, const unsigned char *pepper, size_t pepperlen,
                  const char *mobile, const char *purpose, const char *code)
{
    unsigned char mac[GC_SHA256_LEN];
    const char *msg;

    if (mobile == NULL || purpose == NULL || code == NULL)
        return NULL;
    msg = apr_pstrcat(p, mobile, ":", purpose, ":", code, NULL);
    if (gc_hmac_sha256(pepper, pepperlen, msg, strlen(msg), mac) != 0)
        return NULL;
    return gc_hex(p, mac, sizeof(mac));
}
