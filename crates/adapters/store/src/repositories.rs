//! The store's repositories: the queries of `users`, `sessions`, `one_time_tokens`, `second_factor`, `outbox` and
//! `audit`, each store call run as its backend needs.
//!
//! On SQLite a call runs to its end on a task of its own. A request can end while its query runs (a body refused
//! while the token check reads, a client that hangs up), and its future is then dropped where it stands; over
//! diesel-async's `SyncConnectionWrapper` that left the connection with its transaction state still held by the
//! blocking call, and the next checkout of it panicked ("Cannot access shared transaction state"). Here the task
//! owns the operation and its pooled connection: a caller that goes away stops waiting, the operation still finishes
//! (its transaction commits or rolls back), and the connection goes back to the pool clean.
//!
//! On PostgreSQL a call has a deadline. A frozen network path (a black hole, a stalled proxy) answers nothing: neither
//! the server's `statement_timeout` nor TCP notices it soon, so without one a request would wait for as long as the
//! client does, holding a pooled connection.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use users_domain::{
    AttemptOutcome, ClientDetails, ClientNetwork, LockoutPolicy, LoginAttempt, LoginIdentifier, ObjectId, Role,
    Suspension, TotpStep, User, UserId,
};
use users_ports::{
    AuditEvent, AuditLog, AuditQuery, AuditRecord, DeleteUserError, InsertUserError, Mail, MailId, MailOutbox,
    MailedToken, MfaSignIn, NewOneTimeToken, NewSession, NewUser, OneTimeTokenHash, OneTimeTokenRepository,
    OutboxDepth, Page, PasswordHash, QueuedMail, RecoveryCodeHash, RefreshTokenHash, RefreshTokenUse, SealedSecret,
    SecondFactorProof, SecondFactorRepository, SessionId, SessionKey, SessionRecord, SessionRepository, SignedIn,
    StoreError, StoredCredentials, SuspendUserError, TokenIssue, TokenPurpose, TotpEnrolment, TotpFactor, TotpRemoval,
    UpdateUserError, UserQuery, UserRepository, UserUpdate,
};

use crate::audit::{AuditQueries, AuditStatement, PRUNE_BATCH};
use crate::dialect::Backend;
use crate::one_time_tokens::OneTimeTokenQueries;
use crate::outbox::OutboxQueries;
use crate::pool::Pools;
use crate::second_factor::SecondFactorQueries;
use crate::sessions::SessionQueries;
use crate::user_list::UserListStatement;
use crate::users::UserQueries;

/// How each call of a store runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallPolicy {
    /// The longest one call (waiting for a connection, connecting, its queries) may take before the store answers
    /// "unavailable"; `None`: as long as it takes.
    pub deadline: Option<Duration>,
    /// Whether a call runs to its end on a task of its own, whether or not its caller still waits.
    pub detached: bool,
}

/// What a call past its deadline is: the database did not answer in time.
#[derive(Debug, thiserror::Error)]
#[error("the database did not answer within {0:?}")]
struct TimedOut(Duration);

#[derive(Clone, Copy, Debug)]
struct Calls {
    policy: CallPolicy,
    backend: Backend,
}

impl Calls {
    /// Starts `operation` as the policy says and returns what waits for it. A detached call is spawned at once, so
    /// the caller's future holds only the task's handle, not the operation; an inline one is boxed, for the same
    /// reason (the operations are kilobytes of state, and a call's future is moved through the decorators).
    fn run<T, E, F>(self, operation: F) -> impl Future<Output = Result<T, E>> + Send + use<T, E, F>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let bounded = bounded(operation, self.policy.deadline, self.backend);
        let call = if self.policy.detached { Ok(tokio::spawn(bounded)) } else { Err(Box::pin(bounded)) };
        async move {
            match call {
                Err(inline) => inline.await,
                // Actix's workers are single-threaded runtimes: the task runs on the caller's, and outlives the
                // caller's future if that is dropped.
                Ok(task) => match task.await {
                    Ok(result) => result,
                    Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                    // Only when the runtime itself shuts down, and with it whoever was waiting for the answer.
                    Err(error) => Err(StoreError::unavailable(error).into()),
                },
            }
        }
    }
}

