/* Logging for the module: every line carries our own numbered tag (GCnnnnn,
 * next free number in mod_gemclone/next-log-tag) and the request id, so
 * tests and operators can grep for a message and follow one request. */
#ifndef GC_LOG_H
#define GC_LOG_H

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

/* Lines show as [gemclone:level] and obey LogLevel gemclone:... */
extern module AP_MODULE_DECLARE_DATA gemclone_module;
#ifndef GC_DECLARES_MODULE      /* AP_DECLARE_MODULE does it in mod_gemclone.c */
APLOG_USE_MODULE(gemclone);
#endif

#define GC_REQUEST_ID_NOTE "gemclone-request-id"

/* GCLOG(q, APLOG_ERR, "GC00042", "what happened: %s", why) */
#define GCLOG(q, level, tag, fmt, ...)                                        \
    ap_log_rerror(APLOG_MARK, (level), 0, (q)->r, tag ": [rid %s] " fmt,      \
                  (q)->request_id, ##__VA_ARGS__)

/* For server-level messages (start-up, child init) with no request. */
#define GCLOG_S(s, level, status, tag, fmt, ...)                              \
    ap_log_error(APLOG_MARK, (level), (status), (s), tag ": " fmt, ##__VA_ARGS__)

#endif
