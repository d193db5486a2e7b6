-- Users and everything authentication needs. Times are written by the module
-- from its own (injectable) clock, never with now(), so tests can shift time.

CREATE TABLE IF NOT EXISTS users (
    id             bigserial   PRIMARY KEY,
    mobile         text        NOT NULL,
    name           text,
    password_hash  text,
    tier           text        NOT NULL DEFAULT 'basic' CHECK (tier IN ('basic', 'pro')),
    -- Bumped by a password change or reset: tokens with an older "ver" die.
    token_version  integer     NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS users_mobile_key ON users (mobile);

-- One live code per user and purpose: a resend replaces the row. Only the
-- keyed hash of the code is stored.
CREATE TABLE IF NOT EXISTS otp_codes (
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose      text        NOT NULL CHECK (purpose IN ('login', 'reset')),
    code_hash    text        NOT NULL,
    sent_at      timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    attempts     integer     NOT NULL DEFAULT 0,
    consumed_at  timestamptz,
    PRIMARY KEY (user_id, purpose)
);

-- Every INVALID_CREDENTIALS / INVALID_OTP answer for an existing account;
-- the per-account lockout counts the rows of the last window.
CREATE TABLE IF NOT EXISTS auth_failures (
    id         bigserial   PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    failed_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS auth_failures_user_time ON auth_failures (user_id, failed_at);

-- Logged-out tokens, kept until they would have expired anyway.
CREATE TABLE IF NOT EXISTS revoked_tokens (
    jti         text        PRIMARY KEY,
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS revoked_tokens_expiry ON revoked_tokens (expires_at);
