/* Unit tests of the worker's pure parts: the SSE parser, the response
 * reader, the retry rules, the outcome rules and the request builder. */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <jansson.h>

#include "outcome.h"
#include "pg_params.h"
#include "reply_parse.h"
#include "request.h"
#include "retry.h"
#include "sse_parse.h"
#include "unit.h"

/* ---- SSE ---------------------------------------------------------------- */

typedef struct {
    apr_pool_t *p;
    int n;
    const char *ev[16];
} sse_log;

static int collect(void *arg, const char *data, size_t len)
{
    sse_log *l = arg;

    if (l->n < 16)
        l->ev[l->n++] = apr_pstrmemdup(l->p, data, len);
    return 0;
}

/* Feeds text in pieces of step bytes (0: whole), then ends the stream. */
static sse_log *sse_run(apr_pool_t *p, const char *text, size_t step, size_t max)
{
    sse_parser s;
    sse_log *l = apr_pcalloc(p, sizeof(*l));
    size_t len = strlen(text), i, k;

    l->p = p;
    sse_init(&s, max);
    if (step == 0)
        step = len ? len : 1;
    for (i = 0; i < len; i += k) {
        k = len - i < step ? len - i : step;
        if (sse_feed(&s, text + i, k, collect, l) != 0) {
            l->n = -1;
            break;
        }
    }
    if (l->n >= 0 && sse_end(&s, collect, l) != 0)
        l->n = -1;
    sse_free(&s);
    return l;
}

static void test_sse(apr_pool_t *p)
{
    static const char *const seps[] = { "\n\n", "\r\n\r\n", "\r\r" };
    size_t i, step;
    sse_log *l;
    char *text;

    for (i = 0; i < 3; i++) {
        text = apr_pstrcat(p, "data: {\"a\":1}", seps[i], "data: {\"b\":2}", seps[i], NULL);
        for (step = 0; step <= 3; step++) {
            l = sse_run(p, text, step, 1024);
            if (!INT_EQ(l->n, 2, apr_psprintf(p, "two events, separator %zu, step %zu", i, step)))
                continue;
            STR_EQ(l->ev[0], "{\"a\":1}", "first event's data");
            STR_EQ(l->ev[1], "{\"b\":2}", "second event's data");
        }
    }
    l = sse_run(p, ": keep-alive\nevent: x\nid: 7\nretry: 5\ndata:one\ndata: two\n\n", 1, 1024);
    INT_EQ(l->n, 1, "comments and other fields are ignored");
    STR_EQ(l->ev[0], "one\ntwo", "data lines join with \\n; one space after ':' dropped");
    l = sse_run(p, "\xEF\xBB\xBF" "data: x\n\n", 1, 1024);
    INT_EQ(l->n, 1, "a BOM split over feeds is skipped");
    STR_EQ(l->ev[0], "x", "data after the BOM");
    l = sse_run(p, "data: last", 0, 1024);
    INT_EQ(l->n, 1, "an unterminated last event is handed over at the end");
    STR_EQ(l->ev[0], "last", "its data");
    l = sse_run(p, "\n\nevent: ping\n\n", 0, 1024);
    INT_EQ(l->n, 0, "events without data are not handed over");
    l = sse_run(p, "data: 0123456789\n\n", 0, 8);
    INT_EQ(l->n, -1, "a line over the cap is refused");
    l = sse_run(p, "data: [DONE]\n\n", 0, 64);
    INT_EQ(l->n, 1, "[DONE] is just data (Gemini sends none)");
}

/* ---- GenerateContentResponse -------------------------------------------- */

static reply_chunk parse(apr_pool_t *p, const char *json, int *rc)
{
    reply_chunk c;

    *rc = reply_parse(p, json, strlen(json), &c);
    return c;
}

