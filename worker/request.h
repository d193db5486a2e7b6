/* Builds the GenerateContentRequest body: the room's earlier completed
 * exchanges within a character budget, oldest first, then the new user
 * turn; systemInstruction and generationConfig only when configured. */
#ifndef REQUEST_H
#define REQUEST_H

#include <stddef.h>
#include <apr_pools.h>

typedef struct {
    const char *user;     /* the prompt of an earlier exchange */
    const char *model;    /* its done reply */
} history_pair;

typedef struct {
    long budget_chars;              /* history_budget_chars */
    const char *system_instruction; /* NULL: none */
    int has_temperature;
    double temperature;
    long max_output_tokens;         /* 0: not sent */
} request_opts;

/* pairs[0..n) are newest first (as the history query returns them): they
 * are taken while the total code points of the taken pairs stay within the
 * budget, then sent oldest first. Pairs with an empty side are skipped
 * (Gemini refuses empty turns). Returns the JSON text in p (*len its
 * length, *used the pairs sent), or NULL when a text is not valid UTF-8. */
char *request_build(apr_pool_t *p, const request_opts *o, const history_pair *pairs,
                    int n, const char *prompt, size_t *len, int *used);

#endif
