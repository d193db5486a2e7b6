/* Per-child caps on work that holds a thread for long: requests waiting for
 * a reply, event streams, and password hashes (CPU). Beyond a cap the caller
 * answers at once (202, 503) instead of letting such requests take every
 * thread of the child. */
#ifndef GC_SLOTS_H
#define GC_SLOTS_H

#include "httpd.h"
#include "apr_atomic.h"

typedef struct {
    volatile apr_uint32_t used;
} gc_slots;

/* Waiting POSTs and event streams share one cap (GemCloneMaxWaiters). */
extern gc_slots gc_waiter_slots;
/* Password hashes in progress (GemCloneMaxConcurrentHashes). */
extern gc_slots gc_hash_slots;

/* Takes a slot when fewer than cap are in use: 1, or 0 when full. */
int gc_slot_take(gc_slots *s, int cap);

/* Gives a slot back. */
void gc_slot_give(gc_slots *s);

#endif
