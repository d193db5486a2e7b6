/* JWT (RFC 7519) with HS256 only (RFC 7518), following RFC 8725:
 * allow-list the algorithm, verify the MAC before reading any claim. */
#ifndef GC_JWT_H
#define GC_JWT_H

#include <stddef.h>
#include <stdint.h>
#include <apr_pools.h>

typedef struct {
    const char *sub;   /* user id as a decimal string */
    int64_t iat;
    int64_t exp;
    const char *jti;
    int64_t ver;       /* the user's token version */
} gc_jwt_claims_t;

typedef enum {
    GC_JWT_OK = 0,
    GC_JWT_MALFORMED,   /* not three strict base64url segments, bad JSON, header not an object */
    GC_JWT_BAD_ALG,     /* alg other than "HS256" (including "none"), or crit present */
    GC_JWT_BAD_MAC,     /* signature does not match */
    GC_JWT_BAD_CLAIMS,  /* MAC fine but sub/iat/exp/jti/ver missing or of the wrong type,
                           sub not a positive decimal string, nbf in the future */
    GC_JWT_EXPIRED      /* MAC and claims fine, now > exp + leeway */
} gc_jwt_status_t;

/* Signs claims with HS256 under key (used as given, never decoded).
 * Header is {"alg":"HS256","typ":"JWT"}. Returns the compact token in pool
 * memory, or NULL on an internal failure. */
char *gc_jwt_sign(apr_pool_t *p, const unsigned char *key, size_t keylen,
                  const gc_jwt_claims_t *claims);

/* Verifies token (NUL-terminated) at time now with leeway seconds for exp and
 * nbf. A header without "alg" is BAD_ALG; a header or payload with a
 * duplicate key is MALFORMED. On GC_JWT_OK and GC_JWT_EXPIRED, *out holds the claims (pool strings).
 * Tokens longer than 4096 bytes are GC_JWT_MALFORMED. */
gc_jwt_status_t gc_jwt_verify(apr_pool_t *p, const char *token,
                              const unsigned char *key, size_t keylen,
                              int64_t now, int64_t leeway, gc_jwt_claims_t *out);

/* Verifies only the MAC and algorithm of a token whose key is an arbitrary
 * byte string (for the RFC 7515 A.1 test vector, whose claims are not ours).
 * Returns GC_JWT_OK, MALFORMED, BAD_ALG or BAD_MAC; on OK, *payload_json is
 * the decoded payload text. */
gc_jwt_status_t gc_jwt_verify_mac(apr_pool_t *p, const char *token,
                                  const unsigned char *key, size_t keylen,
                                  const char **payload_json);

#endif
