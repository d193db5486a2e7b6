/* POST /webhook/stripe: a signed Stripe event, verified on the raw bytes
 * before anything is parsed, applied at most once, never rolling a newer
 * subscription state back. An event it cannot use is acknowledged (200)
 * and logged; one it cannot store is refused with 503 so Stripe retries. */
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "apr_strings.h"
#include "http_protocol.h"

#include "gc_handlers.h"
#include "gc_db.h"
#include "gc_http.h"
#include "gc_json.h"
#include "gc_sig.h"
#include "gc_text.h"
#include "gc_log.h"


typedef struct {
    const char *id;
    const char *type;
    int64_t created;
    json_t *object;          /* data.object */
} stripe_event;

/* A string field, or the "id" of an expanded object in its place. */
static const char *str_or_id(json_t *v)
{
    if (json_is_object(v)) {
        v = json_object_get(v, "id");
    }
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *path_str(json_t *o, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(o, a);
    if (b) {
        v = json_object_get(v, b);
    }
    if (c) {
        v = json_object_get(v, c);
    }
    return str_or_id(v);
}

/* Answers 200 {received: true}. */
static int acknowledge(gc_req *q)
{
    json_t *data = gc_json_own(q->r->pool, json_object());
    json_object_set_new(data, "received", json_true());
    return gc_respond(q, HTTP_OK, "Event received", data, NULL);
}

/* Ignores an event we cannot use, saying why in the log. */
static int ignore(gc_req *q, const stripe_event *ev, const char *why)
{
    GCLOG(q, APLOG_NOTICE, "GC00120", "Stripe event %s (%s) ignored: %s",
          ev->id ? ev->id : "?", ev->type ? ev->type : "?", why);
    return OK;
}

/* The user an event belongs to: client_reference_id, metadata.user_id,
 * then a customer or subscription already linked. 0 when none. */
static gc_db_status resolve_user(gc_req *q, const char *reference, const char *meta_user,
                                 const char *customer, const char *subscription,
                                 int64_t *user_id)
{
    const char *candidates[2] = { reference, meta_user }, *args[1];
    gc_rows *rows = NULL;
    gc_db_status st;
    int64_t id;
    int i;

    *user_id = 0;
    for (i = 0; i < 2; i++) {
        if (candidates[i] && gc_parse_path_id(candidates[i], strlen(candidates[i]), &id)) {
            args[0] = gc_sql_int(q, id);
            if ((st = gc_db_select(q, GC_SQL_USER_EXISTS, args, &rows)) != GC_DB_OK) {
                return st;
            }
            if (rows->nrows == 1) {
                *user_id = id;
                return GC_DB_OK;
            }
        }
    }
    if (customer) {
        args[0] = customer;
        if ((st = gc_db_select(q, GC_SQL_USER_BY_CUSTOMER, args, &rows)) != GC_DB_OK) {
            return st;
        }
        if (rows->nrows == 1) {
            *user_id = gc_cell_i64(rows, 0, 0);
            return GC_DB_OK;
        }
    }
    if (subscription) {
        args[0] = subscription;
        if ((st = gc_db_select(q, GC_SQL_USER_BY_SUBSCRIPTION, args, &rows)) != GC_DB_OK) {
            return st;
        }
        if (rows->nrows == 1) {
            *user_id = gc_cell_i64(rows, 0, 0);
        }
    }
    return GC_DB_OK;
}

/* Recomputes the user's Pro window after a change. */
static gc_db_status recompute_tier(gc_req *q, const char *user_id)
{
    const char *args[2] = { gc_sql_int(q, q->cfg->pro_grace), user_id };
    return gc_db_exec(q, GC_SQL_USER_PRO_RECOMPUTE, args, NULL);
}

/* Stores a subscription state; recomputes the tier when it was applied. */
static gc_db_status apply_state(gc_req *q, const stripe_event *ev, const char *sub_id,
                                int64_t user_id, const char *customer, const char *status,
                                const char *period_end, const char *cancel)
{
    const char *args[8];
    gc_rows *rows = NULL;
    gc_db_status st;

    args[0] = sub_id;
    args[1] = gc_sql_int(q, user_id);
    args[2] = customer;
    args[3] = status;
    args[4] = period_end;
    args[5] = cancel;
    args[6] = gc_sql_int(q, ev->created);
    args[7] = gc_sql_int(q, q->now);
    if ((st = gc_db_select(q, GC_SQL_SUBSCRIPTION_APPLY, args, &rows)) != GC_DB_OK) {
        return st;
    }
    if (rows->nrows == 0) {
        ignore(q, ev, "older than the state already applied");
        return GC_DB_OK;
    }
    return recompute_tier(q, gc_cell(rows, 0, 0));
}

static gc_db_status on_checkout_completed(gc_req *q, const stripe_event *ev)
{
    json_t *s = ev->object;
    const char *mode = path_str(s, "mode", NULL, NULL);
    const char *customer = str_or_id(json_object_get(s, "customer"));
    const char *sub = str_or_id(json_object_get(s, "subscription"));
    const char *paid = path_str(s, "payment_status", NULL, NULL);
    int64_t user_id;
    gc_db_status st;

    if (!mode || strcmp(mode, "subscription") || !sub) {
        return ignore(q, ev, "not a subscription checkout"), GC_DB_OK;
    }
    st = resolve_user(q, path_str(s, "client_reference_id", NULL, NULL),
                      path_str(s, "metadata", "user_id", NULL), customer, sub, &user_id);
    if (st != GC_DB_OK || !user_id) {
        return st != GC_DB_OK ? st : (ignore(q, ev, "no such user"), GC_DB_OK);
    }
    if (customer) {
        const char *args[3] = { customer, gc_sql_int(q, user_id), customer };
        gc_rows *owner = NULL;
        /* A customer already linked to another user stays where it is: the
         * unique index would fail the update, and a 500 makes Stripe
         * deliver the same event for days. */
        if ((st = gc_db_select(q, GC_SQL_USER_BY_CUSTOMER, args, &owner)) != GC_DB_OK) {
            return st;
        }
        if (owner->nrows == 1 && gc_cell_i64(owner, 0, 0) != user_id) {
            GCLOG(q, APLOG_WARNING, "GC00124", "Stripe event %s: customer %s belongs to user %s, "
                  "not linked to user %s", ev->id, customer, gc_cell(owner, 0, 0), args[1]);
        }
        else if ((st = gc_db_exec(q, GC_SQL_USER_LINK_CUSTOMER, args, NULL)) != GC_DB_OK) {
            return st;
        }
    }
    /* A paid checkout counts as active until a newer event says otherwise. */
    return apply_state(q, ev, sub, user_id, customer,
                       paid && (!strcmp(paid, "paid") || !strcmp(paid, "no_payment_required"))
                           ? "active" : "incomplete", NULL, NULL);
}

/* The period end of a subscription object (newer API versions keep it on
 * its items), as Unix seconds text, or NULL. */
static const char *period_end_of(gc_req *q, json_t *sub)
{
    json_t *v = json_object_get(sub, "current_period_end");
    if (!json_is_integer(v)) {
        v = json_object_get(json_array_get(json_object_get(json_object_get(sub, "items"),
                                                           "data"), 0),
                            "current_period_end");
    }
    return json_is_integer(v) ? gc_sql_int(q, json_integer_value(v)) : NULL;
}

static gc_db_status on_subscription_change(gc_req *q, const stripe_event *ev)
{
    json_t *s = ev->object;
    const char *id = path_str(s, "id", NULL, NULL);
    const char *status = path_str(s, "status", NULL, NULL);
    const char *customer = str_or_id(json_object_get(s, "customer"));
    json_t *cancel = json_object_get(s, "cancel_at_period_end");
    int64_t user_id;
    gc_db_status st;

    if (!id || !status) {
        return ignore(q, ev, "subscription without id or status"), GC_DB_OK;
    }
    st = resolve_user(q, NULL, path_str(s, "metadata", "user_id", NULL), customer, id,
                      &user_id);
    if (st != GC_DB_OK || !user_id) {
        return st != GC_DB_OK ? st : (ignore(q, ev, "no such user"), GC_DB_OK);
    }
    return apply_state(q, ev, id, user_id, customer, status, period_end_of(q, s),
                       json_is_boolean(cancel) ? (json_is_true(cancel) ? "true" : "false")
                                               : NULL);
}

/* The subscription an invoice is for (old and new API shapes). */
static const char *invoice_subscription(json_t *inv)
{
    const char *s = str_or_id(json_object_get(inv, "subscription"));
    return s ? s : path_str(inv, "parent", "subscription_details", "subscription");
}

static gc_db_status on_invoice(gc_req *q, const stripe_event *ev, int paid)
{
    const char *sub = invoice_subscription(ev->object), *args[5];
    gc_rows *rows = NULL;
    gc_db_status st;

    if (!sub) {
        return ignore(q, ev, "invoice without a subscription"), GC_DB_OK;
    }
    args[0] = gc_sql_int(q, ev->created);
    args[1] = args[0];
    args[2] = gc_sql_int(q, q->now);
    args[3] = sub;
    args[4] = args[0];
    if (paid) {
        const char *pargs[4] = { args[0], args[2], sub, args[0] };
        st = gc_db_select(q, GC_SQL_SUBSCRIPTION_PAID, pargs, &rows);
    }
    else {
        st = gc_db_select(q, GC_SQL_SUBSCRIPTION_PAYMENT_FAILED, args, &rows);
    }
    if (st != GC_DB_OK) {
        return st;
    }
    if (rows->nrows == 0) {
        return ignore(q, ev, "unknown, ended, unpaid or newer subscription"), GC_DB_OK;
    }
    return recompute_tier(q, gc_cell(rows, 0, 0));
}

static gc_db_status apply_event(gc_req *q, const stripe_event *ev)
{
    if (!strcmp(ev->type, "checkout.session.completed")) {
        return on_checkout_completed(q, ev);
    }
    if (!strcmp(ev->type, "customer.subscription.created")
        || !strcmp(ev->type, "customer.subscription.updated")
        || !strcmp(ev->type, "customer.subscription.deleted")) {
        return on_subscription_change(q, ev);
    }
    if (!strcmp(ev->type, "invoice.paid")) {
        return on_invoice(q, ev, 1);
    }
    if (!strcmp(ev->type, "invoice.payment_failed")) {
        return on_invoice(q, ev, 0);
    }
    ignore(q, ev, "type not handled");
    return GC_DB_OK;
}

/* Reads the event envelope; 0 when it lacks what we need. */
static int parse_event(gc_req *q, const char *body, size_t len, stripe_event *ev)
{
    json_t *root = gc_json_own(q->r->pool, json_loadb(body, len, 0, NULL));
    json_t *created = json_object_get(root, "created");
    memset(ev, 0, sizeof(*ev));
    ev->id = path_str(root, "id", NULL, NULL);
    ev->type = path_str(root, "type", NULL, NULL);
    ev->object = json_object_get(json_object_get(root, "data"), "object");
    if (!ev->id || !ev->type || !json_is_integer(created) || !json_is_object(ev->object)) {
        return 0;
    }
    ev->created = json_integer_value(created);
    return 1;
}

int gc_webhook_stripe(gc_req *q)
{
    const char *body, *args[4];
    size_t len;
    stripe_event ev;
    gc_rows *rows = NULL;
    gc_db_status st;
    gc_sig_status_t sig;

    if (!q->cfg->stripe_webhook_secret) {
        return gc_respond_retry(q, HTTP_SERVICE_UNAVAILABLE, GC_E_UNAVAILABLE,
                                "Webhooks are not configured", 60);
    }
    if (gc_read_raw_body(q, &body, &len) != OK) {
        return OK;
    }
    sig = gc_sig_verify(q->r->pool, apr_table_get(q->r->headers_in, "Stripe-Signature"),
                        q->cfg->stripe_webhook_secret, strlen(q->cfg->stripe_webhook_secret),
                        body, len, q->now, q->cfg->stripe_tolerance);
    if (sig != GC_SIG_OK) {
        GCLOG(q, APLOG_NOTICE, "GC00121", "Stripe webhook refused: signature %s",
              sig == GC_SIG_STALE ? "stale" : sig == GC_SIG_MISMATCH ? "does not match"
                                            : "missing or malformed");
        return gc_respond_error(q, HTTP_BAD_REQUEST, "INVALID_SIGNATURE",
                                "Invalid Stripe signature", NULL, NULL);
    }
    if (!parse_event(q, body, len, &ev)) {
        ignore(q, &ev, "not an event object");
        return acknowledge(q);
    }
    args[0] = ev.id;
    if ((st = gc_db_select(q, GC_SQL_STRIPE_EVENT_SEEN, args, &rows)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    if (rows->nrows > 0) {
        GCLOG(q, APLOG_INFO, "GC00122", "Stripe event %s replayed: nothing to do", ev.id);
        return acknowledge(q);
    }
    /* Applying is idempotent, so a crash between apply and record only
     * means the retry applies the same state again. */
    if ((st = apply_event(q, &ev)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    args[1] = ev.type;
    args[2] = gc_sql_int(q, ev.created);
    args[3] = gc_sql_int(q, q->now);
    if ((st = gc_db_exec(q, GC_SQL_STRIPE_EVENT_RECORD, args, NULL)) != GC_DB_OK) {
        return gc_db_fail(q, st);
    }
    GCLOG(q, APLOG_INFO, "GC00123", "Stripe event %s (%s) applied", ev.id, ev.type);
    return acknowledge(q);
}
