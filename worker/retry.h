/* Which Gemini failures are retried, and how long to wait before the next
 * attempt (EXTERNAL-APIS.md: the official SDKs' policy). Pure functions. */
#ifndef RETRY_H
#define RETRY_H

#include <stdint.h>

#define RETRY_INITIAL_MS 1000L
#define RETRY_FACTOR 2
#define RETRY_CAP_MS 60000L
#define RETRY_JITTER_MS 1000L
#define RETRY_MIN_WAIT_MS 250L   /* floor under a server's hint ("0s") */

/* 1 for 408, 429, 500, 502, 503 and 504. */
int retry_status_retryable(long http_status);

/* A google.protobuf.Duration in its JSON form ("37s", "1.5s", "0.250s")
 * in milliseconds (rounded up), or -1 when s is not one. */
long retry_parse_duration_ms(const char *s);

/* A Retry-After header value (delta-seconds, or an HTTP-date compared with
 * now_unix) in milliseconds, never negative; -1 when unreadable. */
long retry_parse_retry_after_ms(const char *v, int64_t now_unix);

/* Exponential backoff before retry number n (1 = the first retry):
 * RETRY_INITIAL_MS * RETRY_FACTOR^(n-1) plus rand01 * RETRY_JITTER_MS of
 * jitter, never above RETRY_CAP_MS. rand01 is in [0, 1]. */
long retry_backoff_ms(int n, double rand01);

/* The wait before retry number n: the server's hint (hint_ms >= 0) but at
 * least RETRY_MIN_WAIT_MS, so "Retry-After: 0" or "retryDelay": "0s"
 * cannot make a busy retry loop; else retry_backoff_ms(n, rand01). */
long retry_wait_ms(int n, long hint_ms, double rand01);

#endif
