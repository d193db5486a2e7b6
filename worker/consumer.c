/* The job consumer: see consumer.h.
 *
 * A job lives in its own pool (habit 4) and goes through
 *   REQUEST  a Gemini call is in flight (deltas go out as they arrive)
 *   BACKOFF  the call failed in a retryable way: waits on a timer
 *   FINISH   the result is known: writing it to PostgreSQL (retried with
 *            backoff while PostgreSQL is down; the job is not acked before;
 *            the lease is still renewed)
 *   SETTLE   the reply is not (or no longer) ours to generate: reading its
 *            row to learn what is left to do (a final row whose post steps
 *            a lost worker never ran gets them now)
 *   POST     the row is final: refund, refunded mark, final event,
 *            wake-up, XACK + XDEL
 * Every wait is a timer checked by consumer_step, so one job never holds
 * up another. */
#include "consumer.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "events.h"
#include "gemini.h"
#include "outcome.h"
#include "queue.h"
#include "request.h"
#include "retry.h"
#include "store.h"
#include "sweeper.h"
#include "wclock.h"
#include "worker_log.h"
#include "wredis.h"

#define IDLE_BLOCK_MS 500        /* XREADGROUP BLOCK when nothing is in flight */
#define BUSY_READ_INTERVAL 0.02  /* s between non-blocking reads while busy */
#define LINK_WAIT 0.2            /* s before looking again for a connection */
#define STORE_RETRY_MAX 10.0     /* s, cap of the finish/post retry backoff */
#define ERROR_TEXT_MAX 1000      /* bytes of a stored error reason */
#define DETAIL_LOG_MAX 300       /* bytes of an upstream message logged */
#define HEARTBEAT_RETRY 1.0      /* s between heartbeats while PG is down */

typedef enum { J_REQUEST, J_BACKOFF, J_FINISH, J_SETTLE, J_POST } job_state;

static const char *const state_names[] = {
    "request", "backoff", "finish", "settle", "post"
};

typedef struct job job;

struct job {
    consumer *c;
    apr_pool_t *pool;
    apr_pool_t *call_pool;       /* the attempt in flight; NULL otherwise */
    gemini_call *call;           /* lives in call_pool */
    job *prev, *next;
    char entry_id[QUEUE_ID_MAX];
    int64_t reply_id;
    store_claim_row row;
    const char *body;            /* the request, built once per job */
    size_t body_len;

    job_state state;
    int attempts;
    long waited_ms;              /* backoff waits so far */
    double started;              /* monotonic */
    double due;                  /* BACKOFF / FINISH / POST: next try */
    double heartbeat_at;
    int tries;                   /* FINISH / POST tries so far */

    /* The result, and what is left to do after the row is written. */
    const char *status;          /* "done" or "failed"; NULL: none (lost) */
    const char *content;
    const char *error;
    const char *outcome_note;    /* for the outcome log line */
    const char *settle_note;     /* why the job settles instead */
    int64_t user_id, prompt_created;
    int need_refund, need_mark, need_final, need_wake, need_ack;
};

struct consumer {
    apr_pool_t *pool;
    apr_pool_t *scratch;         /* cleared after each use */
    const worker_config *cfg;
    CURLM *multi;
    wlinks *l;                   /* lent for one step */
    gemini_target target;
    request_opts ropts;
    int stopping;

    job *jobs;
    int njobs;

    int group_ok;                /* the consumer group is known to exist */
    int reread;                  /* re-read own pending entries from cursor */
    char reread_cursor[QUEUE_ID_MAX];
    char claim_cursor[QUEUE_ID_MAX];
    double claim_at;             /* next XAUTOCLAIM scan */
    double sweep_at;
    double read_at;              /* next non-blocking read while busy */
    int blocked;                 /* this step blocked in Redis: no sleep */
    int can_read;                /* the last step could read jobs */
};

/* ---- small helpers (no libm in the link) -------------------------------- */

static double dmin(double a, double b)
{
    return a < b ? a : b;
}

/* The finish/post retry wait after n failed tries: 0.5 s doubling, capped. */
static double store_backoff(int n)
{
    double w = 0.5;

    while (n-- > 0 && w < STORE_RETRY_MAX)
        w *= 2;
    return dmin(w, STORE_RETRY_MAX);
}

/* ---- connections ------------------------------------------------------- */

