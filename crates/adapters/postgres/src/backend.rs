//! What is PostgreSQL's own under the query code shared with the SQLite adapter (`adapters/shared`): the connection
//! and pool types, how the admin memberships and a user's sign-in count are locked, and how a unique violation
//! names its index.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorInformation, Error as DieselError};
use diesel_async::pooled_connection::deadpool;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use users_domain::Role;
use users_ports::StoreError;

use crate::schema::{user_roles, users};

/// Named by `check_for_backend` in the shared row types (a use the dead-code lint does not see).
#[allow(dead_code)]
pub(crate) type Backend = diesel::pg::Pg;
/// The SQL type of the timestamp columns in the shared schema.
pub(crate) type StoredTime = diesel::sql_types::Timestamptz;
pub(crate) type Connection = AsyncPgConnection;
pub(crate) type Pool = deadpool::Pool<Connection>;
/// The `store` label of this store's metrics.
pub(crate) const STORE: &str = "postgres";

pub(crate) fn fault(error: DieselError) -> StoreError {
    StoreError::new(error)
}

/// Locks the admin memberships for the rest of the transaction (`FOR UPDATE`) and returns whose they are, so that
/// two requests removing two different admins cannot both see "another admin remains".
pub(crate) async fn lock_admins(conn: &mut Connection) -> Result<Vec<i64>, DieselError> {
    user_roles::table
        .filter(user_roles::role_id.eq(Role::Admin.id()))
        .select(user_roles::user_id)
        .for_update()
        .load(conn)
        .await
}

/// The user's failed sign-ins and lock, with the row locked for the rest of the transaction (`FOR UPDATE`), so two
/// sign-in attempts cannot both read the same count.
pub(crate) async fn lock_login_throttle(
    conn: &mut Connection,
    id: i64,
) -> Result<Option<(i32, Option<DateTime<Utc>>)>, DieselError> {
    users::table.find(id).select((users::failed_logins, users::locked_until)).for_update().first(conn).await.optional()
}

/// PostgreSQL reports the violated index by name.
pub(crate) fn violated_index(info: &dyn DatabaseErrorInformation) -> Option<&str> {
    info.constraint_name()
}
