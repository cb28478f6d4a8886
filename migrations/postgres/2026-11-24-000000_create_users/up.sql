-- Users, their roles, and their sign-in sessions with the refresh tokens issued in each.

CREATE TABLE roles (
    id   BIGINT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
INSERT INTO roles (id, name) VALUES (1, 'admin'), (2, 'user');

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    object_id     TEXT NOT NULL CHECK (object_id ~ '^[0-9a-f]{24}$'),
    username      TEXT CHECK (char_length(username) BETWEEN 1 AND 20),
    email         TEXT NOT NULL CHECK (char_length(email) BETWEEN 3 AND 50),
    password_hash TEXT NOT NULL,
    first_name    TEXT CHECK (char_length(first_name) BETWEEN 1 AND 20),
    last_name     TEXT CHECK (char_length(last_name) BETWEEN 1 AND 20),
    website       TEXT CHECK (char_length(website) <= 100),
    facebook      TEXT CHECK (char_length(facebook) <= 100),
    instagram     TEXT CHECK (char_length(instagram) <= 100),
    linkedin      TEXT CHECK (char_length(linkedin) <= 100),
    x             TEXT CHECK (char_length(x) <= 100),
    youtube       TEXT CHECK (char_length(youtube) <= 100),
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
-- The adapter maps violations of these three indexes to "already taken" errors by their names.
CREATE UNIQUE INDEX users_object_id_key ON users (object_id);
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));

CREATE TABLE user_roles (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id BIGINT NOT NULL REFERENCES roles (id),
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role_id_idx ON user_roles (role_id);

-- One row per sign-in: a refresh-token family. Access tokens name their session, so revoking it ends them too.
CREATE TABLE sessions (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- Every refresh token ever issued in a session, by hash only. A used one presented again betrays a stolen token.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
