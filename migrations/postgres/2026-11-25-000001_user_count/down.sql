DROP TRIGGER users_truncated ON users;
DROP TRIGGER users_removed ON users;
DROP TRIGGER users_added ON users;
DROP FUNCTION count_users();
DROP TABLE user_count;
