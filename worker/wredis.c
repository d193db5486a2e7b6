/* hiredis helpers: see wredis.h. */
#include "wredis.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void wredis_add(wredis_pipe *pp, const char *text, size_t tlen, ...)
{
    va_list ap;
    const char *a;
    int i = pp->n, k = 0;

    if (i >= WREDIS_PIPE_MAX)
        return;
    va_start(ap, tlen);
    while ((a = va_arg(ap, const char *)) != NULL && k < WREDIS_ARGS_MAX - 1) {
        pp->argv[i][k] = a;
        pp->argvlen[i][k] = strlen(a);
        k++;
    }
    va_end(ap);
    if (text != NULL) {
        pp->argv[i][k] = text;
        pp->argvlen[i][k] = tlen;
        k++;
    }
    pp->argc[i] = k;
    pp->n++;
}

int wredis_run(redisContext *c, wredis_pipe *pp, redisReply **replies,
               char *err, size_t errlen)
{
    int i, rc = WREDIS_OK;
    void *r;

    if (c == NULL || c->err)
        return WREDIS_BROKEN;
    for (i = 0; i < pp->n; i++)
        if (redisAppendCommandArgv(c, pp->argc[i], pp->argv[i],
                                   pp->argvlen[i]) != REDIS_OK)
            return WREDIS_BROKEN;
    for (i = 0; i < pp->n; i++) {
        r = NULL;
        if (redisGetReply(c, &r) != REDIS_OK || r == NULL) {
            if (err != NULL)
                snprintf(err, errlen, "%s", c->errstr[0] ? c->errstr : "I/O error");
            /* Replies read so far are freed: the caller sees none. */
            if (replies != NULL)
                while (i-- > 0)
                    freeReplyObject(replies[i]);
            return WREDIS_BROKEN;
        }
        if (replies != NULL) {
            replies[i] = r;
        } else {
            if (((redisReply *)r)->type == REDIS_REPLY_ERROR && rc == WREDIS_OK) {
                if (err != NULL)
                    snprintf(err, errlen, "%.*s", (int)((redisReply *)r)->len,
                             ((redisReply *)r)->str);
                rc = WREDIS_ERR;
            }
            freeReplyObject(r);
        }
    }
    return rc;
}