static void test_reply(apr_pool_t *p)
{
    reply_chunk c;
    int rc;

    c = parse(p, "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hi \"},"
                 "{\"text\":\"plan\",\"thought\":true},{\"text\":\"there\"}]},\"finishReason\":\"STOP\","
                 "\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":1}}", &rc);
    INT_EQ(rc, 0, "a response parses");
    STR_EQ(c.text, "Hi there", "text joins parts and leaves out thoughts");
    STR_EQ(c.finish_reason, "STOP", "finishReason");
    OK(c.has_candidates && !c.is_error && c.block_reason == NULL, "no error, no block");

    c = parse(p, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\\u0000b\"}]},"
                 "\"finish_reason\":\"MAX_TOKENS\"}],\"prompt_feedback\":{}}", &rc);
    STR_EQ(c.text, "ab", "NUL bytes are dropped");
    STR_EQ(c.finish_reason, "MAX_TOKENS", "snake_case finish_reason");

    c = parse(p, "{\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}", &rc);
    STR_EQ(c.block_reason, "SAFETY", "promptFeedback.blockReason");
    OK(!c.has_candidates && c.text_len == 0, "no candidates");
    c = parse(p, "{\"prompt_feedback\":{\"block_reason\":\"OTHER\"}}", &rc);
    STR_EQ(c.block_reason, "OTHER", "snake_case block_reason");

    c = parse(p, "{\"candidates\":[{\"index\":1,\"content\":{\"parts\":[{\"text\":\"one\"}]}},"
                 "{\"content\":{\"parts\":[{\"text\":\"zero\"}]}}]}", &rc);
    STR_EQ(c.text, "zero", "the candidate with index 0 (absent index is 0)");

    c = parse(p, "{\"error\":{\"code\":429,\"message\":\"quota\",\"status\":\"RESOURCE_EXHAUSTED\","
                 "\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\"},"
                 "{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"37s\"}]}}", &rc);
    OK(rc == 0 && c.is_error, "an error object");
    INT_EQ(c.code, 429, "its code");
    STR_EQ(c.status, "RESOURCE_EXHAUSTED", "its status");
    STR_EQ(c.message, "quota", "its message");
    INT_EQ(c.retry_delay_ms, 37000, "RetryInfo.retryDelay found by @type");

    c = parse(p, "[{\"error\":{\"message\":\"busy\",\"status\":\"UNAVAILABLE\"}}]", &rc);
    OK(rc == 0 && c.is_error, "an error wrapped in a one-element array");
    INT_EQ(c.code, 503, "a missing code comes from the status");
    INT_EQ(c.retry_delay_ms, -1, "no RetryInfo: -1");

    c = parse(p, "<html>502 Bad Gateway</html>", &rc);
    INT_EQ(rc, -1, "non-JSON is refused");
    c = parse(p, "42", &rc);
    INT_EQ(rc, -1, "a scalar is refused");
    c = parse(p, "{}", &rc);
    OK(rc == 0 && !c.has_candidates && c.text_len == 0, "an empty object is an empty response");
}

/* ---- retry rules ------------------------------------------------------- */

static void test_retry(void)
{
    OK(retry_status_retryable(429) && retry_status_retryable(503) && retry_status_retryable(408)
       && retry_status_retryable(500) && retry_status_retryable(502) && retry_status_retryable(504),
       "408, 429, 500, 502, 503, 504 are retried");
    OK(!retry_status_retryable(400) && !retry_status_retryable(401) && !retry_status_retryable(403)
       && !retry_status_retryable(404) && !retry_status_retryable(402), "4xx others are not");
    INT_EQ(retry_parse_duration_ms("37s"), 37000, "duration 37s");
    INT_EQ(retry_parse_duration_ms("1.5s"), 1500, "duration 1.5s");
    INT_EQ(retry_parse_duration_ms("0.0001s"), 1, "a fraction of a ms rounds up");
    INT_EQ(retry_parse_duration_ms("37"), -1, "no unit: refused");
    INT_EQ(retry_parse_duration_ms("-1s"), -1, "negative: refused");
    INT_EQ(retry_parse_retry_after_ms(" 7 \r\n", 0), 7000, "Retry-After seconds");
    INT_EQ(retry_parse_retry_after_ms("Thu, 01 Jan 1970 00:00:10 GMT", 4), 6000,
           "Retry-After HTTP-date");
    INT_EQ(retry_parse_retry_after_ms("Thu, 01 Jan 1970 00:00:10 GMT", 40), 0,
           "a past date is no wait");
    INT_EQ(retry_parse_retry_after_ms("soon", 0), -1, "garbage is -1");
    INT_EQ(retry_backoff_ms(1, 0), 1000, "first retry: 1 s");
    INT_EQ(retry_backoff_ms(2, 0), 2000, "then 2 s");
    INT_EQ(retry_backoff_ms(4, 0.5), 8500, "then 8 s plus jitter");
    INT_EQ(retry_backoff_ms(10, 1), 60000, "capped at 60 s");
    INT_EQ(retry_wait_ms(1, 0, 0), RETRY_MIN_WAIT_MS, "a hint of 0 waits the floor (250 ms)");
    INT_EQ(retry_wait_ms(1, 100, 0), RETRY_MIN_WAIT_MS, "a hint below the floor waits the floor");
    INT_EQ(retry_wait_ms(2, 37000, 0), 37000, "a longer hint is honoured");
    INT_EQ(retry_wait_ms(2, -1, 0), 2000, "no hint: the backoff");
}

