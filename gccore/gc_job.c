/* The job codec shared by the module and the worker. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <apr_strings.h>

#include "gc_job.h"

/* Parses a positive decimal int64 that fills the whole string. */
static int parse_positive(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v;
    if (!s || !*s) {
        return 0;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    /* ERANGE: an out-of-range id would otherwise come back as LLONG_MAX,
     * another reply's id in principle. */
    if (*end || v <= 0 || errno == ERANGE) {
        return 0;
    }
    *out = (int64_t)v;
    return 1;
}

const char *gc_job_decode(const char *const *fields, const char *const *values, int n,
                          gc_job_t *job)
{
    int i, have_id = 0;
    memset(job, 0, sizeof(*job));
    job->swept_generation = -1;
    job->swept_lease_until = -1;
    for (i = 0; i < n; i++) {
        if (!fields[i] || !values[i]) {
            continue;
        }
        if (strcmp(fields[i], "v") == 0) {
            job->version = atoi(values[i]);
        }
        else if (strcmp(fields[i], "reply_id") == 0) {
            have_id = parse_positive(values[i], &job->reply_id);
        }
        else if (strcmp(fields[i], "enqueued_at") == 0) {
            job->enqueued_at = strtoll(values[i], NULL, 10);
        }
        else if (strcmp(fields[i], "generation") == 0) {
            job->swept_generation = atoi(values[i]);
        }
        else if (strcmp(fields[i], "lease_until") == 0) {
            if (!parse_positive(values[i], &job->swept_lease_until)) {
                job->swept_lease_until = -1;
            }
        }
    }
    if (job->version != GC_JOB_VERSION) {
        return "unknown job version";
    }
    if (!have_id) {
        return "missing or bad reply_id";
    }
    return NULL;
}

char *gc_job_day(apr_pool_t *p, int64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    return apr_psprintf(p, "%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}
