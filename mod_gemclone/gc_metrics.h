/* GET /metrics: Prometheus text. Request counters live in shared memory
 * made before the children fork, so every child adds to the same numbers
 * (a counter in one child's memory would not be the server's). */
#ifndef GC_METRICS_H
#define GC_METRICS_H

#include "mod_gemclone.h"

/* Creates the shared counters (post_config, in the parent). */
apr_status_t gc_metrics_init(apr_pool_t *pconf, server_rec *s);

/* Counts one answered request: its route (NULL: no route matched) and status. */
void gc_metrics_count(const gc_route *route, int status);

#endif
