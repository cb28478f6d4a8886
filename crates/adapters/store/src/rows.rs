//! Row types of the `users`, `sessions`, `one_time_tokens`, `mail_outbox` and `audit_events` tables and their
//! translation into domain values.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use users_domain::{
    ClientDetails, Email, ObjectId, PersonName, Profile, ProfilePatch, ProfileUrl, Role, Suspension, SuspensionReason,
    User, UserAgent, UserId, Username,
};
use users_ports::{
    AuditEvent, AuditEventId, AuditKind, AuditRecord, Mail, MailContent, MailId, MailKind, NewOneTimeToken, NewUser,
    OneTimeToken, QueuedMail, SessionId, SessionKey, SessionRecord, StoreError, UserUpdate,
};

use crate::schema::{Stamp, audit_events, mail_outbox, one_time_tokens, sessions, users};

#[derive(Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct UserRow {
    id: i64,
    object_id: String,
    username: Option<String>,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    website: Option<String>,
    facebook: Option<String>,
    instagram: Option<String>,
    linkedin: Option<String>,
    x: Option<String>,
    youtube: Option<String>,
    email_verified: bool,
    suspended_at: Option<DateTime<Utc>>,
    suspended_until: Option<DateTime<Utc>>,
    suspension_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_sign_in_at: Option<DateTime<Utc>>,
    mfa_enabled: bool,
}

impl UserRow {
    /// The row's columns in its fields' order, loaded as a `UserRow` by position. `as_select()` would do the same for
    /// one backend only: its selection names the backend, and the queries here are built once for every backend.
    pub(crate) fn columns() -> <Self as Selectable<diesel::pg::Pg>>::SelectExpression {
        <Self as Selectable<diesel::pg::Pg>>::construct_selection()
    }

    pub(crate) fn id(&self) -> i64 {
        self.id
    }

    /// Rebuilds the domain user. Every stored value went through the domain's constructors on its way in, so a
    /// failure here means the row was changed behind the service's back: a fault, not a client error.
    pub(crate) fn into_user(self, role_ids: impl IntoIterator<Item = i64>) -> Result<User, StoreError> {
        let mut roles = role_ids.into_iter().map(Role::from_id).collect::<Result<Vec<_>, _>>().map_err(corrupt)?;
        roles.sort();
        roles.dedup();
        Ok(User {
            id: UserId(self.id),
            object_id: ObjectId::parse(&self.object_id).map_err(corrupt)?,
            username: self.username.map(Username::parse).transpose().map_err(corrupt)?,
            email: Email::parse(self.email).map_err(corrupt)?,
            profile: Profile {
                first_name: self.first_name.map(PersonName::parse).transpose().map_err(corrupt)?,
                last_name: self.last_name.map(PersonName::parse).transpose().map_err(corrupt)?,
                website: url(self.website)?,
                facebook: url(self.facebook)?,
                instagram: url(self.instagram)?,
                linkedin: url(self.linkedin)?,
                x: url(self.x)?,
                youtube: url(self.youtube)?,
            },
            roles,
            email_verified: self.email_verified,
            mfa_enabled: self.mfa_enabled,
            suspension: suspension(self.suspended_at, self.suspended_until, self.suspension_reason)?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_sign_in_at: self.last_sign_in_at,
        })
    }
}

/// The suspension the three columns hold: none without a start (the schema allows no end or reason without one).
/// One that has run out is returned all the same: whether it is in force is the reader's question, at its own `now`.
fn suspension(
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    reason: Option<String>,
) -> Result<Option<Suspension>, StoreError> {
    let Some(since) = since else { return Ok(None) };
    let reason = reason.map(SuspensionReason::parse).transpose().map_err(corrupt)?;
    Ok(Some(Suspension { since, until, reason }))
}

fn url(value: Option<String>) -> Result<Option<ProfileUrl>, StoreError> {
    value.map(ProfileUrl::parse).transpose().map_err(corrupt)
}

