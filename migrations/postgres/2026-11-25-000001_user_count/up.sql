-- The number of users, kept by triggers, so that a page of the user list does not count the whole table: one row,
-- changed by every statement that adds or removes users (a registration holds its lock only until it commits).

-- A user added or removed between the count below and the creation of the triggers would never be counted: this lock
-- waits for the transactions already writing users to end, and keeps new writes waiting until the migration commits
-- (reads go on).
LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE user_count (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    users     BIGINT NOT NULL CHECK (users >= 0)
);
INSERT INTO user_count (users) SELECT count(*) FROM users;

CREATE FUNCTION count_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE user_count SET users = users + (SELECT count(*) FROM added);
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE user_count SET users = users - (SELECT count(*) FROM removed);
    ELSE
        UPDATE user_count SET users = 0;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER users_added AFTER INSERT ON users
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION count_users();
CREATE TRIGGER users_removed AFTER DELETE ON users
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION count_users();
CREATE TRIGGER users_truncated AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION count_users();
