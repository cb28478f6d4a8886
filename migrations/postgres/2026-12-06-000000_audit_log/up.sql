-- The audit log: who did what to which account, from where. The store writes each event in the transaction of the
-- change it records, so a change and its event stand or fall together; events are read newest first, a page at a
-- time, and pruned by age.
--
-- No foreign keys: an account's events outlive it (its deletion is one of them), and an actor may be deleted before
-- the events they caused.
CREATE TABLE audit_events (
    -- Only grows: it orders the events and pages through them (`id < before`), also across pruning.
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    -- AuditKind::as_str; a kind added to the service is added here.
    kind       TEXT NOT NULL CHECK (kind IN (
                   'user.registered', 'user.created', 'user.updated', 'user.deleted', 'user.signed_in',
                   'user.sign_in_failed', 'user.locked', 'user.unlocked', 'user.signed_out', 'session.revoked',
                   'password.changed', 'password.reset_requested', 'password.reset', 'email.changed',
                   'email.verified', 'roles.changed', 'user.suspended', 'user.unsuspended', 'mfa.enabled',
                   'mfa.disabled', 'user.imported')),
    -- Who did it (NULL: nobody signed in), and the account it is about.
    actor_id   BIGINT,
    subject_id BIGINT,
    -- The client, as a session keeps it: shown, never trusted (see the sessions_and_suspension migration).
    ip         TEXT CHECK (char_length(ip) <= 45),
    user_agent TEXT CHECK (char_length(user_agent) <= 512),
    -- A JSON object, as text: the service writes and reads it whole, and never queries inside it.
    details    TEXT NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details::jsonb) = 'object')
);

-- Each read is a walk down one index in id order, stopped after a page, whatever the size of the log: the newest
-- events overall (the primary key, backwards), of a kind, about an account, about an account and of a kind. Events
-- done by an account to another (an admin's) are found through the partial indexes below, which hold only those:
-- most events are an account's own doing, or nobody's, and are found by their subject. The two walks of a user's
-- page so never see the same event, and neither index has an entry for most rows.
CREATE INDEX audit_events_kind_idx ON audit_events (kind, id);
CREATE INDEX audit_events_subject_idx ON audit_events (subject_id, id);
CREATE INDEX audit_events_subject_kind_idx ON audit_events (subject_id, kind, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, id)
    WHERE actor_id IS NOT NULL AND subject_id IS DISTINCT FROM actor_id;
CREATE INDEX audit_events_actor_kind_idx ON audit_events (actor_id, kind, id)
    WHERE actor_id IS NOT NULL AND subject_id IS DISTINCT FROM actor_id;
-- The pruning of old events.
CREATE INDEX audit_events_at_idx ON audit_events (at);