fn corrupt(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::new(format!("stored user row is invalid: {error}"))
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub(crate) struct NewUserRow<'a> {
    object_id: String,
    username: Option<&'a str>,
    email: &'a str,
    email_key: String,
    password_hash: &'a str,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    website: Option<&'a str>,
    facebook: Option<&'a str>,
    instagram: Option<&'a str>,
    linkedin: Option<&'a str>,
    x: Option<&'a str>,
    youtube: Option<&'a str>,
    email_verified: bool,
    created_at: Stamp,
    updated_at: Stamp,
}

impl<'a> From<&'a NewUser> for NewUserRow<'a> {
    fn from(user: &'a NewUser) -> Self {
        let profile = &user.profile;
        Self {
            object_id: user.object_id.to_string(),
            username: user.username.as_ref().map(Username::as_str),
            email: user.email.as_str(),
            email_key: user.email.key().into_string(),
            password_hash: user.password_hash.as_str(),
            first_name: profile.first_name.as_ref().map(PersonName::as_str),
            last_name: profile.last_name.as_ref().map(PersonName::as_str),
            website: profile.website.as_ref().map(ProfileUrl::as_str),
            facebook: profile.facebook.as_ref().map(ProfileUrl::as_str),
            instagram: profile.instagram.as_ref().map(ProfileUrl::as_str),
            linkedin: profile.linkedin.as_ref().map(ProfileUrl::as_str),
            x: profile.x.as_ref().map(ProfileUrl::as_str),
            youtube: profile.youtube.as_ref().map(ProfileUrl::as_str),
            email_verified: user.email_verified,
            created_at: Stamp(user.created_at),
            updated_at: Stamp(user.created_at),
        }
    }
}

/// Only the columns that are `Some` are written; `Some(None)` writes NULL.
#[derive(AsChangeset)]
#[diesel(table_name = users)]
pub(crate) struct UserChangeset<'a> {
    username: Option<Option<&'a str>>,
    email: Option<&'a str>,
    email_key: Option<String>,
    password_hash: Option<&'a str>,
    first_name: Option<Option<&'a str>>,
    last_name: Option<Option<&'a str>>,
    website: Option<Option<&'a str>>,
    facebook: Option<Option<&'a str>>,
    instagram: Option<Option<&'a str>>,
    linkedin: Option<Option<&'a str>>,
    x: Option<Option<&'a str>>,
    youtube: Option<Option<&'a str>>,
    email_verified: Option<bool>,
    updated_at: Stamp,
}

fn patch<T: AsRef<str>>(change: &Option<Option<T>>) -> Option<Option<&str>> {
    change.as_ref().map(|value| value.as_ref().map(AsRef::as_ref))
}

impl<'a> From<&'a UserUpdate> for UserChangeset<'a> {
    fn from(update: &'a UserUpdate) -> Self {
        let ProfilePatch { first_name, last_name, website, facebook, instagram, linkedin, x, youtube } =
            &update.profile;
        Self {
            username: patch(&update.username),
            email: update.email.as_ref().map(Email::as_str),
            email_key: update.email.as_ref().map(|email| email.key().into_string()),
            password_hash: update.password_hash.as_ref().map(|hash| hash.as_str()),
            first_name: patch(first_name),
            last_name: patch(last_name),
            website: patch(website),
            facebook: patch(facebook),
            instagram: patch(instagram),
            linkedin: patch(linkedin),
            x: patch(x),
            youtube: patch(youtube),
            email_verified: update.email_verified,
            updated_at: Stamp(update.updated_at),
        }
    }
}

/// A session as its owner is shown it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct SessionRow {
    id: i64,
    public_id: String,
    created_at: DateTime<Utc>,
    last_used_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl SessionRow {
    /// The row's columns in its fields' order (see [`UserRow::columns`]).
    pub(crate) fn columns() -> <Self as Selectable<diesel::pg::Pg>>::SelectExpression {
        <Self as Selectable<diesel::pg::Pg>>::construct_selection()
    }

    /// Rebuilds the record. A name that is not one the service makes is a fault; the device is only shown, never
    /// trusted, so an address that does not read back (changed behind the service's back) is shown as unknown rather
    /// than failing the owner's whole list.
    pub(crate) fn into_record(self) -> Result<SessionRecord, StoreError> {
        let key = SessionKey::parse(&self.public_id)
            .ok_or_else(|| StoreError::new(format!("stored session {} has an invalid public id", self.id)))?;
        Ok(SessionRecord {
            id: SessionId(self.id),
            key,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            expires_at: self.expires_at,
            client: read_client(self.ip, self.user_agent),
        })
    }
}

