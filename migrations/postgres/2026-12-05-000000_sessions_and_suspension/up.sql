-- Sessions as their owner is shown them (a name that can be given out, when and from which device each was last
-- used), and accounts suspended by an admin, for a while or until lifted, with the reason the admin gave.

-- The name clients see: 16 random bytes as hex, which tell nothing of how many sessions there are and cannot be
-- guessed, unlike the id. A volatile default is computed for each row, so the sessions started before this get one
-- each here; it stays, so that an instance of the previous version still running (which writes none) does not fail
-- its sign-ins. The service gives every new session its own.
ALTER TABLE sessions ADD COLUMN public_id TEXT NOT NULL DEFAULT replace(gen_random_uuid()::text, '-', '')
    CHECK (public_id ~ '^[0-9a-f]{32}$');
CREATE UNIQUE INDEX sessions_public_id_key ON sessions (public_id);

-- The sign-in, or the latest refresh; a session started before this was last used, as far as is known, when it
-- began. The default is for the previous version's sign-ins again: they are made at about the time they commit.
ALTER TABLE sessions ADD COLUMN last_used_at TIMESTAMPTZ;
UPDATE sessions SET last_used_at = created_at;
ALTER TABLE sessions ALTER COLUMN last_used_at SET DEFAULT now(), ALTER COLUMN last_used_at SET NOT NULL;

-- The device of the sign-in or latest refresh, shown to the owner and never trusted: its user agent as the service cut
-- it (512 characters), and its address as text (45 characters hold the longest IPv6 form, with an IPv4 tail).
ALTER TABLE sessions ADD COLUMN user_agent TEXT CHECK (char_length(user_agent) <= 512);
ALTER TABLE sessions ADD COLUMN ip TEXT CHECK (char_length(ip) <= 45);

-- A suspension: since when, until when (NULL: until an admin lifts it; one with an end lifts by itself then), and why.
-- No end or reason without a start, and no end before it: a row that says otherwise was not written by the service.
ALTER TABLE users ADD COLUMN suspended_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN suspended_until TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN suspension_reason TEXT CHECK (char_length(suspension_reason) <= 500);
ALTER TABLE users ADD CONSTRAINT users_suspension_check CHECK (
    (suspended_at IS NOT NULL OR (suspended_until IS NULL AND suspension_reason IS NULL))
    AND (suspended_until IS NULL OR suspended_until > suspended_at)
);

-- A suspension is part of the user: setting it notifies (see the change_notifications migration), so that instances
-- remembering the user signed in forget them.
DROP TRIGGER users_changed ON users;
CREATE TRIGGER users_changed
    AFTER UPDATE OF object_id, username, email, email_key, email_verified, password_hash, first_name, last_name,
                    website, facebook, instagram, linkedin, x, youtube, suspended_at, suspended_until,
                    suspension_reason, created_at, updated_at
       OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_user_row_changed();
