//! The record of who did what: the events each use case hands the store with its change, and reading them back, an
//! admin any user's and a user their own, newest first a page at a time.

use chrono::{DateTime, Utc};
use users_domain::{ClientDetails, Role, User, UserId};
use users_ports::{AuditActor, AuditEvent, AuditEventId, AuditKind, AuditLog, AuditQuery, AuditRecord, UserUpdate};

use crate::recovery::is_new_address;

use crate::{Adapters, Administrator, CurrentUser, Unexpected, UserService, unexpected_from_port_errors};

/// Which events an admin asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditFilter {
    /// Events about this user, or done by them.
    pub user: Option<UserId>,
    pub kind: Option<AuditKind>,
    /// Only events older than this one (the `next` of the previous page).
    pub before: Option<AuditEventId>,
    pub limit: u32,
}

/// One page of events, newest first, and where the next page starts (`None` at the end).
#[derive(Clone, Debug, PartialEq)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    pub next: Option<AuditEventId>,
}

#[derive(Debug, thiserror::Error)]
pub enum ListAuditEventsError {
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum ListActivityError {
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

unexpected_from_port_errors!(ListAuditEventsError, ListActivityError);

impl<A: Adapters> UserService<A> {
    /// The events `filter` names, newest first.
    pub async fn list_audit_events(
        &self,
        _admin: &Administrator,
        filter: AuditFilter,
    ) -> Result<AuditPage, ListAuditEventsError> {
        let AuditFilter { user, kind, before, limit } = filter;
        Ok(self.audit_page(AuditQuery { user, kind, before, limit }).await?)
    }

    /// The caller's own events (about their account, or done by them), newest first. Where someone else did it (an
    /// admin), the user is told who and what, but not that person's address or device.
    pub async fn list_activity(
        &self,
        current: &CurrentUser,
        before: Option<AuditEventId>,
        limit: u32,
    ) -> Result<AuditPage, ListActivityError> {
        let me = current.user.id;
        let mut page = self.audit_page(AuditQuery { user: Some(me), kind: None, before, limit }).await?;
        for event in page.events.iter_mut().filter(|event| event.actor.is_some_and(|actor| actor != me)) {
            event.ip = None;
            event.user_agent = None;
        }
        Ok(page)
    }

    /// One page: a row more than asked tells whether another page follows, without counting.
    async fn audit_page(&self, query: AuditQuery) -> Result<AuditPage, Unexpected> {
        let mut events = self.audit.list_events(AuditQuery { limit: query.limit.saturating_add(1), ..query }).await?;
        let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
        let next = (events.len() > limit).then(|| {
            events.truncate(limit);
            events.last().map(|last| last.id)
        });
        Ok(AuditPage { events, next: next.flatten() })
    }
}

/// An event by the account it is about (its owner, signed in or holding its link), now.
pub(crate) fn by_owner(kind: AuditKind, at: DateTime<Utc>, client: &ClientDetails) -> AuditRecord {
    AuditRecord::new(kind, at, AuditActor::Subject, client)
}

/// An event done by the signed-in user `actor` to another account (an admin's), or to their own.
pub(crate) fn by(actor: &CurrentUser, kind: AuditKind, at: DateTime<Utc>) -> AuditRecord {
    AuditRecord::new(kind, at, AuditActor::User(actor.user.id), &actor.client)
}

/// An event nobody signed in did: an anonymous request, the command line.
pub(crate) fn by_nobody(kind: AuditKind, at: DateTime<Utc>, client: &ClientDetails) -> AuditRecord {
    AuditRecord::new(kind, at, AuditActor::Nobody, client)
}

/// The events an update of `before` records, each made by `record`: `user.updated` naming the fields it changes
/// (never their values), and `password.changed`, `email.changed` (from and to) and `roles.changed` (from and to) for
/// those. An update that changes nothing records nothing.
pub(crate) fn update_records(
    before: &User,
    update: &UserUpdate,
    record: impl Fn(AuditKind) -> AuditRecord,
) -> Vec<AuditRecord> {
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut changed = |name: &'static str, differs: bool| {
        if differs {
            fields.push(name);
        }
    };
    let patch = &update.profile;
    let profile = &before.profile;
    changed("username", update.username.as_ref().is_some_and(|username| *username != before.username));
    changed("first_name", patch.first_name.as_ref().is_some_and(|value| *value != profile.first_name));
    changed("last_name", patch.last_name.as_ref().is_some_and(|value| *value != profile.last_name));
    changed("website", patch.website.as_ref().is_some_and(|value| *value != profile.website));
    changed("facebook", patch.facebook.as_ref().is_some_and(|value| *value != profile.facebook));
    changed("instagram", patch.instagram.as_ref().is_some_and(|value| *value != profile.instagram));
    changed("linkedin", patch.linkedin.as_ref().is_some_and(|value| *value != profile.linkedin));
    changed("x", patch.x.as_ref().is_some_and(|value| *value != profile.x));
    changed("youtube", patch.youtube.as_ref().is_some_and(|value| *value != profile.youtube));
    // Another spelling of the same address is an update of the field, not a change of address.
    let new_address = update.email.as_ref().filter(|email| is_new_address(&before.email, email));
    changed("email", update.email.as_ref().is_some_and(|email| *email != before.email && new_address.is_none()));
    changed(
        "email_verified",
        new_address.is_none() && update.email_verified.is_some_and(|verified| verified != before.email_verified),
    );
    if !fields.is_empty() {
        records.push(record(AuditKind::UserUpdated).with("fields", fields));
    }
    if update.password_hash.is_some() {
        records.push(record(AuditKind::PasswordChanged));
    }
    if let Some(email) = new_address {
        records.push(record(AuditKind::EmailChanged).with("from", before.email.as_ref()).with("to", email.as_ref()));
    }
    if let Some(roles) = update.roles.as_ref().filter(|roles| !same_roles(roles, &before.roles)) {
        records.push(
            record(AuditKind::RolesChanged).with("from", role_names(&before.roles)).with("to", role_names(roles)),
        );
    }
    records
}

fn same_roles(one: &[Role], other: &[Role]) -> bool {
    let mut one = one.to_vec();
    let mut other = other.to_vec();
    one.sort();
    one.dedup();
    other.sort();
    other.dedup();
    one == other
}

/// Roles by name, as the APIs show them.
pub(crate) fn role_names(roles: &[Role]) -> Vec<&'static str> {
    let mut names: Vec<_> = roles.iter().map(|role| role.name()).collect();
    names.sort_unstable();
    names.dedup();
    names
}
