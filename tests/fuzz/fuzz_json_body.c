/* Request bodies (gc_json.c): gc_json_parse_body and gc_json_get_alias on
 * any bytes. Invariants: what Jansson accepts is valid UTF-8 by
 * gc_utf8_valid (body and every string in it), json_stringn agrees with
 * gc_utf8_valid on the raw bytes, and a parsed body dumps and re-parses to
 * an equal value. */
#include "fuzz.h"
#include "gc_json.h"
#include "gc_text.h"

static const char *const aliases[] = { "content", "message", "text", NULL };

/* Every key and string value in j is valid UTF-8 (NUL allowed). */
static void check_strings(const json_t *j, int depth)
{
    const char *key;
    json_t *v;
    size_t i;

    if (depth > 4096)
        return;
    if (json_is_string(j)) {
        FUZZ_ASSERT(gc_utf8_valid(json_string_value(j), json_string_length(j)));
    }
    else if (json_is_object(j)) {
        json_object_foreach((json_t *)j, key, v) {
            FUZZ_ASSERT(gc_utf8_valid(key, strlen(key)));
            check_strings(v, depth + 1);
        }
    }
    else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
            check_strings(v, depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    const char *err = NULL, *which, *text;
    gc_json_parse_status_t st;
    json_t *j = NULL, *v, *again, *s;
    size_t tlen;

    /* Jansson's UTF-8 check and ours agree on the raw bytes. */
    s = json_stringn((const char *)data, size);
    FUZZ_ASSERT((s != NULL) == gc_utf8_valid((const char *)data, size));
    json_decref(s);

    st = gc_json_parse_body(p, (const char *)data, size, &j, &err);
    if (st == GC_JSON_SYNTAX) {
        FUZZ_ASSERT(j == NULL && err != NULL);
    }
    else if (st == GC_JSON_NOT_OBJECT) {
        FUZZ_ASSERT(j == NULL && gc_utf8_valid((const char *)data, size));
    }
    else {
        FUZZ_ASSERT(st == GC_JSON_PARSED && json_is_object(j));
        FUZZ_ASSERT(gc_utf8_valid((const char *)data, size));
        check_strings(j, 0);
        v = gc_json_get_alias(j, aliases, &which);
        if (v != NULL) {
            FUZZ_ASSERT(!json_is_null(v) && which != NULL);
            FUZZ_ASSERT(json_object_get(j, which) == v);
        }
        else {
            FUZZ_ASSERT(which == NULL);
        }
        text = gc_json_dump(p, j, &tlen);
        FUZZ_ASSERT(text != NULL && strlen(text) == tlen);
        again = gc_json_own(p, json_loadb(text, tlen, JSON_ALLOW_NUL, NULL));
        FUZZ_ASSERT(again != NULL && json_equal(j, again));
        /* Setting the body's bytes as a string never loses the key. */
        gc_json_set_str(j, "x", text);
        FUZZ_ASSERT(json_is_string(json_object_get(j, "x")));
    }
    apr_pool_destroy(p);
    return 0;
}
