-- A second factor: each user's TOTP secret (pending until confirmed with a code), their single-use recovery codes,
-- and the sign-ins that wait for one of them.

-- Whether the user has a confirmed factor: set and cleared in the transactions that confirm and remove it, and read
-- with the user, so that a sign-in learns from the user's row alone that a password is not enough.
ALTER TABLE users ADD COLUMN mfa_enabled BOOLEAN NOT NULL DEFAULT FALSE;

-- It is part of the user: setting it notifies (see the change_notifications migration), so that instances remembering
-- the user signed in forget them.
DROP TRIGGER users_changed ON users;
CREATE TRIGGER users_changed
    AFTER UPDATE OF object_id, username, email, email_key, email_verified, password_hash, first_name, last_name,
                    website, facebook, instagram, linkedin, x, youtube, suspended_at, suspended_until,
                    suspension_reason, created_at, updated_at, last_sign_in_at, mfa_enabled
       OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_user_row_changed();

-- One factor per user. The secret is sealed by the service (encrypted, naming its key) before it is stored: a copy of
-- the database alone does not give the codes away. The row is written only by the transactions that lock the user's
-- row first, so enrolments, confirmations, removals and the user's deletion take turns in one order.
CREATE TABLE totp_factors (
    user_id        BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret         TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    -- NULL while pending: the user has not yet shown a code of it, and sign-ins do not ask for one.
    enabled_at     TIMESTAMPTZ,
    -- The time step of the last code accepted: a code is accepted only for a later step, so a code seen over a
    -- shoulder or replayed is worth nothing, on this instance or another.
    last_used_step BIGINT,
    CHECK (last_used_step IS NULL OR enabled_at IS NOT NULL)
);

-- By hash only (SHA-256 of 80 random bits, hex): each works once, and all go when the factor is confirmed again or
-- removed.
CREATE TABLE recovery_codes (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    used_at    TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- The token of a sign-in whose password was right, waiting for its second factor, is a one-time token: used once,
-- for a few minutes, voided by a new password like the mailed ones.
ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check;
ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password', 'mfa_sign_in'));
