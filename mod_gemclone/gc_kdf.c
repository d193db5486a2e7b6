/* Bounded password hashing. */
#include <string.h>

#include "httpd.h"
#include "http_protocol.h"

#include "gc_kdf.h"
#include "gc_http.h"
#include "gc_password.h"
#include "gc_slots.h"
#include "gc_log.h"

static gc_kdf_result busy(gc_req *q)
{
    GCLOG(q, APLOG_WARNING, "GC00130", "%d password hashes already running in this child: "
          "answering 503", q->cfg->max_hashes);
    gc_respond_retry(q, HTTP_SERVICE_UNAVAILABLE, GC_E_UNAVAILABLE,
                     "Too many sign-ins at once, please retry", 1);
    return GC_KDF_BUSY;
}

gc_kdf_result gc_kdf_hash(gc_req *q, const char *password, const char **out)
{
    if (!gc_slot_take(&gc_hash_slots, q->cfg->max_hashes)) {
        return busy(q);
    }
    *out = gc_password_hash(q->r->pool, password, strlen(password),
                            (unsigned)q->cfg->password_iterations);
    gc_slot_give(&gc_hash_slots);
    if (!*out) {
        gc_fail_internal(q, "password hashing failed");
        return GC_KDF_FAILED;
    }
    return GC_KDF_MATCH;
}

gc_kdf_result gc_kdf_verify(gc_req *q, const char *password, const char *stored)
{
    int ok;
    if (!stored || !password) {
        return GC_KDF_MISMATCH;
    }
    if (!gc_slot_take(&gc_hash_slots, q->cfg->max_hashes)) {
        return busy(q);
    }
    ok = gc_password_verify(q->r->pool, password, strlen(password), stored) == 1;
    gc_slot_give(&gc_hash_slots);
    return ok ? GC_KDF_MATCH : GC_KDF_MISMATCH;
}
