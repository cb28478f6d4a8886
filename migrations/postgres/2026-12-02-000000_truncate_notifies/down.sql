DROP TRIGGER sessions_emptied ON sessions;
DROP TRIGGER user_roles_emptied ON user_roles;
DROP TRIGGER users_emptied ON users;
DROP FUNCTION notify_all_users_changed();
