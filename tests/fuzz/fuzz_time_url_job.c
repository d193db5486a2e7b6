/* The small parsers of gccore: RFC 3339 (gc_time.c), Redis URLs
 * (gc_redis_url.c) and job entries (gc_job.c). The first byte picks the
 * parser; the rest is its input. */
#include "fuzz.h"
#include <apr_strings.h>
#include "gc_job.h"
#include "gc_redis_url.h"
#include "gc_time.h"

/* Parse, format, parse: the same instant (years 0000..9999 only parse). */
static void fuzz_time(apr_pool_t *p, const char *s, const uint8_t *data, size_t size)
{
    int64_t t, t2, day;
    char *txt;

    if (gc_time_parse_rfc3339(s, &t)) {
        txt = gc_time_rfc3339(p, t);
        if (t >= -62167219200LL && t <= 253402300799LL) {   /* 0000-01-01 .. 9999-12-31 */
            FUZZ_ASSERT(strlen(txt) == 20);
            FUZZ_ASSERT(gc_time_parse_rfc3339(txt, &t2) && t2 == t);
        }
    }
    /* Formatting and day arithmetic of any instant. */
    t = (int64_t)fuzz_take_u64(&data, &size, 8);
    txt = gc_time_rfc3339(p, t);
    FUZZ_ASSERT(txt != NULL);
    /* A day start exists only a day away from the ends of int64 (the
     * functions are meant for "now"). */
    if (t > INT64_MIN + 86400 && t < INT64_MAX - 86400) {
        day = gc_time_utc_day_start(t);
        FUZZ_ASSERT(day <= t && t - day < 86400 && day % 86400 == 0);
        FUZZ_ASSERT(gc_time_next_utc_midnight(t) == day + 86400);
    }
}

static void fuzz_url(apr_pool_t *p, const char *s)
{
    gc_redis_url_t u;
    const char *err = gc_redis_url_parse(p, s, &u);

    if (err != NULL)
        return;
    FUZZ_ASSERT((u.host == NULL) != (u.socket == NULL));
    FUZZ_ASSERT(u.port >= 1 && u.port <= 65535);
    FUZZ_ASSERT(u.db >= 0 && u.db <= 1000000);
    if (u.host)
        FUZZ_ASSERT(*u.host != '\0');
    if (u.socket)
        FUZZ_ASSERT(u.socket[0] == '/');
}

/* Fields and values separated by NUL bytes: f0 \0 v0 \0 f1 \0 v1 ... */
static void fuzz_job(const char *s, size_t size)
{
    const char *fields[16], *values[16];
    const char *q = s, *end = s + size;
    gc_job_t job;
    int n = 0;
    const char *err;

    while (q <= end && n < 16) {
        fields[n] = q;
        q += strlen(q) + 1;
        values[n] = q <= end ? q : NULL;
        if (q <= end)
            q += strlen(q) + 1;
        n++;
    }
    err = gc_job_decode(fields, values, n, &job);
    if (err == NULL) {
        FUZZ_ASSERT(job.version == GC_JOB_VERSION);
        FUZZ_ASSERT(job.reply_id > 0);
        FUZZ_ASSERT(job.swept_lease_until == -1 || job.swept_lease_until > 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    char *s;
    uint8_t which;

    if (size == 0)
        return 0;
    which = data[0] % 3;
    data++;
    size--;
    p = fuzz_pool();
    s = fuzz_cstr(data, size);
    if (which == 0)
        fuzz_time(p, s, data, size);
    else if (which == 1)
        fuzz_url(p, s);
    else
        fuzz_job(s, size);
    free(s);
    apr_pool_destroy(p);
    return 0;
}
