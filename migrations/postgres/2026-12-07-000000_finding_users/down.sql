CREATE INDEX user_roles_role_id_idx ON user_roles (role_id);
DROP INDEX user_roles_role_id_user_id_idx;
DROP INDEX users_unverified_idx;
DROP INDEX users_suspended_idx;
DROP INDEX users_last_sign_in_at_idx;
DROP INDEX users_created_at_idx;
DROP INDEX users_last_name_prefix_idx;
DROP INDEX users_first_name_prefix_idx;
DROP INDEX users_username_prefix_idx;
DROP INDEX users_email_prefix_idx;
DROP TRIGGER users_changed ON users;
ALTER TABLE users DROP COLUMN last_sign_in_at;
CREATE TRIGGER users_changed
    AFTER UPDATE OF object_id, username, email, email_key, email_verified, password_hash, first_name, last_name,
                    website, facebook, instagram, linkedin, x, youtube, suspended_at, suspended_until,
                    suspension_reason, created_at, updated_at
       OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_user_row_changed();
