/* The sweeper: see sweeper.h. */
#include "sweeper.h"

#include <inttypes.h>

#include "queue.h"
#include "store.h"
#include "worker_log.h"
#include "wredis.h"

int sweeper_run(wlinks *l, apr_pool_t *scratch, int64_t now, int grace)
{
    int64_t *ids, *leases;
    int *gens, n, i, rc;
    char err[256];

    rc = store_sweep(l->pg, scratch, now, grace, &ids, &gens, &leases, &n);
    if (rc == STORE_BROKEN)
        l->pg_broken = 1;
    if (rc != STORE_OK)
        return -1;
    for (i = 0; i < n; i++) {
        rc = queue_add(l->redis, ids[i], now, gens[i], leases[i], err, sizeof(err));
        if (rc != WREDIS_OK) {
            /* The rest stay leased for grace s, then the next sweep
             * finds them again. */
            if (rc == WREDIS_BROKEN)
                l->redis_broken = 1;
            wlog(WLOG_WARN, GCWNO(00028), "sweeper: cannot queue reply %"
                 PRId64 " again: %s; %d left for a later sweep", ids[i], err,
                 n - i);
            return i;
        }
    }
    if (n > 0)
        wlog(WLOG_NOTICE, GCWNO(00029), "sweeper: queued %d pending "
             "repl%s again (lease ran out)", n, n == 1 ? "y" : "ies");
    return n;
}
