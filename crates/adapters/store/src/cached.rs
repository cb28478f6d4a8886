//! `CachedSessions`: any store, with the signed-in users it read remembered until a write says they changed. A
//! write through this decorator forgets them at once; a write anywhere else (another instance, an operator's SQL)
//! through a [`ChangeFeed`] (PostgreSQL's notifications). What is remembered is answered only while the feed's last
//! proof that it hears every change is younger than the allowed lag; a feed that stalls without closing (a frozen
//! backend, a black-holed path) so turns the cache into a read-through within that lag, not when it is finally
//! given up. Without a feed that proves itself, nothing is answered from memory.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use users_domain::{
    AttemptOutcome, ClientDetails, ClientNetwork, LockoutPolicy, LoginAttempt, LoginIdentifier, ObjectId, Role,
    Suspension, TotpStep, User, UserId,
};
use users_ports::{
    AuditRecord, ChangeFeed, ChangeObserver, DeleteUserError, InsertUserError, Mail, MailedToken, MfaSignIn,
    NewOneTimeToken, NewSession, NewUser, OneTimeTokenHash, OneTimeTokenRepository, Page, PasswordHash,
    RecoveryCodeHash, RefreshTokenHash, RefreshTokenUse, SealedSecret, SecondFactorProof, SecondFactorRepository,
    SessionId, SessionKey, SessionRecord, SessionRepository, SignedIn, StoreError, StoredCredentials, SuspendUserError,
    TokenIssue, TokenPurpose, TotpEnrolment, TotpFactor, TotpRemoval, UpdateUserError, UserQuery, UserRepository,
    UserUpdate,
};

/// A store (its users, its sessions, its one-time tokens and its second factors) that remembers signed-in users; see
/// the module's documentation.
#[derive(Debug)]
pub struct CachedSessions<U, S, T, F> {
    users: U,
    sessions: S,
    one_time_tokens: T,
    second_factors: F,
    cache: Arc<SignedInCache>,
}

impl<U: Clone, S: Clone, T: Clone, F: Clone> Clone for CachedSessions<U, S, T, F> {
    fn clone(&self) -> Self {
        Self {
            users: self.users.clone(),
            sessions: self.sessions.clone(),
            one_time_tokens: self.one_time_tokens.clone(),
            second_factors: self.second_factors.clone(),
            cache: Arc::clone(&self.cache),
        }
    }
}

/// What a write may have changed of the signed-in users.
#[derive(Clone, Copy, Debug)]
enum Forget {
    User(UserId),
    Session(SessionId),
    /// Anyone: a write whose user is known only from its answer failed, and may still have been applied.
    Everyone,
    /// Nothing a signed-in user is made of (a new user has no session yet; sign-in counts are not part of one).
    Nothing,
}

impl<U, S, T, F> CachedSessions<U, S, T, F> {
    /// Remembers answers only while `follow`'s feed proved, at most `max_lag` ago, that it hears every change.
    pub fn new(users: U, sessions: S, one_time_tokens: T, second_factors: F, max_lag: Duration) -> Self {
        Self { users, sessions, one_time_tokens, second_factors, cache: Arc::new(SignedInCache::new(max_lag)) }
    }

    /// Takes the changes made elsewhere from `feed`, until this cache and its clones are gone; keeps the
    /// `store_change_feed_lag_seconds` gauge current meanwhile. The caller runs the returned future (spawns it).
    pub fn follow(&self, feed: impl ChangeFeed) -> impl Future<Output = ()> + Send + 'static {
        let cache = Arc::downgrade(&self.cache);
        let observer: Weak<dyn ChangeObserver> = cache.clone();
        async move {
            tokio::select! {
                () = feed.follow(observer) => {}
                () = report_lag(cache) => {}
            }
        }
    }

    /// Whether changes made elsewhere are being heard, so that signed-in users are answered from memory.
    pub fn hears_changes(&self) -> bool {
        self.cache.is_listening()
    }

    /// Every write goes through here: whatever its outcome (a failed commit may still have been applied), what it
    /// may have changed is forgotten once it is done.
    async fn write<W>(&self, forget: Forget, write: impl Future<Output = W>) -> W {
        let written = write.await;
        match forget {
            Forget::User(id) => self.cache.forget_user(id),
            Forget::Session(session) => self.cache.forget_session(session),
            Forget::Everyone => self.cache.forget_all(),
            Forget::Nothing => {}
        }
        written
    }

    /// A write of the user a one-time token names, known only from its answer: that user is forgotten; no one when
    /// the token was not usable (nothing was written); everyone after an error, which may hide an applied change.
    async fn write_for_token_user(
        &self,
        write: impl Future<Output = Result<Option<User>, StoreError>>,
    ) -> Result<Option<User>, StoreError> {
        let written = write.await;
        let forget = match &written {
            Ok(Some(user)) => Forget::User(user.id),
            Ok(None) => Forget::Nothing,
            Err(_) => Forget::Everyone,
        };
        self.write(forget, std::future::ready(written)).await
    }
}

