/* Jansson bridged into APR pools: json_t lifetimes follow pools, and text
 * produced by Jansson is copied into pool memory and freed at once. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "gc_json.h"
#include "gc_time.h"

/* Pool cleanup that drops the pool's reference to a json_t. */
static apr_status_t json_cleanup(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

/* Hands the reference j over to pool p. */
json_t *gc_json_own(apr_pool_t *p, json_t *j)
{
    if (j != NULL)
        apr_pool_cleanup_register(p, j, json_cleanup, apr_pool_cleanup_null);
    return j;
}

/* Compact JSON text of j in pool memory. Jansson preserves insertion order
 * (always, since 2.8) and keeps UTF-8 unless JSON_ENSURE_ASCII is asked. */
char *gc_json_dump(apr_pool_t *p, const json_t *j, size_t *len)
{
    char *text, *copy;
    size_t n;

    if (j == NULL)
        return NULL;
    text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL)
        return NULL;
    /* NUL inside strings is written as \u0000, so strlen is the whole text. */
    n = strlen(text);
    copy = apr_pstrmemdup(p, text, n);
    free(text);
    if (len)
        *len = n;
    return copy;
}

/* Parses a request body. JSON_DECODE_ANY lets a scalar or array parse so it
 * can be told apart (NOT_OBJECT) from text that is not JSON at all (SYNTAX).
 * Jansson itself refuses NaN/Infinity, invalid UTF-8, lone surrogates,
 * integers beyond int64, reals that overflow, nesting deeper than 2048 and
 * trailing text; JSON_ALLOW_NUL keeps "\u0000" so the caller can name the
 * field that holds it. Duplicate keys are allowed, the last one winning, as
 * in the JavaScript services this API replaces. */
gc_json_parse_status_t gc_json_parse_body(apr_pool_t *p, const char *body, size_t len,
                                          json_t **out, const char **err_text)
{
    json_error_t error;
    json_t *j;

    *out = NULL;
    if (err_text)
        *err_text = NULL;
    if (len == 0) {
        *out = gc_json_own(p, json_object());
        return *out ? GC_JSON_PARSED : GC_JSON_SYNTAX;
    }
    j = json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
    if (j == NULL) {
        if (err_text)
            *err_text = apr_psprintf(p, "%s (line %d, column %d, byte %lu)", error.text,
                                     error.line, error.column, (unsigned long)error.position);
        return GC_JSON_SYNTAX;
    }
    gc_json_own(p, j);
    if (!json_is_object(j)) {
        if (err_text)
            *err_text = "JSON value is not an object";
        return GC_JSON_NOT_OBJECT;
    }
    *out = j;
    return GC_JSON_PARSED;
}

/* First of names[] present in obj (a present null counts: the canonical name
 * still wins and the caller reports its type). */
json_t *gc_json_get_alias(const json_t *obj, const char *const names[], const char **which)
{
    size_t i;

    if (which)
        *which = NULL;
    if (!json_is_object(obj) || names == NULL)
        return NULL;
    for (i = 0; names[i] != NULL; i++) {
        json_t *v = json_object_get(obj, names[i]);
        /* null counts as absent, so {"content": null, "message": "hi"} is "hi" */
        if (v != NULL && !json_is_null(v)) {
            if (which)
                *which = names[i];
            return v;
        }
    }
    return NULL;
}

/* Sets key to a copy of s, or null. Jansson refuses invalid UTF-8; such a
 * value (which should never come from our database) becomes null rather
 * than vanishing from the object. */
void gc_json_set_str(json_t *obj, const char *key, const char *s)
{
    json_t *v = s ? json_string(s) : NULL;

    json_object_set_new(obj, key, v ? v : json_null());
}

/* Sets key to an RFC 3339 timestamp, or null when t < 0 (no value). */
void gc_json_set_time(apr_pool_t *p, json_t *obj, const char *key, int64_t t)
{
    gc_json_set_str(obj, key, t < 0 ? NULL : gc_time_rfc3339(p, t));
}
