/* The one clock every time rule reads (OTP expiry and throttle, JWT expiry,
 * lockout windows, ...). In test mode a file can shift it, so tests move
 * time instead of sleeping through real TTLs. */
#ifndef GC_CLOCK_H
#define GC_CLOCK_H

#include <stdint.h>
#include "gc_config.h"

/* Unix seconds now, plus the test offset when one is configured. */
int64_t gc_clock_now(const gc_config *cfg);

#endif
