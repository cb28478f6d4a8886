//! The users' queries: `UserRepository` on diesel, for every backend.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, RunQueryDsl};
use users_domain::{
    AttemptOutcome, ClientDetails, ClientNetwork, LockoutPolicy, LoginAttempt, LoginIdentifier, LoginThrottle,
    NetworkThrottle, ObjectId, Role, Suspension, SuspensionReason, User, UserId,
};
use users_ports::{
    AuditRecord, DeleteUserError, EndSessions, InsertUserError, NewUser, Page, PasswordHash, SessionId, SignedIn,
    StoreError, StoredCredentials, SuspendUserError, Total, UpdateUserError, UserQuery, UserRepository, UserUpdate,
};

use crate::connection::{AnyConnection as _, Conn, on_backend};
use crate::dialect::{Backend, Dialect};
use crate::pool::Pools;
use crate::rows::{NewUserRow, UserChangeset, UserRow};
use crate::schema::{Stamp, login_throttles, lower, roles, sessions, user_roles, users};
use crate::user_list;

#[derive(Clone)]
pub(crate) struct UserQueries {
    pools: Pools,
}

impl std::fmt::Debug for UserQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserQueries").finish_non_exhaustive()
    }
}

impl UserQueries {
    pub(crate) fn new(pools: Pools) -> Self {
        Self { pools }
    }

    /// See [`user_list::explain`].
    pub(crate) async fn explain(
        &self,
        statement: &user_list::UserListStatement,
        analyze: bool,
    ) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pools.reader().await?;
        user_list::explain(conn.any(), statement, analyze).await.map_err(|error| self.pools.fault(error))
    }
}

/// Which unique index a violation hit, by the names given in the migration.
enum Taken {
    Email,
    Username,
}

