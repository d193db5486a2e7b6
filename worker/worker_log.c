/* gemclone-worker logging: see worker_log.h for the line format. */
#include "worker_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define WLOG_LINE_MAX 4096

static wlog_level min_level = WLOG_INFO;

static const char *const level_names[] = {
    "debug", "info", "notice", "warn", "error"
};

void wlog_set_level(wlog_level level)
{
    min_level = level;
}

const char *wlog_level_name(wlog_level level)
{
    if ((int)level < 0 || level > WLOG_ERROR)
        return "?";
    return level_names[level];
}

int wlog_parse_level(const char *s, wlog_level *out)
{
    int i;

    if (s == NULL)
        return 0;
    for (i = 0; i <= (int)WLOG_ERROR; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (wlog_level)i;
            return 1;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = WLOG_WARN;
        return 1;
    }
    return 0;
}

void wlog(wlog_level level, const char *tag, const char *fmt, ...)
{
    char line[WLOG_LINE_MAX];
    struct timeval tv;
    struct tm tm;
    size_t len, start, i;
    ssize_t w;
    int n, saved_errno = errno;
    va_list ap;

    if (level < min_level)
        return;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = snprintf(line, sizeof(line),
                 "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ gemclone-worker[%ld] %s %s ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000),
                 (long)getpid(), wlog_level_name(level), tag);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        errno = saved_errno;
        return;
    }
    start = (size_t)n;

    va_start(ap, fmt);
    n = vsnprintf(line + start, sizeof(line) - start - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    len = start + (size_t)n;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;     /* truncated: keep room for the newline */

    /* Drop trailing whitespace (libpq messages end in "\n"), then flatten
     * whatever control characters remain so the line stays one line. */
    while (len > start && (line[len - 1] == '\n' || line[len - 1] == '\r'
                           || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    for (i = start; i < len; i++) {
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = ' ';
    }
    line[len++] = '\n';

    /* One write per line; retry only on EINTR (a signal is routine here). */
    start = 0;
    while (start < len) {
        w = write(STDERR_FILENO, line + start, len - start);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        start += (size_t)w;
    }
    errno = saved_errno;
}
