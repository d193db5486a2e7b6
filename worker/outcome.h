/* What one Gemini attempt came to: done, failed for good, or worth another
 * attempt. Pure: the caller collects what the transfer saw. */
#ifndef OUTCOME_H
#define OUTCOME_H

#include <stddef.h>
#include <apr_pools.h>

typedef struct {
    int streaming;               /* streamGenerateContent?alt=sse */
    const char *transport_error; /* libcurl's reason, or NULL */
    long http_status;            /* 0 when no response came */
    int too_large;               /* the response passed the size cap */
    int malformed;               /* a 2xx body or chunk that is not JSON */

    /* An error: an HTTP error status, or an "error" chunk in a stream. */
    int error_seen;
    int error_json;              /* the error body was JSON with "error" */
    long error_code;             /* its code (0: none given) */
    const char *error_status;
    const char *error_message;
    const char *error_snippet;   /* a non-JSON error body's first bytes */
    long retry_delay_ms;         /* RetryInfo, or -1 */
    long retry_after_ms;         /* Retry-After header, or -1 */

    /* The reply. */
    int has_candidates;
    const char *finish_reason;   /* the last one seen, or NULL */
    const char *block_reason;
    size_t text_len;             /* bytes of reply text */
} attempt_result;

typedef enum { OUTCOME_DONE, OUTCOME_FAILED, OUTCOME_RETRY } outcome_kind;

typedef struct {
    outcome_kind kind;
    const char *error;   /* DONE: NULL or "reply truncated (MAX_TOKENS)";
                          * FAILED / RETRY: a short reason safe to show the
                          * client (stored in messages.error): our own
                          * words plus at most a code and an enum name */
    const char *detail;  /* FAILED / RETRY: what libcurl or Gemini said, for
                          * the log only (scrub it: outcome_scrub); or NULL */
    long hint_ms;        /* RETRY: the server's wait (RetryInfo, else
                          * Retry-After), or -1 */
} outcome;

/* Classifies r (texts in pool p). Upstream and library messages go only
 * into detail, never into error. */
void outcome_classify(apr_pool_t *p, const attempt_result *r, outcome *o);

/* A copy of s, at most max bytes (cut on a UTF-8 boundary), control
 * characters made spaces, and every occurrence of secret replaced by "***". */
char *outcome_scrub(apr_pool_t *p, const char *s, const char *secret, size_t max);

#endif
