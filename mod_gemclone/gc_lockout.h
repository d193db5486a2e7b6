/* The per-account limit on failed logins and OTP guesses: once an account
 * has GemCloneAuthFailureLimit failures inside GemCloneAuthFailureWindow,
 * login, verify-otp, reset-password and change-password answer 429. */
#ifndef GC_LOCKOUT_H
#define GC_LOCKOUT_H

#include "mod_gemclone.h"
#include "gc_db.h"

/* Columns that GC_SQL_USER_BY_*_AUTH add after the user projection. */
#define GC_AUTH_COL_PASSWORD_HASH  GC_USER_NCOLS
#define GC_AUTH_COL_LOCK_SINCE     (GC_USER_NCOLS + 1)

/* Looks a user up with its lockout state, by mobile (id NULL) or by id. */
gc_db_status gc_lockout_lookup(gc_req *q, const char *mobile, const char *id, gc_rows **rows);

/* The account of mobile with its lockout state: OK, or DONE after sending
 * 404 USER_NOT_FOUND (or 503). */
int gc_lockout_find_account(gc_req *q, const char *mobile, gc_rows **rows);

/* When rows' account is locked, sends 429 TOO_MANY_ATTEMPTS with
 * Retry-After and returns DONE; else OK. */
int gc_lockout_check(gc_req *q, const gc_rows *rows);

/* Records one failure for user_id. */
gc_db_status gc_lockout_record_failure(gc_req *q, int64_t user_id);

#endif
