/* One Gemini call on the shared curl multi handle: builds the easy handle
 * (URL, key header, time-outs, size cap), parses the streamed or whole
 * response as it arrives, hands over each text delta, and sums up what the
 * attempt saw for outcome_classify. */
#ifndef GEMINI_H
#define GEMINI_H

#include <stddef.h>
#include <apr_pools.h>
#include <curl/curl.h>

#include "outcome.h"

#define GEMINI_RESPONSE_MAX (4u * 1024 * 1024)  /* bytes of one response */
#define GEMINI_ERROR_BODY_MAX (64u * 1024)      /* bytes of an error kept */
#define GEMINI_CONNECT_TIMEOUT_MS 10000L
#define GEMINI_LOW_SPEED_TIME_S 60L             /* no byte for this long */

/* Receives a non-empty text delta as it arrives (streaming only). */
typedef void (*gemini_delta_fn)(void *arg, const char *text, size_t len);

typedef struct {
    const char *api_base;   /* no trailing slash */
    const char *model;
    const char *api_key;    /* sent in x-goog-api-key, never in the URL */
    int streaming;
    long timeout_ms;        /* the whole call */
    const char *user_agent;
} gemini_target;

typedef struct gemini_call gemini_call;

/* {base}/v1beta/models/{model}:streamGenerateContent?alt=sse, or
 * :generateContent when not streaming. */
const char *gemini_url(apr_pool_t *p, const gemini_target *t);

/* Starts a POST of body on multi; everything lives in p, and destroying p
 * removes the transfer from multi and frees it. priv is stored as
 * CURLINFO_PRIVATE. Returns NULL (nothing started) on failure. */
gemini_call *gemini_start(apr_pool_t *p, CURLM *multi, const gemini_target *t,
                          const char *body, size_t len, gemini_delta_fn fn,
                          void *arg, void *priv);

/* The transfer ended with rc: fills r (strings in out) and *text (the
 * whole reply text of this attempt, in out). */
void gemini_result(gemini_call *g, CURLcode rc, apr_pool_t *out,
                   attempt_result *r, const char **text, size_t *text_len);

#endif
