/* Small helpers over a blocking hiredis 0.14 context shared by the
 * worker's Redis users: run a pipeline, tell a broken connection (drop it,
 * reconnect) from an error reply (the connection is fine). */
#ifndef WREDIS_H
#define WREDIS_H

#include <stddef.h>
#include <hiredis/hiredis.h>

#define WREDIS_OK 0
#define WREDIS_ERR (-1)      /* an error reply; the connection is fine */
#define WREDIS_BROKEN (-2)   /* I/O or protocol error: drop the context */

#define WREDIS_PIPE_MAX 8
#define WREDIS_ARGS_MAX 16

/* Commands for one round trip: each an argv of up to WREDIS_ARGS_MAX arguments. */
typedef struct {
    int n;
    int argc[WREDIS_PIPE_MAX];
    const char *argv[WREDIS_PIPE_MAX][WREDIS_ARGS_MAX];
    size_t argvlen[WREDIS_PIPE_MAX][WREDIS_ARGS_MAX];
} wredis_pipe;

/* Adds a command: args are NUL-terminated strings, ended by NULL; text
 * (when not NULL) is appended last as a binary-safe argument of tlen bytes. */
void wredis_add(wredis_pipe *pp, const char *text, size_t tlen, ...);

/* Sends every command in one write and reads every reply. replies (may be
 * NULL) receives them; the caller frees each with freeReplyObject. Without
 * replies, an error reply counts as WREDIS_ERR and its text goes into err. */
int wredis_run(redisContext *c, wredis_pipe *pp, redisReply **replies,
               char *err, size_t errlen);

#endif
