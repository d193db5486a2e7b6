/* The production OTP mode: the code goes to an SMS gateway adapter as a
 * signed JSON POST (the Stripe signature scheme) and is never returned. */
#ifndef GC_OTP_DELIVERY_H
#define GC_OTP_DELIVERY_H

#include "mod_gemclone.h"

/* POSTs {"mobile","otp","purpose"} to GemCloneOTPDeliveryURL. Returns 0 when
 * the receiver answered 2xx, -1 otherwise (logged without the code). */
int gc_otp_deliver(gc_req *q, const char *mobile, const char *code, const char *purpose);

#endif
