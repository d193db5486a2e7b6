/* Per-child slot counters. */
#include "gc_slots.h"

gc_slots gc_waiter_slots;
gc_slots gc_hash_slots;

int gc_slot_take(gc_slots *s, int cap)
{
    if (apr_atomic_inc32(&s->used) < (apr_uint32_t)cap) {
        return 1;
    }
    apr_atomic_dec32(&s->used);
    return 0;
}

void gc_slot_give(gc_slots *s)
{
    apr_atomic_dec32(&s->used);
}