/* ---- PostgreSQL connection parameters --------------------------------- */

/* The value of key in a NULL-terminated keys/vals pair, or NULL. */
static const char *param(const char *const *k, const char *const *v, const char *key)
{
    for (; *k; k++, v++)
        if (strcmp(*k, key) == 0)
            return *v;
    return NULL;
}

static void test_pg_params(apr_pool_t *p)
{
    const char *const *k, *const *v;

    OK(pg_params_build(p, "postgresql://u:pw@db.example:5433/gc", &k, &v) == NULL,
       "a URI parses");
    STR_EQ(param(k, v, "host"), "db.example", "... its host is kept");
    STR_EQ(param(k, v, "port"), "5433", "... its port");
    STR_EQ(param(k, v, "password"), "pw", "... its password");
    STR_EQ(param(k, v, "dbname"), "gc", "... its database");
    STR_EQ(param(k, v, "connect_timeout"), "5", "connect_timeout defaults to 5 s");
    STR_EQ(param(k, v, "tcp_user_timeout"), "10000", "tcp_user_timeout added");
    STR_EQ(param(k, v, "keepalives"), "1", "keepalives on");
    STR_EQ(param(k, v, "options"), "-c statement_timeout=5000 -c lock_timeout=2000",
           "statement and lock time-outs in options");

    OK(pg_params_build(p, "postgresql://127.0.0.1/gc?connect_timeout=9"
                       "&options=-c%20search_path%3Dx%20-c%20statement_timeout%3D1000",
                       &k, &v) == NULL, "a URI with its own options parses");
    STR_EQ(param(k, v, "connect_timeout"), "9", "the URL's connect_timeout wins");
    STR_EQ(param(k, v, "options"), "-c search_path=x -c statement_timeout=1000 -c lock_timeout=2000",
           "the URL's options kept; only the missing time-out added");

    OK(pg_params_build(p, "host=/run/pg dbname=gc tcp_user_timeout=3000 "
                       "options='-c lock_timeout=10'", &k, &v) == NULL,
       "a key=value string parses");
    STR_EQ(param(k, v, "host"), "/run/pg", "... its host is kept");
    STR_EQ(param(k, v, "tcp_user_timeout"), "3000", "... its tcp_user_timeout wins");
    STR_EQ(param(k, v, "options"), "-c lock_timeout=10 -c statement_timeout=5000",
           "... its lock_timeout kept, statement_timeout added");
    OK(pg_params_build(p, "postgresql://[bad", &k, &v) != NULL, "a bad URL is refused");
    OK(pg_params_build(p, "nonsense without equals", &k, &v) != NULL,
       "a bad key=value string is refused");
}

/* ---- outcome rules ------------------------------------------------------ */

static outcome classify(apr_pool_t *p, attempt_result r)
{
    outcome o;

    outcome_classify(p, &r, &o);
    return o;
}

static attempt_result ok200(const char *finish, size_t text_len)
{
    attempt_result r;

    memset(&r, 0, sizeof(r));
    r.http_status = 200;
    r.retry_delay_ms = r.retry_after_ms = -1;
    r.has_candidates = 1;
    r.finish_reason = finish;
    r.text_len = text_len;
    return r;
}

