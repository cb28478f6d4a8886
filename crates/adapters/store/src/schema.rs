//! Diesel's description of the tables in `migrations/postgres` and `migrations/sqlite`, one for both: they differ
//! only in how a timestamp is stored, which [`StoredTime`] hides.

use chrono::{DateTime, Utc};
use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{Timestamptz, TimestamptzSqlite};
use diesel::sqlite::{Sqlite, SqliteValue};

/// The SQL type of the timestamp columns: `timestamptz` on PostgreSQL, and on SQLite the text diesel's
/// `TimestamptzSqlite` reads and writes; a `DateTime<Utc>` either way.
#[derive(Clone, Copy, Debug, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId)]
#[diesel(postgres_type(oid = 1184, array_oid = 1185))]
#[diesel(sqlite_type(name = "Text"))]
pub struct StoredTime;

impl FromSql<StoredTime, Pg> for DateTime<Utc> {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        <Self as FromSql<Timestamptz, Pg>>::from_sql(value)
    }
}

impl FromSql<StoredTime, Sqlite> for DateTime<Utc> {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        <Self as FromSql<TimestamptzSqlite, Sqlite>>::from_sql(value)
    }
}

/// A time as a query parameter of the timestamp columns (diesel binds a `DateTime` to one SQL type per backend;
/// the columns here have [`StoredTime`]). Read back, a column is a `DateTime<Utc>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, diesel::expression::AsExpression)]
#[diesel(sql_type = StoredTime)]
pub struct Stamp(pub DateTime<Utc>);

impl ToSql<StoredTime, Pg> for Stamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <DateTime<Utc> as ToSql<Timestamptz, Pg>>::to_sql(&self.0, out)
    }
}

impl ToSql<StoredTime, Sqlite> for Stamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        <DateTime<Utc> as ToSql<TimestamptzSqlite, Sqlite>>::to_sql(&self.0, out)
    }
}

impl From<DateTime<Utc>> for Stamp {
    fn from(time: DateTime<Utc>) -> Self {
        Self(time)
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::schema::StoredTime;

    roles (id) {
        id -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::schema::StoredTime;

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
        email_verified -> Bool,
        /// A suspension: all three NULL, or `suspended_at` set (the others as the suspension has them).
        suspended_at -> Nullable<StoredTime>,
        suspended_until -> Nullable<StoredTime>,
        suspension_reason -> Nullable<Text>,
        /// Set by the statement that starts a session.
        last_sign_in_at -> Nullable<StoredTime>,
        /// Whether the user has a confirmed TOTP factor: set and cleared with the factor, in its transaction.
        mfa_enabled -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::schema::StoredTime;

    user_roles (user_id, role_id) {
        user_id -> BigInt,
        role_id -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::schema::StoredTime;

    sessions (id) {
        id -> BigInt,
        user_id -> BigInt,
        created_at -> StoredTime,
        expires_at -> StoredTime,
        revoked_at -> Nullable<StoredTime>,
        /// `SessionKey::as_str`: the name clients see.
        public_id -> Text,
        last_used_at -> StoredTime,
        user_agent -> Nullable<Text>,
        /// `IpAddr`'s text form.
        ip -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::schema::StoredTime;

    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> BigInt,
        created_at -> StoredTime,
        used_at -> Nullable<StoredTime>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::schema::StoredTime;

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

diesel::table! {
    use diesel::sql_types::*;
    use crate::schema::StoredTime;

    one_time_tokens (token_hash) {
        token_hash -> Text,
        user_id -> BigInt,
        /// `TokenPurpose::as_str`.
        purpose -> Text,
        /// The `users.email_key` the token was made for.
        email_key -> Text,
        created_at -> StoredTime,
        expires_at -> StoredTime,
        used_at -> Nullable<StoredTime>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::schema::StoredTime;

    mail_outbox (id) {
        id -> BigInt,
        /// `MailKind::as_str`.
        kind -> Text,
        recipient -> Text,
        /// The token the mail carries, in clear, until the mail is sent.
        token -> Nullable<Text>,
        new_email -> Nullable<Text>,
        queued_at -> StoredTime,
        next_attempt_at -> StoredTime,
        attempts -> Integer,
        failed_at -> Nullable<StoredTime>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::schema::StoredTime;

    audit_events (id) {
        id -> BigInt,
        at -> StoredTime,
        /// `AuditKind::as_str`.
        kind -> Text,
        /// No foreign key, to users nor anything else: events outlive the accounts they name.
        actor_id -> Nullable<BigInt>,
        subject_id -> Nullable<BigInt>,
        /// `IpAddr`'s text form.
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        /// A JSON object.
        details -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::schema::StoredTime;

    totp_factors (user_id) {
        user_id -> BigInt,
        /// `SealedSecret`: opaque to the store.
        secret -> Text,
        created_at -> StoredTime,
        /// NULL while the enrolment is pending.
        enabled_at -> Nullable<StoredTime>,
        /// `TotpStep` of the last code accepted.
        last_used_step -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::schema::StoredTime;

    recovery_codes (user_id, code_hash) {
        user_id -> BigInt,
        /// `RecoveryCodeHash`.
        code_hash -> Text,
        used_at -> Nullable<StoredTime>,
        created_at -> StoredTime,
    }
}

diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(user_roles -> roles (role_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(login_throttles -> users (user_id));
diesel::joinable!(one_time_tokens -> users (user_id));
diesel::joinable!(totp_factors -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    roles,
    users,
    user_roles,
    sessions,
    refresh_tokens,
    login_throttles,
    one_time_tokens,
    mail_outbox,
    audit_events,
    totp_factors,
    recovery_codes,
);

diesel::define_sql_function! {
    /// SQL `lower(text)`: the case folding the unique indexes on email and username are built on.
    fn lower(value: diesel::sql_types::Text) -> diesel::sql_types::Text;
}
