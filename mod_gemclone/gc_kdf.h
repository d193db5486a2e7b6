/* Password hashing for request threads: never with a database connection
 * held (callers release theirs first), and at most GemCloneMaxConcurrentHashes
 * at once per child, so a burst of logins cannot take every core. */
#ifndef GC_KDF_H
#define GC_KDF_H

#include "mod_gemclone.h"

typedef enum {
    GC_KDF_MATCH = 0,   /* verify: the password matches; hash: done */
    GC_KDF_MISMATCH,    /* verify: it does not (or nothing is stored) */
    GC_KDF_BUSY,        /* too many hashes in progress: a 503 has been sent */
    GC_KDF_FAILED       /* OpenSSL failed: a 500 has been sent */
} gc_kdf_result;

/* Hashes password into *out (the self-describing string). */
gc_kdf_result gc_kdf_hash(gc_req *q, const char *password, const char **out);

/* Checks password against stored (NULL: no password set: a mismatch). */
gc_kdf_result gc_kdf_verify(gc_req *q, const char *password, const char *stored);

#endif