static void test_outcome(apr_pool_t *p)
{
    attempt_result r;
    outcome o;

    o = classify(p, ok200("STOP", 5));
    OK(o.kind == OUTCOME_DONE && o.error == NULL, "STOP with text: done");
    o = classify(p, ok200(NULL, 5));
    OK(o.kind == OUTCOME_DONE, "no finishReason at the end, with text: done");
    o = classify(p, ok200("STOP", 0));
    OK(o.kind == OUTCOME_FAILED, "STOP without text: failed");
    o = classify(p, ok200("MAX_TOKENS", 3));
    OK(o.kind == OUTCOME_DONE, "MAX_TOKENS with text: done");
    STR_EQ(o.error, "reply truncated (MAX_TOKENS)", "... with the truncation note");
    o = classify(p, ok200("MAX_TOKENS", 0));
    OK(o.kind == OUTCOME_FAILED, "MAX_TOKENS without text: failed");
    o = classify(p, ok200("SAFETY", 3));
    OK(o.kind == OUTCOME_FAILED && strstr(o.error, "SAFETY"), "SAFETY: failed, named");
    o = classify(p, ok200("SOMETHING_NEW", 3));
    OK(o.kind == OUTCOME_FAILED && strstr(o.error, "SOMETHING_NEW"), "an unknown reason: failed, named");
    r = ok200(NULL, 0);
    r.has_candidates = 0;
    r.block_reason = "PROHIBITED_CONTENT";
    o = classify(p, r);
    OK(o.kind == OUTCOME_FAILED, "blocked prompt: failed");
    STR_EQ(o.error, "prompt blocked (PROHIBITED_CONTENT)", "... named");

    r = ok200(NULL, 0);
    r.http_status = 429;
    r.error_seen = r.error_json = 1;
    r.error_code = 429;
    r.error_status = "RESOURCE_EXHAUSTED";
    r.error_message = "slow down";
    r.retry_delay_ms = 37000;
    r.retry_after_ms = 5000;
    o = classify(p, r);
    OK(o.kind == OUTCOME_RETRY, "429: retried");
    INT_EQ(o.hint_ms, 37000, "RetryInfo wins over Retry-After");
    STR_EQ(o.error, "Gemini refused the request for now (429 RESOURCE_EXHAUSTED)",
           "a short reason for the client");
    STR_EQ(o.detail, "Gemini error 429 RESOURCE_EXHAUSTED: slow down",
           "Gemini's message only in the detail (for the log)");
    r.retry_delay_ms = -1;
    o = classify(p, r);
    INT_EQ(o.hint_ms, 5000, "else Retry-After");

    r = ok200(NULL, 0);
    r.http_status = 400;
    r.error_seen = r.error_json = 1;
    r.error_code = 400;
    r.error_status = "INVALID_ARGUMENT";
    r.error_message = "API key not valid.";
    o = classify(p, r);
    OK(o.kind == OUTCOME_FAILED, "400: failed at once");
    STR_EQ(o.error, "Gemini rejected the request (400 INVALID_ARGUMENT)",
           "400: the client sees code and status only");
    OK(o.detail && strstr(o.detail, "API key not valid."), "... the message goes to the log");
    r.error_status = "INVALID ARGUMENT <script>";
    STR_EQ(classify(p, r).error, "Gemini rejected the request (400 INVALIDARGUMENTscript)",
           "an odd status name is reduced to letters, digits and '_'");
    r.error_status = "INVALID_ARGUMENT";
    r.http_status = r.error_code = 403;
    OK(classify(p, r).kind == OUTCOME_FAILED, "403: failed at once");
    r.http_status = r.error_code = 404;
    OK(classify(p, r).kind == OUTCOME_FAILED, "404: failed at once");

    r = ok200(NULL, 4);
    r.error_seen = r.error_json = 1;
    r.error_code = 503;
    o = classify(p, r);
    OK(o.kind == OUTCOME_RETRY, "an error chunk in a 200 stream counts as its code");

    r = ok200(NULL, 0);
    r.http_status = 502;
    r.error_seen = 1;
    r.error_code = 502;
    r.error_snippet = "<html>Bad Gateway</html>";
    o = classify(p, r);
    OK(o.kind == OUTCOME_RETRY && strstr(o.error, "502") && !strstr(o.error, "Bad Gateway"),
       "a non-JSON 502: retried, the client sees the code only");
    OK(o.detail && strstr(o.detail, "Bad Gateway"), "... the body's head goes to the log");

    r = ok200(NULL, 2);
    r.http_status = 200;
    r.transport_error = "Timeout was reached";
    o = classify(p, r);
    OK(o.kind == OUTCOME_RETRY, "a transport error: retried");
    STR_EQ(o.error, "the model service could not be reached", "... a short reason");
    OK(o.detail && strstr(o.detail, "Timeout"), "... libcurl's words in the detail");
    r.finish_reason = "STOP";
    OK(classify(p, r).kind == OUTCOME_DONE, "a break after the last chunk loses nothing");

    r = ok200("STOP", 5);
    r.too_large = 1;
    OK(classify(p, r).kind == OUTCOME_FAILED, "an oversized response: failed");

    r = ok200(NULL, 5);
    r.streaming = 1;
    o = classify(p, r);
    OK(o.kind == OUTCOME_RETRY, "a stream that ends cleanly without finishReason: retried");
    STR_EQ(o.error, "the model service ended the reply early", "... as a cut-short reply");
    r.finish_reason = "STOP";
    OK(classify(p, r).kind == OUTCOME_DONE, "a stream with its finishReason: done");
    r = ok200(NULL, 0);
    r.streaming = 1;
    r.has_candidates = 0;
    r.block_reason = "SAFETY";
    o = classify(p, r);
    OK(o.kind == OUTCOME_FAILED, "a streamed block without finishReason: failed, not retried");
    STR_EQ(o.error, "prompt blocked (SAFETY)", "... named");

    r = ok200(NULL, 0);
    r.malformed = 1;
    o = classify(p, r);
    OK(o.kind == OUTCOME_FAILED, "a complete 2xx body that is not JSON: permanent");
    STR_EQ(o.error, "the model service returned an unreadable answer", "... a short reason");

    o = classify(p, ok200("RECITATION", 0));
    STR_EQ(o.error, "the model stopped: RECITATION", "another finishReason: named");
    o = classify(p, ok200("BAD\nREASON: see http://x", 0));
    STR_EQ(o.error, "the model stopped: BADREASONseehttpx", "... reduced to a safe name");

    STR_EQ(outcome_scrub(p, "bad key AIzaSECRET1 here\n", "AIzaSECRET1", 100),
           "bad key *** here ", "the key is masked, control characters made spaces");
    STR_EQ(outcome_scrub(p, "x AIzaSECRET1", "AIzaSECRET1", 6), "x ***",
           "masking comes before the cut");
    STR_EQ(outcome_scrub(p, "h\xC3\xA9llo", NULL, 2), "h", "a cut keeps UTF-8 whole");
}

