/* The Gemini request body: see request.h. */
#include "request.h"

#include <string.h>

#include <jansson.h>

#include "gc_json.h"
#include "gc_text.h"

/* {"role": role, "parts": [{"text": text}]}, or NULL on bad UTF-8. */
static json_t *turn(const char *role, const char *text)
{
    json_t *t = json_stringn(text, strlen(text));

    if (t == NULL)
        return NULL;
    return json_pack("{s:s, s:[{s:o}]}", "role", role, "parts", "text", t);
}

char *request_build(apr_pool_t *p, const request_opts *o, const history_pair *pairs,
                    int n, const char *prompt, size_t *len, int *used)
{
    json_t *root, *contents, *t, *gen;
    long total = 0, chars;
    int i, take = 0;
    char *out = NULL;

    /* Newest first while the budget holds; the first pair that does not
     * fit ends the history (older ones would leave a gap). */
    for (i = 0; i < n; i++) {
        if (pairs[i].user == NULL || pairs[i].model == NULL
            || !*pairs[i].user || !*pairs[i].model) {
            take = i + 1;             /* skipped below, costs nothing */
            continue;
        }
        chars = (long)gc_utf8_length(pairs[i].user, strlen(pairs[i].user))
              + (long)gc_utf8_length(pairs[i].model, strlen(pairs[i].model));
        if (total + chars > o->budget_chars)
            break;
        total += chars;
        take = i + 1;
    }

    root = gc_json_own(p, json_object());
    contents = json_array();
    json_object_set_new(root, "contents", contents);
    *used = 0;
    for (i = take - 1; i >= 0; i--) {
        if (pairs[i].user == NULL || pairs[i].model == NULL
            || !*pairs[i].user || !*pairs[i].model)
            continue;
        if ((t = turn("user", pairs[i].user)) == NULL)
            return NULL;
        json_array_append_new(contents, t);
        if ((t = turn("model", pairs[i].model)) == NULL)
            return NULL;
        json_array_append_new(contents, t);
        (*used)++;
    }
    if ((t = turn("user", prompt)) == NULL)
        return NULL;
    json_array_append_new(contents, t);

    if (o->system_instruction != NULL && *o->system_instruction) {
        t = json_stringn(o->system_instruction, strlen(o->system_instruction));
        if (t == NULL)
            return NULL;
        json_object_set_new(root, "systemInstruction",
                            json_pack("{s:[{s:o}]}", "parts", "text", t));
    }
    if (o->has_temperature || o->max_output_tokens > 0) {
        gen = json_object();
        if (o->has_temperature)
            json_object_set_new(gen, "temperature", json_real(o->temperature));
        if (o->max_output_tokens > 0)
            json_object_set_new(gen, "maxOutputTokens",
                                json_integer(o->max_output_tokens));
        json_object_set_new(root, "generationConfig", gen);
    }
    out = gc_json_dump(p, root, len);
    return out;
}
