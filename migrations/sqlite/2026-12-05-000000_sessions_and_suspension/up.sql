-- Sessions as their owner is shown them and suspended accounts: the same as migrations/postgres.

-- SQLite adds a NOT NULL column only with a constant default: the sessions started before this get their random
-- name and their last use (their start) right after, and a session inserted without them (by an instance of the
-- previous version sharing the file, which writes neither) gets them from the trigger below. The service gives every
-- new session its own.
ALTER TABLE sessions ADD COLUMN public_id TEXT NOT NULL DEFAULT '';
UPDATE sessions SET public_id = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX sessions_public_id_key ON sessions (public_id);
ALTER TABLE sessions ADD COLUMN last_used_at TEXT NOT NULL DEFAULT '';
UPDATE sessions SET last_used_at = created_at;
CREATE TRIGGER sessions_named AFTER INSERT ON sessions WHEN NEW.public_id = ''
BEGIN
    UPDATE sessions SET public_id = lower(hex(randomblob(16))), last_used_at = NEW.created_at WHERE id = NEW.id;
END;

-- The device of the sign-in or latest refresh, shown to the owner and never trusted (see migrations/postgres).
ALTER TABLE sessions ADD COLUMN user_agent TEXT CHECK (length(user_agent) <= 512);
ALTER TABLE sessions ADD COLUMN ip TEXT CHECK (length(ip) <= 45);

-- A suspension: no end or reason without a start, and no end before it. (SQLite adds no table constraint to an
-- existing table: each column checks its part. Timestamps are text that sorts as time does.)
ALTER TABLE users ADD COLUMN suspended_at TEXT;
ALTER TABLE users ADD COLUMN suspended_until TEXT
    CHECK (suspended_until IS NULL OR (suspended_at IS NOT NULL AND suspended_until > suspended_at));
ALTER TABLE users ADD COLUMN suspension_reason TEXT
    CHECK (suspension_reason IS NULL OR (suspended_at IS NOT NULL AND length(suspension_reason) <= 500));
