/* A small JSON API over Jansson shared by the module and the worker: every
 * json_t handed out is owned by a pool (a cleanup drops the reference), and
 * text leaves Jansson's heap at once for pool memory. */
#ifndef GC_JSON_H
#define GC_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <apr_pools.h>
#include <jansson.h>

/* Ties j (a new reference) to pool p: json_decref runs when p is cleared.
 * Returns j, for chaining; NULL stays NULL. */
json_t *gc_json_own(apr_pool_t *p, json_t *j);

/* Compact serialisation (no spaces, keys in insertion order, UTF-8 kept,
 * JSON_ENCODE_ANY) into pool memory; *len set when len is not NULL. */
char *gc_json_dump(apr_pool_t *p, const json_t *j, size_t *len);

typedef enum {
    GC_JSON_PARSED = 0,
    GC_JSON_SYNTAX,      /* not parseable, bad UTF-8, lone surrogate, NaN, too deep */
    GC_JSON_NOT_OBJECT   /* valid JSON but not an object */
} gc_json_parse_status_t;

/* Parses a request body (len bytes; len 0 counts as "{}") with NUL allowed
 * inside strings (the caller reports those as a field error), rejecting
 * everything else the contract calls INVALID_JSON. The object is pool-owned.
 * *err_text gets Jansson's message for the log (never for the client). */
gc_json_parse_status_t gc_json_parse_body(apr_pool_t *p, const char *body, size_t len,
                                          json_t **out, const char **err_text);

/* The first of names[] (NULL-terminated) present in obj with a non-null
 * value, so that a canonical name wins over its aliases and a null counts as
 * absent; *which gets the name found. NULL if none. */
json_t *gc_json_get_alias(const json_t *obj, const char *const names[], const char **which);

/* Sets key to a string copy, or to JSON null when s is NULL (or, since
 * Jansson refuses them, when s is not valid UTF-8). */
void gc_json_set_str(json_t *obj, const char *key, const char *s);

/* Sets key to an RFC 3339 timestamp, or to JSON null when t < 0. */
void gc_json_set_time(apr_pool_t *p, json_t *obj, const char *key, int64_t t);

#endif
