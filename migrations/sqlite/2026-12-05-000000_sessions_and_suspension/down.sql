ALTER TABLE users DROP COLUMN suspension_reason;
ALTER TABLE users DROP COLUMN suspended_until;
ALTER TABLE users DROP COLUMN suspended_at;
ALTER TABLE sessions DROP COLUMN ip;
ALTER TABLE sessions DROP COLUMN user_agent;
DROP TRIGGER sessions_named;
ALTER TABLE sessions DROP COLUMN last_used_at;
DROP INDEX sessions_public_id_key;
ALTER TABLE sessions DROP COLUMN public_id;
