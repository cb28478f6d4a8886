-- Failed sign-ins counted per account and client network: the same table as migrations/postgres.
CREATE TABLE login_throttles (
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    network      TEXT NOT NULL CHECK (length(network) <= 100),
    failures     INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    in_flight    INTEGER NOT NULL DEFAULT 0 CHECK (in_flight >= 0),
    in_flight_since TEXT,
    locked_until TEXT,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (user_id, network)
);
CREATE INDEX login_throttles_updated_at_idx ON login_throttles (updated_at);
