/* One-time codes in PostgreSQL: issuing (with the resend throttle and the
 * delivery mode) and checking (single use, guess limit, expiry). */
#ifndef GC_OTP_STORE_H
#define GC_OTP_STORE_H

#include "mod_gemclone.h"

#define GC_OTP_PURPOSE_LOGIN "login"
#define GC_OTP_PURPOSE_RESET "reset"

/* Issues a fresh code for the user with this mobile and answers the request
 * (200 {otp?, expires_in}, 404, 429, 502, 503). Returns OK. */
int gc_otp_send(gc_req *q, const char *purpose);

/* Consumes code for user_id. Returns OK when it matched (now used up), or
 * DONE after sending INVALID_OTP (a failure recorded), OTP_EXPIRED,
 * TOO_MANY_ATTEMPTS or 503. */
int gc_otp_consume(gc_req *q, int64_t user_id, const char *mobile, const char *purpose,
                   const char *code);

#endif
