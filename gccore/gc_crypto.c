/* Pool-friendly wrappers over OpenSSL's HMAC, CSPRNG and constant-time compare. */
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "gc_crypto.h"

/* HMAC-SHA256 of msg under key into out. */
int gc_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                   unsigned char out[GC_SHA256_LEN])
{
    static const unsigned char empty[1] = { 0 };
    unsigned int outlen = 0;

    if (keylen > INT_MAX)
        return -1;
    /* OpenSSL wants real pointers even for empty inputs. */
    if (key == NULL)
        key = empty;
    if (msg == NULL)
        msg = empty;
    if (HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out, &outlen) == NULL
        || outlen != GC_SHA256_LEN)
        return -1;
    return 0;
}

/* Fills buf with len bytes from OpenSSL's CSPRNG. */
int gc_random_bytes(void *buf, size_t len)
{
    unsigned char *b = buf;

    /* RAND_bytes takes an int: feed large requests in chunks. */
    while (len > 0) {
        int n = len > 1048576 ? 1048576 : (int)len;
        if (RAND_bytes(b, n) != 1)
            return -1;
        b += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Uniform integer in [0, bound): draws below the largest multiple of bound
 * are kept, the rest redrawn, so no residue is favoured. */
int gc_random_uniform(uint32_t bound, uint32_t *out)
{
    /* 2^32 mod bound, computed in 32 bits: the size of the biased tail. */
    uint32_t threshold;
    uint32_t r;

    if (bound == 0 || out == NULL)
        return -1;
    threshold = (uint32_t)(-bound) % bound;
    do {
        if (gc_random_bytes(&r, sizeof(r)) != 0)
            return -1;
    } while (r < threshold);
    *out = r % bound;
    return 0;
}

/* Lower-case hex of data in pool memory. */
char *gc_hex(apr_pool_t *p, const unsigned char *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *out = apr_palloc(p, len * 2 + 1);
    size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[len * 2] = '\0';
    return out;
}

/* Constant-time equality; the lengths themselves are not secret. */
int gc_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return 0;
    if (alen == 0)
        return 1;
    return CRYPTO_memcmp(a, b, alen) == 0;
}

/* Fresh random bytes as hex; NULL when the CSPRNG fails. */
char *gc_random_hex(apr_pool_t *p, size_t nbytes)
{
    unsigned char *buf = apr_palloc(p, nbytes ? nbytes : 1);

    if (gc_random_bytes(buf, nbytes) != 0)
        return NULL;
    return gc_hex(p, buf, nbytes);
}
