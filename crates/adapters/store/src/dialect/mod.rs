//! What differs between the databases the store runs on, as one trait each backend's connection implements: how its
//! errors are told apart, how a unique violation names its index, how the admin memberships, a user's sign-in counts
//! and a user's row are locked, the session-creation and refresh-rotation statements, how users are counted, how
//! queued mail is claimed, and the pieces of the `email_key` migration that are the database's own. Everything else
//! is the same SQL for every backend.

pub(crate) mod postgres;
pub(crate) mod sqlite;

use std::borrow::Cow;
use std::future::Future;

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::result::{DatabaseErrorInformation, Error as DieselError};
use users_domain::ClientDetails;
use users_ports::{NewSession, SessionState, StoreError};

use crate::connection::{PgConnection, SqliteConnection};
use crate::rows::ClaimedMailRow;

/// The database a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// The `store` label of the store's metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::Postgres => PgConnection::STORE,
            Self::Sqlite => SqliteConnection::STORE,
        }
    }

    /// The store's error for `error`: unavailable (a retry later may work: 503) or a fault.
    pub(crate) fn fault(self, error: DieselError) -> StoreError {
        match self {
            Self::Postgres => PgConnection::fault(error),
            Self::Sqlite => SqliteConnection::fault(error),
        }
    }

    /// Whether the database refused a write it would take another time (remembered for the readiness check).
    pub(crate) fn refuses_writes(self, error: &DieselError) -> bool {
        match self {
            Self::Postgres => PgConnection::refuses_writes(error),
            Self::Sqlite => SqliteConnection::refuses_writes(error),
        }
    }

    /// The name of the unique index a violation hit, as the migrations name it.
    pub(crate) fn violated_index(self, info: &dyn DatabaseErrorInformation) -> Option<Cow<'_, str>> {
        match self {
            Self::Postgres => PgConnection::violated_index(info),
            Self::Sqlite => SqliteConnection::violated_index(info),
        }
    }
}

/// A backend's own part of the store. Implemented by each backend's connection type; the queries shared by every
/// backend call it through [`crate::connection::on_backend!`].
pub trait Dialect: Sized + Send {
    /// The `store` label of this backend's metrics.
    const STORE: &'static str;

    /// Tells a database that cannot take work for now (out of reach, read-only, full, too slow) apart from faults a
    /// retry will not cure.
    fn fault(error: DieselError) -> StoreError;

    /// Whether the database refused a write it would take another time: remembered for the readiness check.
    fn refuses_writes(error: &DieselError) -> bool;

    /// The unique index a violation hit, named as the migrations name it (`<table>_<column>_key`).
    fn violated_index(info: &dyn DatabaseErrorInformation) -> Option<Cow<'_, str>>;

    /// Makes the transaction a writer from its start, waiting its turn, where the database would otherwise fail a
    /// transaction that read before it wrote because another connection wrote meanwhile (SQLite). A transaction that
    /// reads something it then writes from calls this first, unless it starts with one of the `lock_` calls below.
    fn begin_writes(conn: &mut Self) -> impl Future<Output = QueryResult<()>> + Send;

    /// The ids of the admins, with their memberships locked for the rest of the transaction, so that two requests
    /// removing two different admins cannot both see "another admin remains".
    fn lock_admins(conn: &mut Self) -> impl Future<Output = QueryResult<Vec<i64>>> + Send;

    /// The user's failed sign-ins and lock, with the row locked for the rest of the transaction, so two sign-in
    /// attempts cannot both read the same count.
    fn lock_login_throttle(
        conn: &mut Self,
        id: i64,
    ) -> impl Future<Output = QueryResult<Option<(i32, Option<DateTime<Utc>>)>>> + Send;

    /// The user's `email_key`, with their row locked for the rest of the transaction, so that the requests for a
    /// user's one-time tokens, the uses of those tokens and the changes of the user's address take turns: each sees
    /// what the one before it wrote. `None` when there is no such user (or its key is not filled in yet).
    fn lock_user_email_key(conn: &mut Self, id: i64) -> impl Future<Output = QueryResult<Option<String>>> + Send;

    /// Claims up to `limit` queued mails due at `now`, in id order, in one statement: each is due again only at
    /// `lease_until`, and its attempts count this one. Concurrent claims, of this instance or another, get disjoint
    /// rows.
    fn claim_mail(
        conn: &mut Self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> impl Future<Output = QueryResult<Vec<ClaimedMailRow>>> + Send;

    /// Starts a session (named by its key, last used at its start, from its device) with its first refresh token if
    /// the user still has the password hash the sign-in checked, and sets the user's last sign-in to the session's
    /// start (and the password hash to `rehashed_password`, when given); the session's id, or `None`. Run in the
    /// caller's transaction, which records the sign-in with it.
    fn create_session(conn: &mut Self, session: &NewSession) -> impl Future<Output = QueryResult<Option<i64>>> + Send;

    /// Uses up a current refresh token and, if its session is live, adds the successor, extends the session and records
    /// its use (at `now`, from `client`), atomically. The session as it stood before; `None` when `used` was not
    /// current.
    fn rotate_refresh_token(
        conn: &mut Self,
        used: &str,
        successor: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        client: &ClientDetails,
    ) -> impl Future<Output = QueryResult<Option<SessionState>>> + Send;

    /// How many users there are.
    fn count_users(conn: &mut Self) -> impl Future<Output = QueryResult<i64>> + Send;
}

/// The `email_key` migration's statements that are each database's own (see `email_keys`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct EmailKeyStatements {
    /// Whether the data step is done: counts the unique index it ends with.
    pub(crate) index_exists: &'static str,
    /// Held while the last rows are keyed, so that no write slips in before the index is made; `None` where the
    /// migration's own transaction already keeps every other writer out.
    pub(crate) hold_user_writes: Option<&'static str>,
    /// The end of the migration, once every row has its key.
    pub(crate) finish: &'static str,
}
