DROP INDEX IF EXISTS users_email_key_key;
CREATE UNIQUE INDEX IF NOT EXISTS users_email_lower_key ON users (lower(email));
ALTER TABLE users DROP COLUMN email_key;
