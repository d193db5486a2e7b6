/* Text rules of the API contract: UTF-8 code points, trimming, mobile
 * numbers, path ids and request ids. */
#ifndef GC_TEXT_H
#define GC_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <apr_pools.h>

/* Number of Unicode code points in a valid UTF-8 string of len bytes (on
 * invalid input: the number of bytes that are not continuation bytes). */
size_t gc_utf8_length(const char *s, size_t len);

/* 1 when s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int gc_utf8_valid(const char *s, size_t len);

/* A pool copy of s without leading and trailing white space: ASCII
 * space, \t, \n, \v, \f, \r and the Unicode spaces U+00A0, U+1680,
 * U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF.
 * Invalid UTF-8 bytes count as content. *out_len may be NULL. */
char *gc_trim(apr_pool_t *p, const char *s, size_t len, size_t *out_len);

/* Normalises a mobile number: strips spaces and dashes, then requires
 * ^\+?[0-9]{8,15}$. Returns the pool copy, or NULL when invalid. */
char *gc_mobile_normalize(apr_pool_t *p, const char *s);

/* Parses a path id: a plain positive decimal (no sign, no leading zero,
 * 1..2^63-1). Returns 1 and sets *out, or 0. */
int gc_parse_path_id(const char *s, size_t len, int64_t *out);

/* 1 when s matches ^[A-Za-z0-9._:-]{1,128}$ (a client's X-Request-Id we keep). */
int gc_request_id_acceptable(const char *s);

/* Returns s percent-encoded for a form-encoded body (a pool copy to append):
 * RFC 3986 unreserved kept, every other byte %XX in upper case (space is %20). */
char *gc_form_escape(apr_pool_t *p, const char *s);

#endif
