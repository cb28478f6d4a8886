//! SQLite's own part of the store: no row locks (every write runs on the single writer connection), one transaction
//! where PostgreSQL has a data-modifying CTE, a plain count, a plain claim of queued mail, and errors told apart by
//! SQLite's fixed messages.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorInformation, Error as DieselError};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use users_domain::{ClientDetails, Role};
use users_ports::{NewSession, SessionState, StoreError};

use super::{Dialect, EmailKeyStatements};
use crate::connection::{AnyConnection as _, SqliteConnection};
use crate::rows::{ClaimedMailRow, stored_client};
use crate::schema::{Stamp, StoredTime, mail_outbox, refresh_tokens, sessions, user_roles, users};

impl Dialect for SqliteConnection {
    const STORE: &'static str = "sqlite";

    /// Tells a database that cannot take work for now (a full disk, a read-only file or mount, an I/O error, a lock held
    /// past the busy timeout by another process) apart from faults a retry will not cure. SQLite's extended codes are
    /// not passed on by diesel; its messages for them are fixed strings.
    fn fault(error: DieselError) -> StoreError {
        const BUSY: [&str; 2] = ["database is locked", "unable to open database file"];
        match &error {
            _ if Self::refuses_writes(&error) => StoreError::unavailable(error),
            DieselError::DatabaseError(_, info) if BUSY.iter().any(|sign| info.message().contains(sign)) => {
                StoreError::unavailable(error)
            }
            _ => StoreError::new(error),
        }
    }

    /// Whether the database refused a write it would take another time: the disk is full, the file or its mount is
    /// read-only, the disk fails. Remembered for the readiness check; a lock held by another process is not (it says
    /// nothing of the next write).
    fn refuses_writes(error: &DieselError) -> bool {
        const REFUSALS: [&str; 3] =
            ["database or disk is full", "attempt to write a readonly database", "disk I/O error"];
        matches!(error, DieselError::DatabaseError(_, info) if REFUSALS.iter().any(|sign| info.message().contains(sign)))
    }

    /// Takes the database's write lock, waiting for it as `busy_timeout` allows, as `BEGIN IMMEDIATE` would.
    /// Otherwise the transaction's first write, after its reads, fails at once ("database is locked") whenever another
    /// connection to the file (a second instance, `create-admin`, an operator's shell) wrote since those reads, for
    /// SQLite cannot move a reader's snapshot forward.
    async fn begin_writes(conn: &mut Self) -> Result<(), DieselError> {
        diesel::sql_query("UPDATE roles SET name = name WHERE id = 1").execute(conn).await.map(drop)
    }

    /// SQLite has no row locks: the database's write lock, taken first, keeps every other writer (this instance's
    /// single writer connection runs one transaction at a time; other instances wait for the lock) from changing the
    /// admin memberships between this read and the transaction's end.
    async fn lock_admins(conn: &mut Self) -> Result<Vec<i64>, DieselError> {
        Self::begin_writes(conn).await?;
        user_roles::table.filter(user_roles::role_id.eq(Role::Admin.id())).select(user_roles::user_id).load(conn).await
    }

    /// The user's failed sign-ins and lock, behind the database's write lock, for the reason `lock_admins` gives.
    async fn lock_login_throttle(
        conn: &mut Self,
        id: i64,
    ) -> Result<Option<(i32, Option<DateTime<Utc>>)>, DieselError> {
        Self::begin_writes(conn).await?;
        users::table.find(id).select((users::failed_logins, users::locked_until)).first(conn).await.optional()
    }

    /// The user's `email_key`, behind the database's write lock, for the reason `lock_admins` gives.
    async fn lock_user_email_key(conn: &mut Self, id: i64) -> Result<Option<String>, DieselError> {
        Self::begin_writes(conn).await?;
        let key: Option<Option<String>> =
            users::table.find(id).select(users::email_key).first(conn).await.optional()?;
        Ok(key.flatten())
    }

