-- Finding users among millions: when each last signed in, and the indexes behind the admin lists' filters and orders.

-- Set by the statement that starts a session (the store's create_session), so a sign-in writes no extra statement.
ALTER TABLE users ADD COLUMN last_sign_in_at TIMESTAMPTZ;

-- It is shown with the user: setting it notifies (see the change_notifications migration).
DROP TRIGGER users_changed ON users;
CREATE TRIGGER users_changed
    AFTER UPDATE OF object_id, username, email, email_key, email_verified, password_hash, first_name, last_name,
                    website, facebook, instagram, linkedin, x, youtube, suspended_at, suspended_until,
                    suspension_reason, created_at, updated_at, last_sign_in_at
       OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_user_row_changed();

-- The start of an address, handle or name, case aside, is a range of these keys: in byte order (collation "C"), so
-- that a prefix is a range whatever the database's locale. The queries spell the same expressions. Each holds the id,
-- so that a search's matches are counted from the indexes alone (a table row read for each costs a hundred times
-- more); an index of an expression is read alone only if it also holds the columns the expression is made of, hence
-- the INCLUDE. None is partial (WHERE ... IS NOT NULL would make them smaller): the planner reads the statistics of an
-- expression from its index, but not from a partial one, and without them it guesses that a prefix no one has
-- matches thousands, and then walks the whole table in id order looking for them.
CREATE INDEX users_email_prefix_idx ON users ((email_key COLLATE "C"), id);
CREATE INDEX users_username_prefix_idx ON users ((lower(username) COLLATE "C"), id) INCLUDE (username);
CREATE INDEX users_first_name_prefix_idx ON users ((lower(first_name) COLLATE "C"), id) INCLUDE (first_name);
CREATE INDEX users_last_name_prefix_idx ON users ((lower(last_name) COLLATE "C"), id) INCLUDE (last_name);

-- The orders (either direction: an index is read backwards as well), each with the id that breaks ties.
CREATE INDEX users_created_at_idx ON users (created_at, id);
-- Never signed in sorts before any time.
CREATE INDEX users_last_sign_in_at_idx ON users (last_sign_in_at NULLS FIRST, id);

-- The rare sides of the status and verification filters; the common sides are read down the order's index.
CREATE INDEX users_suspended_idx ON users (id) WHERE suspended_at IS NOT NULL;
CREATE INDEX users_unverified_idx ON users (id) WHERE NOT email_verified;

-- A role's members in id order, found in the index alone.
CREATE INDEX user_roles_role_id_user_id_idx ON user_roles (role_id, user_id);
DROP INDEX user_roles_role_id_idx;
