/* Reading GenerateContentResponse and error bodies: see reply_parse.h. */
#include "reply_parse.h"

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "retry.h"

#define PARSE_MAX_DEPTH_ITEMS 64   /* elements of a top-level array read */

/* obj[camel], else obj[snake]. */
static json_t *get2(const json_t *obj, const char *camel, const char *snake)
{
    json_t *v;

    if (!json_is_object(obj))
        return NULL;
    v = json_object_get(obj, camel);
    if (v == NULL && snake != NULL)
        v = json_object_get(obj, snake);
    return v;
}

/* A pool copy of a string value, or NULL. */
static const char *str_of(apr_pool_t *p, const json_t *v)
{
    if (!json_is_string(v))
        return NULL;
    return apr_pstrmemdup(p, json_string_value(v), json_string_length(v));
}

long reply_status_code(const char *status)
{
    static const struct { const char *name; long code; } map[] = {
        { "INVALID_ARGUMENT", 400 }, { "FAILED_PRECONDITION", 400 },
        { "OUT_OF_RANGE", 400 }, { "UNAUTHENTICATED", 401 },
        { "PERMISSION_DENIED", 403 }, { "NOT_FOUND", 404 },
        { "ABORTED", 409 }, { "ALREADY_EXISTS", 409 },
        { "RESOURCE_EXHAUSTED", 429 }, { "CANCELLED", 499 },
        { "UNKNOWN", 500 }, { "INTERNAL", 500 }, { "DATA_LOSS", 500 },
        { "UNIMPLEMENTED", 501 }, { "UNAVAILABLE", 503 },
        { "DEADLINE_EXCEEDED", 504 },
    };
    size_t i;

    if (status == NULL)
        return 0;
    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(status, map[i].name) == 0)
            return map[i].code;
    return 0;
}

/* RetryInfo.retryDelay from an error's details (matched by "@type"): a
 * Duration string ("37s") or, defensively, {"seconds": n, "nanos": n}. */
static long retry_delay(const json_t *details)
{
    size_t i;
    json_t *d, *type, *delay, *sec, *nanos;
    const char *t;
    double ms;

    if (!json_is_array(details))
        return -1;
    json_array_foreach(details, i, d) {
        type = json_object_get(d, "@type");
        t = json_string_value(type);
        if (t == NULL || strlen(t) < 20
            || strcmp(t + strlen(t) - 20, "google.rpc.RetryInfo") != 0)
            continue;
        delay = get2(d, "retryDelay", "retry_delay");
        if (json_is_string(delay))
            return retry_parse_duration_ms(json_string_value(delay));
        if (json_is_object(delay)) {
            sec = json_object_get(delay, "seconds");
            nanos = json_object_get(delay, "nanos");
            ms = (json_is_string(sec) ? atof(json_string_value(sec))
                  : json_number_value(sec)) * 1000.0
                 + json_number_value(nanos) / 1e6;
            if (ms >= 0 && ms < 7.0 * 86400 * 1000)
                return (long)ms;
        }
    }
    return -1;
}

/* Reads an "error" object into out. */
static void read_error(apr_pool_t *p, const json_t *err, reply_chunk *out)
{
    json_t *code = json_object_get(err, "code");

    out->is_error = 1;
    if (json_is_object(err)) {
        out->status = str_of(p, json_object_get(err, "status"));
        out->message = str_of(p, json_object_get(err, "message"));
        if (json_is_integer(code))
            out->code = (long)json_integer_value(code);
        else if (json_is_string(code))
            out->code = atol(json_string_value(code));
        if (out->code <= 0)
            out->code = reply_status_code(out->status);
        out->retry_delay_ms = retry_delay(json_object_get(err, "details"));
    } else if (json_is_string(err)) {
        out->message = str_of(p, err);
    }
}

/* Appends text without its NUL bytes to out->text. */
static void add_text(apr_pool_t *p, reply_chunk *out, const char *s, size_t n)
{
    char *t = apr_palloc(p, out->text_len + n + 1);
    size_t i, k = out->text_len;

    if (out->text_len > 0)
        memcpy(t, out->text, out->text_len);
    for (i = 0; i < n; i++)
        if (s[i] != '\0')
            t[k++] = s[i];
    t[k] = '\0';
    out->text = t;
    out->text_len = k;
}

/* Merges one response object into out. */
static void read_response(apr_pool_t *p, const json_t *r, reply_chunk *out)
{
    json_t *err, *cands, *c0, *content, *parts, *part, *text, *thought, *fb, *v;
    size_t i;

    err = json_object_get(r, "error");
    if (err != NULL && !json_is_null(err)) {
        read_error(p, err, out);
        return;
    }
    fb = get2(r, "promptFeedback", "prompt_feedback");
    v = get2(fb, "blockReason", "block_reason");
    if (json_is_string(v) && json_string_length(v) > 0
        && strcmp(json_string_value(v), "BLOCK_REASON_UNSPECIFIED") != 0)
        out->block_reason = str_of(p, v);

    cands = json_object_get(r, "candidates");
    if (!json_is_array(cands) || json_array_size(cands) == 0)
        return;
    out->has_candidates = 1;
    /* The first candidate: the one with index 0 (an absent index is 0). */
    c0 = NULL;
    json_array_foreach(cands, i, v) {
        json_t *idx = json_object_get(v, "index");
        if (idx == NULL || (json_is_integer(idx) && json_integer_value(idx) == 0)) {
            c0 = v;
            break;
        }
    }
    if (c0 == NULL)
        c0 = json_array_get(cands, 0);

    v = get2(c0, "finishReason", "finish_reason");
    if (json_is_string(v) && json_string_length(v) > 0)
        out->finish_reason = str_of(p, v);
    content = json_object_get(c0, "content");
    parts = json_object_get(content, "parts");
    if (!json_is_array(parts))
        return;
    json_array_foreach(parts, i, part) {
        thought = json_object_get(part, "thought");
        if (json_is_true(thought))
            continue;
        text = json_object_get(part, "text");
        if (json_is_string(text) && json_string_length(text) > 0)
            add_text(p, out, json_string_value(text), json_string_length(text));
    }
}

int reply_parse(apr_pool_t *p, const char *json, size_t len, reply_chunk *out)
{
    json_error_t jerr;
    json_t *root, *item;
    size_t i;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    out->retry_delay_ms = -1;
    out->text = "";
    /* NUL inside strings is allowed here and dropped from the text. */
    root = json_loadb(json, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
    if (root == NULL)
        return -1;
    if (json_is_object(root)) {
        read_response(p, root, out);
    } else if (json_is_array(root) && json_array_size(root) > 0) {
        json_array_foreach(root, i, item) {
            if (i >= PARSE_MAX_DEPTH_ITEMS || !json_is_object(item)) {
                rc = json_is_object(item) ? 0 : -1;
                break;
            }
            read_response(p, item, out);
            if (out->is_error)
                break;
        }
    } else {
        rc = -1;
    }
    json_decref(root);
    return rc;
}
