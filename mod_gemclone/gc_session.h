/* Session tokens: issuing them, and authenticating a request's Bearer token
 * (signature, expiry, the user's token version, logout revocations). */
#ifndef GC_SESSION_H
#define GC_SESSION_H

#include <jansson.h>

#include "mod_gemclone.h"
#include "gc_db.h"

/* Seconds past exp during which a token is still accepted (clock skew). */
#define GC_TOKEN_LEEWAY 60

/* Authenticates q's Authorization header into q->user. Returns OK, or DONE
 * after sending the 401 (or 503) the contract asks for. */
int gc_session_authenticate(gc_req *q);

/* {token, token_type, expires_in, user} for a user row in GC_USER_COL_*
 * order at row 0 of rows; NULL on an internal failure. */
json_t *gc_session_issue(gc_req *q, const gc_rows *rows);

/* Answers a successful login (200 with a fresh token) for the user row. */
int gc_session_log_in(gc_req *q, const gc_rows *rows, const char *how);

/* "pro" while the user's pro_until lies ahead of the clock, else "basic". */
const char *gc_user_tier(gc_req *q, const gc_rows *rows, int row);

/* The public user object from a row in GC_USER_COL_* order. */
json_t *gc_user_json(gc_req *q, const gc_rows *rows, int row);

#endif
