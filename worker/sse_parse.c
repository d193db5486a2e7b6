/* Server-sent events, incrementally: see sse_parse.h. */
#include "sse_parse.h"

#include <stdlib.h>
#include <string.h>

void sse_init(sse_parser *s, size_t max)
{
    memset(s, 0, sizeof(*s));
    s->at_start = 1;
    s->max = max;
}

void sse_free(sse_parser *s)
{
    free(s->line);
    free(s->data);
    sse_init(s, s->max);
}

/* Appends n bytes to a growing buffer holding one extra byte for a NUL;
 * returns 0, or -1 past max or out of memory. */
static int append(char **buf, size_t *len, size_t *cap, const char *p,
                  size_t n, size_t max)
{
    size_t want = *len + n + 1, ncap;
    char *nb;

    if (*len + n > max)
        return -1;
    if (want > *cap) {
        ncap = *cap ? *cap : 256;
        while (ncap < want)
            ncap *= 2;
        nb = realloc(*buf, ncap);
        if (nb == NULL)
            return -1;
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

/* Hands the event over (if it had data) and starts the next one. */
static int dispatch(sse_parser *s, sse_event_fn fn, void *arg)
{
    int rc = 0;

    if (s->has_data)
        rc = fn(arg, s->data ? s->data : "", s->data_len);
    s->has_data = 0;
    s->data_len = 0;
    return rc;
}

/* One complete line (without its end). */
static int end_line(sse_parser *s, sse_event_fn fn, void *arg)
{
    const char *l = s->line ? s->line : "", *colon, *val;
    size_t len = s->line_len, flen, vlen;

    s->line_len = 0;
    /* The stream's first line may start with a BOM: lines are gathered
     * whole, so a BOM split over feeds is whole here. */
    if (s->at_start) {
        s->at_start = 0;
        if (len >= 3 && memcmp(l, "\xEF\xBB\xBF", 3) == 0) {
            l += 3;
            len -= 3;
        }
    }
    if (len == 0)
        return dispatch(s, fn, arg);
    if (l[0] == ':')
        return 0;                       /* a comment, e.g. a keep-alive */
    colon = memchr(l, ':', len);
    flen = colon ? (size_t)(colon - l) : len;
    if (flen != 4 || memcmp(l, "data", 4) != 0)
        return 0;                       /* event:, id:, retry:, others */
    val = colon ? colon + 1 : l + len;
    vlen = (size_t)(l + len - val);
    if (vlen > 0 && val[0] == ' ') {
        val++;
        vlen--;
    }
    if (s->has_data
        && append(&s->data, &s->data_len, &s->data_cap, "\n", 1, s->max) != 0)
        return SSE_TOO_BIG;
    if (append(&s->data, &s->data_len, &s->data_cap, val, vlen, s->max) != 0)
        return SSE_TOO_BIG;
    s->has_data = 1;
    return 0;
}

int sse_feed(sse_parser *s, const char *buf, size_t n, sse_event_fn fn, void *arg)
{
    size_t i = 0, j;
    int rc;

    while (i < n) {
        if (s->after_cr) {
            s->after_cr = 0;
            if (buf[i] == '\n') {
                i++;
                continue;
            }
        }
        if (buf[i] == '\r' || buf[i] == '\n') {
            s->after_cr = buf[i] == '\r';
            i++;
            rc = end_line(s, fn, arg);
            if (rc != 0)
                return rc;
            continue;
        }
        for (j = i; j < n && buf[j] != '\r' && buf[j] != '\n'; j++)
            ;
        if (append(&s->line, &s->line_len, &s->line_cap, buf + i, j - i,
                   s->max) != 0)
            return SSE_TOO_BIG;
        i = j;
    }
    return 0;
}

int sse_end(sse_parser *s, sse_event_fn fn, void *arg)
{
    int rc;

    if (s->line_len > 0) {
        rc = end_line(s, fn, arg);
        if (rc != 0)
            return rc;
    }
    return dispatch(s, fn, arg);
}