/// A device as the `sessions` and `audit_events` tables keep it: its address as text (`IpAddr`'s own form), and its
/// user agent.
pub(crate) fn stored_client(client: &ClientDetails) -> (Option<String>, Option<&str>) {
    (client.ip.map(|ip| ip.to_string()), client.user_agent.as_ref().map(UserAgent::as_str))
}

/// [`stored_client`] read back. A device is only shown, never trusted: an address that does not read back is shown as
/// unknown.
fn read_client(ip: Option<String>, user_agent: Option<String>) -> ClientDetails {
    ClientDetails {
        ip: ip.and_then(|ip| ip.parse().ok()),
        user_agent: user_agent.and_then(|agent| UserAgent::from_header(&agent)),
    }
}

#[derive(Insertable)]
#[diesel(table_name = one_time_tokens)]
pub(crate) struct NewOneTimeTokenRow<'a> {
    token_hash: &'a str,
    user_id: i64,
    purpose: &'static str,
    email_key: String,
    created_at: Stamp,
    expires_at: Stamp,
}

impl<'a> NewOneTimeTokenRow<'a> {
    pub(crate) fn new(user_id: i64, token: &'a NewOneTimeToken) -> Self {
        Self {
            token_hash: &token.hash.0,
            user_id,
            purpose: token.purpose.as_str(),
            email_key: token.email.key().into_string(),
            created_at: Stamp(token.created_at),
            expires_at: Stamp(token.expires_at),
        }
    }
}

/// A message as the outbox keeps it: its kind, and the one detail of its content each kind has.
#[derive(Insertable)]
#[diesel(table_name = mail_outbox)]
pub(crate) struct NewMailRow<'a> {
    kind: &'static str,
    recipient: &'a str,
    token: Option<&'a str>,
    new_email: Option<&'a str>,
    queued_at: Stamp,
    next_attempt_at: Stamp,
}

impl<'a> NewMailRow<'a> {
    /// The message queued at `at`, due at once.
    pub(crate) fn new(mail: &'a Mail, at: DateTime<Utc>) -> Self {
        let (token, new_email) = match &mail.content {
            MailContent::VerifyEmail { token } | MailContent::ResetPassword { token } => (Some(token.as_str()), None),
            MailContent::EmailChanged { new_email } => (None, Some(new_email.as_str())),
            MailContent::PasswordChanged | MailContent::Test => (None, None),
        };
        Self {
            kind: mail.kind().as_str(),
            recipient: mail.to.as_str(),
            token,
            new_email,
            queued_at: Stamp(at),
            next_attempt_at: Stamp(at),
        }
    }
}

/// A message claimed from the outbox, as the claim returns it: `attempts` already counts this claim. (`pub` only
/// because each [`crate::Dialect`] returns it; the crate does not export it.)
#[derive(Queryable, Selectable)]
#[diesel(table_name = mail_outbox, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct ClaimedMailRow {
    id: i64,
    kind: String,
    recipient: String,
    token: Option<String>,
    new_email: Option<String>,
    queued_at: DateTime<Utc>,
    attempts: i32,
}

/// Never shows the token the message carries, nor its address.
impl std::fmt::Debug for ClaimedMailRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimedMailRow").field("id", &self.id).field("kind", &self.kind).finish_non_exhaustive()
    }
}

impl ClaimedMailRow {
    /// The row's columns in its fields' order (see [`UserRow::columns`]).
    pub(crate) fn columns() -> <Self as Selectable<diesel::pg::Pg>>::SelectExpression {
        <Self as Selectable<diesel::pg::Pg>>::construct_selection()
    }

    pub(crate) fn id(&self) -> i64 {
        self.id
    }