static int pg_up(const consumer *c)
{
    return c->l->pg != NULL && !c->l->pg_broken;
}

static int redis_up(const consumer *c)
{
    return c->l->redis != NULL && !c->l->redis_broken;
}

/* Notes a Redis result: a dead connection is flagged for the loop. */
static int redis_rc(consumer *c, int rc)
{
    if (rc == WREDIS_BROKEN)
        c->l->redis_broken = 1;
    return rc;
}

/* An error reply that a later try may not get: out of memory, a replica
 * or a loading server, a busy script. */
static int redis_transient(const char *err)
{
    static const char *const prefixes[] = {
        "OOM", "READONLY", "LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN",
        "NOREPLICAS", "CLUSTERDOWN"
    };
    size_t i;

    for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncmp(err, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

/* ---- jobs -------------------------------------------------------------- */

/* The states in which the job holds the reply's lease and renews it. */
static int holds_lease(const job *j)
{
    return j->state == J_REQUEST || j->state == J_BACKOFF || j->state == J_FINISH;
}

static long ms_since(double t)
{
    return (long)((wclock_mono() - t) * 1000.0);
}

static job *find_job(const consumer *c, const char *entry_id, int64_t reply_id)
{
    job *j;

    for (j = c->jobs; j != NULL; j = j->next)
        if ((entry_id && strcmp(j->entry_id, entry_id) == 0)
            || (reply_id && j->reply_id == reply_id))
            return j;
    return NULL;
}

/* Unlinks and frees a job; its pool cleanup ends a transfer in flight. */
static void job_free(job *j)
{
    consumer *c = j->c;

    if (j->prev)
        j->prev->next = j->next;
    else
        c->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    c->njobs--;
    apr_pool_destroy(j->pool);
}

/* Publishes one event of the reply (best effort: the final row is the
 * authority, and readers poll it too). */
static void publish(job *j, const char *type, const char *text, size_t len)
{
    consumer *c = j->c;
    char err[256];
    int rc;

    if (!redis_up(c))
        return;
    rc = redis_rc(c, events_publish(c->l->redis, j->reply_id, type, text, len,
                                    err, sizeof(err)));
    if (rc != WREDIS_OK)
        wlog(WLOG_WARN, GCWNO(00030), "reply %" PRId64 ": cannot publish a %s "
             "event: %s", j->reply_id, type, err);
}

/* A streamed text delta arrived. */
static void on_delta(void *arg, const char *text, size_t len)
{
    publish(arg, "delta", text, len);
}

static void post_try(job *j);
static void finish_try(job *j);
static void settle_try(job *j);

/* The job's result is known: store it next. */
static void set_result(job *j, const char *status, const char *content,
                       const char *error)
{
    j->status = status;
    j->content = content;
    j->error = error;
    j->state = J_FINISH;
    j->tries = 0;
    j->due = 0;
    finish_try(j);
}

/* Leaves the row alone and only acknowledges the entry (a skip, or a
 * reply that is no longer ours). */
static void ack_only(job *j, const char *note)
{
    j->status = NULL;
    j->outcome_note = note;
    j->need_refund = j->need_mark = j->need_final = j->need_wake = 0;
    j->need_ack = 1;
    j->state = J_POST;
    j->tries = 0;
    j->due = 0;
    post_try(j);
}

/* The reply is not ours to generate (the claim, the result write or a
 * heartbeat matched no row): its row decides what is left to do. */
static void settle(job *j, const char *note)
{
    if (j->call_pool != NULL) {
        apr_pool_destroy(j->call_pool);       /* ends a transfer in flight */
        j->call_pool = NULL;
        j->call = NULL;
    }
    j->settle_note = note;
    j->state = J_SETTLE;
    j->tries = 0;
    j->due = 0;
    settle_try(j);
}

/* Reads the row: a final one gets the post steps a lost worker may never
 * have run (final event, wake-up, and for a failed reply not yet marked
 * refunded the refund: idempotent per reply); otherwise (pending under
 * another worker, or deleted) the entry is only acknowledged. */
static void settle_try(job *j)
{
    consumer *c = j->c;
    store_reply_row row;
    int rc;

    if (!pg_up(c)) {
        j->due = wclock_mono() + LINK_WAIT;
        return;
    }
    rc = store_read(c->l->pg, j->reply_id, &row);
    if (rc == STORE_BROKEN || rc == STORE_ERR) {
        if (rc == STORE_BROKEN)
            c->l->pg_broken = 1;
        j->due = wclock_mono() + store_backoff(j->tries++);
        return;
    }
    if (rc == STORE_NOROW) {
        ack_only(j, apr_pstrcat(j->pool, j->settle_note, ": reply deleted", NULL));
        return;
    }
    if (strcmp(row.status, "done") != 0 && strcmp(row.status, "failed") != 0) {
        ack_only(j, apr_psprintf(j->pool, "%s: pending at generation %d, "
                                 "leased by another worker", j->settle_note,
                                 row.generation));
        return;
    }
    wlog(WLOG_NOTICE, GCWNO(00049), "reply %" PRId64 ": %s: already %s; "
         "running its final steps%s", j->reply_id, j->settle_note, row.status,
         row.status[0] == 'f' && !row.refunded ? " (refund included)" : "");
    j->status = NULL;
    j->outcome_note = apr_psprintf(j->pool, "%s: already %s, final steps run",
                                   j->settle_note, row.status);
    j->user_id = row.user_id;
    j->prompt_created = row.prompt_created;
    j->need_refund = j->need_mark = row.status[0] == 'f' && !row.refunded;
    j->need_final = j->need_wake = j->need_ack = 1;
    j->state = J_POST;
    j->tries = 0;
    j->due = 0;
    post_try(j);
}

/* Starts the next attempt of a job's Gemini call. */
static void start_attempt(job *j)
{
    consumer *c = j->c;

    j->attempts++;
    /* Readers drop what they have: a retry, or a re-run after a crash. */
    if (j->attempts > 1 || j->row.generation > 1)
        publish(j, "reset", NULL, 0);
    if (apr_pool_create(&j->call_pool, j->pool) == APR_SUCCESS
        && (j->call = gemini_start(j->call_pool, c->multi, &c->target, j->body,
                                   j->body_len, on_delta, j, j)) != NULL) {
        j->state = J_REQUEST;
        return;
    }
    if (j->call_pool != NULL)
        apr_pool_destroy(j->call_pool);
    j->call_pool = NULL;
    j->call = NULL;
    wlog(WLOG_ERROR, GCWNO(00031), "reply %" PRId64 ": cannot start a Gemini "
         "request (out of memory?)", j->reply_id);
    set_result(j, "failed", NULL, "worker could not start the Gemini request");
}

/* A retryable failure: wait and try again, or give up. */
static void schedule_retry(job *j, const char *reason, const char *detail,
                           long hint_ms)
{
    consumer *c = j->c;
    long wait;

    if (j->attempts >= c->cfg->max_attempts) {
        set_result(j, "failed", NULL, apr_psprintf(j->pool, "gave up after "
                   "%d attempts: %s", j->attempts, reason));
        return;
    }
    wait = retry_wait_ms(j->attempts, hint_ms, (double)random() / RAND_MAX);
    if (j->waited_ms + wait > c->cfg->max_retry_wait_ms) {
        wlog(WLOG_NOTICE, GCWNO(00050), "reply %" PRId64 ": retry wait limit "
             "of %ld ms reached after %d attempts", j->reply_id,
             c->cfg->max_retry_wait_ms, j->attempts);
        set_result(j, "failed", NULL, apr_psprintf(j->pool, "gave up after "
                   "%d attempts: %s", j->attempts, reason));
        return;
    }
    j->waited_ms += wait;
    j->state = J_BACKOFF;
    j->due = wclock_mono() + (double)wait / 1000.0;
    wlog(WLOG_INFO, GCWNO(00032), "reply %" PRId64 ": attempt %d failed: %s%s%s%s; "
         "retrying in %ld ms", j->reply_id, j->attempts, reason,
         detail ? " (" : "", detail ? detail : "", detail ? ")" : "", wait);
}

/* The transfer of a job ended with rc. */
static void attempt_done(job *j, CURLcode rc)
{
    consumer *c = j->c;
    attempt_result r;
    outcome o;
    const char *text, *err, *detail;
    size_t len;

    gemini_result(j->call, rc, j->pool, &r, &text, &len);
    apr_pool_destroy(j->call_pool);        /* removes the handle */
    j->call_pool = NULL;
    j->call = NULL;

    outcome_classify(j->pool, &r, &o);
    err = o.error ? outcome_scrub(j->pool, o.error, c->cfg->gemini_api_key,
                                  ERROR_TEXT_MAX) : NULL;
    /* Upstream words only in the log: without the key, cut short. */
    detail = o.detail ? outcome_scrub(j->pool, o.detail, c->cfg->gemini_api_key,
                                      DETAIL_LOG_MAX) : NULL;
    switch (o.kind) {
    case OUTCOME_DONE:
        if (!c->target.streaming)
            publish(j, "delta", text, len);   /* the pieces add up to it */
        set_result(j, "done", text, err);
        break;
    case OUTCOME_FAILED:
        if (detail != NULL)
            wlog(WLOG_NOTICE, GCWNO(00051), "reply %" PRId64 ": attempt %d "
                 "failed for good: %s (%s)", j->reply_id, j->attempts, err,
                 detail);
        set_result(j, "failed", NULL, err);
        break;
    case OUTCOME_RETRY:
        schedule_retry(j, err, detail, o.hint_ms);
        break;
    }
}

/* Writes the result; on success the Redis steps follow at once. */
static void finish_try(job *j)
{
    consumer *c = j->c;
    int rc;
    double wait;

    if (!pg_up(c)) {
        j->due = wclock_mono() + LINK_WAIT;
        return;
    }
    rc = store_finish(c->l->pg, j->reply_id, j->row.generation, j->status,
                      j->content, j->error, wclock_now(c->cfg->test_clock_file),
                      &j->user_id, &j->prompt_created);
    if (rc == STORE_OK) {
        j->need_refund = j->need_mark = strcmp(j->status, "failed") == 0;
        j->need_final = j->need_wake = j->need_ack = 1;
        j->state = J_POST;
        j->tries = 0;
        post_try(j);
        return;
    }
    if (rc == STORE_NOROW) {
        wlog(WLOG_NOTICE, GCWNO(00033), "reply %" PRId64 ": no longer pending "
             "at generation %d (final, taken over or deleted): result dropped",
             j->reply_id, j->row.generation);
        settle(j, "result dropped");
        return;
    }
    if (rc == STORE_BROKEN)
        c->l->pg_broken = 1;
    wait = store_backoff(j->tries++);
    j->due = wclock_mono() + wait;
    wlog(WLOG_WARN, GCWNO(00034), "reply %" PRId64 ": cannot store the result "
         "yet; trying again in %.1f s (the job stays unacknowledged)",
         j->reply_id, wait);
}

/* One Redis step of POST; returns 0 when done, -1 to try again later. */
static int post_step(job *j, int *flag, int rc, const char *what, const char *err)
{
    consumer *c = j->c;

    if (rc == WREDIS_OK) {
        *flag = 0;
        return 0;
    }
    /* A broken connection may have lost the reply after the command ran:
     * every step is safe to repeat (the refund through its marker). */
    if (redis_rc(c, rc) == WREDIS_BROKEN) {
        j->due = wclock_mono() + store_backoff(j->tries++);
        return -1;
    }
    if (redis_transient(err)) {
        if (strncmp(err, "READONLY", 8) == 0)
            c->l->redis_broken = 1;    /* reconnect: maybe to a new primary */
        wlog(WLOG_WARN, GCWNO(00052), "reply %" PRId64 ": %s: %s; trying "
             "again", j->reply_id, what, err);
        j->due = wclock_mono() + store_backoff(j->tries++);
        return -1;
    }
    /* Any other error reply will not get better by repeating the command. */
    wlog(WLOG_ERROR, GCWNO(00035), "reply %" PRId64 ": %s failed: %s",
         j->reply_id, what, err);
    *flag = 0;
    return 0;
}

/* Marks the reply refunded in PostgreSQL, after the Redis refund; returns
 * 0 when done, -1 to try again later. */
static int mark_refunded(job *j)
{
    consumer *c = j->c;
    int rc;

    if (!pg_up(c)) {
        j->due = wclock_mono() + LINK_WAIT;
        return -1;
    }
    rc = store_mark_refunded(c->l->pg, j->reply_id);
    if (rc == STORE_BROKEN || rc == STORE_ERR) {
        if (rc == STORE_BROKEN)
            c->l->pg_broken = 1;
        j->due = wclock_mono() + store_backoff(j->tries++);
        return -1;
    }
    j->need_mark = 0;                  /* NOROW: marked already */
    return 0;
}

/* Refund, refunded mark, final event, wake-up, acknowledgement; then the
 * job ends. The mark comes after the refund (see store_finish) and before
 * the wake-up, so a woken reader sees the reply marked. */
static void post_try(job *j)
{
    consumer *c = j->c;
    char err[256] = "";

    if (!redis_up(c)) {
        j->due = wclock_mono() + LINK_WAIT;
        return;
    }
    if (j->need_refund
        && post_step(j, &j->need_refund,
                     events_refund(c->l->redis, j->pool, j->reply_id, j->user_id,
                                   j->prompt_created, err, sizeof(err)),
                     "quota refund", err) != 0)
        return;
    if (j->need_mark && mark_refunded(j) != 0)
        return;
    if (j->need_final
        && post_step(j, &j->need_final,
                     events_publish(c->l->redis, j->reply_id, "final", NULL, 0,
                                    err, sizeof(err)),
                     "final event", err) != 0)
        return;
    if (j->need_wake
        && post_step(j, &j->need_wake,
                     events_wake(c->l->redis, j->reply_id, err, sizeof(err)),
                     "wake-up", err) != 0)
        return;
    if (j->need_ack
        && post_step(j, &j->need_ack,
                     queue_done(c->l->redis, j->entry_id, err, sizeof(err)),
                     "XACK/XDEL", err) != 0)
        return;

    /* One line per job outcome: no prompt text, no key. */
    if (j->status != NULL)
        wlog(j->status[0] == 'd' ? WLOG_INFO : WLOG_NOTICE, GCWNO(00036),
             "reply %" PRId64 ": %s%s%s, %d attempt%s, %ld ms", j->reply_id,
             j->status, j->error ? ": " : "", j->error ? j->error : "",
             j->attempts, j->attempts == 1 ? "" : "s", ms_since(j->started));
    else
        wlog(WLOG_INFO, GCWNO(00037), "reply %" PRId64 ": skipped (%s), "
             "%d attempt%s, %ld ms", j->reply_id, j->outcome_note,
             j->attempts, j->attempts == 1 ? "" : "s", ms_since(j->started));
    job_free(j);
}

/* Extends the lease of a job still generating; a lost lease ends it. */
/* Extends the lease of a job that holds it (generating, waiting to retry,
 * or writing its result); a lost lease ends it. While PostgreSQL is down
 * the renewal is tried again every HEARTBEAT_RETRY s (and at once when it
 * is back: consumer_links_changed), so an outage costs the lease as little
 * time as possible. */
static void heartbeat(job *j)
{
    consumer *c = j->c;
    char err[256];
    int rc;

    j->heartbeat_at = wclock_mono() + c->cfg->lease_seconds / 3.0;
    /* Keeps the entry ours in Redis too: no one autoclaims a long job. */
    if (redis_up(c))
        redis_rc(c, queue_touch(c->l->redis, c->cfg->consumer_name,
                                j->entry_id, err, sizeof(err)));
    if (!holds_lease(j))
        return;
    if (!pg_up(c)) {
        j->heartbeat_at = wclock_mono() + HEARTBEAT_RETRY;
        return;
    }
    rc = store_heartbeat(c->l->pg, j->reply_id, j->row.generation,
                         wclock_now(c->cfg->test_clock_file),
                         c->cfg->lease_seconds);
    if (rc == STORE_BROKEN)
        c->l->pg_broken = 1;
    if (rc == STORE_BROKEN || rc == STORE_ERR)
        j->heartbeat_at = wclock_mono() + HEARTBEAT_RETRY;
    if (rc != STORE_NOROW)
        return;
    wlog(WLOG_NOTICE, GCWNO(00038), "reply %" PRId64 ": lease lost (taken "
         "over by another worker, final, or deleted): stopping", j->reply_id);
    settle(j, "lease lost");
}

/* Takes one queue entry: claims its reply and starts the call. */
static void take_entry(consumer *c, const queue_entry *e)
{
    char err[256];
    apr_pool_t *p;
    job *j;
    store_claim_row row;
    const char *prompt;
    history_pair *pairs;
    int n, rc;

    if (e->bad != NULL) {
        wlog(WLOG_WARN, GCWNO(00039), "queue entry %s: %s: dropped", e->id, e->bad);
        redis_rc(c, queue_done(c->l->redis, e->id, err, sizeof(err)));
        return;
    }
    if (find_job(c, e->id, 0) != NULL)
        return;                             /* ours, in flight */
    if (find_job(c, NULL, e->job.reply_id) != NULL) {
        /* Another entry for a reply we are working on (a sweep): drop it. */
        redis_rc(c, queue_done(c->l->redis, e->id, err, sizeof(err)));
        return;
    }
    if (!pg_up(c))
        return;
    rc = store_claim(c->l->pg, e->job.reply_id, wclock_now(c->cfg->test_clock_file),
                     c->cfg->lease_seconds, e->job.swept_generation,
                     e->job.swept_lease_until, &row);
    if (rc == STORE_BROKEN)
        c->l->pg_broken = 1;
    if (rc == STORE_BROKEN || rc == STORE_ERR)
        return;       /* stays pending: re-read after reconnect, or claimed */

    if (apr_pool_create(&p, c->pool) != APR_SUCCESS)
        return;
    j = apr_pcalloc(p, sizeof(*j));
    j->c = c;
    j->pool = p;
    apr_cpystrn(j->entry_id, e->id, sizeof(j->entry_id));
    j->reply_id = e->job.reply_id;
    j->started = wclock_mono();
    j->heartbeat_at = j->started + c->cfg->lease_seconds / 3.0;
    j->next = c->jobs;
    if (c->jobs)
        c->jobs->prev = j;
    c->jobs = j;
    c->njobs++;

    if (rc == STORE_NOROW) {
        settle(j, "not claimed");
        return;
    }
    j->row = row;
    if (row.generation > c->cfg->max_generations) {
        /* Every run so far ended with its worker: do not take it over
         * yet again (it may be what kills them). */
        wlog(WLOG_WARN, GCWNO(00053), "reply %" PRId64 ": generation %d is "
             "over max_generations (%d): failing it", j->reply_id,
             row.generation, c->cfg->max_generations);
        set_result(j, "failed", NULL, "gave up after repeated worker failures");
        return;
    }

    rc = store_context(c->l->pg, p, row.chatroom_id, j->reply_id, row.reply_to,
                       &prompt, &pairs, &n);
    if (rc == STORE_BROKEN || rc == STORE_ERR) {
        if (rc == STORE_BROKEN)
            c->l->pg_broken = 1;
        else
            store_release(c->l->pg, j->reply_id, row.generation,
                          wclock_now(c->cfg->test_clock_file));
        job_free(j);  /* the entry stays pending; the lease runs out */
        return;
    }
    if (rc == STORE_NOROW) {
        set_result(j, "failed", NULL, "the prompt of this reply is missing");
        return;
    }
    j->body = request_build(p, &c->ropts, pairs, n, prompt, &j->body_len, &n);
    if (j->body == NULL) {
        set_result(j, "failed", NULL, "the prompt or the history is not "
                   "valid UTF-8");
        return;
    }
    wlog(WLOG_DEBUG, GCWNO(00040), "reply %" PRId64 ": claimed (generation %d, "
         "%d earlier exchanges, %zu request bytes)", j->reply_id,
         row.generation, n, j->body_len);
    start_attempt(j);
}

static void take_entries(consumer *c, const queue_entry *e, int n)
{
    int i;

    for (i = 0; i < n; i++)
        take_entry(c, &e[i]);
}

/* ---- the step ---------------------------------------------------------- */

/* Runs the transfers and handles those that ended. */
static void drive(consumer *c)
{
    CURLMsg *msg;
    CURL *easy;
    CURLcode rc;
    int running, left;
    void *priv;

    curl_multi_perform(c->multi, &running);
    while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        easy = msg->easy_handle;
        rc = msg->data.result;          /* msg is void once the handle goes */
        priv = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&priv);
        if (priv != NULL)
            attempt_done(priv, rc);
    }
}

