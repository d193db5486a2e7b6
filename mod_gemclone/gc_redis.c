/* hiredis connection pool. */
#include "httpd.h"
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "apr_reslist.h"
#include "apr_strings.h"
#include "http_log.h"

#include "gc_redis.h"
#include "gc_log.h"

/* Per child: connections are cheap to hold and costly to open per request. */
#define POOL_MIN   0
#define POOL_KEEP  4
#define POOL_MAX   64
#define POOL_TTL   apr_time_from_sec(300)

typedef struct {
    apr_reslist_t *list;
    const gc_config *cfg;
    server_rec *s;
} redis_pool;

/* A pooled connection. */
typedef struct {
    redisContext *c;
} redis_conn;

/* The request's borrowed connection, kept in r->request_config. */
typedef struct {
    redis_pool *pool;
    redis_conn *conn;
} redis_lease;

static redis_pool *child_pool;

static struct timeval ms_to_tv(int ms)
{
    struct timeval tv;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

/* Sends AUTH and SELECT when the URL asks for them. */
static int redis_handshake(redisContext *c, const gc_redis_url_t *u)
{
    redisReply *reply;
    if (u->password) {
        reply = u->username
            ? redisCommand(c, "AUTH %s %s", u->username, u->password)
            : redisCommand(c, "AUTH %s", u->password);
        if (!reply || reply->type == REDIS_REPLY_ERROR) {
            if (reply) {
                freeReplyObject(reply);
            }
            return -1;
        }
        freeReplyObject(reply);
    }
    if (u->db) {
        reply = redisCommand(c, "SELECT %d", u->db);
        if (!reply || reply->type == REDIS_REPLY_ERROR) {
            if (reply) {
                freeReplyObject(reply);
            }
            return -1;
        }
        freeReplyObject(reply);
    }
    return 0;
}

static apr_status_t redis_construct(void **resource, void *params, apr_pool_t *pool)
{
    redis_pool *rp = params;
    const gc_redis_url_t *u = &rp->cfg->redis;
    struct timeval tv = ms_to_tv(rp->cfg->redis_timeout_ms);
    redisContext *c = u->socket ? redisConnectUnixWithTimeout(u->socket, tv)
                                : redisConnectWithTimeout(u->host, u->port, tv);
    if (!c || c->err) {
        GCLOG_S(rp->s, APLOG_ERR, 0, "GC00030", "Redis connect failed: %s",
                c ? c->errstr : "out of memory");
        if (c) {
            redisFree(c);
        }
        return APR_EGENERAL;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK || redis_handshake(c, u) != 0) {
        GCLOG_S(rp->s, APLOG_ERR, 0, "GC00031", "Redis AUTH/SELECT failed");
        redisFree(c);
        return APR_EGENERAL;
    }
    {
        redis_conn *rc = calloc(1, sizeof(*rc));
        if (!rc) {
            redisFree(c);
            return APR_ENOMEM;
        }
        rc->c = c;
        *resource = rc;
    }
    return APR_SUCCESS;
}

static apr_status_t redis_destruct(void *resource, void *params, apr_pool_t *pool)
{
    redis_conn *rc = resource;
    redisFree(rc->c);
    free(rc);
    return APR_SUCCESS;
}

apr_status_t gc_redis_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;
    child_pool = apr_pcalloc(pchild, sizeof(*child_pool));
    child_pool->cfg = gc_config_get(s);
    child_pool->s = s;
    rv = apr_reslist_create(&child_pool->list, POOL_MIN, POOL_KEEP, POOL_MAX, POOL_TTL,
                            redis_construct, redis_destruct, child_pool, pchild);
    if (rv != APR_SUCCESS) {
        GCLOG_S(s, APLOG_CRIT, rv, "GC00032", "cannot create the Redis connection pool");
        child_pool = NULL;
        return rv;
    }
    /* Do not block a request for ever when every connection is in use. */
    apr_reslist_timeout_set(child_pool->list, apr_time_from_sec(5));
    apr_pool_cleanup_register(pchild, child_pool->list, (void *)apr_reslist_destroy,
                              apr_pool_cleanup_null);
    return APR_SUCCESS;
}

static apr_status_t lease_cleanup(void *data)
{
    redis_lease *l = data;
    if (l->conn) {
        apr_reslist_release(l->pool->list, l->conn);
        l->conn = NULL;
    }
    return APR_SUCCESS;
}

