/* Classifying a Gemini attempt: see outcome.h. The rules are API.md's
 * ("Replies") and EXTERNAL-APIS.md's (errors and retries). */
#include "outcome.h"

#include <string.h>

#include <apr_strings.h>

#include "retry.h"

/* "Gemini error 429 RESOURCE_EXHAUSTED: <message>". */
static const char *error_text(apr_pool_t *p, const attempt_result *r, long code)
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
    o->hint_ms = -1;

    if (r->too_large) {
        o->error = "Gemini response larger than the worker accepts";
        return;
    }
    if (r->error_seen) {
        /* An error chunk in a 200 stream counts as the HTTP error with
         * its code; a code-less one as 500 (retried). */
        code = r->error_code > 0 ? r->error_code
             : r->http_status >= 300 ? r->http_status : 500;
        o->error = error_text(p, r, code);
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
        o->error = apr_pstrcat(p, "Gemini request failed: ", r->transport_error,
                               NULL);
        return;
    }
    if (r->http_status < 200 || r->http_status >= 300) {
        o->error = apr_psprintf(p, "Gemini answered HTTP %ld", r->http_status);
        return;
    }
    if (r->malformed) {
        o->kind = OUTCOME_RETRY;
        o->error = "Gemini sent a response that is not JSON";
        return;
    }
    if (r->block_reason != NULL) {
        o->error = apr_psprintf(p, "prompt blocked (%s)", r->block_reason);
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
    o->error = apr_psprintf(p, "reply stopped (%s)", r->finish_reason);
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
