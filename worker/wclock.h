/* The worker's clocks: the injectable Unix clock that every time rule
 * (lease, sweeper, completed_at, the refund's day) reads, and a monotonic
 * clock for timers. */
#ifndef WCLOCK_H
#define WCLOCK_H

#include <stdint.h>

/* Unix seconds plus the whole-second offset held in test_clock_file (read
 * again on each call; a missing or unreadable file is offset 0). Tests move
 * time by writing the file, the module reads the same one. */
int64_t wclock_now(const char *test_clock_file);

/* Monotonic seconds: timers must not follow wall-clock jumps. */
double wclock_mono(void);

#endif
