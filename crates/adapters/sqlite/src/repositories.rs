//! The SQLite repositories: the queries shared with the PostgreSQL store, each run to its end on a task of its own.
//!
//! A request can end while its query runs (a body refused while the token check reads, a client that hangs up), and
//! its future is then dropped where it stands. Over diesel-async's `SyncConnectionWrapper` that left the connection
//! with its transaction state still held by the blocking call, and the next checkout of it panicked ("Cannot access
//! shared transaction state"). Here the task owns the operation and its pooled connection: a caller that goes away
//! stops waiting, the operation still finishes (its transaction commits or rolls back), and the connection goes back
//! to the pool clean.

use std::future::Future;

use chrono::{DateTime, Utc};
use users_domain::{ClientNetwork, LoginIdentifier, ObjectId, Role, User, UserId};
use users_ports::{
    AttemptOutcome, DeleteUserError, InsertUserError, LockoutPolicy, LoginAttempt, NewSession, NewUser, Page,
    PageRequest, RefreshTokenHash, RefreshTokenUse, SessionId, SessionRepository, StoreError, StoredCredentials,
    UpdateUserError, UserRepository, UserUpdate,
};

use crate::sessions::DieselSessionRepository;
use crate::users::DieselUserRepository;

/// The `UserRepository` on SQLite.
#[derive(Clone, Debug)]
pub struct SqliteUserRepository {
    queries: DieselUserRepository,
}

/// The `SessionRepository` on SQLite.
#[derive(Clone, Debug)]
pub struct SqliteSessionRepository {
    queries: DieselSessionRepository,
}

impl SqliteUserRepository {
    pub(crate) fn new(queries: DieselUserRepository) -> Self {
        Self { queries }
    }
}

impl SqliteSessionRepository {
    pub(crate) fn new(queries: DieselSessionRepository) -> Self {
        Self { queries }
    }
}

/// Runs `operation` on a task of its own and waits for it. Actix's workers are single-threaded runtimes: the task
/// runs on the caller's, and outlives the caller's future if that is dropped.
async fn to_the_end<T, E>(operation: impl Future<Output = Result<T, E>> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    match tokio::spawn(operation).await {
        Ok(result) => result,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        // Only when the runtime itself shuts down, and with it whoever was waiting for the answer.
        Err(error) => Err(StoreError::unavailable(error).into()),
    }
}

impl UserRepository for SqliteUserRepository {
    async fn insert(&self, user: NewUser) -> Result<User, InsertUserError> {
        let queries = self.queries.clone();
        to_the_end(async move { queries.insert(user).await }).await
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let queries = self.queries.clone();
        to_the_end(async move { queries.find_by_id(id).await }).await
    }

    async fn find_by_object_id(&self, id: ObjectId) -> Result<Option<User>, StoreError> {
        let queries = self.queries.clone();
        to_the_end(async move { queries.find_by_object_id(id).await }).await
    }

    async fn find_credentials(&self, login: &LoginIdentifier) -> Result<Option<StoredCredentials>, StoreError> {
        let (queries, login) = (self.queries.clone(), login.clone());
        to_the_end(async move { queries.find_credentials(&login).await }).await
    }

    async fn find_signed_in(
        &self,
        id: UserId,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        let queries = self.queries.clone();
        to_the_end(async move { queries.find_signed_in(id, session, now).await }).await
    }

    async fn update(&self, id: UserId, update: UserUpdate) -> Result<User, UpdateUserError> {
        let queries = self.queries.clone();
        to_the_end(async move { queries.update(id, update).await }).await
    }

    async fn begin_login_attempt(
        &self,
        id: UserId,
        network: &ClientNetwork,
        now: DateTime<Utc>,
        lockout: &LockoutPolicy,
    ) -> Result<LoginAttempt, StoreError> {
        let (queries, network, lockout) = (self.queries.clone(), network.clone(), *lockout);
        to_the_end(async move { queries.begin_login_attempt(id, &network, now, &lockout).await }).await
    }

    async fn finish_login_attempt(
        &self,
        id: UserId,
        network: &ClientNetwork,
        outcome: AttemptOutcome,
        now: DateTime<Utc>,
        lockout: &LockoutPolicy,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let (queries, network, lockout) = (self.queries.clone(), network.clone(), *lockout);
        to_the_end(async move { queries.finish_login_attempt(id, &network, outcome, now, &lockout).await }).await
    }

    async fn clear_lockout(&self, id: UserId) -> Result<bool, StoreError> {
        let queries = self.queries.clone();
        to_the_end(async move { queries.clear_lockout(id).await }).await
    }

    async fn purge_login_throttles(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let queries = self.queries.clone();
        to_the_end(async move { queries.purge_login_throttles(before).await }).await
    }

    async fn delete(&self, id: UserId) -> Result<(), DeleteUserError> {
        let queries = self.queries.clone();
        to_the_end(async move { queries.delete(id).await }).await
    }

    async fn list(&self, page: PageRequest) -> Result<Page<User>, StoreError> {
        let queries = self.queries.clone();
        to_the_end(async move { queries.list(page).await }).await
    }

    async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
        let queries = self.queries.clone();
        to_the_end(async move { queries.list_roles().await }).await
    }

    async fn check_health(&self) -> Result<(), StoreError> {
        let queries = self.queries.clone();
        to_the_end(async move { queries.check_health().await }).await
    }
}

impl SessionRepository for SqliteSessionRepository {
    async fn create(&self, session: NewSession) -> Result<Option<SessionId>, StoreError> {
        let queries = self.queries.clone();
        to_the_end(async move { queries.create(session).await }).await
    }

    async fn rotate_refresh_token(
        &self,
        used: &RefreshTokenHash,
        successor: &RefreshTokenHash,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<RefreshTokenUse, StoreError> {
        let (queries, used, successor) = (self.queries.clone(), used.clone(), successor.clone());
        to_the_end(async move { queries.rotate_refresh_token(&used, &successor, now, expires_at).await }).await
    }

    async fn find_by_refresh_token(&self, hash: &RefreshTokenHash) -> Result<Option<SessionId>, StoreError> {
        let (queries, hash) = (self.queries.clone(), hash.clone());
        to_the_end(async move { queries.find_by_refresh_token(&hash).await }).await
    }

    async fn revoke(&self, session: SessionId, now: DateTime<Utc>) -> Result<(), StoreError> {
        let queries = self.queries.clone();
        to_the_end(async move { queries.revoke(session, now).await }).await
    }

    async fn purge_ended(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let queries = self.queries.clone();
        to_the_end(async move { queries.purge_ended(before).await }).await
    }

    async fn revoke_all_of_user(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let queries = self.queries.clone();
        to_the_end(async move { queries.revoke_all_of_user(user, keep, now).await }).await
    }
}
