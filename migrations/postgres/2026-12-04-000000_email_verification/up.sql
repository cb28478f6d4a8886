-- Proof that users receive mail at their address, the single-use tokens mailed to prove it or to reset a password,
-- and the outbox where mail waits, written in the transaction of the change that causes it, until it is delivered.

ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;
-- Admins are made by operators with create-admin, who vouch for the address they give.
UPDATE users SET email_verified = TRUE WHERE id IN (SELECT user_id FROM user_roles WHERE role_id = 1);

-- Whether the address is verified is part of the user: setting it notifies (see the change_notifications migration).
DROP TRIGGER users_changed ON users;
CREATE TRIGGER users_changed
    AFTER UPDATE OF object_id, username, email, email_key, email_verified, password_hash, first_name, last_name,
                    website, facebook, instagram, linkedin, x, youtube, created_at, updated_at
       OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_user_row_changed();

-- Tokens by hash only (SHA-256 of 256 random bits). Each is usable once, until it expires, and only while its user
-- still has the address it was mailed to.
CREATE TABLE one_time_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    -- The users.email_key the token was made for: once the user's address changes, the token does nothing.
    email_key  TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    -- When it was used, or voided by a newer reset token.
    used_at    TIMESTAMPTZ
);
-- A user's latest token of a purpose (the minimum interval between mails), and their unused reset tokens.
CREATE INDEX one_time_tokens_user_purpose_idx ON one_time_tokens (user_id, purpose, created_at);
-- The verifications an address was sent lately, whoever's account asked (a change of address mails no address twice
-- within the interval).
CREATE INDEX one_time_tokens_email_key_idx ON one_time_tokens (email_key, created_at);

-- Mail waiting for delivery; a row is deleted once the transport accepted it, and one given up on stays, marked
-- failed. No foreign key to users: the notice to an account's former address goes out even if the account is
-- deleted meanwhile.
CREATE TABLE mail_outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('verify_email', 'reset_password', 'email_changed', 'password_changed', 'test')),
    recipient       TEXT NOT NULL,
    -- The token the mail's link carries, in clear (one_time_tokens keeps only its hash): it must be kept until the
    -- mail is sent, and goes with the row then. A mail given up on loses it at once.
    token           TEXT,
    new_email       TEXT CHECK ((new_email IS NOT NULL) = (kind = 'email_changed')),
    queued_at       TIMESTAMPTZ NOT NULL,
    -- When it is due: its first try, a retry after a failure, or the end of a worker's lease on it.
    next_attempt_at TIMESTAMPTZ NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    failed_at       TIMESTAMPTZ,
    CHECK ((token IS NOT NULL) = (kind IN ('verify_email', 'reset_password')) OR (token IS NULL AND failed_at IS NOT NULL))
);
-- What the workers claim: queued mail in the order it is due.
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at, id) WHERE failed_at IS NULL;
