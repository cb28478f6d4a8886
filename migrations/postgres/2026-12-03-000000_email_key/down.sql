DROP INDEX IF EXISTS users_email_key_key;
CREATE UNIQUE INDEX IF NOT EXISTS users_email_lower_key ON users (lower(email));
DROP TRIGGER users_changed ON users;
ALTER TABLE users DROP COLUMN email_key;
CREATE TRIGGER users_changed
    AFTER UPDATE OF object_id, username, email, password_hash, first_name, last_name, website, facebook, instagram,
                    linkedin, x, youtube, created_at, updated_at
       OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_user_row_changed();
