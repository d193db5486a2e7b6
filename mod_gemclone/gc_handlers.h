/* Endpoint functions, one file per resource family. Each takes the request
 * context (route matched, caller authenticated, body parsed) and returns OK
 * after sending its response. */
#ifndef GC_HANDLERS_H
#define GC_HANDLERS_H

#include "mod_gemclone.h"

/* gc_auth.c: OTP flows, signup, logout */
int gc_auth_signup(gc_req *q);
int gc_auth_send_otp(gc_req *q);
int gc_auth_verify_otp(gc_req *q);
int gc_auth_forgot_password(gc_req *q);
int gc_auth_reset_password(gc_req *q);
int gc_auth_logout(gc_req *q);

/* gc_auth_password.c: password login and change */
int gc_auth_login(gc_req *q);
int gc_auth_change_password(gc_req *q);

/* gc_chatrooms.c */
int gc_room_create(gc_req *q);
int gc_room_list(gc_req *q);
int gc_room_get(gc_req *q);
int gc_room_rename(gc_req *q);
int gc_room_delete(gc_req *q);

/* gc_messages.c */
int gc_message_list(gc_req *q);
int gc_message_get(gc_req *q);

/* gc_prompt.c */
int gc_prompt_post(gc_req *q);

/* gc_subscriptions.c */
int gc_subscribe_pro(gc_req *q);
int gc_subscription_status(gc_req *q);

/* gc_webhook.c */
int gc_webhook_stripe(gc_req *q);

/* gc_user.c */
int gc_user_me(gc_req *q);

/* gc_metrics.c */
int gc_metrics_endpoint(gc_req *q);

/* gc_ops.c */
int gc_ops_health(gc_req *q);
int gc_ops_ready(gc_req *q);

#endif
