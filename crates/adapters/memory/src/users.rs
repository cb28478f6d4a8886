//! `UserRepository` in memory: users with their credentials, roles and sign-in counts.

use chrono::{DateTime, Utc};
use users_domain::{
    AttemptOutcome, ClientDetails, ClientNetwork, Email, LockoutPolicy, LoginAttempt, LoginIdentifier, LoginThrottle,
    ObjectId, PersonName, ProfilePatch, Role, Suspension, User, UserId, Username,
};
use users_ports::{
    AuditRecord, DeleteUserError, EndSessions, InsertUserError, NewUser, Page, SessionId, SignedIn, StoreError,
    StoredCredentials, SuspendUserError, TokenPurpose, Total, UpdateUserError, UserOrder, UserQuery, UserRepository,
    UserSortKey, UserUpdate,
};

use crate::{MemoryStore, State, StoredUser};

#[derive(Clone, Debug)]
pub struct MemoryUsers {
    store: MemoryStore,
}

impl MemoryUsers {
    pub(crate) fn new(store: MemoryStore) -> Self {
        Self { store }
    }
}

impl State {
    /// Whether a user other than `except` has this email, compared by its key (case and composition ignored).
    fn email_taken(&self, email: &Email, except: Option<UserId>) -> bool {
        let key = email.key();
        self.users.values().any(|stored| Some(stored.user.id) != except && stored.user.email.key() == key)
    }

    /// Whether a user other than `except` has this username, ignoring case (usernames are ASCII).
    fn username_taken(&self, username: &Username, except: Option<UserId>) -> bool {
        self.users.values().any(|stored| {
            Some(stored.user.id) != except
                && stored.user.username.as_ref().is_some_and(|taken| same_username(taken, username))
        })
    }

    /// Whether taking `id` out of the admins (deleting, demoting or suspending it) would leave no admin active at
    /// `at`: it is an admin, and every other one is suspended then (or there is none).
    fn is_last_active_admin(&self, id: UserId, at: DateTime<Utc>) -> bool {
        self.users.get(&id).is_some_and(|stored| stored.user.is_admin()) && !self.another_active_admin(id, at)
    }

    /// Whether an admin other than `id` is active at `at`: not suspended then.
    fn another_active_admin(&self, id: UserId, at: DateTime<Utc>) -> bool {
        self.users
            .values()
            .any(|stored| stored.user.id != id && stored.user.is_admin() && !stored.user.is_suspended(at))
    }
}

fn same_username(a: &Username, b: &Username) -> bool {
    a.as_ref().eq_ignore_ascii_case(b.as_ref())
}

/// Sorted, without duplicates, as a `User`'s roles are.
fn sorted(mut roles: Vec<Role>) -> Vec<Role> {
    roles.sort_unstable();
    roles.dedup();
    roles
}

/// Applies one change of a patch: `None` keeps the field, `Some(value)` sets it (to nothing, if `value` is `None`).
fn patch<T>(field: &mut Option<T>, change: Option<Option<T>>) {
    if let Some(value) = change {
        *field = value;
    }
}

fn apply(stored: &mut StoredUser, update: UserUpdate) {
    let user = &mut stored.user;
    patch(&mut user.username, update.username);
    if let Some(email) = update.email {
        user.email = email;
    }
    if let Some(hash) = update.password_hash {
        stored.password_hash = hash;
    }
    let ProfilePatch { first_name, last_name, website, facebook, instagram, linkedin, x, youtube } = update.profile;
    let profile = &mut user.profile;
    patch(&mut profile.first_name, first_name);
    patch(&mut profile.last_name, last_name);
    patch(&mut profile.website, website);
    patch(&mut profile.facebook, facebook);
    patch(&mut profile.instagram, instagram);
    patch(&mut profile.linkedin, linkedin);
    patch(&mut profile.x, x);
    patch(&mut profile.youtube, youtube);
    if let Some(roles) = update.roles {
        user.roles = sorted(roles);
    }
    if let Some(verified) = update.email_verified {
        user.email_verified = verified;
    }
    user.updated_at = update.updated_at;
}

