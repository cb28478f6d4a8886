-- A second factor: the same as migrations/postgres. Booleans are 0 or 1.

ALTER TABLE users ADD COLUMN mfa_enabled INTEGER NOT NULL DEFAULT 0 CHECK (mfa_enabled IN (0, 1));

-- The secret is sealed by the service before it is stored (see migrations/postgres).
CREATE TABLE totp_factors (
    user_id        INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret         TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    -- NULL while pending.
    enabled_at     TEXT,
    -- The time step of the last code accepted: only a later one is accepted.
    last_used_step INTEGER,
    CHECK (last_used_step IS NULL OR enabled_at IS NOT NULL)
);

CREATE TABLE recovery_codes (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    used_at    TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- A sign-in waiting for its second factor is a one-time token of its own purpose. SQLite cannot change a table's
-- CHECK: the table is made again with the wider one, its rows copied, and its indexes made again. Nothing refers to
-- it, so the foreign keys, which stay on, have nothing to say; the migration's transaction keeps every other writer
-- out meanwhile.
CREATE TABLE one_time_tokens_widened (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password', 'mfa_sign_in')),
    -- The users.email_key the token was made for: once the user's address changes, the token does nothing.
    email_key  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);
INSERT INTO one_time_tokens_widened (token_hash, user_id, purpose, email_key, created_at, expires_at, used_at)
    SELECT token_hash, user_id, purpose, email_key, created_at, expires_at, used_at FROM one_time_tokens;
DROP TABLE one_time_tokens;
ALTER TABLE one_time_tokens_widened RENAME TO one_time_tokens;
CREATE INDEX one_time_tokens_user_purpose_idx ON one_time_tokens (user_id, purpose, created_at);
-- The verifications an address was sent lately, whoever's account asked (a change of address mails no address twice
-- within the interval).
CREATE INDEX one_time_tokens_email_key_idx ON one_time_tokens (email_key, created_at);
