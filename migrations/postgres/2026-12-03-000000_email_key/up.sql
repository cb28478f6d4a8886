-- One meaning of "the same email" on every store: a key lower-cased by Unicode's rules, computed by the service
-- (SQL lower() depends on the store and, on SQLite, folds ASCII letters only). The service fills it for existing
-- rows after this migration, then makes it unique and NOT NULL and drops users_email_lower_key; accounts whose
-- addresses then collide are reported and stop the start until an operator resolves them.
ALTER TABLE users ADD COLUMN email_key TEXT;

-- The key is a column of the user like the others: setting it notifies (see the change_notifications migration).
DROP TRIGGER users_changed ON users;
CREATE TRIGGER users_changed
    AFTER UPDATE OF object_id, username, email, email_key, password_hash, first_name, last_name, website, facebook,
                    instagram, linkedin, x, youtube, created_at, updated_at
       OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_user_row_changed();