fn taken(error: &DieselError, backend: Backend) -> Option<Taken> {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            match backend.violated_index(info.as_ref()).as_deref() {
                Some("users_email_key_key") => Some(Taken::Email),
                Some("users_username_lower_key") => Some(Taken::Username),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Errors inside the delete and role transactions: a refusal, or a database error that rolls the transaction back.
enum TxError<E> {
    Refused(E),
    Database(DieselError),
}

impl<E> From<DieselError> for TxError<E> {
    fn from(error: DieselError) -> Self {
        Self::Database(error)
    }
}

/// Folds the rows of a users ⟕ user_roles join (one row per role) into the user.
pub(crate) fn single_user(rows: impl IntoIterator<Item = (UserRow, Option<i64>)>) -> Result<Option<User>, StoreError> {
    let mut rows = rows.into_iter();
    let Some((row, first_role)) = rows.next() else { return Ok(None) };
    let roles = first_role.into_iter().chain(rows.filter_map(|(_, role)| role));
    row.into_user(roles).map(Some)
}

async fn roles_of(conn: Conn<'_>, ids: &[i64]) -> Result<HashMap<i64, Vec<i64>>, DieselError> {
    let pairs =
        user_roles::table.filter(user_roles::user_id.eq_any(ids)).select((user_roles::user_id, user_roles::role_id));
    let pairs: Vec<(i64, i64)> = on_backend!(conn, |c| pairs.load(c).await)?;
    let mut by_user: HashMap<i64, Vec<i64>> = HashMap::new();
    for (user_id, role_id) in pairs {
        by_user.entry(user_id).or_default().push(role_id);
    }
    Ok(by_user)
}

/// The rows of one user joined with their roles (one row per role).
pub(crate) async fn user_rows(conn: Conn<'_>, id: i64) -> Result<Vec<(UserRow, Option<i64>)>, DieselError> {
    let rows = users::table
        .left_join(user_roles::table)
        .filter(users::id.eq(id))
        .select((UserRow::columns(), user_roles::role_id.nullable()));
    on_backend!(conn, |c| rows.load(c).await)
}

/// The ids of `roles`, sorted and without duplicates, ready to insert as memberships.
fn role_ids(roles: &[Role]) -> Vec<i64> {
    let mut ids: Vec<i64> = roles.iter().map(|role| role.id()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Gives the user the roles with these ids, in one `INSERT … SELECT` (a multi-row `VALUES` is not available on every
/// backend through diesel-async).
async fn add_memberships(conn: Conn<'_>, user_id: i64, role_ids: &[i64]) -> Result<usize, DieselError> {
    let memberships = roles::table.filter(roles::id.eq_any(role_ids)).select((user_id.into_sql::<BigInt>(), roles::id));
    let insert = diesel::insert_into(user_roles::table)
        .values(memberships)
        .into_columns((user_roles::user_id, user_roles::role_id));
    on_backend!(conn, |c| insert.execute(c).await)
}

/// Whether taking `id` out of the admins (deleting, demoting or suspending it) would leave no admin active at `at`:
/// it is an admin, and every other one is suspended then (or there is none). A suspended admin cannot lift a
/// suspension, nor do anything else an admin does. The admin memberships stay locked to the end of the transaction
/// (on SQLite, the write lock is taken first), so that two admins taken out at once cannot each count the other as
/// the one left.
async fn is_last_active_admin(mut conn: Conn<'_>, id: i64, at: DateTime<Utc>) -> QueryResult<bool> {
    let admins = on_backend!(conn.any(), |c| Dialect::lock_admins(c).await)?;
    Ok(admins.contains(&id) && !another_active_admin(conn, &admins, id, at).await?)
}

/// Whether an admin of `admins` other than `id` is active at `at`: not suspended, or suspended until no later than
/// `at` (a suspension with an end lifts by itself then).
async fn another_active_admin(conn: Conn<'_>, admins: &[i64], id: i64, at: DateTime<Utc>) -> QueryResult<bool> {
    let others: Vec<i64> = admins.iter().copied().filter(|admin| *admin != id).collect();
    let active = users::table
        .filter(users::id.eq_any(others))
        .filter(users::suspended_at.is_null().or(users::suspended_until.le(Stamp(at))));
    on_backend!(conn, |c| diesel::select(diesel::dsl::exists(active)).get_result(c).await)
}

/// A row of `login_throttles`: the domain's `NetworkThrottle` as stored.
#[derive(Clone, Copy, Debug, Queryable, Selectable)]
#[diesel(table_name = login_throttles, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct NetworkThrottleRow {
    failures: i32,
    in_flight: i32,
    in_flight_since: Option<DateTime<Utc>>,
    locked_until: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

impl NetworkThrottleRow {
    /// The row's columns in its fields' order, a selection every backend runs (see `UserRow::columns`).
    fn columns() -> <Self as Selectable<diesel::pg::Pg>>::SelectExpression {
        <Self as Selectable<diesel::pg::Pg>>::construct_selection()
    }
}

impl From<NetworkThrottleRow> for NetworkThrottle {
    fn from(row: NetworkThrottleRow) -> Self {
        Self {
            failures: count(row.failures),
            in_flight: count(row.in_flight),
            in_flight_since: row.in_flight_since,
            locked_until: row.locked_until,
            updated_at: row.updated_at,
        }
    }
}

/// A stored count; the columns are never negative.
fn count(stored: i32) -> u32 {
    u32::try_from(stored).unwrap_or(0)
}

/// A count as stored.
fn stored(count: u32) -> i32 {
    i32::try_from(count).unwrap_or(i32::MAX)
}

/// The account's counts from its row's `failed_logins` and `locked_until`.
fn account_throttle((failed_logins, locked_until): (i32, Option<DateTime<Utc>>)) -> LoginThrottle {
    LoginThrottle { failed_logins: count(failed_logins), locked_until }
}

/// Every sign-in count of the user, by network.
async fn network_throttles(conn: Conn<'_>, user_id: i64) -> QueryResult<Vec<(String, NetworkThrottle)>> {
    let throttles = login_throttles::table
        .filter(login_throttles::user_id.eq(user_id))
        .select((login_throttles::network, NetworkThrottleRow::columns()));
    let rows: Vec<(String, NetworkThrottleRow)> = on_backend!(conn, |c| throttles.load(c).await)?;
    Ok(rows.into_iter().map(|(network, row)| (network, row.into())).collect())
}

async fn network_throttle(
    conn: Conn<'_>,
    user_id: i64,
    network: &ClientNetwork,
) -> QueryResult<Option<NetworkThrottle>> {
    let throttle = login_throttles::table.find((user_id, network.as_str())).select(NetworkThrottleRow::columns());
    let row: Option<NetworkThrottleRow> = on_backend!(conn, |c| throttle.first(c).await.optional())?;
    Ok(row.map(Into::into))
}

/// Writes the counts back: an update of the row, or its first insert. Callers hold the user's row lock, so no other
/// attempt of this account inserts the same row meanwhile.
async fn save_network_throttle(
    conn: Conn<'_>,
    user_id: i64,
    network: &ClientNetwork,
    throttle: NetworkThrottle,
) -> QueryResult<()> {
    let values = (
        login_throttles::failures.eq(stored(throttle.failures)),
        login_throttles::in_flight.eq(stored(throttle.in_flight)),
        login_throttles::in_flight_since.eq(throttle.in_flight_since.map(Stamp)),
        login_throttles::locked_until.eq(throttle.locked_until.map(Stamp)),
        login_throttles::updated_at.eq(Stamp(throttle.updated_at)),
    );
    on_backend!(conn, |c| {
        let updated =
            diesel::update(login_throttles::table.find((user_id, network.as_str()))).set(values).execute(c).await?;
        if updated == 0 {
            diesel::insert_into(login_throttles::table)
                .values((login_throttles::user_id.eq(user_id), login_throttles::network.eq(network.as_str()), values))
                .execute(c)
                .await?;
        }
        Ok(())
    })
}

/// Forgets every failed sign-in and lock of the user, from every network; whether the user exists.
pub(crate) async fn forget_sign_in_failures(mut conn: Conn<'_>, user_id: i64) -> QueryResult<bool> {
    let throttles = diesel::delete(login_throttles::table.filter(login_throttles::user_id.eq(user_id)));
    on_backend!(conn.any(), |c| throttles.execute(c).await)?;
    let account = diesel::update(users::table.find(user_id))
        .set((users::failed_logins.eq(0), users::locked_until.eq(None::<Stamp>)));
    let found = on_backend!(conn, |c| account.execute(c).await)?;
    Ok(found > 0)
}

impl UserRepository for UserQueries {
    async fn insert(&self, user: NewUser) -> Result<User, InsertUserError> {
        let mut conn = self.pools.writer().await?;
        let role_ids = role_ids(&user.roles);
        let result = on_backend!(conn.any(), |conn| conn
            .transaction(async |conn| {
                let row: UserRow = diesel::insert_into(users::table)
                    .values(NewUserRow::from(&user))
                    .returning(UserRow::as_returning())
                    .get_result(conn)
                    .await?;
                add_memberships(conn.any(), row.id(), &role_ids).await?;
                if let Some(verification) = &user.verification {
                    crate::one_time_tokens::store_mailed(conn.any(), row.id(), verification).await?;
                }
                crate::audit::record(conn.any(), UserId(row.id()), &user.audit).await?;
                Ok::<_, DieselError>(row)
            })
            .await);
        match result {
            Ok(row) => Ok(row.into_user(role_ids)?),
            Err(error) => Err(match taken(&error, self.pools.backend()) {
                Some(Taken::Email) => InsertUserError::DuplicateEmail,
                Some(Taken::Username) => InsertUserError::DuplicateUsername,
                None => InsertUserError::Unexpected(self.pools.fault(error)),
            }),
        }
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let mut conn = self.pools.reader().await?;
        single_user(user_rows(conn.any(), id.0).await.map_err(|error| self.pools.fault(error))?)
    }

    async fn find_by_object_id(&self, id: ObjectId) -> Result<Option<User>, StoreError> {
        let mut conn = self.pools.reader().await?;
        let rows = users::table
            .left_join(user_roles::table)
            .filter(users::object_id.eq(id.to_string()))
            .select((UserRow::columns(), user_roles::role_id.nullable()));
        let rows = on_backend!(conn.any(), |c| rows.load(c).await).map_err(|error| self.pools.fault(error))?;
        single_user(rows)
    }

    async fn find_credentials(&self, login: &LoginIdentifier) -> Result<Option<StoredCredentials>, StoreError> {
        let mut conn = self.pools.reader().await?;
        type CredentialRow = (UserRow, (String, i32, Option<DateTime<Utc>>), Option<i64>);
        let rows: Vec<CredentialRow> = on_backend!(conn.any(), |c| {
            let query = users::table.left_join(user_roles::table).into_boxed();
            let query = match login {
                LoginIdentifier::Email(email) => query.filter(users::email_key.eq(email.key().into_string())),
                LoginIdentifier::Username(username) => {
                    query.filter(lower(users::username.assume_not_null()).eq(lower(username.as_str())))
                }
            };
            query
                .select((
                    UserRow::columns(),
                    (users::password_hash, users::failed_logins, users::locked_until),
                    user_roles::role_id.nullable(),
                ))
                .load(c)
                .await
        })
        .map_err(|error| self.pools.fault(error))?;
        let (password_hash, throttle) = match rows.as_slice() {
            [(_, (hash, failed_logins, locked_until), _), ..] => {
                (PasswordHash::new(hash.clone()), account_throttle((*failed_logins, *locked_until)))
            }
            [] => return Ok(None),
        };
        let rows = rows.into_iter().map(|(row, _, role)| (row, role));
        Ok(single_user(rows)?.map(|user| StoredCredentials { user, password_hash, throttle }))
    }

    async fn find_session(
        &self,
        id: UserId,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<SignedIn>, StoreError> {
        let mut conn = self.pools.reader().await?;
        let rows = users::table
            .inner_join(sessions::table)
            .left_join(user_roles::table)
            .filter(users::id.eq(id.0))
            .filter(sessions::id.eq(session.0))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(Stamp(now)))
            .select((UserRow::columns(), user_roles::role_id.nullable(), sessions::expires_at));
        let rows: Vec<(UserRow, Option<i64>, DateTime<Utc>)> =
            on_backend!(conn.any(), |c| rows.load(c).await).map_err(|error| self.pools.fault(error))?;
        let Some(&(_, _, expires_at)) = <[_]>::first(&rows) else { return Ok(None) };
        let user = single_user(rows.into_iter().map(|(row, role, _)| (row, role)))?;
        Ok(user.map(|user| SignedIn { user, session_expires_at: expires_at }))
    }

    async fn update(&self, id: UserId, update: UserUpdate) -> Result<User, UpdateUserError> {
        let mut conn = self.pools.writer().await?;
        let role_ids = update.roles.as_deref().map(role_ids);
        on_backend!(conn.any(), |conn| conn
            .transaction(async |conn| {
                if let Some(role_ids) = &role_ids
                    && !role_ids.contains(&Role::Admin.id())
                    && is_last_active_admin(conn.any(), id.0, update.updated_at).await?
                {
                    return Err(TxError::Refused(UpdateUserError::LastAdmin));
                }
                let updated =
                    diesel::update(users::table.find(id.0)).set(UserChangeset::from(&update)).execute(conn).await?;
                if updated == 0 {
                    return Err(TxError::Refused(UpdateUserError::NotFound));
                }
                if let Some(role_ids) = &role_ids {
                    diesel::delete(user_roles::table.filter(user_roles::user_id.eq(id.0))).execute(conn).await?;
                    add_memberships(conn.any(), id.0, role_ids).await?;
                }
                if let Some(ends) = update.ends_sessions {
                    crate::sessions::end_sessions(conn.any(), id.0, ends, update.updated_at).await?;
                }
                let new_key = update.email.as_ref().map(|email| email.key());
                match (&update.password_hash, &new_key) {
                    (Some(_), _) => {
                        crate::one_time_tokens::void_tokens(conn.any(), id.0, None, update.updated_at).await?
                    }
                    (None, Some(key)) => {
                        crate::one_time_tokens::void_tokens(conn.any(), id.0, Some(key.as_str()), update.updated_at)
                            .await?
                    }
                    (None, None) => {}
                }
                let since = update.updated_at - update.mail_interval;
                if let Some(verification) = &update.verification
                    && !crate::one_time_tokens::verified_since(conn.any(), &verification.mail.to, since).await?
                {
                    crate::one_time_tokens::store_mailed(conn.any(), id.0, verification).await?;
                }
                for notice in &update.notices {
                    if !crate::one_time_tokens::verified_since(conn.any(), &notice.to, since).await? {
                        crate::outbox::queue(conn.any(), notice, update.updated_at).await?;
                    }
                }
                crate::audit::record(conn.any(), id, &update.audit).await?;
                // Read back in the same transaction, so a concurrent delete cannot make an applied update look failed.
                Ok(user_rows(conn.any(), id.0).await?)
            })
            .await)
        .map_err(|error| match error {
            TxError::Refused(refusal) => refusal,
            TxError::Database(error) => match taken(&error, self.pools.backend()) {
                Some(Taken::Email) => UpdateUserError::DuplicateEmail,
                Some(Taken::Username) => UpdateUserError::DuplicateUsername,
                None => UpdateUserError::Unexpected(self.pools.fault(error)),
            },
        })
        .and_then(|rows| single_user(rows)?.ok_or(UpdateUserError::NotFound))
    }

    async fn begin_login_attempt(
        &self,
        id: UserId,
        network: &ClientNetwork,
        now: DateTime<Utc>,
        lockout: &LockoutPolicy,
    ) -> Result<LoginAttempt, StoreError> {
        let mut conn = self.pools.writer().await?;
        on_backend!(conn.any(), |conn| conn
            .transaction::<_, DieselError, _>(async |conn| {
                // The user's row stays locked to the end of the transaction: concurrent attempts on this account, from
                // this instance or another, take their turn, and each sees the counts the previous one left.
                let Some(account) = Dialect::lock_login_throttle(conn, id.0).await? else {
                    return Ok(LoginAttempt::Allowed);
                };
                let throttles = network_throttles(conn.any(), id.0).await?;
                let this = throttles.iter().find(|(name, _)| name == network.as_str()).map(|(_, throttle)| *throttle);
                let everywhere = throttles.iter().map(|(_, throttle)| *throttle);
                let (attempt, counted) = lockout.begin_attempt(account_throttle(account), this, everywhere, now);
                if let Some(throttle) = counted {
                    save_network_throttle(conn.any(), id.0, network, throttle).await?;
                }
                Ok(attempt)
            })
            .await)
        .map_err(|error| self.pools.fault(error))
    }

    async fn finish_login_attempt(
        &self,
        id: UserId,
        network: &ClientNetwork,
        outcome: AttemptOutcome,
        now: DateTime<Utc>,
        lockout: &LockoutPolicy,
        client: &ClientDetails,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut conn = self.pools.writer().await?;
        on_backend!(conn.any(), |conn| conn
            .transaction::<_, DieselError, _>(async |conn| {
                let Some(account) = Dialect::lock_login_throttle(conn, id.0).await? else {
                    return Ok(None);
                };
                let this = network_throttle(conn.any(), id.0, network).await?;
                let finished = lockout.finish_attempt(account_throttle(account), this, outcome, now);
                save_network_throttle(conn.any(), id.0, network, finished.network).await?;
                if let Some(account) = finished.account {
                    diesel::update(users::table.find(id.0))
                        .set((
                            users::failed_logins.eq(stored(account.failed_logins)),
                            users::locked_until.eq(account.locked_until.map(Stamp)),
                        ))
                        .execute(conn)
                        .await?;
                }
                let records = users_ports::sign_in_records(network, outcome, &finished, now, client);
                crate::audit::record(conn.any(), id, &records).await?;
                Ok(finished.locked_until)
            })
            .await)
        .map_err(|error| self.pools.fault(error))
    }

    async fn clear_lockout(&self, id: UserId, audit: AuditRecord) -> Result<bool, StoreError> {
        let mut conn = self.pools.writer().await?;
        on_backend!(conn.any(), |conn| conn
            .transaction::<_, DieselError, _>(async |conn| {
                let found = forget_sign_in_failures(conn.any(), id.0).await?;
                if found {
                    crate::audit::record(conn.any(), id, std::slice::from_ref(&audit)).await?;
                }
                Ok(found)
            })
            .await)
        .map_err(|error| self.pools.fault(error))
    }

    async fn purge_login_throttles(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut conn = self.pools.writer().await?;
        let purge = diesel::delete(
            login_throttles::table
                .filter(login_throttles::updated_at.lt(Stamp(before)))
                .filter(login_throttles::locked_until.is_null().or(login_throttles::locked_until.lt(Stamp(before)))),
        );
        let purged = on_backend!(conn.any(), |c| purge.execute(c).await).map_err(|error| self.pools.fault(error))?;
        Ok(u64::try_from(purged).unwrap_or_default())
    }

    async fn suspend(&self, id: UserId, suspension: Suspension, audit: AuditRecord) -> Result<User, SuspendUserError> {
        let mut conn = self.pools.writer().await?;
        let since = suspension.since;
        let rows = on_backend!(conn.any(), |conn| conn
            .transaction(async |conn| {
                if is_last_active_admin(conn.any(), id.0, since).await? {
                    return Err(TxError::Refused(SuspendUserError::LastActiveAdmin));
                }
                let suspended = diesel::update(users::table.find(id.0))
                    .set((
                        users::suspended_at.eq(Stamp(since)),
                        users::suspended_until.eq(suspension.until.map(Stamp)),
                        users::suspension_reason.eq(suspension.reason.as_ref().map(SuspensionReason::as_str)),
                        users::updated_at.eq(Stamp(since)),
                    ))
                    .execute(conn)
                    .await?;
                if suspended == 0 {
                    return Err(TxError::Refused(SuspendUserError::NotFound));
                }
                // Nothing made before the suspension lets its holder back in once it lifts: no session, no mailed
                // link to set a new password with, no sign-in waiting for its code (a verification link changes
                // nothing the suspension is about).
                crate::sessions::end_sessions(conn.any(), id.0, EndSessions::All, since).await?;
                let voided = &users_ports::TokenPurpose::VOIDED_BY_A_RESET;
                crate::one_time_tokens::void_tokens_of(conn.any(), id.0, voided, since).await?;
                crate::audit::record(conn.any(), id, std::slice::from_ref(&audit)).await?;
                Ok(user_rows(conn.any(), id.0).await?)
            })
            .await)
        .map_err(|error| match error {
            TxError::Refused(refusal) => refusal,
            TxError::Database(error) => SuspendUserError::Unexpected(self.pools.fault(error)),
        })?;
        single_user(rows)?.ok_or(SuspendUserError::NotFound)
    }

    async fn unsuspend(&self, id: UserId, now: DateTime<Utc>, audit: AuditRecord) -> Result<Option<User>, StoreError> {
        let mut conn = self.pools.writer().await?;
        let rows = on_backend!(conn.any(), |conn| conn
            .transaction::<_, DieselError, _>(async |conn| {
                // A user never suspended (or lifted already) stays as is, the time of its update too.
                let suspended = users::table.find(id.0).filter(users::suspended_at.is_not_null());
                let lifted = diesel::update(suspended)
                    .set((
                        users::suspended_at.eq(None::<Stamp>),
                        users::suspended_until.eq(None::<Stamp>),
                        users::suspension_reason.eq(None::<&str>),
                        users::updated_at.eq(Stamp(now)),
                    ))
                    .execute(conn)
                    .await?;
                if lifted > 0 {
                    crate::audit::record(conn.any(), id, std::slice::from_ref(&audit)).await?;
                }
                let rows = user_rows(conn.any(), id.0).await?;
                Ok((!rows.is_empty()).then_some(rows))
            })
            .await)
        .map_err(|error| self.pools.fault(error))?;
        rows.map_or(Ok(None), single_user)
    }

    async fn delete(&self, id: UserId, audit: AuditRecord) -> Result<(), DeleteUserError> {
        let mut conn = self.pools.writer().await?;
        on_backend!(conn.any(), |conn| conn
            .transaction(async |conn| {
                if is_last_active_admin(conn.any(), id.0, audit.at).await? {
                    return Err(TxError::Refused(DeleteUserError::LastAdmin));
                }
                // Roles, sessions, refresh tokens, one-time tokens and the second factor with its recovery codes go
                // with the user (ON DELETE CASCADE); queued mail stays, to be delivered, and so do the user's audit
                // events, this one among them.
                if diesel::delete(users::table.find(id.0)).execute(conn).await? == 0 {
                    return Err(TxError::Refused(DeleteUserError::NotFound));
                }
                crate::audit::record(conn.any(), id, std::slice::from_ref(&audit)).await?;
                Ok(())
            })
            .await)
        .map_err(|error| match error {
            TxError::Refused(refusal) => refusal,
            TxError::Database(error) => DeleteUserError::Unexpected(self.pools.fault(error)),
        })
    }

    async fn list(&self, query: &UserQuery) -> Result<Page<User>, StoreError> {
        let mut conn = self.pools.list_reader().await?;
        let rows = user_list::load_page(conn.any(), query).await.map_err(|error| self.pools.fault(error))?;
        let ids: Vec<i64> = rows.iter().map(UserRow::id).collect();
        let mut roles = roles_of(conn.any(), &ids).await.map_err(|error| self.pools.fault(error))?;
        let total = if query.filter.is_empty() {
            let total =
                on_backend!(conn.any(), |c| Dialect::count_users(c).await).map_err(|error| self.pools.fault(error))?;
            Total::Exact(u64::try_from(total).unwrap_or_default())
        } else {
            let counted = user_list::count_matches(conn.any(), query).await.map_err(|error| self.pools.fault(error))?;
            user_list::filtered_total(counted, query.count_limit)
        };
        let items = rows
            .into_iter()
            .map(|row| {
                let role_ids = roles.remove(&row.id()).unwrap_or_default();
                row.into_user(role_ids)
            })
            .collect::<Result<_, _>>()?;
        Ok(Page { items, total })
    }

    async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
        let mut conn = self.pools.reader().await?;
        let ids = roles::table.order(roles::id).select(roles::id);
        let ids: Vec<i64> = on_backend!(conn.any(), |c| ids.load(c).await).map_err(|error| self.pools.fault(error))?;
        ids.into_iter().map(|id| Role::from_id(id).map_err(StoreError::new)).collect()
    }

    /// The database answers a read, and has not refused a write a moment ago (a full disk, a read-only database
    /// still answers reads).
    async fn check_health(&self) -> Result<(), StoreError> {
        let mut conn = self.pools.reader().await?;
        on_backend!(conn.any(), |c| diesel::sql_query("SELECT 1").execute(c).await)
            .map_err(|error| self.pools.fault(error))?;
        self.pools.recent_refusal()
    }
}
