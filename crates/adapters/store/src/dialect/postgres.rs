//! PostgreSQL's own part of the store: row locks with `FOR UPDATE` (and mail claimed past them, `SKIP LOCKED`),
//! data-modifying CTEs that create a session and rotate a refresh token in one statement each, a trigger-kept user
//! count, and SQLSTATE-classed errors.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorInformation, Error as DieselError};
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use users_domain::{ClientDetails, Role, UserId};
use users_ports::{NewSession, PasswordHash, SessionId, SessionState, StoreError};

use super::{Dialect, EmailKeyStatements};
use crate::connection::PgConnection;
use crate::rows::{ClaimedMailRow, stored_client};
use crate::schema::{Stamp, mail_outbox, user_roles, users};

#[derive(QueryableByName)]
struct CreatedSession {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// The row the rotation statement returns: the session of the token it used up, as it stood before.
#[derive(QueryableByName)]
struct RotatedSession {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    user_id: i64,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    expires_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    revoked_at: Option<DateTime<Utc>>,
}

impl Dialect for PgConnection {
    const STORE: &'static str = "postgres";

    /// Tells the server being out of reach, shutting down, out of space, read-only or too slow apart from faults a retry
    /// will not cure.
    fn fault(error: DieselError) -> StoreError {
        use diesel::result::DatabaseErrorKind;
        /// The server's own messages for SQLSTATE classes 57 (operator intervention, a cancelled statement: timeouts,
        /// recovery conflicts, a backend killed after another crashed) and 08 (connection), which diesel reports as
        /// `Unknown` with the message; and what the driver says when the connection died under a query.
        const OUT_OF_SERVICE: [&str; 7] = [
            "canceling statement due to",
            "terminating connection",
            "the database system is",
            "connection closed",
            "error communicating with the server",
            "server closed the connection",
            "could not connect to server",
        ];
        let unavailable = Self::refuses_writes(&error)
            || match &error {
                DieselError::DatabaseError(
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                    _,
                ) => true,
                DieselError::DatabaseError(_, info) => OUT_OF_SERVICE.iter().any(|sign| info.message().contains(sign)),
                _ => false,
            };
        if unavailable { StoreError::unavailable(error) } else { StoreError::new(error) }
    }

    /// Whether the server refused a write it would take another time: it is read-only (a standby, a full disk's
    /// `default_transaction_read_only`) or out of space. Remembered for the readiness check; timeouts and lost
    /// connections are not (they say nothing of the next write, and a slow moment must not take every instance out of
    /// rotation at once).
    fn refuses_writes(error: &DieselError) -> bool {
        use diesel::result::DatabaseErrorKind;
        match error {
            DieselError::DatabaseError(DatabaseErrorKind::ReadOnlyTransaction, _) => true,
            DieselError::DatabaseError(_, info) => info.message().contains("No space left on device"),
            _ => false,
        }
    }

    /// Locks the admin memberships for the rest of the transaction (`FOR UPDATE`) and returns whose they are, so that
    /// two requests removing two different admins cannot both see "another admin remains".
    async fn lock_admins(conn: &mut Self) -> Result<Vec<i64>, DieselError> {
        user_roles::table
            .filter(user_roles::role_id.eq(Role::Admin.id()))
            .select(user_roles::user_id)
            .for_update()
            .load(conn)
            .await
    }

    /// The user's failed sign-ins and lock, with the row locked for the rest of the transaction (`FOR UPDATE`), so two
    /// sign-in attempts cannot both read the same count.
    async fn lock_login_throttle(
        conn: &mut Self,
        id: i64,
    ) -> Result<Option<(i32, Option<DateTime<Utc>>)>, DieselError> {
        users::table
            .find(id)
            .select((users::failed_logins, users::locked_until))
            .for_update()
            .first(conn)
            .await
            .optional()
    }