/* ---- the request -------------------------------------------------------- */

static void test_request(apr_pool_t *p)
{
    history_pair pairs[] = {            /* newest first */
        { "q3", "a3" }, { "q2", NULL }, { "q1", "a1" }, { "q0-long-question", "a0" },
    };
    request_opts o;
    json_t *j, *c;
    json_error_t e;
    char *body;
    size_t len;
    int used;

    memset(&o, 0, sizeof(o));
    o.budget_chars = 8;                  /* q3a3 + q1a1 = 8; q0 does not fit */
    body = request_build(p, &o, pairs, 4, "now?", &len, &used);
    j = body ? json_loads(body, 0, &e) : NULL;
    OK(j != NULL && strlen(body) == len, "the request is JSON");
    INT_EQ(used, 2, "two exchanges fit the budget");
    c = json_object_get(j, "contents");
    INT_EQ(json_array_size(c), 5, "user/model twice, then the new turn");
    STR_EQ(json_string_value(json_object_get(json_array_get(json_object_get(
           json_array_get(c, 0), "parts"), 0), "text")), "q1", "oldest first");
    STR_EQ(json_string_value(json_object_get(json_array_get(c, 1), "role")), "model", "roles alternate");
    STR_EQ(json_string_value(json_object_get(json_array_get(json_object_get(
           json_array_get(c, 4), "parts"), 0), "text")), "now?", "the new user turn is last");
    OK(json_object_get(j, "systemInstruction") == NULL
       && json_object_get(j, "generationConfig") == NULL, "nothing unset is sent");
    json_decref(j);

    o.budget_chars = 3;
    o.system_instruction = "Be brief.";
    o.has_temperature = 1;
    o.temperature = 0.5;
    o.max_output_tokens = 100;
    body = request_build(p, &o, pairs, 4, "now?", &len, &used);
    j = body ? json_loads(body, 0, &e) : NULL;
    INT_EQ(used, 0, "nothing fits a tiny budget");
    INT_EQ(json_array_size(json_object_get(j, "contents")), 1, "only the new turn");
    STR_EQ(json_string_value(json_object_get(json_array_get(json_object_get(
           json_object_get(j, "systemInstruction"), "parts"), 0), "text")), "Be brief.",
           "systemInstruction");
    OK(json_real_value(json_object_get(json_object_get(j, "generationConfig"), "temperature")) == 0.5
       && json_integer_value(json_object_get(json_object_get(j, "generationConfig"),
                                             "maxOutputTokens")) == 100,
       "generationConfig when set");
    json_decref(j);

    OK(request_build(p, &o, pairs, 0, "bad \xFF", &len, &used) == NULL,
       "invalid UTF-8 is refused");
}

int main(void)
{
    apr_pool_t *p;

    apr_initialize();
    apr_pool_create(&p, NULL);
    test_sse(p);
    test_reply(p);
    test_retry();
    test_outcome(p);
    test_request(p);
    test_pg_params(p);
    apr_pool_destroy(p);
    apr_terminate();
    return unit_done();
}
