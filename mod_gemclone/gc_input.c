/* Request body fields. */
#include "httpd.h"
#include <string.h>

#include "apr_strings.h"

#include "gc_input.h"
#include "gc_http.h"
#include "gc_json.h"
#include "gc_text.h"
#include "gc_otp.h"

static const char *const NAMES_MOBILE[] = { "mobile", "mobile_number", "mobileNumber", NULL };
static const char *const NAMES_OTP[] = { "otp", "otp_code", NULL };
const char *const GC_NAMES_PASSWORD[] = { "password", NULL };
const char *const GC_NAMES_NEW_PASSWORD[] = { "new_password", "newPassword", NULL };
const char *const GC_NAMES_CURRENT_PASSWORD[] = { "current_password", "currentPassword", NULL };
const char *const GC_NAMES_NAME[] = { "name", "title", NULL };

int gc_input_string(gc_req *q, const char *const names[], gc_presence presence,
                    gc_trimming trim, size_t min, size_t max, const char **out)
{
    apr_pool_t *p = q->r->pool;
    const char *field = names[0];
    json_t *v = q->body ? gc_json_get_alias(q->body, names, NULL) : NULL;
    const char *s;
    size_t len, points;

    *out = NULL;
    if (!v || json_is_null(v)) {
        if (presence == GC_REQUIRED) {
            return gc_fail_validation(q, field, apr_psprintf(p, "%s is required", field)), DONE;
        }
        return OK;
    }
    if (!json_is_string(v)) {
        return gc_fail_validation(q, field, apr_psprintf(p, "%s must be a string", field)), DONE;
    }
    s = json_string_value(v);
    len = json_string_length(v);
    if (trim == GC_TRIM) {
        s = gc_trim(p, s, len, &len);
    }
    points = gc_utf8_length(s, len);
    if (points < min || points > max) {
        gc_fail_validation(q, field, min == max
            ? apr_psprintf(p, "%s must be %" APR_SIZE_T_FMT " characters", field, min)
            : apr_psprintf(p, "%s must be %" APR_SIZE_T_FMT " to %" APR_SIZE_T_FMT
                           " characters", field, min, max));
        return DONE;
    }
    *out = s;
    return OK;
}

int gc_input_mobile(gc_req *q, const char **out)
{
    const char *raw;
    if (gc_input_string(q, NAMES_MOBILE, GC_REQUIRED, GC_KEEP, 1, 64, &raw) != OK) {
        return DONE;
    }
    *out = gc_mobile_normalize(q->r->pool, raw);
    if (!*out) {
        gc_fail_validation(q, "mobile", "mobile must be 8 to 15 digits, optionally "
                           "with a leading +");
        return DONE;
    }
    return OK;
}

int gc_input_otp(gc_req *q, const char **out)
{
    json_t *v = q->body ? gc_json_get_alias(q->body, NAMES_OTP, NULL) : NULL;
    if (!v || !json_is_string(v) || !gc_otp_is_well_formed(json_string_value(v))) {
        gc_fail_validation(q, "otp", "otp must be a string of 6 digits");
        return DONE;
    }
    *out = json_string_value(v);
    return OK;
}
