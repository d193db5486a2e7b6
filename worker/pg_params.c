/* PostgreSQL connection parameters: see pg_params.h. */
#include "pg_params.h"

#include <string.h>

#include <apr_strings.h>
#include <libpq-fe.h>

/* Our defaults for keywords the URL leaves unset. */
static const struct {
    const char *key, *val;
} defaults[] = {
    { "connect_timeout", PG_DEFAULT_CONNECT_TIMEOUT },
    { "tcp_user_timeout", PG_DEFAULT_TCP_USER_TIMEOUT },
    { "keepalives", "1" },
    { "keepalives_idle", "30" },
    { "keepalives_interval", "10" },
    { "keepalives_count", "3" },
    { "fallback_application_name", "gemclone-worker" },
};

/* The server settings put into "options" unless the URL's options set
 * them already. */
static const struct {
    const char *name, *val;
} server_settings[] = {
    { "statement_timeout", PG_DEFAULT_STATEMENT_TIMEOUT },
    { "lock_timeout", PG_DEFAULT_LOCK_TIMEOUT },
};

const char *pg_params_build(apr_pool_t *p, const char *url,
                            const char *const **keys,
                            const char *const **vals)
{
    PQconninfoOption *opts, *o;
    char *errmsg = NULL;
    const char **k, **v, *options = NULL;
    size_t n = 0, i, cap;

    opts = PQconninfoParse(url, &errmsg);
    if (opts == NULL) {
        PQfreemem(errmsg);      /* may quote the string: not shown */
        return "database_url: not a valid PostgreSQL URI or key=value "
               "connection string";
    }
    for (o = opts; o->keyword != NULL; o++)
        n++;
    cap = n + sizeof(defaults) / sizeof(defaults[0]) + 2;
    k = apr_pcalloc(p, sizeof(char *) * cap);
    v = apr_pcalloc(p, sizeof(char *) * cap);
    n = 0;
    for (o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL)
            continue;
        if (strcmp(o->keyword, "options") == 0) {
            options = apr_pstrdup(p, o->val);
            continue;
        }
        k[n] = apr_pstrdup(p, o->keyword);
        v[n] = apr_pstrdup(p, o->val);
        n++;
    }
    PQconninfoFree(opts);

    for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        size_t m;

        for (m = 0; m < n; m++)
            if (strcmp(k[m], defaults[i].key) == 0)
                break;
        if (m == n) {
            k[n] = defaults[i].key;
            v[n] = defaults[i].val;
            n++;
        }
    }
    for (i = 0; i < sizeof(server_settings) / sizeof(server_settings[0]); i++) {
        /* "-c name=...", "--name=..." or "-cname=...": the name is there. */
        if (options != NULL && strstr(options, server_settings[i].name) != NULL)
            continue;
        options = apr_psprintf(p, "%s%s-c %s=%s", options ? options : "",
                               options && *options ? " " : "",
                               server_settings[i].name, server_settings[i].val);
    }
    k[n] = "options";
    v[n] = options;
    n++;
    k[n] = NULL;
    v[n] = NULL;
    *keys = k;
    *vals = v;
    return NULL;
}
