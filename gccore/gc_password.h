/* Password hashing with PBKDF2-HMAC-SHA256 from OpenSSL, stored as a
 * self-describing string so the cost can be raised later:
 *   $pbkdf2-sha256$i=<iterations>$<b64url salt>$<b64url hash>
 * (16-byte random salt, 32-byte hash). */
#ifndef GC_PASSWORD_H
#define GC_PASSWORD_H

#include <stddef.h>
#include <apr_pools.h>

#define GC_PASSWORD_DEFAULT_ITERATIONS 600000  /* OWASP 2023 for PBKDF2-HMAC-SHA256 */

/* Hashes password (len bytes, any bytes) with iterations rounds. Returns the
 * encoded string in pool memory, or NULL on failure. */
char *gc_password_hash(apr_pool_t *p, const char *password, size_t len, unsigned iterations);

/* 1 when password matches stored, 0 when it does not, -1 when stored is not a
 * string this module wrote (unknown scheme, bad fields, iterations outside
 * 1..10,000,000). Compares in constant time. */
int gc_password_verify(apr_pool_t *p, const char *password, size_t len, const char *stored);

/* 1 when stored was made with fewer iterations than wanted (time to rehash);
 * also 1 when stored is not a string this module can read. */
int gc_password_needs_rehash(const char *stored, unsigned wanted_iterations);

#endif
