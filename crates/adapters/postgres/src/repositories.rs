//! The PostgreSQL repositories: the queries shared with the SQLite store, with the signed-in users remembered
//! between requests (`signed_in`). Every write that can end a session or change what a signed-in user looks like
//! forgets them here before it returns, so this instance reads its own writes; other instances hear of it through
//! the database (`listener`). Every operation has a deadline: past it the store is unavailable, whatever the network
//! does.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use users_domain::{ClientNetwork, LoginIdentifier, ObjectId, Role, User, UserId};
use users_ports::{
    AttemptOutcome, DeleteUserError, InsertUserError, LockoutPolicy, LoginAttempt, NewSession, NewUser, Page,
    PageRequest, RefreshTokenHash, RefreshTokenUse, SessionId, SessionRepository, StoreError, StoredCredentials,
    UpdateUserError, UserRepository, UserUpdate,
};

use crate::sessions::DieselSessionRepository;
use crate::signed_in::SignedInCache;
use crate::users::DieselUserRepository;

/// The `UserRepository` on PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgUserRepository {
    queries: DieselUserRepository,
    signed_in: Arc<SignedInCache>,
    deadline: Deadline,
}

/// The `SessionRepository` on PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgSessionRepository {
    queries: DieselSessionRepository,
    signed_in: Arc<SignedInCache>,
    deadline: Deadline,
}

/// How long one operation may take, all told. A frozen network path (a black hole, a stalled proxy) answers
/// nothing: neither the server's `statement_timeout` nor TCP notices it soon, so without this a request would wait
/// for as long as the client does, holding a pooled connection.
#[derive(Clone, Copy, Debug)]
struct Deadline(Duration);

/// What an operation past its deadline is: the database did not answer in time.
#[derive(Debug, thiserror::Error)]
#[error("the database did not answer within {0:?}")]
struct TimedOut(Duration);

impl Deadline {
    async fn run<T, E: From<StoreError>>(self, operation: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        match tokio::time::timeout(self.0, operation).await {
            Ok(done) => done,
            Err(_elapsed) => {
                metrics::counter!("db_operation_timeouts_total", "store" => crate::backend::STORE).increment(1);
                Err(StoreError::unavailable(TimedOut(self.0)).into())
            }
        }
    }
}

impl PgUserRepository {
    pub(crate) fn new(queries: DieselUserRepository, signed_in: Arc<SignedInCache>, deadline: Duration) -> Self {
        Self { queries, signed_in, deadline: Deadline(deadline) }
    }
}

impl PgSessionRepository {
    pub(crate) fn new(queries: DieselSessionRepository, signed_in: Arc<SignedInCache>, deadline: Duration) -> Self {
        Self { queries, signed_in, deadline: Deadline(deadline) }
    }
}

impl UserRepository for PgUserRepository {
    async fn insert(&self, user: NewUser) -> Result<User, InsertUserError> {
        self.deadline.run(self.queries.insert(user)).await
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.deadline.run(self.queries.find_by_id(id)).await
    }

    async fn find_by_object_id(&self, id: ObjectId) -> Result<Option<User>, StoreError> {
        self.deadline.run(self.queries.find_by_object_id(id)).await
    }

    async fn find_credentials(&self, login: &LoginIdentifier) -> Result<Option<StoredCredentials>, StoreError> {
        self.deadline.run(self.queries.find_credentials(login)).await
    }

    async fn find_signed_in(
        &self,
        id: UserId,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        if let Some(user) = self.signed_in.get(id, session, now) {
            return Ok(Some(user));
        }
        let ticket = self.signed_in.ticket();
        let Some((user, expires_at)) = self.deadline.run(self.queries.find_signed_in_until(id, session, now)).await?
        else {
            return Ok(None);
        };
        self.signed_in.remember(ticket, session, &user, expires_at);
        Ok(Some(user))
    }

    async fn update(&self, id: UserId, update: UserUpdate) -> Result<User, UpdateUserError> {
        let updated = self.deadline.run(self.queries.update(id, update)).await;
        // Forgotten whatever the outcome: a failed commit may still have been applied.
        self.signed_in.forget_user(id);
        updated
    }

    // The sign-in counts are not part of a signed-in user: nothing to forget.
    async fn begin_login_attempt(
        &self,
        id: UserId,
        network: &ClientNetwork,
        now: DateTime<Utc>,
        lockout: &LockoutPolicy,
    ) -> Result<LoginAttempt, StoreError> {
        self.deadline.run(self.queries.begin_login_attempt(id, network, now, lockout)).await
    }

    async fn finish_login_attempt(
        &self,
        id: UserId,
        network: &ClientNetwork,
        outcome: AttemptOutcome,
        now: DateTime<Utc>,
        lockout: &LockoutPolicy,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.deadline.run(self.queries.finish_login_attempt(id, network, outcome, now, lockout)).await
    }

    async fn clear_lockout(&self, id: UserId) -> Result<bool, StoreError> {
        self.deadline.run(self.queries.clear_lockout(id)).await
    }

    async fn purge_login_throttles(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.deadline.run(self.queries.purge_login_throttles(before)).await
    }

    async fn delete(&self, id: UserId) -> Result<(), DeleteUserError> {
        let deleted = self.deadline.run(self.queries.delete(id)).await;
        self.signed_in.forget_user(id);
        deleted
    }

    async fn list(&self, page: PageRequest) -> Result<Page<User>, StoreError> {
        self.deadline.run(self.queries.list(page)).await
    }

    async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
        self.deadline.run(self.queries.list_roles()).await
    }

    async fn check_health(&self) -> Result<(), StoreError> {
        self.deadline.run(self.queries.check_health()).await
    }
}

impl SessionRepository for PgSessionRepository {
    async fn create(&self, session: NewSession) -> Result<Option<SessionId>, StoreError> {
        self.deadline.run(self.queries.create(session)).await
    }

    async fn rotate_refresh_token(
        &self,
        used: &RefreshTokenHash,
        successor: &RefreshTokenHash,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<RefreshTokenUse, StoreError> {
        // Only extends a live session: a remembered expiry that is too early costs a read, nothing more.
        self.deadline.run(self.queries.rotate_refresh_token(used, successor, now, expires_at)).await
    }

    async fn find_by_refresh_token(&self, hash: &RefreshTokenHash) -> Result<Option<SessionId>, StoreError> {
        self.deadline.run(self.queries.find_by_refresh_token(hash)).await
    }

    /// Only sessions that already ended or expired go, so no remembered user can depend on them.
    async fn purge_ended(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.deadline.run(self.queries.purge_ended(before)).await
    }

    async fn revoke(&self, session: SessionId, now: DateTime<Utc>) -> Result<(), StoreError> {
        let revoked = self.deadline.run(self.queries.revoke(session, now)).await;
        self.signed_in.forget_session(session);
        revoked
    }

    async fn revoke_all_of_user(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let revoked = self.deadline.run(self.queries.revoke_all_of_user(user, keep, now)).await;
        self.signed_in.forget_user(user);
        revoked
    }
}
