/* Gemini retry rules: see retry.h. */
#include "retry.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#define DURATION_MAX_MS (7L * 86400 * 1000)   /* clamp absurd hints */

int retry_status_retryable(long s)
{
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

long retry_parse_duration_ms(const char *s)
{
    char *end;
    double v;

    if (s == NULL || !(isdigit((unsigned char)*s) || *s == '.'))
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || strcmp(end, "s") != 0 || !(v >= 0))
        return -1;
    v *= 1000.0;
    if (v > (double)DURATION_MAX_MS)
        return DURATION_MAX_MS;
    return (long)v + ((double)(long)v < v);      /* rounded up */
}

long retry_parse_retry_after_ms(const char *v, int64_t now_unix)
{
    char buf[128];
    size_t n;
    char *end;
    long long secs;
    time_t t;

    if (v == NULL)
        return -1;
    while (*v == ' ' || *v == '\t')
        v++;
    n = strlen(v);
    while (n > 0 && isspace((unsigned char)v[n - 1]))
        n--;
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    if (isdigit((unsigned char)buf[0])) {
        errno = 0;
        secs = strtoll(buf, &end, 10);
        if (*end == '\0' && errno == 0) {
            if (secs > DURATION_MAX_MS / 1000)
                return DURATION_MAX_MS;
            return (long)secs * 1000;
        }
    }
    t = curl_getdate(buf, NULL);       /* "Wed, 21 Oct 2015 07:28:00 GMT" */
    if (t == (time_t)-1)
        return -1;
    if ((int64_t)t <= now_unix)
        return 0;
    if ((int64_t)t - now_unix > DURATION_MAX_MS / 1000)
        return DURATION_MAX_MS;
    return (long)((int64_t)t - now_unix) * 1000;
}

long retry_backoff_ms(int n, double rand01)
{
    long d = RETRY_INITIAL_MS;
    int i;

    for (i = 1; i < n && d < RETRY_CAP_MS; i++)
        d *= RETRY_FACTOR;
    if (rand01 < 0)
        rand01 = 0;
    if (rand01 > 1)
        rand01 = 1;
    d += (long)(rand01 * RETRY_JITTER_MS);
    return d > RETRY_CAP_MS ? RETRY_CAP_MS : d;
}

long retry_wait_ms(int n, long hint_ms, double rand01)
{
    if (hint_ms >= 0)
        return hint_ms < RETRY_MIN_WAIT_MS ? RETRY_MIN_WAIT_MS : hint_ms;
    return retry_backoff_ms(n, rand01);
}
