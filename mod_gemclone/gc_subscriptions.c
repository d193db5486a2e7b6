/* Pro subscriptions: POST /subscribe/pro (a Stripe Checkout Session) and
 * GET /subscription/status. */
#include <string.h>

#include "httpd.h"
#include "apr_strings.h"
#include "http_protocol.h"

#include "gc_handlers.h"
#include "gc_crypto.h"
#include "gc_db.h"
#include "gc_http.h"
#include "gc_http_client.h"
#include "gc_json.h"
#include "gc_quota.h"
#include "gc_text.h"
#include "gc_log.h"

#define STRIPE_TIMEOUT_MS 15000L
#define STRIPE_BUDGET_MS 25000L      /* all attempts together: a client waits at most this */
#define STRIPE_ATTEMPTS 3

/* Appends key=value, both form-escaped, to a form body. */
static const char *form_add(apr_pool_t *p, const char *body, const char *key, const char *v)
{
    const char *pair = apr_pstrcat(p, gc_form_escape(p, key), "=", gc_form_escape(p, v), NULL);
    return body ? apr_pstrcat(p, body, "&", pair, NULL) : pair;
}

/* The Checkout Session parameters of EXTERNAL-APIS.md. */
static const char *checkout_form(gc_req *q, const char *customer)
{
    apr_pool_t *p = q->r->pool;
    const char *uid = gc_sql_int(q, q->user->id), *f = NULL;
    f = form_add(p, f, "mode", "subscription");
    f = form_add(p, f, "line_items[0][price]", q->cfg->stripe_price_id);
    f = form_add(p, f, "line_items[0][quantity]", "1");
    f = form_add(p, f, "success_url", q->cfg->stripe_success_url);
    f = form_add(p, f, "cancel_url", q->cfg->stripe_cancel_url);
    f = form_add(p, f, "client_reference_id", uid);
    f = form_add(p, f, "metadata[user_id]", uid);
    f = form_add(p, f, "subscription_data[metadata][user_id]", uid);
    if (customer) {
        f = form_add(p, f, "customer", customer);
    }
    return f;
}

/* 1 when Stripe's answer calls for the same request again (its own
 * library's rule: connection errors, 409, 5xx, or Stripe-Should-Retry). */
static int stripe_retryable(int rc, const gc_http_result *res)
{
    if (rc != 0) {
        return 1;
    }
    if (res->should_retry >= 0) {
        return res->should_retry;
    }
    return res->status == 409 || res->status >= 500;
}

/* Stripe's error message for the log, or a summary. */
static const char *stripe_error_text(gc_req *q, const gc_http_result *res)
{
    json_t *body = gc_json_own(q->r->pool, json_loads(res->body, 0, NULL));
    json_t *msg = json_object_get(json_object_get(body, "error"), "message");
    return json_is_string(msg) ? apr_pstrdup(q->r->pool, json_string_value(msg))
                               : apr_psprintf(q->r->pool, "HTTP %ld", res->status);
}

