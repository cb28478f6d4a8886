-- TRUNCATE fires no row trigger, so the triggers of `change_notifications` never hear of it: emptying the users, their
-- roles or the sessions (an operator's cleanup, a restore, `TRUNCATE ... CASCADE` from a related table) notifies
-- channel `users_changed` with `*`, which tells the instances that remember signed-in users to forget them all.
-- (refresh_tokens is left out: what a signed-in user looks like does not depend on it.)

CREATE FUNCTION notify_all_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('users_changed', '*');
    RETURN NULL;
END $$;

CREATE TRIGGER users_emptied AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION notify_all_users_changed();
CREATE TRIGGER user_roles_emptied AFTER TRUNCATE ON user_roles
    FOR EACH STATEMENT EXECUTE FUNCTION notify_all_users_changed();
CREATE TRIGGER sessions_emptied AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_all_users_changed();
