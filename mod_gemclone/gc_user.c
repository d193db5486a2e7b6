/* GET /user/me */
#include "httpd.h"
#include "http_protocol.h"

#include "gc_handlers.h"
#include "gc_http.h"
#include "gc_session.h"

/* The caller's own record, as read when the token was checked. */
int gc_user_me(gc_req *q)
{
    return gc_respond(q, HTTP_OK, "Current user", gc_user_json(q, q->user_rows, 0), NULL);
}