/* Fires what is due: retries, store and Redis steps, heartbeats. */
static void timers(consumer *c)
{
    job *j, *next;
    double now = wclock_mono();

    for (j = c->jobs; j != NULL; j = next) {
        next = j->next;
        if (now >= j->heartbeat_at && holds_lease(j)) {
            heartbeat(j);
            continue;                   /* it may have ended */
        }
        if (now < j->due)
            continue;
        switch (j->state) {
        case J_BACKOFF:
            if (!c->stopping)
                start_attempt(j);
            break;
        case J_FINISH:
            finish_try(j);
            break;
        case J_SETTLE:
            settle_try(j);
            break;
        case J_POST:
            post_try(j);
            break;
        case J_REQUEST:
            break;
        }
    }
}

/* Reads entries: own pending ones first (after a start or reconnect), then
 * those of dead consumers, then new ones. */
static void read_jobs(consumer *c)
{
    queue_entry *e;
    char err[256] = "";
    int n = 0, rc, free_slots = c->cfg->concurrency - c->njobs;
    double now = wclock_mono();
    long block;

    if (free_slots <= 0)
        return;
    if (!c->group_ok) {
        rc = redis_rc(c, queue_ensure_group(c->l->redis, err, sizeof(err)));
        if (rc != WREDIS_OK) {
            wlog(WLOG_ERROR, GCWNO(00041), "redis: cannot create the consumer "
                 "group %s on %s: %s", GC_JOB_GROUP, GC_KEY_JOBS, err);
            return;
        }
        c->group_ok = 1;
    }
    apr_pool_clear(c->scratch);

    if (c->reread) {
        rc = queue_read(c->l->redis, c->scratch, c->cfg->consumer_name,
                        c->reread_cursor, free_slots, 0, &e, &n, err, sizeof(err));
    } else if (now >= c->claim_at) {
        rc = queue_autoclaim(c->l->redis, c->scratch, c->cfg->consumer_name,
                             c->cfg->claim_idle_ms, c->claim_cursor, free_slots,
                             &e, &n, err, sizeof(err));
        if (rc == WREDIS_OK && strcmp(c->claim_cursor, "0-0") == 0) {
            c->claim_at = now + (c->cfg->claim_idle_ms < 2000 ? 1.0
                                  : c->cfg->claim_idle_ms / 2000.0);
        }
        if (rc == WREDIS_OK && n > 0)
            wlog(WLOG_NOTICE, GCWNO(00042), "claimed %d job%s idle for over "
                 "%ld ms from other consumers", n, n == 1 ? "" : "s",
                 c->cfg->claim_idle_ms);
    } else {
        block = 0;
        if (c->njobs == 0) {
            /* Nothing in flight: the read is the loop's sleep, woken by
             * the next job; it ends before the next sweep or claim scan. */
            block = IDLE_BLOCK_MS;
            if ((c->sweep_at - now) * 1000 < block)
                block = (long)((c->sweep_at - now) * 1000);
            if ((c->claim_at - now) * 1000 < block)
                block = (long)((c->claim_at - now) * 1000);
        }
        if (block <= 0 && now < c->read_at)
            return;
        rc = queue_read(c->l->redis, c->scratch, c->cfg->consumer_name, NULL,
                        free_slots, block > 0 ? block : 0, &e, &n, err,
                        sizeof(err));
        c->read_at = wclock_mono() + BUSY_READ_INTERVAL;
        if (block > 0 && rc == WREDIS_OK)
            c->blocked = 1;
    }
    if (rc == QUEUE_NOGROUP) {
        /* Redis lost its data (restart without persistence, FLUSHALL): the
         * sweeper brings the jobs back. */
        wlog(WLOG_WARN, GCWNO(00043), "redis: consumer group gone (%s): "
             "creating it again", err);
        consumer_links_changed(c);
        return;
    }
    if (redis_rc(c, rc) != WREDIS_OK) {
        wlog(WLOG_ERROR, GCWNO(00044), "redis: reading jobs failed: %s", err);
        return;
    }
    if (c->reread) {
        if (n == 0)
            c->reread = 0;
        else
            apr_cpystrn(c->reread_cursor, e[n - 1].id, sizeof(c->reread_cursor));
        if (n > 0)
            wlog(WLOG_NOTICE, GCWNO(00045), "re-reading %d of this consumer's "
                 "pending job%s", n, n == 1 ? "" : "s");
    }
    take_entries(c, e, n);
}