/// `operation`, given up as unavailable past `deadline`.
async fn bounded<T, E: From<StoreError>>(
    operation: impl Future<Output = Result<T, E>>,
    deadline: Option<Duration>,
    backend: Backend,
) -> Result<T, E> {
    let Some(deadline) = deadline else { return operation.await };
    match tokio::time::timeout(deadline, operation).await {
        Ok(done) => done,
        Err(_elapsed) => {
            metrics::counter!("db_operation_timeouts_total", "store" => backend.label()).increment(1);
            Err(StoreError::unavailable(TimedOut(deadline)).into())
        }
    }
}

/// The `UserRepository` of a [`crate::Store`].
#[derive(Clone, Debug)]
pub struct StoreUsers {
    queries: UserQueries,
    calls: Calls,
}

/// The `SessionRepository` of a [`crate::Store`].
#[derive(Clone, Debug)]
pub struct StoreSessions {
    queries: SessionQueries,
    calls: Calls,
}

/// The `OneTimeTokenRepository` of a [`crate::Store`].
#[derive(Clone, Debug)]
pub struct StoreOneTimeTokens {
    queries: OneTimeTokenQueries,
    calls: Calls,
}

/// The `SecondFactorRepository` of a [`crate::Store`].
#[derive(Clone, Debug)]
pub struct StoreSecondFactors {
    queries: SecondFactorQueries,
    calls: Calls,
}

/// The `MailOutbox` of a [`crate::Store`].
#[derive(Clone, Debug)]
pub struct StoreOutbox {
    queries: OutboxQueries,
    calls: Calls,
}

/// The `AuditLog` of a [`crate::Store`] (the store's other repositories write the events).
#[derive(Clone, Debug)]
pub struct StoreAuditLog {
    queries: AuditQueries,
    calls: Calls,
}

impl StoreUsers {
    pub(crate) fn new(pools: Pools, policy: CallPolicy) -> Self {
        let calls = Calls { policy, backend: pools.backend() };
        Self { queries: UserQueries::new(pools), calls }
    }
}

impl StoreSessions {
    pub(crate) fn new(pools: Pools, policy: CallPolicy) -> Self {
        let calls = Calls { policy, backend: pools.backend() };
        Self { queries: SessionQueries::new(pools), calls }
    }
}

impl StoreOneTimeTokens {
    pub(crate) fn new(pools: Pools, policy: CallPolicy) -> Self {
        let calls = Calls { policy, backend: pools.backend() };
        Self { queries: OneTimeTokenQueries::new(pools), calls }
    }
}

impl StoreSecondFactors {
    pub(crate) fn new(pools: Pools, policy: CallPolicy) -> Self {
        let calls = Calls { policy, backend: pools.backend() };
        Self { queries: SecondFactorQueries::new(pools), calls }
    }
}

impl StoreOutbox {
    pub(crate) fn new(pools: Pools, policy: CallPolicy) -> Self {
        let calls = Calls { policy, backend: pools.backend() };
        Self { queries: OutboxQueries::new(pools), calls }
    }
}

impl StoreAuditLog {
    pub(crate) fn new(pools: Pools, policy: CallPolicy) -> Self {
        let calls = Calls { policy, backend: pools.backend() };
        Self { queries: AuditQueries::new(pools), calls }
    }

    /// How the database runs one of the log's statements: on PostgreSQL its plan as JSON (run, in a transaction
    /// rolled back afterwards, when `analyze`), on SQLite the lines of `EXPLAIN QUERY PLAN`. For the tests that hold
    /// the indexes to their promise, and for an operator asking why a page is slow.
    pub async fn explain(&self, statement: AuditStatement, analyze: bool) -> Result<Vec<String>, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.explain(statement, analyze).await }).await
    }
}

impl StoreUsers {
    /// How the database runs one of the admin lists' statements: on PostgreSQL its plan as JSON (run, when
    /// `analyze`), on SQLite the lines of `EXPLAIN QUERY PLAN`. For the tests that hold the indexes to their promise,
    /// and for an operator asking why a search is slow.
    pub async fn explain(&self, statement: UserListStatement, analyze: bool) -> Result<Vec<String>, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.explain(&statement, analyze).await }).await
    }
}

