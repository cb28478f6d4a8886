-- Proof that users receive mail at their address, single-use tokens and the mail outbox: the same as
-- migrations/postgres. Booleans are 0 or 1.

ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1));
-- Admins are made by operators with create-admin, who vouch for the address they give.
UPDATE users SET email_verified = 1 WHERE id IN (SELECT user_id FROM user_roles WHERE role_id = 1);

CREATE TABLE one_time_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    -- The users.email_key the token was made for: once the user's address changes, the token does nothing.
    email_key  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);
CREATE INDEX one_time_tokens_user_purpose_idx ON one_time_tokens (user_id, purpose, created_at);
-- The verifications an address was sent lately, whoever's account asked (a change of address mails no address twice
-- within the interval).
CREATE INDEX one_time_tokens_email_key_idx ON one_time_tokens (email_key, created_at);

-- No foreign key to users: the notice to an account's former address goes out even if the account is deleted.
CREATE TABLE mail_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL CHECK (kind IN ('verify_email', 'reset_password', 'email_changed', 'password_changed', 'test')),
    recipient       TEXT NOT NULL,
    -- The token the mail's link carries, in clear (one_time_tokens keeps only its hash): it must be kept until the
    -- mail is sent, and goes with the row then. A mail given up on loses it at once.
    token           TEXT,
    new_email       TEXT CHECK ((new_email IS NOT NULL) = (kind = 'email_changed')),
    queued_at       TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    failed_at       TEXT,
    CHECK ((token IS NOT NULL) = (kind IN ('verify_email', 'reset_password')) OR (token IS NULL AND failed_at IS NOT NULL))
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at, id) WHERE failed_at IS NULL;
