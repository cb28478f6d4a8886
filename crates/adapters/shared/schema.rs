//! Diesel's description of the tables in `migrations/postgres` and `migrations/sqlite`. The stores differ only in
//! their timestamp type, which each adapter's `backend` module names as `StoredTime`.

diesel::table! {
    use diesel::sql_types::*;
    use crate::backend::StoredTime;

    roles (id) {
        id -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::backend::StoredTime;

    users (id) {
        id -> BigInt,
        object_id -> Text,
        username -> Nullable<Text>,
        email -> Text,
        /// `Email::key`: what uniqueness and sign-in compare. NULL only on rows older than the migration that
        /// added it, until the service fills it at start.
        email_key -> Nullable<Text>,
        password_hash -> Text,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        website -> Nullable<Text>,
        facebook -> Nullable<Text>,
        instagram -> Nullable<Text>,
        linkedin -> Nullable<Text>,
        x -> Nullable<Text>,
        youtube -> Nullable<Text>,
        created_at -> StoredTime,
        updated_at -> StoredTime,
        failed_logins -> Integer,
        locked_until -> Nullable<StoredTime>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::backend::StoredTime;

    user_roles (user_id, role_id) {
        user_id -> BigInt,
        role_id -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::backend::StoredTime;

    sessions (id) {
        id -> BigInt,
        user_id -> BigInt,
        created_at -> StoredTime,
        expires_at -> StoredTime,
        revoked_at -> Nullable<StoredTime>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::backend::StoredTime;

    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> BigInt,
        created_at -> StoredTime,
        used_at -> Nullable<StoredTime>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::backend::StoredTime;

    login_throttles (user_id, network) {
        user_id -> BigInt,
        network -> Text,
        failures -> Integer,
        in_flight -> Integer,
        in_flight_since -> Nullable<StoredTime>,
        locked_until -> Nullable<StoredTime>,
        updated_at -> StoredTime,
    }
}

diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(user_roles -> roles (role_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(login_throttles -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(roles, users, user_roles, sessions, refresh_tokens, login_throttles);

diesel::define_sql_function! {
    /// SQL `lower(text)`: the case folding the unique indexes on email and username are built on.
    fn lower(value: diesel::sql_types::Text) -> diesel::sql_types::Text;
}
