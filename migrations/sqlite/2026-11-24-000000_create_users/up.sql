-- Users, their roles, and their sign-in sessions with the refresh tokens issued in each.
-- The same tables as migrations/postgres; timestamps are ISO-8601 UTC text, which sorts as time does.

CREATE TABLE roles (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
INSERT INTO roles (id, name) VALUES (1, 'admin'), (2, 'user');

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    object_id     TEXT NOT NULL CHECK (length(object_id) = 24),
    username      TEXT CHECK (length(username) BETWEEN 1 AND 20),
    email         TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 50),
    password_hash TEXT NOT NULL,
    first_name    TEXT CHECK (length(first_name) BETWEEN 1 AND 20),
    last_name     TEXT CHECK (length(last_name) BETWEEN 1 AND 20),
    website       TEXT CHECK (length(website) <= 100),
    facebook      TEXT CHECK (length(facebook) <= 100),
    instagram     TEXT CHECK (length(instagram) <= 100),
    linkedin      TEXT CHECK (length(linkedin) <= 100),
    x             TEXT CHECK (length(x) <= 100),
    youtube       TEXT CHECK (length(youtube) <= 100),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
-- The adapter maps violations of these indexes to "already taken" errors by their names.
CREATE UNIQUE INDEX users_object_id_key ON users (object_id);
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));

CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id INTEGER NOT NULL REFERENCES roles (id),
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role_id_idx ON user_roles (role_id);

CREATE TABLE sessions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    used_at    TEXT
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
