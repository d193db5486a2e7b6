/* A tiny TAP-ish assertion helper for the C unit tests: each check prints
 * "ok N - name" or "not ok N - name" (with the place and, for comparisons,
 * what was got), and unit_done() prints "P passed, F failed" and gives the
 * exit status. Header-only: the state is static to the one test program. */
#ifndef GC_UNIT_H
#define GC_UNIT_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int unit_passed;
static int unit_failed;

/* Records and prints one result; returns cond so callers can chain. */
__attribute__((format(printf, 4, 5)))
static inline int unit_check(int cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    printf("%s %d - ", cond ? "ok" : "not ok", unit_passed + unit_failed + 1);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (cond)
        unit_passed++;
    else {
        unit_failed++;
        printf("#   at %s:%d\n", file, line);
    }
    return cond;
}

/* String equality; NULL equals only NULL. */
static inline int unit_str_eq(const char *got, const char *want, const char *file, int line,
                              const char *name)
{
    int eq = (got == NULL || want == NULL) ? got == want : strcmp(got, want) == 0;

    if (!unit_check(eq, file, line, "%s", name))
        printf("#   got:  %s%s%s\n#   want: %s%s%s\n", got ? "\"" : "", got ? got : "NULL",
               got ? "\"" : "", want ? "\"" : "", want ? want : "NULL", want ? "\"" : "");
    return eq;
}

/* Integer equality. */
static inline int unit_int_eq(intmax_t got, intmax_t want, const char *file, int line,
                              const char *name)
{
    if (!unit_check(got == want, file, line, "%s", name))
        printf("#   got:  %jd\n#   want: %jd\n", got, want);
    return got == want;
}

/* Prints the summary line; the exit status for main. */
static inline int unit_done(void)
{
    printf("%d passed, %d failed\n", unit_passed, unit_failed);
    return unit_failed ? 1 : 0;
}

#define OK(cond, ...) unit_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define STR_EQ(got, want, name) unit_str_eq((got), (want), __FILE__, __LINE__, (name))
#define INT_EQ(got, want, name) unit_int_eq((intmax_t)(got), (intmax_t)(want), __FILE__, __LINE__, (name))

#endif
