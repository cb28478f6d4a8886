-- The sign-ins waiting for a code go first: the narrower check would refuse their rows.
DELETE FROM one_time_tokens WHERE purpose = 'mfa_sign_in';
ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check;
ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password'));
DROP TABLE recovery_codes;
DROP TABLE totp_factors;
DROP TRIGGER users_changed ON users;
ALTER TABLE users DROP COLUMN mfa_enabled;
CREATE TRIGGER users_changed
    AFTER UPDATE OF object_id, username, email, email_key, email_verified, password_hash, first_name, last_name,
                    website, facebook, instagram, linkedin, x, youtube, suspended_at, suspended_until,
                    suspension_reason, created_at, updated_at, last_sign_in_at
       OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_user_row_changed();