    /// Rebuilds the message. Every row was written from a `Mail`, so one that does not read back was changed behind
    /// the service's back: a fault. (The error names the row, never its address or token.)
    pub(crate) fn into_queued(self) -> Result<QueuedMail, StoreError> {
        let Self { id, kind, recipient, token, new_email, queued_at, attempts } = self;
        let invalid = |what: &str| StoreError::new(format!("stored mail {id} is invalid: {what}"));
        let token = || token.map(OneTimeToken::new).ok_or_else(|| invalid("it has no token"));
        let content = match MailKind::ALL.into_iter().find(|known| known.as_str() == kind) {
            Some(MailKind::VerifyEmail) => MailContent::VerifyEmail { token: token()? },
            Some(MailKind::ResetPassword) => MailContent::ResetPassword { token: token()? },
            Some(MailKind::EmailChanged) => {
                let new_email = new_email.ok_or_else(|| invalid("it has no new address"))?;
                MailContent::EmailChanged {
                    new_email: Email::parse(new_email).map_err(|_| invalid("the new address"))?,
                }
            }
            Some(MailKind::PasswordChanged) => MailContent::PasswordChanged,
            Some(MailKind::Test) => MailContent::Test,
            None => return Err(invalid("its kind")),
        };
        let to = Email::parse(recipient).map_err(|_| invalid("the recipient"))?;
        Ok(QueuedMail {
            id: MailId(id),
            mail: Mail { to, content },
            queued_at,
            // The claim that read the row counted itself.
            attempts: u32::try_from(attempts - 1).unwrap_or(0),
        })
    }
}

/// An event as `audit_events` keeps it: the record the use case made, about `subject_id`, by the actor it names.
#[derive(Insertable)]
#[diesel(table_name = audit_events)]
pub(crate) struct NewAuditEventRow<'a> {
    at: Stamp,
    kind: &'static str,
    actor_id: Option<i64>,
    subject_id: Option<i64>,
    ip: Option<String>,
    user_agent: Option<&'a str>,
    details: String,
}

impl<'a> NewAuditEventRow<'a> {
    /// `record` about the user `subject`. Its details are a map of JSON values keyed by strings, which always
    /// serialise; an error would still fail the change rather than lose the event.
    pub(crate) fn new(subject: UserId, record: &'a AuditRecord) -> Result<Self, serde_json::Error> {
        let (ip, user_agent) = stored_client(&record.client);
        Ok(Self {
            at: Stamp(record.at),
            kind: record.kind.as_str(),
            actor_id: record.actor_id(subject).map(|actor| actor.0),
            subject_id: Some(subject.0),
            ip,
            user_agent,
            details: serde_json::to_string(&record.details)?,
        })
    }
}

/// An event as read back from `audit_events`.
#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_events, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct AuditEventRow {
    /// First: the page's statement orders its two walks by position (see `audit`).
    id: i64,
    at: DateTime<Utc>,
    kind: String,
    actor_id: Option<i64>,
    subject_id: Option<i64>,
    ip: Option<String>,
    user_agent: Option<String>,
    details: String,
}

impl AuditEventRow {
    /// The row's columns in its fields' order (see [`UserRow::columns`]).
    pub(crate) fn columns() -> <Self as Selectable<diesel::pg::Pg>>::SelectExpression {
        <Self as Selectable<diesel::pg::Pg>>::construct_selection()
    }

    /// Rebuilds the event. A kind the service does not know, or details that are not a JSON object (the schema
    /// allows neither), mean the row was changed behind the service's back: a fault, naming the row. The client is
    /// only shown, never trusted, as a session's is: an address that does not read back is shown as unknown.
    pub(crate) fn into_event(self) -> Result<AuditEvent, StoreError> {
        let Self { id, at, kind, actor_id, subject_id, ip, user_agent, details } = self;
        let invalid = |what: &str| StoreError::new(format!("stored audit event {id} is invalid: {what}"));
        let kind = AuditKind::parse(&kind).ok_or_else(|| invalid("its kind"))?;
        let details = match serde_json::from_str(&details) {
            Ok(serde_json::Value::Object(details)) => details,
            _ => return Err(invalid("its details are not a JSON object")),
        };
        let client = read_client(ip, user_agent);
        Ok(AuditEvent {
            id: AuditEventId(id),
            at,
            kind,
            actor: actor_id.map(UserId),
            subject: subject_id.map(UserId),
            ip: client.ip,
            user_agent: client.user_agent,
            details,
        })
    }
}