static redis_lease *lease_of(gc_req *q)
{
    redis_lease *l = ap_get_module_config(q->r->request_config, &gemclone_module);
    if (!l) {
        l = apr_pcalloc(q->r->pool, sizeof(*l));
        l->pool = child_pool;
        ap_set_module_config(q->r->request_config, &gemclone_module, l);
        apr_pool_cleanup_register(q->r->pool, l, lease_cleanup, apr_pool_cleanup_null);
    }
    return l;
}

void gc_redis_release(gc_req *q)
{
    redis_lease *l = ap_get_module_config(q->r->request_config, &gemclone_module);
    if (l) {
        lease_cleanup(l);
    }
}

static apr_status_t reply_cleanup(void *reply)
{
    freeReplyObject(reply);
    return APR_SUCCESS;
}

/* 1 when the server closed this connection while it sat in the pool (a
 * Redis restart): the socket already holds the EOF or the reset. Asked
 * before a command is sent, so no command is ever sent twice. */
static int closed_by_server(const redisContext *c)
{
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* The lease's connection: borrowed on first use; pooled connections the
 * server closed meanwhile are dropped and replaced (at most a pool's worth). */
static redis_conn *usable_conn(gc_req *q, redis_lease *l)
{
    int tries;
    for (tries = 0; tries <= POOL_MAX; tries++) {
        void *res = NULL;
        if (l->conn && !closed_by_server(l->conn->c)) {
            return l->conn;
        }
        if (l->conn) {
            GCLOG(q, APLOG_INFO, "GC00035", "dropping a Redis connection the server closed");
            apr_reslist_invalidate(child_pool->list, l->conn);
            l->conn = NULL;
        }
        if (apr_reslist_acquire(child_pool->list, &res) != APR_SUCCESS) {
            GCLOG(q, APLOG_ERR, "GC00033", "no Redis connection available");
            return NULL;
        }
        l->conn = res;
    }
    return NULL;
}

/* Runs one command. timeout_ms > 0 replaces the socket time-out for this
 * command only (BLPOP and XREAD BLOCK outlast the usual one). NULL when no
 * connection can be had or the command failed on the wire; a failed
 * command is never retried, since it may have run. */
static redisReply *command_v(gc_req *q, int timeout_ms, const char *fmt, va_list ap)
{
    redis_lease *l;
    redis_conn *conn;
    redisReply *reply;

    if (!child_pool) {
        return NULL;
    }
    l = lease_of(q);
    if (!(conn = usable_conn(q, l))) {
        return NULL;
    }
    if (timeout_ms > 0) {
        redisSetTimeout(conn->c, ms_to_tv(timeout_ms));
    }
    reply = redisvCommand(conn->c, fmt, ap);
    if (!reply) {
        /* A context is unusable after an I/O error: drop it for good. */
        GCLOG(q, APLOG_ERR, "GC00034", "Redis command failed: %s", conn->c->errstr);
        apr_reslist_invalidate(child_pool->list, conn);
        l->conn = NULL;
        return NULL;
    }
    if (timeout_ms > 0) {
        redisSetTimeout(conn->c, ms_to_tv(child_pool->cfg->redis_timeout_ms));
    }
    apr_pool_cleanup_register(q->r->pool, reply, reply_cleanup, apr_pool_cleanup_null);
    return reply;
}

redisReply *gc_redis_command(gc_req *q, const char *fmt, ...)
{
    redisReply *reply;
    va_list ap;
    va_start(ap, fmt);
    reply = command_v(q, 0, fmt, ap);
    va_end(ap);
    return reply;
}

redisReply *gc_redis_blocking(gc_req *q, int timeout_ms, const char *fmt, ...)
{
    redisReply *reply;
    va_list ap;
    va_start(ap, fmt);
    reply = command_v(q, timeout_ms, fmt, ap);
    va_end(ap);
    return reply;
}

void gc_redis_free(gc_req *q, redisReply *reply)
{
    if (reply) {
        apr_pool_cleanup_run(q->r->pool, reply, reply_cleanup);
    }
}

int gc_redis_is_error(const redisReply *reply)
{
    return !reply || reply->type == REDIS_REPLY_ERROR;
}
