-- Finding users: the same as migrations/postgres. SQLite compares text in byte order (BINARY) unless told otherwise,
-- so a prefix is a range of these keys as they are; its lower() folds the letters A to Z only.

ALTER TABLE users ADD COLUMN last_sign_in_at TEXT;

-- The email key's prefix is read from its unique index; the username's from users_username_lower_key.
CREATE INDEX users_first_name_prefix_idx ON users (lower(first_name));
CREATE INDEX users_last_name_prefix_idx ON users (lower(last_name));

CREATE INDEX users_created_at_idx ON users (created_at, id);
-- SQLite sorts NULL first: never signed in comes before any time, as on PostgreSQL.
CREATE INDEX users_last_sign_in_at_idx ON users (last_sign_in_at, id);

CREATE INDEX users_suspended_idx ON users (id) WHERE suspended_at IS NOT NULL;
CREATE INDEX users_unverified_idx ON users (id) WHERE NOT email_verified;

CREATE INDEX user_roles_role_id_user_id_idx ON user_roles (role_id, user_id);
DROP INDEX user_roles_role_id_idx;
