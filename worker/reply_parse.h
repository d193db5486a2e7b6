/* Reads what Gemini sends back: a GenerateContentResponse (a whole reply,
 * or one streamed chunk), an array of them, or an error body
 * ({"error": {...}}, also wrapped as [{"error": {...}}]). Every field is
 * optional on the wire; lowerCamelCase and snake_case names are both read. */
#ifndef REPLY_PARSE_H
#define REPLY_PARSE_H

#include <stddef.h>
#include <apr_pools.h>

typedef struct {
    /* The reply part. */
    int has_candidates;        /* a non-empty candidates array was present */
    const char *text;          /* text of candidates[0].content.parts[]
                                * without "thought": true parts; NUL bytes
                                * dropped (PostgreSQL text cannot hold them) */
    size_t text_len;
    const char *finish_reason; /* candidates[0].finishReason, or NULL */
    const char *block_reason;  /* promptFeedback.blockReason, or NULL */

    /* The error part: set when the body holds "error". */
    int is_error;
    long code;                 /* error.code, else from error.status, else 0 */
    const char *status;        /* error.status ("RESOURCE_EXHAUSTED"), or NULL */
    const char *message;       /* error.message, or NULL */
    long retry_delay_ms;       /* RetryInfo.retryDelay in details, or -1 */
} reply_chunk;

/* Parses len bytes of JSON into *out (strings in pool p). Returns 0, or -1
 * when the text is not JSON or not an object/array of objects. */
int reply_parse(apr_pool_t *p, const char *json, size_t len, reply_chunk *out);

/* The HTTP code of a google.rpc status name ("UNAVAILABLE" -> 503), or 0. */
long reply_status_code(const char *status);

#endif