    /// Claims due mail in one `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`; claims, like every write, take
    /// turns on the writer connection, so each sees the leases of the one before.
    async fn claim_mail(
        conn: &mut Self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ClaimedMailRow>, DieselError> {
        // Looked for first: an idle outbox (the usual case, looked at every second by every instance) takes no write
        // lock, which other instances on the same file would have to wait for.
        let any_due = mail_outbox::table
            .filter(mail_outbox::failed_at.is_null())
            .filter(mail_outbox::next_attempt_at.le(Stamp(now)));
        if !diesel::select(diesel::dsl::exists(any_due)).get_result::<bool>(conn).await? {
            return Ok(Vec::new());
        }
        let due = diesel::alias!(mail_outbox as due);
        let picked = due
            .select(due.field(mail_outbox::id))
            .filter(due.field(mail_outbox::failed_at).is_null())
            .filter(due.field(mail_outbox::next_attempt_at).le(Stamp(now)))
            .order(due.field(mail_outbox::id))
            .limit(limit);
        diesel::update(mail_outbox::table.filter(mail_outbox::id.eq_any(picked)))
            .set((
                mail_outbox::next_attempt_at.eq(Stamp(lease_until)),
                mail_outbox::attempts.eq(mail_outbox::attempts + 1),
            ))
            .returning(ClaimedMailRow::columns())
            .get_results(conn)
            .await
    }

    /// Starts a session with its first refresh token if the user still has the password hash the sign-in checked, in the
    /// caller's transaction. The single writer connection runs that transaction wholly before or after a password
    /// change (and the ending of sessions that comes with it).
    async fn create_session(conn: &mut Self, session: &NewSession) -> Result<Option<i64>, DieselError> {
        let (ip, user_agent) = stored_client(&session.client);
        let user = users::table
            .filter(users::id.eq(session.user_id.0))
            .filter(users::password_hash.eq(session.password_hash.as_str()))
            // Not suspended meanwhile: a suspension that lifts by itself counts from its end.
            .filter(users::suspended_at.is_null().or(users::suspended_until.le(Stamp(session.created_at))))
            .select((
                users::id,
                Stamp(session.created_at).into_sql::<StoredTime>(),
                Stamp(session.created_at).into_sql::<StoredTime>(),
                Stamp(session.expires_at).into_sql::<StoredTime>(),
                session.key.as_str().into_sql::<Text>(),
                user_agent.into_sql::<Nullable<Text>>(),
                ip.as_deref().into_sql::<Nullable<Text>>(),
            ));
        let created: Option<i64> = diesel::insert_into(sessions::table)
            .values(user)
            .into_columns((
                sessions::user_id,
                sessions::created_at,
                sessions::last_used_at,
                sessions::expires_at,
                sessions::public_id,
                sessions::user_agent,
                sessions::ip,
            ))
            .returning(sessions::id)
            .get_result(conn)
            .await
            .optional()?;
        let Some(id) = created else { return Ok(None) };
        diesel::insert_into(refresh_tokens::table)
            .values((
                refresh_tokens::token_hash.eq(&session.refresh_token_hash.0),
                refresh_tokens::session_id.eq(id.into_sql::<BigInt>()),
                refresh_tokens::created_at.eq(Stamp(session.created_at)),
            ))
            .execute(conn)
            .await?;
        let signed_in = users::table.filter(users::id.eq(session.user_id.0));
        match &session.rehashed_password {
            None => diesel::update(signed_in).set(users::last_sign_in_at.eq(Stamp(session.created_at))).execute(conn),
            Some(rehashed) => diesel::update(signed_in)
                .set((users::last_sign_in_at.eq(Stamp(session.created_at)), users::password_hash.eq(rehashed.as_str())))
                .execute(conn),
        }
        .await?;
        Ok(Some(id))
    }

    /// Uses up a current refresh token and, if its session is live, adds the successor, extends the session and records
    /// its use and device, in one transaction (SQLite has no data-modifying CTEs; an embedded store pays nothing per
    /// statement). `None` when `used` was not current.
    async fn rotate_refresh_token(
        conn: &mut Self,
        used: &str,
        successor: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        client: &ClientDetails,
    ) -> Result<Option<SessionState>, DieselError> {
        let (ip, user_agent) = stored_client(client);
        conn.transaction(async |conn| {
            let consumed: Option<i64> = diesel::update(
                refresh_tokens::table
                    .filter(refresh_tokens::token_hash.eq(used))
                    .filter(refresh_tokens::used_at.is_null()),
            )
            .set(refresh_tokens::used_at.eq(Stamp(now)))
            .returning(refresh_tokens::session_id)
            .get_result(conn)
            .await
            .optional()?;
            let Some(session_id) = consumed else { return Ok(None) };
            let Some(session) = crate::sessions::session_state(conn.any(), session_id).await? else { return Ok(None) };
            if session.is_live(now) {
                diesel::update(sessions::table.find(session_id))
                    .set((
                        sessions::expires_at.eq(Stamp(expires_at)),
                        sessions::last_used_at.eq(Stamp(now)),
                        sessions::user_agent.eq(user_agent),
                        sessions::ip.eq(ip.as_deref()),
                    ))
                    .execute(conn)
                    .await?;
                diesel::insert_into(refresh_tokens::table)
                    .values((
                        refresh_tokens::token_hash.eq(successor),
                        refresh_tokens::session_id.eq(session_id),
                        refresh_tokens::created_at.eq(Stamp(now)),
                    ))
                    .execute(conn)
                    .await?;
            }
            Ok(Some(session))
        })
        .await
    }

    /// How many users there are: SQLite counts a table this size faster than a trigger-kept count would pay off.
    async fn count_users(conn: &mut Self) -> Result<i64, DieselError> {
        users::table.count().get_result(conn).await
    }

    /// SQLite names the index only in its message: "UNIQUE constraint failed: index 'users_username_lower_key'" for an
    /// index on an expression, and only the columns, "UNIQUE constraint failed: users.email_key", for one on columns.
    /// Those are named here as PostgreSQL names unique constraints, `<table>_<column>_key`, as the migrations do.
    fn violated_index(info: &dyn DatabaseErrorInformation) -> Option<Cow<'_, str>> {
        let message = info.message();
        if let Some(start) = message.find("index '").map(|at| at + "index '".len()) {
            let end = start + message[start..].find('\'')?;
            return Some(message[start..end].into());
        }
        let columns = message.strip_prefix("UNIQUE constraint failed: ")?;
        let (table, column) = columns.split_once('.')?;
        (!column.contains(',')).then(|| format!("{table}_{column}_key").into())
    }
}

