/* Redis through hiredis: a small pool of connections per child process
 * (apr_reslist, so every thread has its own context while it holds one),
 * borrowed for the length of a request and given back by a pool cleanup.
 * A context that errors is dropped, not returned. */
#ifndef GC_REDIS_H
#define GC_REDIS_H

#include <hiredis/hiredis.h>

#include "mod_gemclone.h"

/* Creates this child's pool (child_init). */
apr_status_t gc_redis_child_init(apr_pool_t *pchild, server_rec *s);

/* Runs a command (hiredis format string) on the request's connection.
 * Returns the reply, owned by the request pool, or NULL when Redis is
 * unavailable (the connection is then dropped). A Redis error reply
 * (REDIS_REPLY_ERROR) is returned as a reply; check its type. */
redisReply *gc_redis_command(gc_req *q, const char *fmt, ...);

/* gc_redis_command for a command that blocks on the server (BLPOP, XREAD
 * BLOCK): timeout_ms is the socket time-out for this command, which must
 * exceed the command's own. */
redisReply *gc_redis_blocking(gc_req *q, int timeout_ms, const char *fmt, ...);

/* Frees a reply now instead of at the end of the request (long loops). */
void gc_redis_free(gc_req *q, redisReply *reply);

/* 1 when the command failed: no reply, or a Redis error reply. */
int gc_redis_is_error(const redisReply *reply);

/* Gives the request's connection back to the pool now. */
void gc_redis_release(gc_req *q);

#endif
