CREATE INDEX user_roles_role_id_idx ON user_roles (role_id);
DROP INDEX user_roles_role_id_user_id_idx;
DROP INDEX users_unverified_idx;
DROP INDEX users_suspended_idx;
DROP INDEX users_last_sign_in_at_idx;
DROP INDEX users_created_at_idx;
DROP INDEX users_last_name_prefix_idx;
DROP INDEX users_first_name_prefix_idx;
ALTER TABLE users DROP COLUMN last_sign_in_at;