/// Keeps `store_change_feed_lag_seconds` current, also while the feed waits on a stalled connection; returns when the
/// cache is gone.
async fn report_lag(cache: Weak<SignedInCache>) {
    metrics::describe_gauge!(
        "store_change_feed_lag_seconds",
        metrics::Unit::Seconds,
        "How stale signed-in users answered from memory could be: the age of the change feed's last proof that it \
         hears every change (memory is used only below database.change_feed_max_lag_ms)"
    );
    let gauge = metrics::gauge!("store_change_feed_lag_seconds");
    let Some(max_lag) = cache.upgrade().map(|cache| cache.max_lag) else { return };
    let mut ticks = tokio::time::interval((max_lag / 4).max(Duration::from_millis(50)));
    loop {
        ticks.tick().await;
        let Some(cache) = cache.upgrade() else { return };
        gauge.set(cache.lag().as_secs_f64());
    }
}

impl<U: UserRepository, S: SessionRepository, T: OneTimeTokenRepository, F: SecondFactorRepository> UserRepository
    for CachedSessions<U, S, T, F>
{
    async fn insert(&self, user: NewUser) -> Result<User, InsertUserError> {
        self.write(Forget::Nothing, self.users.insert(user)).await
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.users.find_by_id(id).await
    }

    async fn find_by_object_id(&self, id: ObjectId) -> Result<Option<User>, StoreError> {
        self.users.find_by_object_id(id).await
    }

    async fn find_credentials(&self, login: &LoginIdentifier) -> Result<Option<StoredCredentials>, StoreError> {
        self.users.find_credentials(login).await
    }

    async fn find_session(
        &self,
        id: UserId,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<SignedIn>, StoreError> {
        if !self.cache.may_remember() {
            return self.users.find_session(id, session, now).await;
        }
        if let Some(remembered) = self.cache.get(id, session, now) {
            return Ok(Some(remembered));
        }
        let ticket = self.cache.ticket();
        let found = self.users.find_session(id, session, now).await?;
        if let Some(signed_in) = &found {
            self.cache.remember(ticket, session, signed_in);
        }
        Ok(found)
    }

    async fn update(&self, id: UserId, update: UserUpdate) -> Result<User, UpdateUserError> {
        self.write(Forget::User(id), self.users.update(id, update)).await
    }

    async fn begin_login_attempt(
        &self,
        id: UserId,
        network: &ClientNetwork,
        now: DateTime<Utc>,
        lockout: &LockoutPolicy,
    ) -> Result<LoginAttempt, StoreError> {
        self.write(Forget::Nothing, self.users.begin_login_attempt(id, network, now, lockout)).await
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
        self.write(Forget::Nothing, self.users.finish_login_attempt(id, network, outcome, now, lockout, client)).await
    }

    async fn clear_lockout(&self, id: UserId, audit: AuditRecord) -> Result<bool, StoreError> {
        self.write(Forget::Nothing, self.users.clear_lockout(id, audit)).await
    }

    async fn purge_login_throttles(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.write(Forget::Nothing, self.users.purge_login_throttles(before)).await
    }

    /// The user is forgotten with every session the suspension ended.
    async fn suspend(&self, id: UserId, suspension: Suspension, audit: AuditRecord) -> Result<User, SuspendUserError> {
        self.write(Forget::User(id), self.users.suspend(id, suspension, audit)).await
    }

    async fn unsuspend(&self, id: UserId, now: DateTime<Utc>, audit: AuditRecord) -> Result<Option<User>, StoreError> {
        self.write(Forget::User(id), self.users.unsuspend(id, now, audit)).await
    }

    async fn delete(&self, id: UserId, audit: AuditRecord) -> Result<(), DeleteUserError> {
        self.write(Forget::User(id), self.users.delete(id, audit)).await
    }

    async fn list(&self, query: &UserQuery) -> Result<Page<User>, StoreError> {
        self.users.list(query).await
    }

    async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
        self.users.list_roles().await
    }

    async fn check_health(&self) -> Result<(), StoreError> {
        self.users.check_health().await
    }
}

