/* PBKDF2-HMAC-SHA256 password hashes in a self-describing string:
 *   $pbkdf2-sha256$i=<iterations>$<b64url salt (16 bytes)>$<b64url hash (32 bytes)>
 * The iteration count travels with the hash so the cost can be raised later
 * (gc_password_needs_rehash) without invalidating stored passwords. */
#include <limits.h>
#include <string.h>
#include <apr_strings.h>
#include <openssl/evp.h>

#include "gc_b64.h"
#include "gc_crypto.h"
#include "gc_password.h"

#define PW_PREFIX "$pbkdf2-sha256$i="
#define PW_SALT_LEN 16
#define PW_HASH_LEN GC_SHA256_LEN
#define PW_MAX_ITERATIONS 10000000u

/* Derives the 32-byte PBKDF2-HMAC-SHA256 key. */
static int pw_derive(const char *password, size_t len, const unsigned char *salt,
                     unsigned iterations, unsigned char out[PW_HASH_LEN])
{
    if (len > INT_MAX || iterations < 1 || iterations > PW_MAX_ITERATIONS)
        return -1;
    if (password == NULL)
        password = "";
    return PKCS5_PBKDF2_HMAC(password, (int)len, salt, PW_SALT_LEN, (int)iterations,
                             EVP_sha256(), PW_HASH_LEN, out) == 1 ? 0 : -1;
}

/* Hashes password under a fresh random salt. */
char *gc_password_hash(apr_pool_t *p, const char *password, size_t len, unsigned iterations)
{
    unsigned char salt[PW_SALT_LEN], hash[PW_HASH_LEN];

    if (gc_random_bytes(salt, sizeof(salt)) != 0
        || pw_derive(password, len, salt, iterations, hash) != 0)
        return NULL;
    return apr_psprintf(p, PW_PREFIX "%u$%s$%s", iterations,
                        gc_b64url_encode(p, salt, sizeof(salt)),
                        gc_b64url_encode(p, hash, sizeof(hash)));
}

/* Reads the scheme and iteration count: a plain decimal 1..10,000,000
 * followed by '$'. Sets *rest to the text after that '$'. */
static int pw_parse_iterations(const char *stored, unsigned *iterations, const char **rest)
{
    const char *s;
    unsigned long v = 0;

    if (stored == NULL || strncmp(stored, PW_PREFIX, sizeof(PW_PREFIX) - 1) != 0)
        return -1;
    s = stored + sizeof(PW_PREFIX) - 1;
    if (*s < '1' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > PW_MAX_ITERATIONS)
            return -1;
    }
    if (*s != '$')
        return -1;
    *iterations = (unsigned)v;
    *rest = s + 1;
    return 0;
}

/* Splits "<salt>$<hash>" and decodes both, insisting on the sizes we write. */
static int pw_parse_salt_hash(apr_pool_t *p, const char *rest, const unsigned char **salt,
                              const unsigned char **hash)
{
    const char *dollar = strchr(rest, '$');
    size_t slen, hlen;

    if (dollar == NULL)
        return -1;
    *salt = gc_b64url_decode(p, rest, (size_t)(dollar - rest), &slen);
    *hash = gc_b64url_decode(p, dollar + 1, strlen(dollar + 1), &hlen);
    if (*salt == NULL || *hash == NULL || slen != PW_SALT_LEN || hlen != PW_HASH_LEN)
        return -1;
    return 0;
}

/* 1 on a match, 0 on a mismatch, -1 when stored is not ours. */
int gc_password_verify(apr_pool_t *p, const char *password, size_t len, const char *stored)
{
    const unsigned char *salt, *hash;
    unsigned char got[PW_HASH_LEN];
    unsigned iterations;
    const char *rest;

    if (pw_parse_iterations(stored, &iterations, &rest) != 0
        || pw_parse_salt_hash(p, rest, &salt, &hash) != 0)
        return -1;
    if (pw_derive(password, len, salt, iterations, got) != 0)
        return -1;
    return gc_ct_equal(got, sizeof(got), hash, PW_HASH_LEN);
}

/* 1 when stored used fewer iterations than wanted; also 1 for a string we
 * cannot read, whose owner needs a new hash anyway. */
int gc_password_needs_rehash(const char *stored, unsigned wanted_iterations)
{
    unsigned iterations;
    const char *rest;

    if (pw_parse_iterations(stored, &iterations, &rest) != 0)
        return 1;
    return iterations < wanted_iterations;
}
