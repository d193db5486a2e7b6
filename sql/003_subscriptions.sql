-- Pro subscriptions through Stripe. A user is Pro while pro_until lies in
-- the future ('infinity' for an active or trialing subscription, the end
-- of the grace for a past_due one); the webhook recomputes it.

ALTER TABLE users ADD COLUMN IF NOT EXISTS stripe_customer_id text;
ALTER TABLE users ADD COLUMN IF NOT EXISTS pro_until timestamptz;
ALTER TABLE users DROP COLUMN IF EXISTS tier;
CREATE UNIQUE INDEX IF NOT EXISTS users_stripe_customer ON users (stripe_customer_id)
    WHERE stripe_customer_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS subscriptions (
    id                    text        PRIMARY KEY,          -- sub_...
    user_id               bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    customer_id           text,
    status                text        NOT NULL,
    current_period_end    timestamptz,
    cancel_at_period_end  boolean,
    -- the first failed payment since the subscription was last paid
    past_due_since        timestamptz,
    -- Stripe's "created" of the last event applied: an older one changes nothing
    event_created         bigint      NOT NULL DEFAULT 0,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS subscriptions_user ON subscriptions (user_id, updated_at DESC);

-- Each Stripe event is applied at most once.
CREATE TABLE IF NOT EXISTS stripe_events (
    id             text        PRIMARY KEY,                 -- evt_...
    type           text        NOT NULL,
    event_created  bigint      NOT NULL,
    received_at    timestamptz NOT NULL
);

-- Ties between events of the same second: a final status beats any other,
-- and 'incomplete' never replaces a later state.
CREATE OR REPLACE FUNCTION gc_subscription_rank(status text) RETURNS integer
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN status IN ('canceled', 'incomplete_expired') THEN 2
                WHEN status = 'incomplete' THEN 0
                ELSE 1 END
$$;