impl<U: UserRepository, S: SessionRepository, T: OneTimeTokenRepository, F: SecondFactorRepository> SessionRepository
    for CachedSessions<U, S, T, F>
{
    async fn create(&self, session: NewSession) -> Result<Option<SessionId>, StoreError> {
        self.write(Forget::Nothing, self.sessions.create(session)).await
    }

    /// Only extends a live session: a remembered expiry that is too early costs a read, nothing more. Its last use
    /// and device are not part of a signed-in user.
    async fn rotate_refresh_token(
        &self,
        used: &RefreshTokenHash,
        successor: &RefreshTokenHash,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        client: &ClientDetails,
    ) -> Result<RefreshTokenUse, StoreError> {
        self.write(Forget::Nothing, self.sessions.rotate_refresh_token(used, successor, now, expires_at, client)).await
    }

    async fn list_live(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<SessionRecord>, StoreError> {
        self.sessions.list_live(user, now).await
    }

    /// Which session the key named is known only from the answer, and the owner is known now: the owner is forgotten.
    async fn revoke_by_key(
        &self,
        user: UserId,
        key: &SessionKey,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Option<SessionId>, StoreError> {
        self.write(Forget::User(user), self.sessions.revoke_by_key(user, key, now, audit)).await
    }

    async fn find_by_refresh_token(&self, hash: &RefreshTokenHash) -> Result<Option<SessionId>, StoreError> {
        self.sessions.find_by_refresh_token(hash).await
    }

    async fn revoke(&self, session: SessionId, now: DateTime<Utc>, audit: AuditRecord) -> Result<(), StoreError> {
        self.write(Forget::Session(session), self.sessions.revoke(session, now, audit)).await
    }

    /// Only sessions that already ended or expired go, so no remembered user can depend on them.
    async fn purge_ended(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.write(Forget::Nothing, self.sessions.purge_ended(before)).await
    }

    async fn revoke_all_of_user(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        self.write(Forget::User(user), self.sessions.revoke_all_of_user(user, keep, now, audit)).await
    }
}

impl<U: UserRepository, S: SessionRepository, T: OneTimeTokenRepository, F: SecondFactorRepository>
    OneTimeTokenRepository for CachedSessions<U, S, T, F>
{
    /// A new token changes nothing a signed-in user is made of.
    async fn issue_token(
        &self,
        user: UserId,
        token: MailedToken,
        min_interval: chrono::Duration,
        audit: Option<AuditRecord>,
    ) -> Result<TokenIssue, StoreError> {
        self.write(Forget::Nothing, self.one_time_tokens.issue_token(user, token, min_interval, audit)).await
    }

    async fn find_token_user(
        &self,
        token: &OneTimeTokenHash,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        self.one_time_tokens.find_token_user(token, purpose, now).await
    }

    /// The user it verifies is forgotten: what is remembered of them says unverified.
    async fn confirm_email(
        &self,
        token: &OneTimeTokenHash,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Option<User>, StoreError> {
        self.write_for_token_user(self.one_time_tokens.confirm_email(token, now, audit)).await
    }

    /// The user is forgotten with every session the reset ended.
    async fn reset_password(
        &self,
        token: &OneTimeTokenHash,
        password_hash: PasswordHash,
        notice: &Mail,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Option<User>, StoreError> {
        self.write_for_token_user(self.one_time_tokens.reset_password(token, password_hash, notice, now, audit)).await
    }

    /// Only tokens go: no signed-in user is made of them.
    async fn purge_tokens(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.write(Forget::Nothing, self.one_time_tokens.purge_tokens(before)).await
    }
}

impl<U: UserRepository, S: SessionRepository, T: OneTimeTokenRepository, F: SecondFactorRepository>
    SecondFactorRepository for CachedSessions<U, S, T, F>
{
    /// A pending factor is not part of a signed-in user (`mfa_enabled` says only whether one is confirmed).
    async fn start_totp_enrolment(
        &self,
        user: UserId,
        secret: SealedSecret,
        now: DateTime<Utc>,
    ) -> Result<TotpEnrolment, StoreError> {
        self.write(Forget::Nothing, self.second_factors.start_totp_enrolment(user, secret, now)).await
    }

    async fn find_totp(&self, user: UserId) -> Result<Option<TotpFactor>, StoreError> {
        self.second_factors.find_totp(user).await
    }

    /// What is remembered of the user says no second factor.
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
        self.write(
            Forget::User(user),
            self.second_factors.enable_totp(user, checked, step, resealed, recovery_codes, now, audit),
        )
        .await
    }

    async fn remove_totp(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<TotpRemoval, StoreError> {
        self.write(Forget::User(user), self.second_factors.remove_totp(user, now, audit)).await
    }

    /// A waiting sign-in is a token, which no signed-in user is made of.
    async fn start_mfa_sign_in(&self, user: UserId, token: NewOneTimeToken) -> Result<bool, StoreError> {
        self.write(Forget::Nothing, self.second_factors.start_mfa_sign_in(user, token)).await
    }

    /// A new session, as `create` starts one: nothing remembered depends on it yet.
    async fn finish_mfa_sign_in(
        &self,
        token: &OneTimeTokenHash,
        proof: SecondFactorProof,
        session: NewSession,
    ) -> Result<MfaSignIn, StoreError> {
        self.write(Forget::Nothing, self.second_factors.finish_mfa_sign_in(token, proof, session)).await
    }
}

impl ChangeObserver for SignedInCache {
    fn user_changed(&self, id: UserId) {
        self.forget_user(id);
    }

    fn everything_changed(&self) {
        self.forget_all();
    }

    fn heard_everything_before(&self, sent: Instant) {
        self.prove(sent);
    }

    fn deaf(&self) {
        self.lose();
    }
}

/// How many sessions are remembered at most; past it, the memory starts over (as the token cache does).
const CAPACITY: usize = 10_000;

#[derive(Debug)]
struct SignedInCache {
    state: Mutex<State>,
    /// Only while changes made elsewhere are being heard (on a connection that has proven it) is anything
    /// remembered. Written under the state's lock, with the forgetting that goes with it; read without it too, so
    /// that a store whose feed never proved itself (an SQLite file, a feed that is down) pays no locking on reads.
    listening: AtomicBool,
    /// How old the last proof may be for remembered users to be answered.
    max_lag: Duration,
}

#[derive(Debug)]
struct State {
    /// When the ping last proven to come back was sent: every change committed before then has been heard. Before
    /// the first proof, when the cache was made.
    proven: Instant,
    /// Counts the forgettings: an answer read before one of them may be stale, and is not remembered.
    generation: u64,
    /// What was read, by session; its expiry as read (a later refresh may have extended it, which only costs a
    /// read).
    sessions: HashMap<SessionId, SignedIn>,
}

impl State {
    fn forget_all(&mut self) {
        self.generation += 1;
        self.sessions.clear();
    }
}

/// Taken before a read from the database; the answer is remembered only if nothing was forgotten in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ReadTicket(Option<u64>);

impl SignedInCache {
    fn new(max_lag: Duration) -> Self {
        let state = State { proven: Instant::now(), generation: 0, sessions: HashMap::new() };
        Self { state: Mutex::new(state), listening: AtomicBool::new(false), max_lag }
    }

    /// The user signed in with `session`, if remembered, the session has not expired by `now`, and the listener's
    /// proof is recent enough that a change to them would have been heard.
    fn get(&self, id: UserId, session: SessionId, now: DateTime<Utc>) -> Option<SignedIn> {
        let state = self.lock();
        if !self.current(&state) {
            return None;
        }
        let remembered = state.sessions.get(&session)?;
        (remembered.user.id == id && remembered.session_expires_at > now).then(|| remembered.clone())
    }

    /// Taken before a read. A read made while the proof is too old may still be remembered: it is answered only
    /// once a newer proof shows that every change committed before it was heard (and so forgotten the user if one
    /// concerned them).
    fn ticket(&self) -> ReadTicket {
        let state = self.lock();
        ReadTicket(self.may_remember().then_some(state.generation))
    }

    /// Remembers what a read begun with `ticket` found, unless something was forgotten since the ticket was taken.
    fn remember(&self, ticket: ReadTicket, session: SessionId, signed_in: &SignedIn) {
        let mut state = self.lock();
        if !self.may_remember() || ticket != ReadTicket(Some(state.generation)) {
            return;
        }
        if state.sessions.len() >= CAPACITY {
            state.sessions.clear();
        }
        state.sessions.insert(session, signed_in.clone());
    }

    fn forget_user(&self, id: UserId) {
        let mut state = self.lock();
        state.generation += 1;
        state.sessions.retain(|_, remembered| remembered.user.id != id);
    }

    fn forget_session(&self, session: SessionId) {
        let mut state = self.lock();
        state.generation += 1;
        state.sessions.remove(&session);
    }

    fn forget_all(&self) {
        self.lock().forget_all();
    }

    /// Every change committed before `sent` has been heard: the listener's ping sent then came back after them.
    /// The first proof on a new connection also forgets everything: changes made while no connection listened
    /// were never heard.
    fn prove(&self, sent: Instant) {
        let mut state = self.lock();
        if !self.may_remember() {
            state.forget_all();
            self.listening.store(true, Ordering::Release);
            state.proven = sent;
        }
        state.proven = state.proven.max(sent);
    }

    /// The listening connection is gone: changes made until another one listens will not be heard.
    fn lose(&self) {
        let mut state = self.lock();
        state.forget_all();
        self.listening.store(false, Ordering::Release);
    }

    /// Whether anything may be remembered now. A read that starts while not listening is neither answered from
    /// memory nor remembered, so it needs nothing else of the cache; one that starts just before listening stops is
    /// judged under the lock as usual.
    fn may_remember(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    /// Whether remembered users are answered now.
    fn is_listening(&self) -> bool {
        self.current(&self.lock())
    }

    /// How long ago the last proof's ping was sent (or, before any, the cache was made): how stale an answer from
    /// memory could be.
    fn lag(&self) -> Duration {
        self.lock().proven.elapsed()
    }

    fn current(&self, state: &State) -> bool {
        self.may_remember() && state.proven.elapsed() < self.max_lag
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update leaves the state consistent, so a panic elsewhere while holding the lock left nothing half-done.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration as StdDuration;

    use chrono::{Duration, TimeZone};
    use users_domain::{Email, ObjectId, Profile, Role};

    use super::*;

    fn user(id: i64) -> User {
        let created = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        User {
            id: UserId(id),
            object_id: "0123456789abcdef01234567".parse::<ObjectId>().unwrap(),
            username: None,
            email: Email::parse(format!("user{id}@example.com")).unwrap(),
            profile: Profile::default(),
            roles: vec![Role::User],
            email_verified: false,
            mfa_enabled: false,
            suspension: None,
            created_at: created,
            updated_at: created,
            last_sign_in_at: None,
        }
    }

    const MAX_LAG: StdDuration = StdDuration::from_secs(1);

    fn listening() -> SignedInCache {
        let cache = SignedInCache::new(MAX_LAG);
        cache.prove(Instant::now());
        cache
    }

    #[test]
    fn remembers_a_read_until_the_session_expires() {
        let (cache, now) = (listening(), Utc::now());
        cache.remember(
            cache.ticket(),
            SessionId(7),
            &SignedIn { user: user(1), session_expires_at: now + Duration::seconds(10) },
        );
        assert_eq!(cache.get(UserId(1), SessionId(7), now).map(|signed_in| signed_in.user), Some(user(1)));
        assert_eq!(
            cache.get(UserId(1), SessionId(7), now + Duration::seconds(10)).map(|signed_in| signed_in.user),
            None
        );
    }

    #[test]
    fn answers_only_for_the_user_the_session_belongs_to() {
        let (cache, now) = (listening(), Utc::now());
        cache.remember(
            cache.ticket(),
            SessionId(7),
            &SignedIn { user: user(1), session_expires_at: now + Duration::seconds(10) },
        );
        assert_eq!(cache.get(UserId(2), SessionId(7), now).map(|signed_in| signed_in.user), None);
        assert_eq!(cache.get(UserId(1), SessionId(8), now).map(|signed_in| signed_in.user), None);
    }

    #[test]
    fn remembers_nothing_while_not_listening() {
        let (cache, now) = (SignedInCache::new(MAX_LAG), Utc::now());
        cache.remember(
            cache.ticket(),
            SessionId(7),
            &SignedIn { user: user(1), session_expires_at: now + Duration::seconds(10) },
        );
        assert_eq!(cache.get(UserId(1), SessionId(7), now).map(|signed_in| signed_in.user), None);

        let cache = listening();
        cache.remember(
            cache.ticket(),
            SessionId(7),
            &SignedIn { user: user(1), session_expires_at: now + Duration::seconds(10) },
        );
        cache.lose();
        assert_eq!(
            cache.get(UserId(1), SessionId(7), now).map(|signed_in| signed_in.user),
            None,
            "hearing stopped: what was remembered may be stale"
        );
    }

    #[test]
    fn forgets_a_users_sessions_and_a_single_session() {
        let (cache, now) = (listening(), Utc::now());
        let until = now + Duration::seconds(10);
        for (session, id) in [(1, 1), (2, 1), (3, 2)] {
            cache.remember(cache.ticket(), SessionId(session), &SignedIn { user: user(id), session_expires_at: until });
        }
        cache.forget_user(UserId(1));
        assert_eq!(cache.get(UserId(1), SessionId(1), now).map(|signed_in| signed_in.user), None);
        assert_eq!(cache.get(UserId(1), SessionId(2), now).map(|signed_in| signed_in.user), None);
        assert_eq!(cache.get(UserId(2), SessionId(3), now).map(|signed_in| signed_in.user), Some(user(2)));
        cache.forget_session(SessionId(3));
        assert_eq!(cache.get(UserId(2), SessionId(3), now).map(|signed_in| signed_in.user), None);
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_remembered() {
        let (cache, now) = (listening(), Utc::now());
        let ticket = cache.ticket();
        // The read is under way when another request changes the user: what it found may predate the change.
        cache.forget_user(UserId(9));
        cache.remember(
            ticket,
            SessionId(7),
            &SignedIn { user: user(1), session_expires_at: now + Duration::seconds(10) },
        );
        assert_eq!(cache.get(UserId(1), SessionId(7), now).map(|signed_in| signed_in.user), None);

        let ticket = cache.ticket();
        cache.lose();
        cache.prove(Instant::now());
        cache.remember(
            ticket,
            SessionId(7),
            &SignedIn { user: user(1), session_expires_at: now + Duration::seconds(10) },
        );
        assert_eq!(
            cache.get(UserId(1), SessionId(7), now).map(|signed_in| signed_in.user),
            None,
            "changes may have gone unheard in between"
        );
    }

    #[test]
    fn answers_from_memory_only_while_the_last_proof_is_younger_than_the_lag() {
        let (cache, now) = (listening(), Utc::now());
        cache.remember(
            cache.ticket(),
            SessionId(7),
            &SignedIn { user: user(1), session_expires_at: now + Duration::seconds(10) },
        );
        assert_eq!(cache.get(UserId(1), SessionId(7), now).map(|signed_in| signed_in.user), Some(user(1)));

        // Given a listener whose last proof went out longer ago than the lag allows (it stalled since)...
        let cache = SignedInCache::new(MAX_LAG);
        let stale = Instant::now().checked_sub(MAX_LAG + StdDuration::from_millis(10)).expect("an uptime over 1 s");
        cache.prove(stale);
        cache.remember(
            cache.ticket(),
            SessionId(7),
            &SignedIn { user: user(1), session_expires_at: now + Duration::seconds(10) },
        );
        // ...then nothing is answered from memory: a change since may be unheard.
        assert_eq!(cache.get(UserId(1), SessionId(7), now).map(|signed_in| signed_in.user), None);
        assert!(!cache.is_listening());
        assert!(cache.lag() > MAX_LAG);
        // A fresh proof shows every change before it was heard (none forgot this user): memory is good again.
        cache.prove(Instant::now());
        assert_eq!(cache.get(UserId(1), SessionId(7), now).map(|signed_in| signed_in.user), Some(user(1)));
        assert!(cache.lag() < MAX_LAG);
    }

    #[test]
    fn an_older_proof_arriving_late_does_not_make_the_cache_look_staler() {
        let cache = listening();
        let older = Instant::now().checked_sub(StdDuration::from_secs(5)).expect("an uptime over 5 s");
        cache.prove(older);
        assert!(cache.is_listening());
    }

    #[test]
    fn starts_over_when_full() {
        let (cache, now) = (listening(), Utc::now());
        let until = now + Duration::seconds(10);
        for session in 0..CAPACITY as i64 {
            cache.remember(cache.ticket(), SessionId(session), &SignedIn { user: user(1), session_expires_at: until });
        }
        cache.remember(cache.ticket(), SessionId(-1), &SignedIn { user: user(1), session_expires_at: until });
        assert_eq!(cache.get(UserId(1), SessionId(0), now).map(|signed_in| signed_in.user), None);
        assert_eq!(cache.get(UserId(1), SessionId(-1), now).map(|signed_in| signed_in.user), Some(user(1)));
    }
}
