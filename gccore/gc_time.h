/* Time formatting for the API: RFC 3339 in UTC with whole seconds. */
#ifndef GC_TIME_H
#define GC_TIME_H

#include <stdint.h>
#include <apr_pools.h>

/* "2026-11-24T08:15:00Z" for unix seconds t, in pool memory. */
char *gc_time_rfc3339(apr_pool_t *p, int64_t t);

/* Parses the format above (also accepts a fractional part, dropped, and a
 * numeric offset "+00:00", "+0000" or "+00", and ' ' for 'T', as PostgreSQL
 * may produce); a leap second (:60) is refused. Returns 1 and sets *out, or 0. */
int gc_time_parse_rfc3339(const char *s, int64_t *out);

/* Unix time of the next UTC midnight strictly after t. */
int64_t gc_time_next_utc_midnight(int64_t t);

/* Unix time of the UTC midnight at or before t. */
int64_t gc_time_utc_day_start(int64_t t);

#endif
