/* base64url without padding (RFC 4648 section 5), as JWT needs it. */
#ifndef GC_B64_H
#define GC_B64_H

#include <stddef.h>
#include <apr_pools.h>

/* Encodes len bytes; the result is NUL-terminated, in pool memory. */
char *gc_b64url_encode(apr_pool_t *p, const unsigned char *data, size_t len);

/* Decodes a strict base64url string of slen characters: only [A-Za-z0-9_-],
 * no padding, no white space, no impossible length (slen % 4 == 1), and the
 * unused low bits of the last character must be zero (one text per value).
 * Returns pool memory with *out_len set (and a NUL after the last byte, for
 * convenience), or NULL when the text is not strict base64url. */
unsigned char *gc_b64url_decode(apr_pool_t *p, const char *s, size_t slen, size_t *out_len);

#endif
