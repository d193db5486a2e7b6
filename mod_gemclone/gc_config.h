/* GemClone* directives: one server-scope record, an unset sentinel for each
 * field, an explicit merge, and validation at start-up (check_config, so
 * that `apachectl configtest` catches mistakes too). */
#ifndef GC_CONFIG_H
#define GC_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "httpd.h"
#include "http_config.h"

#include "gc_redis_url.h"

#define GC_UNSET (-1)

/* Directive names, declared once (habit of mod_auth_openidc). */
#define GC_DIR_JWT_SECRET            "GemCloneJWTSecret"
#define GC_DIR_TOKEN_LIFETIME        "GemCloneTokenLifetime"
#define GC_DIR_REDIS_URL             "GemCloneRedisURL"
#define GC_DIR_REDIS_TIMEOUT         "GemCloneRedisTimeout"
#define GC_DIR_OTP_TTL               "GemCloneOTPTTL"
#define GC_DIR_OTP_RESEND            "GemCloneOTPResendInterval"
#define GC_DIR_OTP_MAX_ATTEMPTS      "GemCloneOTPMaxAttempts"
#define GC_DIR_OTP_DELIVERY_URL      "GemCloneOTPDeliveryURL"
#define GC_DIR_OTP_DELIVERY_SECRET   "GemCloneOTPDeliverySecret"
#define GC_DIR_AUTH_FAILURE_LIMIT    "GemCloneAuthFailureLimit"
#define GC_DIR_AUTH_FAILURE_WINDOW   "GemCloneAuthFailureWindow"
#define GC_DIR_MAX_BODY              "GemCloneMaxBodySize"
#define GC_DIR_PASSWORD_ITERATIONS   "GemClonePasswordIterations"
#define GC_DIR_TEST_MODE             "GemCloneTestMode"
#define GC_DIR_TEST_CLOCK_FILE       "GemCloneTestClockFile"
#define GC_DIR_DAILY_LIMIT_BASIC     "GemCloneDailyLimitBasic"
#define GC_DIR_DAILY_LIMIT_PRO       "GemCloneDailyLimitPro"
#define GC_DIR_ROOM_CACHE_TTL        "GemCloneRoomListCacheTTL"
#define GC_DIR_MESSAGE_MAX_CHARS     "GemCloneMessageMaxChars"
#define GC_DIR_REPLY_WAIT            "GemCloneReplyWait"
#define GC_DIR_MAX_WAITERS           "GemCloneMaxWaiters"
#define GC_DIR_SWEEPER_GRACE         "GemCloneSweeperGrace"
#define GC_DIR_SSE_KEEPALIVE         "GemCloneEventKeepAlive"

#define GC_DIR_STRIPE_SECRET_KEY     "GemCloneStripeSecretKey"
#define GC_DIR_STRIPE_PRICE_ID       "GemCloneStripePriceID"
#define GC_DIR_STRIPE_WEBHOOK_SECRET "GemCloneStripeWebhookSecret"
#define GC_DIR_STRIPE_API_BASE       "GemCloneStripeAPIBase"
#define GC_DIR_STRIPE_SUCCESS_URL    "GemCloneStripeSuccessURL"
#define GC_DIR_STRIPE_CANCEL_URL     "GemCloneStripeCancelURL"
#define GC_DIR_STRIPE_TOLERANCE      "GemCloneStripeWebhookTolerance"
#define GC_DIR_PRO_GRACE             "GemCloneProPastDueGrace"
#define GC_DIR_MAX_HASHES            "GemCloneMaxConcurrentHashes"

/* A daily limit of GC_UNLIMITED means no limit. */
#define GC_UNLIMITED (-2)

/* Cheapest password cost accepted outside test mode. */
#define GC_MIN_PASSWORD_ITERATIONS 100000

typedef struct {
    const char *jwt_secret;
    size_t jwt_secret_len;
    int token_lifetime;          /* seconds */
    const char *redis_url;
    int redis_timeout_ms;
    int otp_ttl;                 /* seconds */
    int otp_resend_interval;     /* seconds */
    int otp_max_attempts;
    const char *otp_delivery_url;     /* NULL: the code is returned in the response */
    const char *otp_delivery_secret;
    int auth_failure_limit;
    int auth_failure_window;     /* seconds */
    apr_off_t max_body;          /* bytes */
    int password_iterations;
    int test_mode;               /* 0/1, GC_UNSET */
    const char *test_clock_file;
    int daily_limit_basic;       /* prompts per UTC day, or GC_UNLIMITED */
    int daily_limit_pro;
    int room_cache_ttl;          /* seconds */
    int message_max_chars;       /* code points */
    int reply_wait;              /* seconds a POST waits for its reply */
    int max_waiters;             /* waiting POSTs per child (default: 3/4 of its threads) */
    int sweeper_grace;           /* seconds before a reply without a job is queued again */
    int sse_keepalive;           /* seconds between keep-alive comments */
    const char *stripe_secret_key;     /* NULL: subscriptions are off (503) */
    const char *stripe_price_id;
    const char *stripe_webhook_secret;
    const char *stripe_api_base;
    const char *stripe_success_url;
    const char *stripe_cancel_url;
    int stripe_tolerance;        /* seconds of webhook timestamp tolerance */
    int pro_grace;               /* seconds a past_due subscription stays Pro */
    int max_hashes;              /* password hashes at once per child */

    /* Derived at start-up by gc_config_finish. */
    unsigned char otp_pepper[32];
    gc_redis_url_t redis;
} gc_config;

extern const command_rec gc_config_directives[];

void *gc_config_create_server(apr_pool_t *p, server_rec *s);
void *gc_config_merge_server(apr_pool_t *p, void *base, void *add);

/* Validates every server's merged record and fills in defaults and derived
 * values; returns NULL or a message naming the directive at fault. */
const char *gc_config_finish(apr_pool_t *p, server_rec *s, gc_config *cfg);

/* Child start-up: defaults that depend on the MPM (the waiter cap). */
void gc_config_child_init(server_rec *s);

/* The record of server s. */
gc_config *gc_config_get(const server_rec *s);

#endif
