-- Failed sign-ins counted per account and client network (IPv4 /24, IPv6 /64), so that an attacker's failures
-- lock only the attacker's network out of the account, and the owner signing in from elsewhere goes on. The
-- account-wide count in users (failed_logins, locked_until) stays as the backstop against guessing spread over
-- many networks.
CREATE TABLE login_throttles (
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    network      TEXT NOT NULL CHECK (char_length(network) <= 100),
    -- Failed sign-ins in a row from this network.
    failures     INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    -- Attempts whose password is being checked now; with the failures, what the threshold is measured against.
    in_flight    INTEGER NOT NULL DEFAULT 0 CHECK (in_flight >= 0),
    -- Since when attempts have been under way without a pause: for longer than a check can take, they were lost
    -- (a crash, a request dropped when its client hung up).
    in_flight_since TIMESTAMPTZ,
    locked_until TIMESTAMPTZ,
    -- The last attempt's start or end, for the purge of idle counts.
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, network)
);
CREATE INDEX login_throttles_updated_at_idx ON login_throttles (updated_at);
