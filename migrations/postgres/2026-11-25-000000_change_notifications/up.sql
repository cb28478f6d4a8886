-- Every change to what a signed-in user looks like, or to whether their session is live, notifies channel
-- `users_changed` with the user's id, whoever makes it: instances of the service that remember signed-in users
-- forget them on hearing it. PostgreSQL sends notifications on commit, and sends one of identical ones per
-- transaction, so a deletion cascading over many sessions notifies once.

CREATE FUNCTION notify_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('users_changed', OLD.user_id::text);
    ELSE
        PERFORM pg_notify('users_changed', NEW.user_id::text);
        IF TG_OP = 'UPDATE' AND OLD.user_id <> NEW.user_id THEN
            PERFORM pg_notify('users_changed', OLD.user_id::text);
        END IF;
    END IF;
    RETURN NULL;
END $$;

-- The users table names its key `id`. Its sign-in count (failed_logins, locked_until) changes on every sign-in
-- without changing the user, so only updates that set another column fire the trigger; a column added to users later
-- must be added to this list (a test in the PostgreSQL adapter checks that every column but those two notifies).
CREATE FUNCTION notify_user_row_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('users_changed', OLD.id::text);
    RETURN NULL;
END $$;

CREATE TRIGGER users_changed
    AFTER UPDATE OF object_id, username, email, password_hash, first_name, last_name, website, facebook, instagram,
                    linkedin, x, youtube, created_at, updated_at
       OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_user_row_changed();

CREATE TRIGGER user_roles_changed AFTER INSERT OR UPDATE OR DELETE ON user_roles
    FOR EACH ROW EXECUTE FUNCTION notify_user_changed();

-- A refresh only moves a live session's expiry later; that needs no notification (a remembered expiry that is too
-- early costs one read).
CREATE TRIGGER sessions_ended AFTER UPDATE ON sessions
    FOR EACH ROW
    WHEN (NEW.revoked_at IS DISTINCT FROM OLD.revoked_at OR NEW.expires_at < OLD.expires_at
          OR NEW.user_id <> OLD.user_id)
    EXECUTE FUNCTION notify_user_changed();

CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION notify_user_changed();
