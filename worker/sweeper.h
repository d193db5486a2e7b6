/* The sweeper: queues again the pending replies whose lease ran out (the
 * enqueue failed, Redis lost its data, or a worker died). */
#ifndef SWEEPER_H
#define SWEEPER_H

#include <stdint.h>
#include <apr_pools.h>

#include "consumer.h"

/* One sweep at now (the injectable clock): leases up to 100 such replies
 * for grace seconds and adds a job for each to the stream, carrying the
 * generation it saw. Returns the number queued, or -1 (logged). */
int sweeper_run(wlinks *l, apr_pool_t *scratch, int64_t now, int grace);

#endif
