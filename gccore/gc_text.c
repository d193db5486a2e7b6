/* Text rules of the API contract: UTF-8, trimming, mobiles, ids. */
#include <string.h>
#include <apr_strings.h>

#include "gc_text.h"

/* Decodes one UTF-8 sequence at s[*i] (i < len), advancing *i. Returns the
 * code point, or -1 for an invalid sequence (then *i moves one byte): bad
 * lead or continuation bytes, truncation, overlong forms, UTF-16 surrogates
 * (U+D800..U+DFFF) and anything above U+10FFFF. */
static long utf8_next(const unsigned char *s, size_t len, size_t *i)
{
    unsigned char c = s[*i];
    size_t need, k;
    long cp, min;

    if (c < 0x80) {
        (*i)++;
        return c;
    }
    if (c >= 0xC2 && c <= 0xDF) {        /* 0xC0/0xC1 could only be overlong */
        need = 1; cp = c & 0x1F; min = 0x80;
    }
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2; cp = c & 0x0F; min = 0x800;
    }
    else if (c >= 0xF0 && c <= 0xF4) {   /* 0xF5.. would exceed U+10FFFF */
        need = 3; cp = c & 0x07; min = 0x10000;
    }
    else {
        (*i)++;
        return -1;
    }
    if (len - *i <= need) {
        (*i)++;
        return -1;
    }
    for (k = 1; k <= need; k++) {
        unsigned char cc = s[*i + k];
        if ((cc & 0xC0) != 0x80) {
            (*i)++;
            return -1;
        }
        cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        (*i)++;
        return -1;
    }
    *i += need + 1;
    return cp;
}

/* Code points in s: every byte that is not a continuation byte starts one
 * (exact for valid UTF-8, which the caller has checked). */
size_t gc_utf8_length(const char *s, size_t len)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

/* 1 when s[0..len) is valid UTF-8. */
int gc_utf8_valid(const char *s, size_t len)
{
    size_t i = 0;

    while (i < len)
        if (utf8_next((const unsigned char *)s, len, &i) < 0)
            return 0;
    return 1;
}

/* 1 for the white space that gc_trim removes. */
static int is_trim_space(long cp)
{
    switch (cp) {
    case ' ': case '\t': case '\n': case '\v': case '\f': case '\r':
    case 0x00A0: case 0x1680: case 0x2028: case 0x2029: case 0x202F:
    case 0x205F: case 0x3000: case 0xFEFF:
        return 1;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

/* Copy of s without leading and trailing white space. One forward pass
 * notes where the first and after the last non-space code point lie; an
 * invalid byte counts as content and is kept. */
char *gc_trim(apr_pool_t *p, const char *s, size_t len, size_t *out_len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, start = len, end = 0;

    while (i < len) {
        size_t at = i;
        long cp = utf8_next(u, len, &i);
        if (!is_trim_space(cp)) {
            if (start == len)
                start = at;
            end = i;
        }
    }
    if (start == len)
        start = end = 0;
    if (out_len)
        *out_len = end - start;
    return apr_pstrmemdup(p, s + start, end - start);
}

/* Strips ASCII spaces and dashes, then requires ^\+?[0-9]{8,15}$. */
char *gc_mobile_normalize(apr_pool_t *p, const char *s)
{
    size_t len, i, n = 0, digits = 0;
    char *out;

    if (s == NULL)
        return NULL;
    len = strlen(s);
    out = apr_palloc(p, len + 1);
    for (i = 0; i < len; i++) {
        char c = s[i];
        if (c == ' ' || c == '-')
            continue;
        if (c == '+' && n == 0) {
            out[n++] = c;
            continue;
        }
        if (c < '0' || c > '9')
            return NULL;   /* letters, a second '+', anything else */
        out[n++] = c;
        digits++;
    }
    if (digits < 8 || digits > 15)
        return NULL;
    out[n] = '\0';
    return out;
}

/* Parses a plain positive decimal 1..2^63-1: no sign, no leading zero, no
 * white space, so that each id has exactly one spelling in a path. */
int gc_parse_path_id(const char *s, size_t len, int64_t *out)
{
    int64_t v = 0;
    size_t i;

    if (s == NULL || len == 0 || len > 19 || s[0] < '1' || s[0] > '9')
        return 0;
    for (i = 0; i < len; i++) {
        int digit;
        if (s[i] < '0' || s[i] > '9')
            return 0;
        digit = s[i] - '0';
        if (v > (INT64_MAX - digit) / 10)
            return 0;
        v = v * 10 + digit;
    }
    *out = v;
    return 1;
}

/* 1 when s matches ^[A-Za-z0-9._:-]{1,128}$. */
int gc_request_id_acceptable(const char *s)
{
    size_t i;

    if (s == NULL)
        return 0;
    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        if (i >= 128)
            return 0;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || c == '.' || c == '_' || c == ':' || c == '-'))
            return 0;
    }
    return i > 0;
}

/* Percent-encodes s for an application/x-www-form-urlencoded body: RFC 3986
 * unreserved characters stay, every other byte becomes %XX (upper case; a
 * space is %20, which form decoders accept like '+'). */
char *gc_form_escape(apr_pool_t *p, const char *s)
{
    static const char hexd[] = "0123456789ABCDEF";
    size_t len, i;
    char *out, *o;

    if (s == NULL)
        return apr_pstrdup(p, "");
    len = strlen(s);
    out = apr_palloc(p, len * 3 + 1);
    o = out;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
            || c == '-' || c == '.' || c == '_' || c == '~') {
            *o++ = (char)c;
        }
        else {
            *o++ = '%';
            *o++ = hexd[c >> 4];
            *o++ = hexd[c & 15];
        }
    }
    *o = '\0';
    return out;
}
