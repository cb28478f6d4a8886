DROP TRIGGER users_changed ON users;
CREATE TRIGGER users_changed
    AFTER UPDATE OF object_id, username, email, email_key, email_verified, password_hash, first_name, last_name,
                    website, facebook, instagram, linkedin, x, youtube, created_at, updated_at
       OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_user_row_changed();
ALTER TABLE users DROP CONSTRAINT users_suspension_check;
ALTER TABLE users DROP COLUMN suspension_reason;
ALTER TABLE users DROP COLUMN suspended_until;
ALTER TABLE users DROP COLUMN suspended_at;
ALTER TABLE sessions DROP COLUMN ip;
ALTER TABLE sessions DROP COLUMN user_agent;
ALTER TABLE sessions DROP COLUMN last_used_at;
DROP INDEX sessions_public_id_key;
ALTER TABLE sessions DROP COLUMN public_id;
