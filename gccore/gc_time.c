/* RFC 3339 timestamps in UTC, computed with plain proleptic Gregorian
 * arithmetic so that neither the process time zone nor time_t's range
 * (gmtime/timegm) plays any part. */
#include <apr_strings.h>

#include "gc_time.h"

#define SECS_PER_DAY 86400

/* Floor division, for times before 1970. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* 1 for leap years of the Gregorian calendar. */
static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days in month m (1..12) of year y. */
static int days_in_month(int64_t y, int m)
{
    static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && is_leap(y) ? 29 : mdays[m - 1];
}

/* Days since 1970-01-01 of a civil date. Counts in 400-year eras (146097
 * days each) of years that start on 1 March, so that the leap day is the
 * last day of its year. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = floor_div(y, 400);
    yoe = y - era * 400;                                  /* 0..399 */
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365 */
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* 0..146096 */
    return era * 146097 + doe - 719468;                   /* 719468: 0000-03-01 to 1970-01-01 */
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = floor_div(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* "YYYY-MM-DDTHH:MM:SSZ" for unix seconds t. */
char *gc_time_rfc3339(apr_pool_t *p, int64_t t)
{
    int64_t days = floor_div(t, SECS_PER_DAY);
    /* The seconds into the day from t's remainder, not t - days * 86400,
     * which overflows for t within a day of INT64_MIN (found by fuzzing). */
    int64_t secs = t % SECS_PER_DAY < 0 ? t % SECS_PER_DAY + SECS_PER_DAY : t % SECS_PER_DAY;
    int64_t y;
    int m, d;

    civil_from_days(days, &y, &m, &d);
    return apr_psprintf(p, "%04" APR_INT64_T_FMT "-%02d-%02dT%02d:%02d:%02dZ", y, m, d,
                        (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

/* Reads exactly n ASCII digits at *s into *out and advances *s. */
static int read_digits(const char **s, int n, int *out)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        char c = (*s)[i];
        if (c < '0' || c > '9')
            return 0;
        v = v * 10 + (c - '0');
    }
    *s += n;
    *out = v;
    return 1;
}

/* Reads the zone designator: "Z", or an offset "+HH:MM", "+HHMM" or "+HH"
 * (PostgreSQL's text output uses the last). Sets *offset in seconds east. */
static int read_zone(const char *s, int64_t *offset)
{
    int sign, hh, mm = 0;

    if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0') {
        *offset = 0;
        return 1;
    }
    if (s[0] != '+' && s[0] != '-')
        return 0;
    sign = s[0] == '-' ? -1 : 1;
    s++;
    if (!read_digits(&s, 2, &hh))
        return 0;
    if (*s == ':')
        s++;
    if (*s != '\0' && !read_digits(&s, 2, &mm))
        return 0;
    if (*s != '\0' || hh > 23 || mm > 59)
        return 0;
    *offset = sign * (int64_t)(hh * 3600 + mm * 60);
    return 1;
}

/* Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM)"; 'T' may also be 't' or a
 * space (PostgreSQL). The fraction is dropped (whole seconds, truncated);
 * a leap second (:60) is refused rather than folded. */
int gc_time_parse_rfc3339(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, se;
    int64_t offset;

    if (s == NULL)
        return 0;
    if (!read_digits(&s, 4, &y) || *s++ != '-' || !read_digits(&s, 2, &mo) || *s++ != '-'
        || !read_digits(&s, 2, &d))
        return 0;
    if (*s != 'T' && *s != 't' && *s != ' ')
        return 0;
    s++;
    if (!read_digits(&s, 2, &h) || *s++ != ':' || !read_digits(&s, 2, &mi) || *s++ != ':'
        || !read_digits(&s, 2, &se))
        return 0;
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9')
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (!read_zone(s, &offset))
        return 0;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59)
        return 0;
    *out = days_from_civil(y, mo, d) * SECS_PER_DAY + h * 3600 + mi * 60 + se - offset;
    return 1;
}

/* The UTC midnight at or before t. */
int64_t gc_time_utc_day_start(int64_t t)
{
    return floor_div(t, SECS_PER_DAY) * SECS_PER_DAY;
}

/* The first UTC midnight strictly after t. */
int64_t gc_time_next_utc_midnight(int64_t t)
{
    return gc_time_utc_day_start(t) + SECS_PER_DAY;
}
