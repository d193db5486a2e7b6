/* The daily prompt limit: one atomic Redis step (a Lua script) checks and
 * counts, shared by every child and every server; the counter is rebuilt
 * from PostgreSQL when Redis has lost it. */
#ifndef GC_QUOTA_H
#define GC_QUOTA_H

#include <stdint.h>

#include "mod_gemclone.h"

typedef struct {
    int64_t limit;      /* GC_UNLIMITED or prompts per day */
    int64_t used;       /* accepted prompts today, this one included once charged */
    int64_t reset_at;   /* Unix time of the next UTC midnight */
} gc_quota;

/* The caller's limit at this moment (by tier). */
int64_t gc_quota_limit(gc_req *q);

/* Charges one prompt. OK when accepted (*out filled, headers set); DONE
 * after sending 429 RATE_LIMITED or 503. */
int gc_quota_charge(gc_req *q, gc_quota *out);

/* Reads today's usage without charging (*out filled). Returns OK, or DONE
 * after sending 503 when send_errors, else just DONE. */
int gc_quota_peek(gc_req *q, gc_quota *out, int send_errors);

/* Gives back one prompt of the UTC day holding prompt_time. */
void gc_quota_refund(gc_req *q, int64_t prompt_time);

/* Sets X-RateLimit-Limit/-Remaining/-Reset from qt. */
void gc_quota_headers(gc_req *q, const gc_quota *qt);

#endif
