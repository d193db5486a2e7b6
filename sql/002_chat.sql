-- Chatrooms and messages. A prompt is a user message plus a model message
-- (its reply, reply_to = the user message) created together; the worker
-- fills the reply in.

CREATE TABLE IF NOT EXISTS chatrooms (
    id               bigserial   PRIMARY KEY,
    user_id          bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             text        NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    last_message_at  timestamptz,
    message_count    integer     NOT NULL DEFAULT 0
);
-- The list: newest activity first, ties by id.
CREATE INDEX IF NOT EXISTS chatrooms_user_activity
    ON chatrooms (user_id, (coalesce(last_message_at, created_at)) DESC, id DESC);

CREATE TABLE IF NOT EXISTS messages (
    id               bigserial   PRIMARY KEY,
    chatroom_id      bigint      NOT NULL REFERENCES chatrooms (id) ON DELETE CASCADE,
    user_id          bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role             text        NOT NULL CHECK (role IN ('user', 'model')),
    content          text,
    status           text        NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    error            text,
    created_at       timestamptz NOT NULL,
    completed_at     timestamptz,
    -- model rows: the user message they answer
    reply_to         bigint      REFERENCES messages (id) ON DELETE CASCADE,
    -- model rows: bumped each time a worker starts generating (a re-run
    -- after a crash or a retry shows as generation > 1)
    generation       integer     NOT NULL DEFAULT 0,
    -- model rows: a pending reply whose lease ran out has no live job and
    -- is queued again by the worker's sweeper
    lease_until      timestamptz,
    -- model rows: a reply that failed for good gives the prompt back
    refunded         boolean     NOT NULL DEFAULT false,
    -- user rows: Idempotency-Key of the POST that created them (24 h)
    idempotency_key  text
);
CREATE INDEX IF NOT EXISTS messages_room_id ON messages (chatroom_id, id);
CREATE INDEX IF NOT EXISTS messages_reply_to ON messages (reply_to);
CREATE INDEX IF NOT EXISTS messages_user_day ON messages (user_id, created_at) WHERE role = 'model';
CREATE INDEX IF NOT EXISTS messages_pending_lease ON messages (lease_until)
    WHERE status = 'pending' AND role = 'model';
CREATE UNIQUE INDEX IF NOT EXISTS messages_idempotency
    ON messages (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
