-- One meaning of "the same email" on every store: a key lower-cased by Unicode's rules, computed by the service
-- (SQL lower() depends on the store and, on SQLite, folds ASCII letters only). The service fills it for existing
-- rows after this migration, then makes it unique (every write sets it) and drops users_email_lower_key; accounts whose
-- addresses then collide are reported and stop the start until an operator resolves them.
ALTER TABLE users ADD COLUMN email_key TEXT;
