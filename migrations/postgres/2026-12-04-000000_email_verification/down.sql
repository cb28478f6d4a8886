DROP TABLE mail_outbox;
DROP TABLE one_time_tokens;
DROP TRIGGER users_changed ON users;
ALTER TABLE users DROP COLUMN email_verified;
CREATE TRIGGER users_changed
    AFTER UPDATE OF object_id, username, email, email_key, password_hash, first_name, last_name, website, facebook,
                    instagram, linkedin, x, youtube, created_at, updated_at
       OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_user_row_changed();
