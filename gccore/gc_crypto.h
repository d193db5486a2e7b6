/* Thin, pool-friendly wrappers over OpenSSL: HMAC, randomness, hex, and the
 * constant-time compare every secret comparison goes through. */
#ifndef GC_CRYPTO_H
#define GC_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include <apr_pools.h>

#define GC_SHA256_LEN 32

/* HMAC-SHA256 of msg under key into out[32]. Returns 0, or -1 on an OpenSSL failure. */
int gc_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                   unsigned char out[GC_SHA256_LEN]);

/* Fills buf with CSPRNG bytes (RAND_bytes). Returns 0, or -1 on failure. */
int gc_random_bytes(void *buf, size_t len);

/* A uniformly distributed integer in [0, bound) from the CSPRNG, without
 * modulo bias (rejection sampling). bound must be >= 1. Returns 0 or -1. */
int gc_random_uniform(uint32_t bound, uint32_t *out);

/* Lower-case hex of len bytes, NUL-terminated, in pool memory. */
char *gc_hex(apr_pool_t *p, const unsigned char *data, size_t len);

/* Constant-time equality of two buffers of the same length (CRYPTO_memcmp);
 * buffers of different lengths are unequal (length is not secret). 1 if equal. */
int gc_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* 2*nbytes lower-case hex characters of fresh randomness (ids, jti, request ids). */
char *gc_random_hex(apr_pool_t *p, size_t nbytes);

#endif