void consumer_step(consumer *c, wlinks *l, int stopping)
{
    double now;

    c->l = l;
    c->blocked = 0;
    c->stopping = stopping;
    drive(c);
    timers(c);

    /* Own pending entries are re-read before the first sweep, so that a
     * restart takes back the leases it released itself. */
    if (!stopping && pg_up(c) && redis_up(c))
        read_jobs(c);
    now = wclock_mono();
    if (!stopping && pg_up(c) && redis_up(c) && now >= c->sweep_at) {
        c->sweep_at = now + c->cfg->sweep_interval_ms / 1000.0;
        apr_pool_clear(c->scratch);
        sweeper_run(l, c->scratch, wclock_now(c->cfg->test_clock_file),
                    c->cfg->sweeper_grace);
    }
    /* Whether the next step would read jobs: only then may a re-read or
     * a busy-time read make the loop come back at once. */
    c->can_read = !stopping && pg_up(c) && redis_up(c)
                  && c->njobs < c->cfg->concurrency;
    c->l = NULL;
}

int consumer_timeout_ms(const consumer *c, int tick_ms)
{
    double now = wclock_mono(), t = tick_ms / 1000.0;
    const job *j;

    /* A pending re-read or the busy-time reads only count when the step
     * can read at all: not while a connection is down, every slot is
     * taken, or the worker stops (else the loop would spin). */
    if (c->blocked || (c->reread && c->can_read))
        return 0;
    if (c->can_read && c->njobs > 0)
        t = dmin(t, BUSY_READ_INTERVAL);
    for (j = c->jobs; j != NULL; j = j->next) {
        if (holds_lease(j))
            t = dmin(t, j->heartbeat_at - now);
        /* Stopping: a job waiting to retry starts no attempt (timers). */
        if (j->state == J_REQUEST || (j->state == J_BACKOFF && c->stopping))
            continue;
        t = dmin(t, j->due - now);
    }
    return t <= 0 ? 0 : (int)(t * 1000.0) + 1;
}

