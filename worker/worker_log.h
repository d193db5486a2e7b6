/* Logging for gemclone-worker: one line per event on stderr,
 *   <RFC 3339 UTC time> gemclone-worker[pid] <level> GCW00NNN <message>
 * Every call site carries its own tag (GCWNO), never reused, so that tests
 * and operators can grep for one event. The GCW range is the worker's; the
 * module uses GC, httpd AH.
 *
 * Next free tag: GCW00054  (take it, then bump this line)
 */
#ifndef WORKER_LOG_H
#define WORKER_LOG_H

/* GCWNO(00012) expands to the string "GCW00012". */
#define GCWNO(n) "GCW" #n

typedef enum {
    WLOG_DEBUG = 0,
    WLOG_INFO,
    WLOG_NOTICE,
    WLOG_WARN,
    WLOG_ERROR
} wlog_level;

/* Sets the lowest level that is written (default: info). */
void wlog_set_level(wlog_level level);

/* Parses "debug", "info", "notice", "warn"/"warning", "error" (any case);
 * returns 1 and sets *out, or 0. */
int wlog_parse_level(const char *s, wlog_level *out);

/* Name of a level as it appears in the log line. */
const char *wlog_level_name(wlog_level level);

/* Writes one line with one write(2), so lines from several processes do not
 * interleave. Control characters in the message (libpq's messages end in a
 * newline and may hold several lines) become spaces. Keeps errno. */
void wlog(wlog_level level, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
