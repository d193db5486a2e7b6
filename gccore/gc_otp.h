/* One-time codes: CSPRNG digits without modulo bias, stored only as a keyed
 * hash HMAC-SHA256(pepper, mobile ":" purpose ":" code). */
#ifndef GC_OTP_H
#define GC_OTP_H

#include <stddef.h>
#include <apr_pools.h>

#define GC_OTP_DIGITS 6

/* A fresh 6-digit code, NUL-terminated, in pool memory; NULL on RNG failure. */
char *gc_otp_generate(apr_pool_t *p);

/* 1 when s is exactly 6 ASCII digits. */
int gc_otp_is_well_formed(const char *s);

/* Lower-case hex HMAC-SHA256(pepper, mobile:purpose:code) in pool memory. */
char *gc_otp_hash(apr_pool_t *p, const unsigned char *pepper, size_t pepperlen,
                  const char *mobile, const char *purpose, const char *code);

#endif
