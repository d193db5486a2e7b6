/* Reading fields of a request body as the contract says: aliases (the
 * canonical name wins), types, trimming, lengths in code points. Each
 * function sends the 400 itself and returns DONE, or returns OK. */
#ifndef GC_INPUT_H
#define GC_INPUT_H

#include "mod_gemclone.h"

typedef enum { GC_OPTIONAL = 0, GC_REQUIRED = 1 } gc_presence;
typedef enum { GC_KEEP = 0, GC_TRIM = 1 } gc_trimming;

/* A string field under any of names[] (NULL-terminated, canonical first),
 * reported as names[0]. *out is NULL when an optional field is absent or
 * null. Lengths are in code points, after trimming when asked. */
int gc_input_string(gc_req *q, const char *const names[], gc_presence presence,
                    gc_trimming trim, size_t min, size_t max, const char **out);

/* mobile / mobile_number / mobileNumber, normalised. */
int gc_input_mobile(gc_req *q, const char **out);

/* otp / otp_code: a string of exactly 6 digits. */
int gc_input_otp(gc_req *q, const char **out);

/* Password rules for a new password: 8..128 code points, never trimmed. */
#define GC_PASSWORD_MIN 8
#define GC_PASSWORD_MAX 128

extern const char *const GC_NAMES_PASSWORD[];
extern const char *const GC_NAMES_NEW_PASSWORD[];
extern const char *const GC_NAMES_CURRENT_PASSWORD[];
extern const char *const GC_NAMES_NAME[];

#endif
