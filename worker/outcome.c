/* Classifying a Gemini attempt: see outcome.h. The rules are API.md's
 * ("Replies") and EXTERNAL-APIS.md's (errors and retries). */
#include "outcome.h"

#include <string.h>

#include <apr_strings.h>

#include "retry.h"

#define ENUM_NAME_MAX 40

/* An upstream enum name (finishReason, blockReason, error status) made
 * safe to show: letters, digits and '_' only, at most ENUM_NAME_MAX. */
static const char *enum_name(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, ENUM_NAME_MAX + 1);
    size_t k = 0;

    for (; s != NULL && *s && k < ENUM_NAME_MAX; s++)
        if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')
            || (*s >= '0' && *s <= '9') || *s == '_')
            out[k++] = *s;
    out[k] = '\0';
    return k > 0 ? out : "UNKNOWN";
}

/* The client's reason for an HTTP error (or an error chunk) with code:
 * "Gemini rejected the request (400 INVALID_ARGUMENT)". */
static const char *error_reason(apr_pool_t *p, const attempt_result *r, long code)
{
    const char *what = code == 429 ? "Gemini refused the request for now"
                     : retry_status_retryable(code)
                       ? "the model service is unavailable"
                       : "Gemini rejected the request";

    if (r->error_json && r->error_status != NULL && *r->error_status)
        return apr_psprintf(p, "%s (%ld %s)", what, code,
                            enum_name(p, r->error_status));
    return apr_psprintf(p, "%s (%ld)", what, code);
}

/* The log's account of an error: "Gemini error 429 RESOURCE_EXHAUSTED:
 * <message>", or the first bytes of a non-JSON body. */
static const char *error_detail(apr_pool_t *p, const attempt_result *r, long code)
{
    const char *head = apr_psprintf(p, "Gemini error %ld", code);

    if (r->error_json) {
        if (r->error_status != NULL && *r->error_status)
            head = apr_pstrcat(p, head, " ", r->error_status, NULL);
        if (r->error_message != NULL && *r->error_message)
            head = apr_pstrcat(p, head, ": ", r->error_message, NULL);
        return head;
    }
    if (r->error_snippet != NULL && *r->error_snippet)
        return apr_pstrcat(p, head, " (not JSON): ", r->error_snippet, NULL);
    return apr_pstrcat(p, head, " (empty or non-JSON body)", NULL);
}

void outcome_classify(apr_pool_t *p, const attempt_result *r, outcome *o)
{
    long code;

    o->kind = OUTCOME_FAILED;
    o->error = NULL;
    o->detail = NULL;
    o->hint_ms = -1;

    if (r->too_large) {
        o->error = "the model service returned an answer too large to accept";
        return;
    }
    if (r->error_seen) {
        /* An error chunk in a 200 stream counts as the HTTP error with
         * its code; a code-less one as 500 (retried). */
        code = r->error_code > 0 ? r->error_code
             : r->http_status >= 300 ? r->http_status : 500;
        o->error = error_reason(p, r, code);
        o->detail = error_detail(p, r, code);
        if (retry_status_retryable(code)) {
            o->kind = OUTCOME_RETRY;
            o->hint_ms = r->retry_delay_ms >= 0 ? r->retry_delay_ms
                                                : r->retry_after_ms;
        }
        return;
    }
    /* The last chunk came (it carries finishReason): a connection that
     * breaks after it has lost nothing. */
    if (r->transport_error != NULL && r->finish_reason == NULL) {
        o->kind = OUTCOME_RETRY;
        o->error = "the model service could not be reached";
        o->detail = apr_pstrcat(p, "Gemini request failed: ", r->transport_error,
                                NULL);
        return;
    }
    if (r->http_status < 200 || r->http_status >= 300) {
        o->error = apr_psprintf(p, "Gemini rejected the request (%ld)",
                                r->http_status);
        return;
    }
    /* A complete 2xx response that is not JSON: the transfer itself
     * worked, so this is what the server chose to send, and an error that
     * is neither a retryable status nor a transport failure is permanent
     * (API.md). A connection broken mid-chunk is a transport error above. */
    if (r->malformed) {
        o->error = "the model service returned an unreadable answer";
        o->detail = "a 2xx response or chunk that is not JSON";
        return;
    }
    if (r->block_reason != NULL) {
        o->error = apr_psprintf(p, "prompt blocked (%s)",
                                enum_name(p, r->block_reason));
        return;
    }
    /* A stream's last chunk carries finishReason: a stream that ends
     * without one was cut short (a proxy closing cleanly), so it is
     * treated as a transport error. */
    if (r->streaming && r->finish_reason == NULL) {
        o->kind = OUTCOME_RETRY;
        o->error = "the model service ended the reply early";
        o->detail = "the stream ended without a finishReason";
        return;
    }
    if (r->finish_reason == NULL || strcmp(r->finish_reason, "STOP") == 0) {
        if (r->text_len > 0)
            o->kind = OUTCOME_DONE;
        else
            o->error = r->has_candidates ? "empty reply"
                                         : "empty reply (no candidates)";
        return;
    }
    if (strcmp(r->finish_reason, "MAX_TOKENS") == 0) {
        if (r->text_len > 0) {
            o->kind = OUTCOME_DONE;
            o->error = "reply truncated (MAX_TOKENS)";
        } else {
            o->error = "empty reply (MAX_TOKENS)";
        }
        return;
    }
    o->error = apr_psprintf(p, "the model stopped: %s",
                            enum_name(p, r->finish_reason));
}

char *outcome_scrub(apr_pool_t *p, const char *s, const char *secret, size_t max)
{
    size_t slen = secret ? strlen(secret) : 0, n, i;
    const char *hit;
    char *out = apr_pstrdup(p, s);

    /* Mask first, cut after, so a cut cannot leave part of the secret. */
    if (slen >= 4) {
        while ((hit = strstr(out, secret)) != NULL)
            out = apr_pstrcat(p, apr_pstrmemdup(p, out, (size_t)(hit - out)),
                              "***", hit + slen, NULL);
    }
    n = strlen(out);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)out[n] & 0xC0) == 0x80)
            n--;                    /* do not cut a UTF-8 sequence */
        out[n] = '\0';
    }
    for (i = 0; i < n; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
            out[i] = ' ';
    return out;
}
