//! Mail: the messages the core sends (`Mail`), the durable queue they wait in (`MailOutbox`, written by the store in
//! the transaction of the change that causes them) and the way out of the process (`MailSender`).

use chrono::{DateTime, Utc};
use users_domain::Email;

use crate::{OneTimeToken, StoreError};

/// A message as the core describes it: to whom, and what it says. The mail adapter words and renders it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    pub to: Email,
    pub content: MailContent,
}

/// What a message says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailContent {
    /// A link that proves the recipient controls the address.
    VerifyEmail { token: OneTimeToken },
    /// A link that lets the recipient choose a new password.
    ResetPassword { token: OneTimeToken },
    /// A notice to an account's former address that it was replaced by `new_email`.
    EmailChanged { new_email: Email },
    /// A notice to an account's address that its password was changed (a reset, or a change by its owner).
    PasswordChanged,
    /// A message that only proves the transport works (`users-server send-test-mail`).
    Test,
}

/// The kinds of message, as metrics and the outbox name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MailKind {
    VerifyEmail,
    ResetPassword,
    EmailChanged,
    PasswordChanged,
    Test,
}

impl MailKind {
    pub const ALL: [Self; 5] =
        [Self::VerifyEmail, Self::ResetPassword, Self::EmailChanged, Self::PasswordChanged, Self::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::EmailChanged => "email_changed",
            Self::PasswordChanged => "password_changed",
            Self::Test => "test",
        }
    }
}

impl Mail {
    pub fn kind(&self) -> MailKind {
        match self.content {
            MailContent::VerifyEmail { .. } => MailKind::VerifyEmail,
            MailContent::ResetPassword { .. } => MailKind::ResetPassword,
            MailContent::EmailChanged { .. } => MailKind::EmailChanged,
            MailContent::PasswordChanged => MailKind::PasswordChanged,
            MailContent::Test => MailKind::Test,
        }
    }
}

/// The identity of a message in the outbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MailId(pub i64);

/// A message claimed from the outbox for delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedMail {
    pub id: MailId,
    pub mail: Mail,
    pub queued_at: DateTime<Utc>,
    /// Deliveries tried before this one.
    pub attempts: u32,
}

/// How many messages wait in the outbox, and how many were given up on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxDepth {
    pub queued: u64,
    pub failed: u64,
}

/// The durable queue of messages. Messages enter it with the change that causes them (the store's own writes); a
/// worker on each instance claims, delivers and settles them here.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait MailOutbox: Send + Sync + 'static {
    /// Claims up to `limit` queued messages due at `now`, oldest first, and hides them from every worker (of any
    /// instance) until `lease_until`: a worker that dies mid-delivery leaves them to be claimed again then.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<QueuedMail>, StoreError>;

    /// The message was accepted by the transport: it leaves the outbox.
    async fn settle_sent(&self, id: MailId) -> Result<(), StoreError>;

    /// Delivery failed; try again at `next_attempt_at`.
    async fn settle_retry(&self, id: MailId, next_attempt_at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Delivery is given up: the message stays in the outbox, marked failed at `at`, and is never claimed again; the
    /// token its link carried is erased with it.
    async fn settle_failed(&self, id: MailId, at: DateTime<Utc>) -> Result<(), StoreError>;

    async fn depth(&self) -> Result<OutboxDepth, StoreError>;
}

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The transport could not take it now (a server down, a timeout, a temporary refusal): try again later.
    #[error("mail transport unavailable: {0}")]
    Unavailable(Box<dyn std::error::Error + Send + Sync>),
    /// The transport refused this message for good (a permanent SMTP rejection): retrying cannot help.
    #[error("mail rejected: {0}")]
    Rejected(Box<dyn std::error::Error + Send + Sync>),
}

/// Delivers one message out of the process: an SMTP server, or a folder of files.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait MailSender: Send + Sync + 'static {
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}