    /// Nothing to do: PostgreSQL's row locks (`FOR UPDATE` in the `lock_` calls) order what needs ordering, and a
    /// transaction that read first may still write after another connection did.
    async fn begin_writes(_conn: &mut Self) -> Result<(), DieselError> {
        Ok(())
    }

    /// The user's `email_key`, with the row locked for the rest of the transaction (`FOR UPDATE`): a request for a token,
    /// a use of one and a change of address wait for each other.
    async fn lock_user_email_key(conn: &mut Self, id: i64) -> Result<Option<String>, DieselError> {
        let key: Option<Option<String>> =
            users::table.find(id).select(users::email_key).for_update().first(conn).await.optional()?;
        Ok(key.flatten())
    }

    /// Claims due mail with `FOR UPDATE SKIP LOCKED` in the subquery that picks it: the workers of several instances
    /// claiming at once each pass over the rows another is claiming and take the next ones, instead of waiting for
    /// them and finding them no longer due.
    async fn claim_mail(
        conn: &mut Self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ClaimedMailRow>, DieselError> {
        let due = diesel::alias!(mail_outbox as due);
        let picked = due
            .select(due.field(mail_outbox::id))
            .filter(due.field(mail_outbox::failed_at).is_null())
            .filter(due.field(mail_outbox::next_attempt_at).le(Stamp(now)))
            .order(due.field(mail_outbox::id))
            .limit(limit)
            .for_update()
            .skip_locked();
        diesel::update(mail_outbox::table.filter(mail_outbox::id.eq_any(picked)))
            .set((
                mail_outbox::next_attempt_at.eq(Stamp(lease_until)),
                mail_outbox::attempts.eq(mail_outbox::attempts + 1),
            ))
            .returning(ClaimedMailRow::columns())
            .get_results(conn)
            .await
    }

    /// Starts a session with its first refresh token, in one statement, if the user still has the password hash the
    /// sign-in checked, and sets the user's last sign-in (and rehashed password) in the same statement. The update's
    /// row lock makes a password change under way finish first, after which the hash no longer matches; a change that
    /// starts after this waits for this transaction, then ends this session too.
    async fn create_session(conn: &mut Self, session: &NewSession) -> Result<Option<i64>, DieselError> {
        const CREATE: &str = "
            WITH signed_in AS (
                UPDATE users SET last_sign_in_at = $2, password_hash = COALESCE($9, password_hash)
                WHERE id = $1 AND password_hash = $4 AND (suspended_at IS NULL OR suspended_until <= $2)
                RETURNING id
            ), created AS (
                INSERT INTO sessions (user_id, created_at, last_used_at, expires_at, public_id, user_agent, ip)
                SELECT id, $2, $2, $3, $6, $7, $8 FROM signed_in
                RETURNING id
            ), issued AS (
                INSERT INTO refresh_tokens (token_hash, session_id, created_at) SELECT $5, id, $2 FROM created
            )
            SELECT id FROM created";
        let (ip, user_agent) = stored_client(&session.client);
        let created: Option<CreatedSession> = diesel::sql_query(CREATE)
            .bind::<BigInt, _>(session.user_id.0)
            .bind::<Timestamptz, _>(session.created_at)
            .bind::<Timestamptz, _>(session.expires_at)
            .bind::<Text, _>(session.password_hash.as_str())
            .bind::<Text, _>(&session.refresh_token_hash.0)
            .bind::<Text, _>(session.key.as_str())
            .bind::<Nullable<Text>, _>(user_agent)
            .bind::<Nullable<Text>, _>(ip)
            .bind::<Nullable<Text>, _>(session.rehashed_password.as_ref().map(PasswordHash::as_str))
            .get_result(conn)
            .await
            .optional()?;
        Ok(created.map(|created| created.id))
    }

    /// Uses up a current refresh token and, if its session is live, adds the successor, extends the session and records
    /// its use and device: one statement, so one round trip and one commit. The session's row lock, taken first, keeps
    /// a concurrent revocation or deletion either wholly before or wholly after. `None` when `used` was not current.
    async fn rotate_refresh_token(
        conn: &mut Self,
        used: &str,
        successor: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        client: &ClientDetails,
    ) -> Result<Option<SessionState>, DieselError> {
        // The session's row is updated (so locked) before the token's: `used` reads `extended`, so it runs first. That
        // is the order in which deleting a user cascades (users, sessions, refresh_tokens); taken the other way round,
        // the two deadlocked. A session that is no longer live is locked the same way but left as it is, and gets no
        // successor. Each CASE judges the row as it stands when locked (a FROM clause that judged it once, before the lock,
        // could let a revocation committed meanwhile through).
        const ROTATE: &str = "
            WITH extended AS (
                UPDATE sessions
                SET expires_at = CASE WHEN revoked_at IS NULL AND expires_at > $1 THEN $3 ELSE expires_at END,
                    last_used_at = CASE WHEN revoked_at IS NULL AND expires_at > $1 THEN $1 ELSE last_used_at END,
                    user_agent = CASE WHEN revoked_at IS NULL AND expires_at > $1 THEN $5 ELSE user_agent END,
                    ip = CASE WHEN revoked_at IS NULL AND expires_at > $1 THEN $6 ELSE ip END
                WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $2 AND used_at IS NULL)
                RETURNING id, revoked_at IS NULL AND expires_at > $1 AS live
            ), used AS (
                UPDATE refresh_tokens SET used_at = $1
                WHERE token_hash = $2 AND used_at IS NULL AND session_id IN (SELECT id FROM extended)
                RETURNING session_id
            ), added AS (
                INSERT INTO refresh_tokens (token_hash, session_id, created_at)
                SELECT $4, extended.id, $1 FROM extended JOIN used ON used.session_id = extended.id WHERE extended.live
            )
            SELECT sessions.id, sessions.user_id, sessions.created_at, sessions.expires_at, sessions.revoked_at
            FROM sessions JOIN used ON sessions.id = used.session_id";
        let (ip, user_agent) = stored_client(client);
        let row: Option<RotatedSession> = diesel::sql_query(ROTATE)
            .bind::<Timestamptz, _>(now)
            .bind::<Text, _>(used)
            .bind::<Timestamptz, _>(expires_at)
            .bind::<Text, _>(successor)
            .bind::<Nullable<Text>, _>(user_agent)
            .bind::<Nullable<Text>, _>(ip)
            .get_result(conn)
            .await
            .optional()?;
        Ok(row.map(|row| SessionState {
            id: SessionId(row.id),
            user_id: UserId(row.user_id),
            authenticated_at: row.created_at,
            expires_at: row.expires_at,
            revoked: row.revoked_at.is_some(),
        }))
    }

    /// How many users there are: kept by triggers in `user_count`, so a page of the list does not count the table.
    async fn count_users(conn: &mut Self) -> Result<i64, DieselError> {
        diesel::select(diesel::dsl::sql::<BigInt>("(SELECT users FROM user_count)")).get_result(conn).await
    }

    /// PostgreSQL reports the violated index by name.
    fn violated_index(info: &dyn DatabaseErrorInformation) -> Option<Cow<'_, str>> {
        info.constraint_name().map(Into::into)
    }
}

/// The `email_key` migration's own statements on PostgreSQL.
pub(crate) const EMAIL_KEY: EmailKeyStatements = EmailKeyStatements {
    index_exists: "SELECT count(*) AS present FROM pg_indexes \
     WHERE schemaname = current_schema() AND indexname = 'users_email_key_key'",
    // Other sessions read on, but their inserts, updates and deletes of users wait until the migration commits.
    hold_user_writes: Some("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"),
    finish: "CREATE UNIQUE INDEX users_email_key_key ON users (email_key); \
     ALTER TABLE users ALTER COLUMN email_key SET NOT NULL; DROP INDEX IF EXISTS users_email_lower_key;",
};
