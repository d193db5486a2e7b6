/* The worker's PostgreSQL connection parameters: database_url (a URI or a
 * key=value string: libpq parses both) with our defaults for what it does
 * not set — time-outs, keepalives, and server-side statement and lock
 * time-outs — so that no blocking libpq call can stall the event loop for
 * long. Pure: libpq's parser only, no connection. */
#ifndef PG_PARAMS_H
#define PG_PARAMS_H

#include <apr_pools.h>

#define PG_DEFAULT_CONNECT_TIMEOUT "5"        /* s */
#define PG_DEFAULT_TCP_USER_TIMEOUT "10000"   /* ms unacknowledged data */
#define PG_DEFAULT_STATEMENT_TIMEOUT "5000"   /* ms */
#define PG_DEFAULT_LOCK_TIMEOUT "2000"        /* ms */

/* NULL-terminated keyword and value arrays (pool p) for
 * PQconnectStartParams(..., expand_dbname = 0): every setting of url, plus
 * connect_timeout, tcp_user_timeout, keepalives (idle 30 s, interval 10 s,
 * count 3) and fallback_application_name where url leaves them out, and
 * "-c statement_timeout=5000 -c lock_timeout=2000" appended to url's
 * options for each of the two that they do not set. Returns NULL, or why
 * url cannot be parsed (never quoting it: it may hold a password). */
const char *pg_params_build(apr_pool_t *p, const char *url,
                            const char *const **keys,
                            const char *const **vals);

#endif