void consumer_links_changed(consumer *c)
{
    job *j;

    /* Leases may have run short while a connection was down: renew now. */
    for (j = c->jobs; j != NULL; j = j->next)
        if (holds_lease(j))
            j->heartbeat_at = 0;
    c->group_ok = 0;
    c->reread = 1;
    apr_cpystrn(c->reread_cursor, "0", sizeof(c->reread_cursor));
}

int consumer_busy(const consumer *c)
{
    const job *j;
    int n = 0;

    for (j = c->jobs; j != NULL; j = j->next)
        if (j->state != J_BACKOFF)
            n++;
    return n;
}

void consumer_abort_all(consumer *c, wlinks *l)
{
    job *j;

    c->l = l;
    while ((j = c->jobs) != NULL) {
        /* A job past its result write (SETTLE, POST) left a final row: the
         * restart re-reads the entry and runs the final steps then. */
        if (holds_lease(j) && pg_up(c))
            store_release(l->pg, j->reply_id, j->row.generation,
                          wclock_now(c->cfg->test_clock_file));
        wlog(WLOG_NOTICE, GCWNO(00046), "reply %" PRId64 ": aborted by the "
             "shutdown in state %s after %d attempt%s, %ld ms; left pending "
             "(not acknowledged)", j->reply_id, state_names[j->state],
             j->attempts, j->attempts == 1 ? "" : "s", ms_since(j->started));
        job_free(j);
    }
    c->l = NULL;
}

consumer *consumer_create(apr_pool_t *p, const worker_config *cfg, CURLM *multi,
                          const char *user_agent)
{
    consumer *c = apr_pcalloc(p, sizeof(*c));

    c->pool = p;
    c->cfg = cfg;
    c->multi = multi;
    if (apr_pool_create(&c->scratch, p) != APR_SUCCESS)
        return NULL;
    c->target.api_base = cfg->gemini_api_base;
    c->target.model = cfg->gemini_model;
    c->target.api_key = cfg->gemini_api_key;
    c->target.streaming = cfg->streaming;
    c->target.timeout_ms = cfg->request_timeout_ms;
    c->target.user_agent = user_agent;
    c->ropts.budget_chars = cfg->history_budget_chars;
    c->ropts.system_instruction = cfg->system_instruction;
    c->ropts.has_temperature = cfg->has_temperature;
    c->ropts.temperature = cfg->temperature;
    c->ropts.max_output_tokens = cfg->max_output_tokens;
    apr_cpystrn(c->claim_cursor, "0-0", sizeof(c->claim_cursor));
    consumer_links_changed(c);
    return c;
}
