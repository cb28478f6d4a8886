-- The audit log: the same as migrations/postgres. AUTOINCREMENT, so that an id is never given again once the newest
-- events are pruned (a plain rowid would reuse it, and a page read before would skip the new events).
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    -- AuditKind::as_str; a kind added to the service is added here.
    kind       TEXT NOT NULL CHECK (kind IN (
                   'user.registered', 'user.created', 'user.updated', 'user.deleted', 'user.signed_in',
                   'user.sign_in_failed', 'user.locked', 'user.unlocked', 'user.signed_out', 'session.revoked',
                   'password.changed', 'password.reset_requested', 'password.reset', 'email.changed',
                   'email.verified', 'roles.changed', 'user.suspended', 'user.unsuspended', 'mfa.enabled',
                   'mfa.disabled', 'user.imported')),
    -- No foreign keys: an account's events outlive it, and an actor may be deleted before the events they caused.
    actor_id   INTEGER,
    subject_id INTEGER,
    ip         TEXT CHECK (length(ip) <= 45),
    user_agent TEXT CHECK (length(user_agent) <= 512),
    -- A JSON object, as text.
    details    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details) AND json_type(details) = 'object')
);

-- The same indexes as migrations/postgres, for the same reads: each a walk down one index in id order, stopped after
-- a page. (The partial indexes' condition is written as the queries write it, which SQLite needs to use them.)
CREATE INDEX audit_events_kind_idx ON audit_events (kind, id);
CREATE INDEX audit_events_subject_idx ON audit_events (subject_id, id);
CREATE INDEX audit_events_subject_kind_idx ON audit_events (subject_id, kind, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, id)
    WHERE actor_id IS NOT NULL AND subject_id IS DISTINCT FROM actor_id;
CREATE INDEX audit_events_actor_kind_idx ON audit_events (actor_id, kind, id)
    WHERE actor_id IS NOT NULL AND subject_id IS DISTINCT FROM actor_id;
CREATE INDEX audit_events_at_idx ON audit_events (at);