/// The `email_key` migration's own statements on SQLite.
pub(crate) const EMAIL_KEY: EmailKeyStatements = EmailKeyStatements {
    index_exists: "SELECT count(*) AS present FROM sqlite_master WHERE type = 'index' AND name = 'users_email_key_key'",
    // Nothing to hold: the migrations run in an immediate transaction, which already keeps every other writer out.
    hold_user_writes: None,
    // SQLite cannot add NOT NULL to a column; every write sets the key.
    finish: "CREATE UNIQUE INDEX users_email_key_key ON users (email_key); DROP INDEX IF EXISTS users_email_lower_key;",
};

#[cfg(test)]
mod tests {
    use diesel::Connection as _;
    use diesel::connection::SimpleConnection as _;

    use super::*;

    fn database() -> diesel::SqliteConnection {
        let mut connection = diesel::SqliteConnection::establish(":memory:").unwrap();
        connection.batch_execute("CREATE TABLE notes (body TEXT NOT NULL)").unwrap();
        connection
    }

    #[test]
    fn a_full_database_is_unavailable_not_broken() {
        let mut connection = database();
        // The database may not grow: what a full disk does to a write.
        connection.batch_execute("PRAGMA max_page_count = 3").unwrap();
        let full = (0..1_000)
            .map(|_| connection.batch_execute("INSERT INTO notes VALUES (randomblob(1000))"))
            .find_map(Result::err)
            .expect("the database fills up");

        let error = SqliteConnection::fault(full);

        assert!(error.is_unavailable(), "{error}");
    }

    #[test]
    fn a_database_that_refuses_writes_is_unavailable_not_broken() {
        let mut connection = database();
        connection.batch_execute("PRAGMA query_only = ON").unwrap();
        let refused = connection.batch_execute("INSERT INTO notes VALUES ('x')").unwrap_err();

        assert!(SqliteConnection::fault(refused).is_unavailable());
    }

    #[test]
    fn other_errors_are_faults() {
        let mut connection = database();
        let broken = connection.batch_execute("INSERT INTO no_such_table VALUES (1)").unwrap_err();

        assert!(!SqliteConnection::fault(broken).is_unavailable());
    }
}