/* POST /subscribe/pro -> {checkout_url, session_id} */
int gc_subscribe_pro(gc_req *q)
{
    const char *args[1], *customer, *url, *form, *idem, *headers[4];
    gc_rows *rows = NULL;
    gc_db_status st;
    gc_http_result res;
    json_t *session, *data;
    apr_time_t deadline;
    int attempt, rc = -1;

    if (!q->cfg->stripe_secret_key) {
        return gc_respond_retry(q, HTTP_SERVICE_UNAVAILABLE, GC_E_UNAVAILABLE,
                                "Subscriptions are not configured", 60);
    }
    if (strcmp(q->user->tier, "pro") == 0) {
        return gc_respond_error(q, HTTP_CONFLICT, "ALREADY_SUBSCRIBED",
                                "You are already subscribed to Pro", NULL, NULL);
    }
    args[0] = gc_sql_int(q, q->user->id);
    if ((st = gc_db_select(q, GC_SQL_USER_CUSTOMER, args, &rows)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    customer = gc_cell(rows, 0, 0);
    gc_db_release(q);

    url = apr_pstrcat(q->r->pool, q->cfg->stripe_api_base, "/v1/checkout/sessions", NULL);
    form = checkout_form(q, customer);
    /* New for each call, the same for its retries: Stripe then never
     * creates two sessions for one click. */
    idem = gc_random_hex(q->r->pool, 16);
    headers[0] = apr_pstrcat(q->r->pool, "Authorization: Bearer ", q->cfg->stripe_secret_key,
                             NULL);
    headers[1] = "Content-Type: application/x-www-form-urlencoded";
    headers[2] = apr_pstrcat(q->r->pool, "Idempotency-Key: ", idem, NULL);
    headers[3] = NULL;
    memset(&res, 0, sizeof(res));
    res.transport_error = "no time left for an attempt";
    deadline = apr_time_now() + apr_time_from_msec(STRIPE_BUDGET_MS);
    for (attempt = 0; attempt < STRIPE_ATTEMPTS; attempt++) {
        long backoff_ms = attempt > 0 ? 500L << (attempt - 1) : 0;
        long left_ms = (long)apr_time_as_msec(deadline - apr_time_now()) - backoff_ms;
        if (left_ms < 1000) {
            break;
        }
        if (backoff_ms) {
            apr_sleep(apr_time_from_msec(backoff_ms));
        }
        rc = gc_http_post(q, url, headers, form, strlen(form),
                          left_ms < STRIPE_TIMEOUT_MS ? left_ms : STRIPE_TIMEOUT_MS, &res);
        if (!stripe_retryable(rc, &res)) {
            break;
        }
        GCLOG(q, APLOG_WARNING, "GC00110", "Stripe checkout attempt %d failed (%s, request %s)",
              attempt + 1, rc ? res.transport_error : stripe_error_text(q, &res),
              res.request_id ? res.request_id : "-");
    }
    if (rc != 0 || res.status != 200) {
        GCLOG(q, APLOG_ERR, "GC00111", "Stripe refused the checkout session: %s (request %s)",
              rc ? res.transport_error : stripe_error_text(q, &res),
              res.request_id ? res.request_id : "-");
        return gc_respond_error(q, HTTP_BAD_GATEWAY, GC_E_UPSTREAM,
                                "The payment provider could not start a checkout, "
                                "please retry", NULL, NULL);
    }
    session = gc_json_own(q->r->pool, json_loads(res.body, 0, NULL));
    if (!json_is_string(json_object_get(session, "id"))
        || !json_is_string(json_object_get(session, "url"))) {
        GCLOG(q, APLOG_ERR, "GC00112", "Stripe's checkout session lacks id or url (request %s)",
              res.request_id ? res.request_id : "-");
        return gc_respond_error(q, HTTP_BAD_GATEWAY, GC_E_UPSTREAM,
                                "The payment provider answered unexpectedly", NULL, NULL);
    }
    GCLOG(q, APLOG_INFO, "GC00113", "checkout session %s for user %s (request %s)",
          json_string_value(json_object_get(session, "id")), args[0],
          res.request_id ? res.request_id : "-");
    data = gc_json_own(q->r->pool, json_object());
    json_object_set(data, "checkout_url", json_object_get(session, "url"));
    json_object_set(data, "session_id", json_object_get(session, "id"));
    return gc_respond(q, HTTP_OK, "Checkout session created", data, NULL);
}

/* GET /subscription/status */
int gc_subscription_status(gc_req *q)
{
    const char *args[1];
    gc_rows *rows = NULL;
    gc_db_status st;
    gc_quota quota;
    json_t *data;

    args[0] = gc_sql_int(q, q->user->id);
    if ((st = gc_db_select(q, GC_SQL_SUBSCRIPTION_LATEST, args, &rows)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    if (gc_quota_peek(q, &quota, 1) != OK) {
        return OK;
    }
    data = gc_json_own(q->r->pool, json_object());
    json_object_set_new(data, "tier", json_string(q->user->tier));
    gc_json_set_str(data, "status", gc_cell(rows, 0, 0));
    gc_json_set_time(q->r->pool, data, "current_period_end",
                     gc_cell(rows, 0, 1) ? gc_cell_i64(rows, 0, 1) : -1);
    json_object_set_new(data, "cancel_at_period_end", json_boolean(gc_cell_bool(rows, 0, 2)));
    if (quota.limit == GC_UNLIMITED) {
        json_object_set_new(data, "daily_limit", json_null());
    }
    else {
        json_object_set_new(data, "daily_limit", json_integer(quota.limit));
    }
    json_object_set_new(data, "used_today", json_integer(quota.used));
    if (quota.limit == GC_UNLIMITED) {
        json_object_set_new(data, "remaining_today", json_null());
    }
    else {
        json_object_set_new(data, "remaining_today",
                            json_integer(quota.used < quota.limit ? quota.limit - quota.used : 0));
    }
    return gc_respond(q, HTTP_OK, "Subscription status", data, NULL);
}