impl UserRepository for MemoryUsers {
    async fn insert(&self, new: NewUser) -> Result<User, InsertUserError> {
        let mut state = self.store.lock();
        if state.email_taken(&new.email, None) {
            return Err(InsertUserError::DuplicateEmail);
        }
        if new.username.as_ref().is_some_and(|username| state.username_taken(username, None)) {
            return Err(InsertUserError::DuplicateUsername);
        }
        if state.users.values().any(|stored| stored.user.object_id == new.object_id) {
            return Err(StoreError::new("object id already stored").into());
        }
        state.check_new_token(new.verification.as_ref())?;
        state.last_user_id += 1;
        let user = User {
            id: UserId(state.last_user_id),
            object_id: new.object_id,
            username: new.username,
            email: new.email,
            profile: new.profile,
            roles: sorted(new.roles),
            email_verified: new.email_verified,
            mfa_enabled: false,
            suspension: None,
            created_at: new.created_at,
            updated_at: new.created_at,
            last_sign_in_at: None,
        };
        let stored =
            StoredUser { user: user.clone(), password_hash: new.password_hash, throttle: LoginThrottle::default() };
        state.users.insert(user.id, stored);
        if let Some(verification) = new.verification {
            state.store_mailed(user.id, verification);
        }
        state.record(user.id, new.audit);
        Ok(user)
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.store.lock().users.get(&id).map(|stored| stored.user.clone()))
    }

    async fn find_by_object_id(&self, id: ObjectId) -> Result<Option<User>, StoreError> {
        let state = self.store.lock();
        Ok(state.users.values().find(|stored| stored.user.object_id == id).map(|stored| stored.user.clone()))
    }

    async fn find_credentials(&self, login: &LoginIdentifier) -> Result<Option<StoredCredentials>, StoreError> {
        let state = self.store.lock();
        let found = state.users.values().find(|stored| match login {
            LoginIdentifier::Email(email) => stored.user.email.key() == email.key(),
            LoginIdentifier::Username(username) => {
                stored.user.username.as_ref().is_some_and(|name| same_username(name, username))
            }
        });
        Ok(found.map(|stored| StoredCredentials {
            user: stored.user.clone(),
            password_hash: stored.password_hash.clone(),
            throttle: stored.throttle,
        }))
    }

    async fn find_session(
        &self,
        id: UserId,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<SignedIn>, StoreError> {
        let state = self.store.lock();
        let Some(session) = state.sessions.get(&session) else { return Ok(None) };
        if session.user_id != id || session.revoked_at.is_some() || session.expires_at <= now {
            return Ok(None);
        }
        let user = state.users.get(&id).map(|stored| stored.user.clone());
        Ok(user.map(|user| SignedIn { user, session_expires_at: session.expires_at }))
    }

    async fn update(&self, id: UserId, mut update: UserUpdate) -> Result<User, UpdateUserError> {
        let mut state = self.store.lock();
        let demotes = update.roles.as_ref().is_some_and(|roles| !roles.contains(&Role::Admin));
        if demotes && state.is_last_active_admin(id, update.updated_at) {
            return Err(UpdateUserError::LastAdmin);
        }
        let mut changed = state.users.get(&id).ok_or(UpdateUserError::NotFound)?.clone();
        if update.email.as_ref().is_some_and(|email| state.email_taken(email, Some(id))) {
            return Err(UpdateUserError::DuplicateEmail);
        }
        if let Some(Some(username)) = &update.username
            && state.username_taken(username, Some(id))
        {
            return Err(UpdateUserError::DuplicateUsername);
        }
        state.check_new_token(update.verification.as_ref())?;
        let (ends_sessions, updated_at, mail_interval) =
            (update.ends_sessions, update.updated_at, update.mail_interval);
        let voids_tokens = match (&update.password_hash, &update.email) {
            (Some(_), _) => Some(None),
            (None, Some(email)) => Some(Some(email.key())),
            (None, None) => None,
        };
        let (verification, notices) = (update.verification.take(), std::mem::take(&mut update.notices));
        let audit = std::mem::take(&mut update.audit);
        apply(&mut changed, update);
        let user = changed.user.clone();
        state.users.insert(id, changed);
        if let Some(ends) = ends_sessions {
            state.end_sessions(id, ends, updated_at);
        }
        if let Some(keeping_address) = voids_tokens {
            state.void_tokens(id, keeping_address.as_ref(), updated_at);
        }
        let since = updated_at - mail_interval;
        if let Some(verification) = verification.filter(|mailed| !state.verified_since(&mailed.mail.to, since)) {
            state.store_mailed(id, verification);
        }
        let notices: Vec<_> = notices.into_iter().filter(|notice| !state.verified_since(&notice.to, since)).collect();
        for notice in notices {
            state.queue(notice, updated_at);
        }
        state.record(id, audit);
        Ok(user)
    }

    async fn begin_login_attempt(
        &self,
        id: UserId,
        network: &ClientNetwork,
        now: DateTime<Utc>,
        lockout: &LockoutPolicy,
    ) -> Result<LoginAttempt, StoreError> {
        let mut state = self.store.lock();
        let Some(account) = state.users.get(&id).map(|stored| stored.throttle) else {
            return Ok(LoginAttempt::Allowed);
        };
        let networks = state.throttles.entry(id).or_default();
        let this = networks.get(network).copied();
        let (attempt, counted) = lockout.begin_attempt(account, this, networks.values().copied(), now);
        if let Some(throttle) = counted {
            networks.insert(network.clone(), throttle);
        }
        Ok(attempt)
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
        let mut state = self.store.lock();
        let state = &mut *state;
        let Some(stored) = state.users.get_mut(&id) else { return Ok(None) };
        let networks = state.throttles.entry(id).or_default();
        let finished = lockout.finish_attempt(stored.throttle, networks.get(network).copied(), outcome, now);
        networks.insert(network.clone(), finished.network);
        if let Some(account) = finished.account {
            stored.throttle = account;
        }
        state.record(id, users_ports::sign_in_records(network, outcome, &finished, now, client));
        Ok(finished.locked_until)
    }

    async fn clear_lockout(&self, id: UserId, audit: AuditRecord) -> Result<bool, StoreError> {
        let mut state = self.store.lock();
        state.throttles.remove(&id);
        let Some(stored) = state.users.get_mut(&id) else { return Ok(false) };
        stored.throttle = LoginThrottle::default();
        state.record(id, [audit]);
        Ok(true)
    }

    async fn purge_login_throttles(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut state = self.store.lock();
        let mut purged = 0;
        for networks in state.throttles.values_mut() {
            networks.retain(|_, throttle| {
                let idle = throttle.updated_at < before && throttle.locked_until.is_none_or(|until| until < before);
                purged += u64::from(idle);
                !idle
            });
        }
        state.throttles.retain(|_, networks| !networks.is_empty());
        Ok(purged)
    }

    async fn suspend(&self, id: UserId, suspension: Suspension, audit: AuditRecord) -> Result<User, SuspendUserError> {
        let mut state = self.store.lock();
        let since = suspension.since;
        if !state.users.contains_key(&id) {
            return Err(SuspendUserError::NotFound);
        }
        if state.is_last_active_admin(id, since) {
            return Err(SuspendUserError::LastActiveAdmin);
        }
        let Some(stored) = state.users.get_mut(&id) else { return Err(SuspendUserError::NotFound) };
        stored.user.suspension = Some(suspension);
        stored.user.updated_at = since;
        let user = stored.user.clone();
        // Nothing made before the suspension lets its holder back in: no session, no mailed link to a new password, no
        // sign-in waiting for its code.
        state.end_sessions(id, EndSessions::All, since);
        state.void_tokens_of(id, &TokenPurpose::VOIDED_BY_A_RESET, since);
        state.record(id, [audit]);
        Ok(user)
    }

    async fn unsuspend(&self, id: UserId, now: DateTime<Utc>, audit: AuditRecord) -> Result<Option<User>, StoreError> {
        let mut state = self.store.lock();
        let Some(stored) = state.users.get_mut(&id) else { return Ok(None) };
        // A user never suspended (or lifted already) stays as is, the time of its update too.
        if stored.user.suspension.is_none() {
            return Ok(Some(stored.user.clone()));
        }
        stored.user.suspension = None;
        stored.user.updated_at = now;
        let user = stored.user.clone();
        state.record(id, [audit]);
        Ok(Some(user))
    }

    async fn delete(&self, id: UserId, audit: AuditRecord) -> Result<(), DeleteUserError> {
        let mut state = self.store.lock();
        if state.is_last_active_admin(id, audit.at) {
            return Err(DeleteUserError::LastAdmin);
        }
        state.users.remove(&id).ok_or(DeleteUserError::NotFound)?;
        // Roles, sessions, refresh tokens, sign-in counts, one-time tokens and the second factor with its recovery
        // codes go with the user; queued mail stays, and so do the user's audit events, this one among them.
        state.sessions.retain(|_, session| session.user_id != id);
        state.forget_orphan_tokens();
        state.throttles.remove(&id);
        state.one_time_tokens.retain(|_, token| token.user != id);
        state.totp_factors.remove(&id);
        state.recovery_codes.remove(&id);
        state.record(id, [audit]);
        Ok(())
    }

    async fn list(&self, query: &UserQuery) -> Result<Page<User>, StoreError> {
        let state = self.store.lock();
        let mut matching: Vec<&User> =
            state.users.values().map(|stored| &stored.user).filter(|user| lets_through(query, user)).collect();
        matching.sort_by(|a, b| in_order(query.order, a, b));
        let offset = usize::try_from(query.page.offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(query.page.limit).unwrap_or(usize::MAX);
        let items = matching.iter().skip(offset).take(limit).map(|user| (*user).clone()).collect();
        let count = u64::try_from(matching.len()).unwrap_or(u64::MAX);
        let total = if query.filter.is_empty() || count <= query.count_limit {
            Total::Exact(count)
        } else {
            Total::AtLeast(query.count_limit)
        };
        Ok(Page { items, total })
    }

    async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
        Ok(Role::ALL.to_vec())
    }

    async fn check_health(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Whether `user` meets every condition of the query's filter, as the SQL stores judge it.
fn lets_through(query: &UserQuery, user: &User) -> bool {
    let filter = &query.filter;
    let text = filter.text.as_ref().is_none_or(|prefix| {
        let names = [
            user.username.as_ref().map(Username::as_str),
            user.profile.first_name.as_ref().map(PersonName::as_str),
            user.profile.last_name.as_ref().map(PersonName::as_str),
        ];
        prefix.matches(user.email.key().as_str()) || names.into_iter().flatten().any(|name| prefix.matches(name))
    });
    text && filter.role.is_none_or(|role| user.roles.contains(&role))
        && filter.status.is_none_or(|status| user.status(query.now) == status)
        && filter.verified.is_none_or(|verified| user.email_verified == verified)
        && filter.created_after.is_none_or(|after| user.created_at > after)
        && filter.created_before.is_none_or(|before| user.created_at < before)
}

/// The query's order: by its key, then by id, never signed in before any time.
fn in_order(order: UserOrder, a: &User, b: &User) -> std::cmp::Ordering {
    let by_key = match order.key {
        UserSortKey::Id => std::cmp::Ordering::Equal,
        UserSortKey::Email => a.email.key().as_str().cmp(b.email.key().as_str()),
        UserSortKey::CreatedAt => a.created_at.cmp(&b.created_at),
        UserSortKey::LastSignInAt => a.last_sign_in_at.cmp(&b.last_sign_in_at),
    };
    let ascending = by_key.then(a.id.cmp(&b.id));
    if order.descending { ascending.reverse() } else { ascending }
}
