DROP TRIGGER sessions_deleted ON sessions;
DROP TRIGGER sessions_ended ON sessions;
DROP TRIGGER user_roles_changed ON user_roles;
DROP TRIGGER users_changed ON users;
DROP FUNCTION notify_user_row_changed();
DROP FUNCTION notify_user_changed();
