/* Parses redis://[[user]:password@]host[:port][/db] and unix:///path[?db=N]. */
#ifndef GC_REDIS_URL_H
#define GC_REDIS_URL_H

#include <apr_pools.h>

typedef struct {
    const char *host;      /* NULL for a unix socket */
    int port;              /* default 6379 */
    const char *socket;    /* unix socket path, or NULL */
    const char *username;  /* or NULL */
    const char *password;  /* or NULL; percent-decoded */
    int db;                /* default 0 */
} gc_redis_url_t;

/* Returns NULL and fills *out, or a static/pool error message naming what is wrong.
 * User information without ':' is a user name alone; the last '@' ends it.
 * db is 0..1000000; rediss:// (TLS) is refused: hiredis 0.14 has no TLS. */
const char *gc_redis_url_parse(apr_pool_t *p, const char *url, gc_redis_url_t *out);

#endif