impl UserRepository for StoreUsers {
    async fn insert(&self, user: NewUser) -> Result<User, InsertUserError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.insert(user).await }).await
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.find_by_id(id).await }).await
    }

    async fn find_by_object_id(&self, id: ObjectId) -> Result<Option<User>, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.find_by_object_id(id).await }).await
    }

    async fn find_credentials(&self, login: &LoginIdentifier) -> Result<Option<StoredCredentials>, StoreError> {
        let (queries, login) = (self.queries.clone(), login.clone());
        self.calls.run(async move { queries.find_credentials(&login).await }).await
    }

    async fn find_session(
        &self,
        id: UserId,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<SignedIn>, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.find_session(id, session, now).await }).await
    }

    async fn update(&self, id: UserId, update: UserUpdate) -> Result<User, UpdateUserError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.update(id, update).await }).await
    }

    async fn begin_login_attempt(
        &self,
        id: UserId,
        network: &ClientNetwork,
        now: DateTime<Utc>,
        lockout: &LockoutPolicy,
    ) -> Result<LoginAttempt, StoreError> {
        let (queries, network, lockout) = (self.queries.clone(), network.clone(), *lockout);
        self.calls.run(async move { queries.begin_login_attempt(id, &network, now, &lockout).await }).await
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
        let (queries, network, lockout, client) = (self.queries.clone(), network.clone(), *lockout, client.clone());
        self.calls
            .run(async move { queries.finish_login_attempt(id, &network, outcome, now, &lockout, &client).await })
            .await
    }

    async fn clear_lockout(&self, id: UserId, audit: AuditRecord) -> Result<bool, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.clear_lockout(id, audit).await }).await
    }

    async fn purge_login_throttles(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.purge_login_throttles(before).await }).await
    }

    async fn suspend(&self, id: UserId, suspension: Suspension, audit: AuditRecord) -> Result<User, SuspendUserError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.suspend(id, suspension, audit).await }).await
    }

    async fn unsuspend(&self, id: UserId, now: DateTime<Utc>, audit: AuditRecord) -> Result<Option<User>, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.unsuspend(id, now, audit).await }).await
    }

    async fn delete(&self, id: UserId, audit: AuditRecord) -> Result<(), DeleteUserError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.delete(id, audit).await }).await
    }

    async fn list(&self, query: &UserQuery) -> Result<Page<User>, StoreError> {
        let (queries, query) = (self.queries.clone(), query.clone());
        self.calls.run(async move { queries.list(&query).await }).await
    }

    async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.list_roles().await }).await
    }

    async fn check_health(&self) -> Result<(), StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.check_health().await }).await
    }
}

impl SessionRepository for StoreSessions {
    async fn create(&self, session: NewSession) -> Result<Option<SessionId>, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.create(session).await }).await
    }

    async fn rotate_refresh_token(
        &self,
        used: &RefreshTokenHash,
        successor: &RefreshTokenHash,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        client: &ClientDetails,
    ) -> Result<RefreshTokenUse, StoreError> {
        let (queries, used, successor, client) =
            (self.queries.clone(), used.clone(), successor.clone(), client.clone());
        self.calls
            .run(async move { queries.rotate_refresh_token(&used, &successor, now, expires_at, &client).await })
            .await
    }

    async fn list_live(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<SessionRecord>, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.list_live(user, now).await }).await
    }

    async fn revoke_by_key(
        &self,
        user: UserId,
        key: &SessionKey,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Option<SessionId>, StoreError> {
        let (queries, key) = (self.queries.clone(), key.clone());
        self.calls.run(async move { queries.revoke_by_key(user, &key, now, audit).await }).await
    }

    async fn find_by_refresh_token(&self, hash: &RefreshTokenHash) -> Result<Option<SessionId>, StoreError> {
        let (queries, hash) = (self.queries.clone(), hash.clone());
        self.calls.run(async move { queries.find_by_refresh_token(&hash).await }).await
    }

    async fn revoke(&self, session: SessionId, now: DateTime<Utc>, audit: AuditRecord) -> Result<(), StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.revoke(session, now, audit).await }).await
    }

    async fn purge_ended(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.purge_ended(before).await }).await
    }

    async fn revoke_all_of_user(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.revoke_all_of_user(user, keep, now, audit).await }).await
    }
}

