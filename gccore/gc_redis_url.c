/* Redis connection URLs: redis://[[user]:password@]host[:port][/db] and
 * unix:///path[?db=N]. hiredis 0.14 has no TLS, so rediss:// is refused. */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>

#include "gc_redis_url.h"

#define REDIS_DEFAULT_PORT 6379

/* Value of one hex digit, or -1. */
static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..len) into pool memory; NULL on a bad escape or %00. */
static char *percent_decode(apr_pool_t *p, const char *s, size_t len)
{
    char *out = apr_palloc(p, len + 1), *o = out;
    size_t i;

    for (i = 0; i < len; i++) {
        int hi, lo;

        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        if (i + 2 >= len)
            return NULL;
        hi = hex_value(s[i + 1]);
        lo = hex_value(s[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return NULL;
        *o++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *o = '\0';
    return out;
}

/* Parses a plain decimal s[0..len) within [min, max]; 0 when it is not one. */
static int parse_int_range(const char *s, size_t len, long min, long max, int *out)
{
    long v = 0;
    size_t i;

    if (len == 0 || len > 9)
        return 0;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return 0;
    *out = (int)v;
    return 1;
}

/* Reads "[user]:password" (or "user") into out, percent-decoding both. */
static const char *parse_userinfo(apr_pool_t *p, const char *s, size_t len, gc_redis_url_t *out)
{
    const char *colon = memchr(s, ':', len);
    size_t ulen = colon ? (size_t)(colon - s) : len;

    if (ulen > 0 && (out->username = percent_decode(p, s, ulen)) == NULL)
        return "bad percent-encoding in the user name";
    if (colon && len - ulen - 1 > 0
        && (out->password = percent_decode(p, colon + 1, len - ulen - 1)) == NULL)
        return "bad percent-encoding in the password";
    return NULL;
}

/* Reads "host[:port]" or "[v6addr][:port]". */
static const char *parse_hostport(apr_pool_t *p, const char *s, size_t len, gc_redis_url_t *out)
{
    const char *port = NULL, *hend;
    size_t i;

    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL || close == s + 1)
            return "bad IPv6 address in brackets";
        out->host = apr_pstrmemdup(p, s + 1, (size_t)(close - s - 1));
        hend = close + 1;
        if (hend < s + len && *hend != ':')
            return "unexpected text after the IPv6 address";
    }
    else {
        hend = memchr(s, ':', len);
        if (hend == NULL)
            hend = s + len;
        out->host = apr_pstrmemdup(p, s, (size_t)(hend - s));
    }
    if (*out->host == '\0')
        return "missing host";
    for (i = 0; out->host[i]; i++)
        if ((unsigned char)out->host[i] <= ' ' || strchr("@/?#%[]", out->host[i]))
            return "bad character in the host";
    if (hend < s + len) {
        port = hend + 1;
        if (!parse_int_range(port, len - (size_t)(port - s), 1, 65535, &out->port))
            return "bad port (1..65535)";
    }
    return NULL;
}

/* The last '@' in s[0..len), or NULL. */
static const char *last_at(const char *s, size_t len)
{
    const char *at = NULL, *q;

    for (q = s; q < s + len; q++)
        if (*q == '@')
            at = q;
    return at;
}

/* Parses the part after "redis://". */
static const char *parse_tcp(apr_pool_t *p, const char *s, gc_redis_url_t *out)
{
    size_t alen = strcspn(s, "/?#");
    const char *at, *path = s + alen, *err;

    if (*path == '?' || *path == '#')
        return "query and fragment are not supported in redis:// URLs";
    /* The last '@' ends the user information: a raw '@' in a password then
     * still parses, although it should be written %40. */
    at = last_at(s, alen);
    if (at && (err = parse_userinfo(p, s, (size_t)(at - s), out)) != NULL)
        return err;
    if ((err = parse_hostport(p, at ? at + 1 : s, at ? alen - (size_t)(at + 1 - s) : alen, out)))
        return err;
    if (*path == '/' && path[1] != '\0'
        && !parse_int_range(path + 1, strlen(path + 1), 0, 1000000, &out->db))
        return "bad database number in the path";
    return NULL;
}

/* Parses the part after "unix://": an absolute path and optional "?db=N". */
static const char *parse_unix(apr_pool_t *p, const char *s, gc_redis_url_t *out)
{
    const char *q = strchr(s, '?');
    size_t plen = q ? (size_t)(q - s) : strlen(s);

    if (plen < 2 || s[0] != '/')
        return "unix:// needs an absolute socket path (unix:///path)";
    out->socket = apr_pstrmemdup(p, s, plen);
    if (q == NULL)
        return NULL;
    if (strncmp(q + 1, "db=", 3) != 0)
        return "the only parameter of a unix:// URL is db=N";
    if (!parse_int_range(q + 4, strlen(q + 4), 0, 1000000, &out->db))
        return "bad database number in db=";
    return NULL;
}

/* Parses url into out; NULL on success, else a message naming the fault. */
const char *gc_redis_url_parse(apr_pool_t *p, const char *url, gc_redis_url_t *out)
{
    memset(out, 0, sizeof(*out));
    out->port = REDIS_DEFAULT_PORT;
    if (url == NULL || *url == '\0')
        return "empty Redis URL";
    if (strncasecmp(url, "redis://", 8) == 0)
        return parse_tcp(p, url + 8, out);
    if (strncasecmp(url, "unix://", 7) == 0)
        return parse_unix(p, url + 7, out);
    if (strncasecmp(url, "rediss://", 9) == 0)
        return "rediss:// (TLS) is not supported by this hiredis";
    return "the Redis URL must start with redis:// or unix://";
}
