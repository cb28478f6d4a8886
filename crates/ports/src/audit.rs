//! `AuditLog`: the record of who did what to which account, written by the store in the transaction of each change
//! (so a change and its event stand or fall together), read back newest first a page at a time, and pruned.

use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use users_domain::{AttemptOutcome, ClientDetails, ClientNetwork, FinishedAttempt, UserAgent, UserId};

use crate::StoreError;

/// What happened. The names (`as_str`) are the contract clients filter and read by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditKind {
    UserRegistered,
    UserCreated,
    UserUpdated,
    UserDeleted,
    UserSignedIn,
    UserSignInFailed,
    UserLocked,
    UserUnlocked,
    UserSignedOut,
    SessionRevoked,
    PasswordChanged,
    PasswordResetRequested,
    PasswordReset,
    EmailChanged,
    EmailVerified,
    RolesChanged,
    UserSuspended,
    UserUnsuspended,
    MfaEnabled,
    MfaDisabled,
    UserImported,
}

impl AuditKind {
    pub const ALL: [Self; 21] = [
        Self::UserRegistered,
        Self::UserCreated,
        Self::UserUpdated,
        Self::UserDeleted,
        Self::UserSignedIn,
        Self::UserSignInFailed,
        Self::UserLocked,
        Self::UserUnlocked,
        Self::UserSignedOut,
        Self::SessionRevoked,
        Self::PasswordChanged,
        Self::PasswordResetRequested,
        Self::PasswordReset,
        Self::EmailChanged,
        Self::EmailVerified,
        Self::RolesChanged,
        Self::UserSuspended,
        Self::UserUnsuspended,
        Self::MfaEnabled,
        Self::MfaDisabled,
        Self::UserImported,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserRegistered => "user.registered",
            Self::UserCreated => "user.created",
            Self::UserUpdated => "user.updated",
            Self::UserDeleted => "user.deleted",
            Self::UserSignedIn => "user.signed_in",
            Self::UserSignInFailed => "user.sign_in_failed",
            Self::UserLocked => "user.locked",
            Self::UserUnlocked => "user.unlocked",
            Self::UserSignedOut => "user.signed_out",
            Self::SessionRevoked => "session.revoked",
            Self::PasswordChanged => "password.changed",
            Self::PasswordResetRequested => "password.reset_requested",
            Self::PasswordReset => "password.reset",
            Self::EmailChanged => "email.changed",
            Self::EmailVerified => "email.verified",
            Self::RolesChanged => "roles.changed",
            Self::UserSuspended => "user.suspended",
            Self::UserUnsuspended => "user.unsuspended",
            Self::MfaEnabled => "mfa.enabled",
            Self::MfaDisabled => "mfa.disabled",
            Self::UserImported => "user.imported",
        }
    }

    /// The kind named `name`, as [`AuditKind::as_str`] writes it.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl std::fmt::Display for AuditKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who did it, as the use case knows it before the change is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditActor {
    /// The account the event is about: its owner signing up, in or out, changing their own profile.
    Subject,
    /// Another user: an admin.
    User(UserId),
    /// Nobody signed in: a failed sign-in, a reset link, the command line.
    Nobody,
}

/// An event as a use case hands it to the store with its change. The store adds the subject (the user the change is
/// about, known to it even when the change creates that user) and the id, and writes it in the change's transaction:
/// if the event cannot be written, the change fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub kind: AuditKind,
    /// When it happened: the time of the change it records.
    pub at: DateTime<Utc>,
    pub actor: AuditActor,
    pub client: ClientDetails,
    /// A JSON object; never a password, token or hash.
    pub details: Map<String, Value>,
}

impl AuditRecord {
    pub fn new(kind: AuditKind, at: DateTime<Utc>, actor: AuditActor, client: &ClientDetails) -> Self {
        Self { kind, at, actor, client: client.clone(), details: Map::new() }
    }

    /// The same event with `key` set to `value` in its details.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// The actor's id, once the subject is known.
    pub fn actor_id(&self, subject: UserId) -> Option<UserId> {
        match self.actor {
            AuditActor::Subject => Some(subject),
            AuditActor::User(id) => Some(id),
            AuditActor::Nobody => None,
        }
    }
}

/// What a finished sign-in attempt records (`UserRepository::finish_login_attempt` writes it, in every store): a
/// refusal, as `user.sign_in_failed` from `client` and its `network`; and the lock the attempt set, as `user.locked`
/// with its end (`until`) and what it locks: the `network`, or (`"scope": "account"`) every network, when the
/// refusal reached the account-wide backstop. A verified or abandoned attempt records nothing. Nobody is signed in
/// during a sign-in: no actor.
pub fn sign_in_records(
    network: &ClientNetwork,
    outcome: AttemptOutcome,
    finished: &FinishedAttempt,
    now: DateTime<Utc>,
    client: &ClientDetails,
) -> Vec<AuditRecord> {
    let mut records = Vec::new();
    if outcome == AttemptOutcome::Refused {
        let failed = AuditRecord::new(AuditKind::UserSignInFailed, now, AuditActor::Nobody, client);
        records.push(failed.with("network", network.as_str()));
    }
    if let Some(until) = finished.locked_until {
        let locked = AuditRecord::new(AuditKind::UserLocked, now, AuditActor::Nobody, client)
            .with("until", until.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        let account_wide = finished.account.is_some_and(|account| account.locked_until.is_some());
        records.push(if account_wide {
            locked.with("scope", "account")
        } else {
            locked.with("network", network.as_str())
        });
    }
    records
}

/// The position of an event in the log: ids only grow, so they order events and page through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuditEventId(pub i64);

/// An event as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub at: DateTime<Utc>,
    pub kind: AuditKind,
    pub actor: Option<UserId>,
    pub subject: Option<UserId>,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<UserAgent>,
    pub details: Map<String, Value>,
}

/// Which events to read: newest first, older than `before` when given, at most `limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditQuery {
    /// Events about this user or done by them.
    pub user: Option<UserId>,
    pub kind: Option<AuditKind>,
    pub before: Option<AuditEventId>,
    pub limit: u32,
}

#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait AuditLog: Send + Sync + 'static {
    /// The events `query` names, newest (highest id) first.
    async fn list_events(&self, query: AuditQuery) -> Result<Vec<AuditEvent>, StoreError>;

    /// Deletes the events older than `before`; returns how many.
    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_name() {
        for kind in AuditKind::ALL {
            assert_eq!(AuditKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(AuditKind::parse("user.hacked"), None);
    }
}