impl OneTimeTokenRepository for StoreOneTimeTokens {
    async fn issue_token(
        &self,
        user: UserId,
        token: MailedToken,
        min_interval: chrono::Duration,
        audit: Option<AuditRecord>,
    ) -> Result<TokenIssue, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.issue_token(user, token, min_interval, audit).await }).await
    }

    async fn find_token_user(
        &self,
        token: &OneTimeTokenHash,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        let (queries, token) = (self.queries.clone(), token.clone());
        self.calls.run(async move { queries.find_token_user(&token, purpose, now).await }).await
    }

    async fn confirm_email(
        &self,
        token: &OneTimeTokenHash,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Option<User>, StoreError> {
        let (queries, token) = (self.queries.clone(), token.clone());
        self.calls.run(async move { queries.confirm_email(&token, now, audit).await }).await
    }

    async fn reset_password(
        &self,
        token: &OneTimeTokenHash,
        password_hash: PasswordHash,
        notice: &Mail,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Option<User>, StoreError> {
        let (queries, token, notice) = (self.queries.clone(), token.clone(), notice.clone());
        self.calls.run(async move { queries.reset_password(&token, password_hash, &notice, now, audit).await }).await
    }

    async fn purge_tokens(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.purge_tokens(before).await }).await
    }
}

impl SecondFactorRepository for StoreSecondFactors {
    async fn start_totp_enrolment(
        &self,
        user: UserId,
        secret: SealedSecret,
        now: DateTime<Utc>,
    ) -> Result<TotpEnrolment, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.start_totp_enrolment(user, secret, now).await }).await
    }

    async fn find_totp(&self, user: UserId) -> Result<Option<TotpFactor>, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.find_totp(user).await }).await
    }

    async fn enable_totp(
        &self,
        user: UserId,
        checked: &SealedSecret,
        step: TotpStep,
        resealed: Option<SealedSecret>,
        recovery_codes: Vec<RecoveryCodeHash>,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<bool, StoreError> {
        let queries = self.queries.clone();
        let checked = checked.clone();
        let enable =
            async move { queries.enable_totp(user, &checked, step, resealed, recovery_codes, now, audit).await };
        self.calls.run(enable).await
    }

    async fn remove_totp(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<TotpRemoval, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.remove_totp(user, now, audit).await }).await
    }

    async fn start_mfa_sign_in(&self, user: UserId, token: NewOneTimeToken) -> Result<bool, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.start_mfa_sign_in(user, token).await }).await
    }

    async fn finish_mfa_sign_in(
        &self,
        token: &OneTimeTokenHash,
        proof: SecondFactorProof,
        session: NewSession,
    ) -> Result<MfaSignIn, StoreError> {
        let (queries, token) = (self.queries.clone(), token.clone());
        self.calls.run(async move { queries.finish_mfa_sign_in(&token, proof, session).await }).await
    }
}

impl MailOutbox for StoreOutbox {
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<QueuedMail>, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.claim_due(now, lease_until, limit).await }).await
    }

    async fn settle_sent(&self, id: MailId) -> Result<(), StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.settle_sent(id).await }).await
    }

    async fn settle_retry(&self, id: MailId, next_attempt_at: DateTime<Utc>) -> Result<(), StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.settle_retry(id, next_attempt_at).await }).await
    }

    async fn settle_failed(&self, id: MailId, at: DateTime<Utc>) -> Result<(), StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.settle_failed(id, at).await }).await
    }

    async fn depth(&self) -> Result<OutboxDepth, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.depth().await }).await
    }
}

impl AuditLog for StoreAuditLog {
    async fn list_events(&self, query: AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let queries = self.queries.clone();
        self.calls.run(async move { queries.list_events(query).await }).await
    }

    /// Batch after batch, each a call of its own: each is bounded by the deadline (a pruning that has fallen far
    /// behind may rightly take longer than one call may), and on SQLite the single writer is let go between batches.
    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut pruned = 0;
        loop {
            let queries = self.queries.clone();
            let batch = self.calls.run(async move { queries.prune_batch(before).await }).await?;
            pruned += batch;
            if batch < PRUNE_BATCH.unsigned_abs() {
                return Ok(pruned);
            }
        }
    }
}
