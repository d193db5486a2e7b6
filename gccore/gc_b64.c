/* base64url without padding (RFC 4648 section 5). */
#include "gc_b64.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Maps one base64url character to its 6-bit value, or -1 for anything else
 * (padding, white space, the '+' and '/' of plain base64, NUL). */
static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Encodes len bytes into a NUL-terminated pool string, no padding. */
char *gc_b64url_encode(apr_pool_t *p, const unsigned char *data, size_t len)
{
    char *out = apr_palloc(p, (len + 2) / 3 * 4 + 1);
    char *o = out;
    size_t i;

    for (i = 0; i + 2 < len; i += 3) {
        unsigned long v = ((unsigned long)data[i] << 16) | ((unsigned long)data[i + 1] << 8) | data[i + 2];
        *o++ = b64url_alphabet[(v >> 18) & 63];
        *o++ = b64url_alphabet[(v >> 12) & 63];
        *o++ = b64url_alphabet[(v >> 6) & 63];
        *o++ = b64url_alphabet[v & 63];
    }
    if (len - i == 1) {
        unsigned long v = (unsigned long)data[i] << 16;
        *o++ = b64url_alphabet[(v >> 18) & 63];
        *o++ = b64url_alphabet[(v >> 12) & 63];
    }
    else if (len - i == 2) {
        unsigned long v = ((unsigned long)data[i] << 16) | ((unsigned long)data[i + 1] << 8);
        *o++ = b64url_alphabet[(v >> 18) & 63];
        *o++ = b64url_alphabet[(v >> 12) & 63];
        *o++ = b64url_alphabet[(v >> 6) & 63];
    }
    *o = '\0';
    return out;
}

/* Decodes strict base64url: every character from the alphabet, a possible
 * length, and zero filler bits, so that each value has exactly one text (a
 * token cannot be altered in its last character and still verify). */
unsigned char *gc_b64url_decode(apr_pool_t *p, const char *s, size_t slen, size_t *out_len)
{
    const unsigned char *in = (const unsigned char *)s;
    unsigned char *out, *o;
    unsigned long acc = 0;
    size_t i, rem = slen % 4;
    int bits = 0;

    if (s == NULL || rem == 1)
        return NULL;
    out = apr_palloc(p, slen / 4 * 3 + 3);
    o = out;
    for (i = 0; i < slen; i++) {
        int v = b64url_value(in[i]);
        if (v < 0)
            return NULL;
        acc = (acc << 6) | (unsigned long)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *o++ = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    /* Left-over bits (4 after 2 characters, 2 after 3) must be zero. */
    if (bits > 0 && (acc & ((1UL << bits) - 1)) != 0)
        return NULL;
    *o = '\0';
    if (out_len)
        *out_len = (size_t)(o - out);
    return out;
}
