//! The audit log: each change writes the events its use case hands over (and a sign-in's refusals and locks, which
//! the store records itself) with the right kind, actor, subject, time, client and details, and only when the change
//! happened; events are read newest first, by user (about them, or done by them), by kind, a page at a time; pruning
//! deletes only older events, and the events of a deleted user stay.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use users_domain::{AttemptOutcome, ClientDetails, ClientNetwork, LoginAttempt, UserId};
use users_ports::{
    AuditActor, AuditEvent, AuditEventId, AuditKind, AuditLog, AuditQuery, AuditRecord, DeleteUserError, Mail,
    MailContent, NewUser, OneTimeTokenRepository, SessionKey, SessionRepository, SuspendUserError, TokenIssue,
    TokenPurpose, UpdateUserError, UserRepository, UserUpdate,
};

use crate::fixtures::{
    LOCKOUT, audit, device, email, insert_ok, mailed_token, new_admin, new_session, new_user, now, one_time,
    other_password_hash, seconds, signed_in_at, suspension, throttle_of, token, touch,
};

/// Every event, newest first.
async fn all<A: AuditLog>(log: &A) -> Vec<AuditEvent> {
    log.list_events(AuditQuery { user: None, kind: None, before: None, limit: 1000 }).await.expect("list events")
}

/// The events about `user` or done by them, newest first.
async fn of<A: AuditLog>(log: &A, user: UserId) -> Vec<AuditEvent> {
    log.list_events(AuditQuery { user: Some(user), kind: None, before: None, limit: 1000 }).await.expect("list events")
}

/// The kinds of `events`, in their order.
fn kinds(events: &[AuditEvent]) -> Vec<AuditKind> {
    events.iter().map(|event| event.kind).collect()
}

/// The event `record` about `subject` should be read back as, but for its id (which the store gives).
fn expected(record: &AuditRecord, subject: UserId, id: AuditEventId) -> AuditEvent {
    AuditEvent {
        id,
        at: record.at,
        kind: record.kind,
        actor: record.actor_id(subject),
        subject: Some(subject),
        ip: record.client.ip,
        user_agent: record.client.user_agent.clone(),
        details: record.details.clone(),
    }
}

/// A time as the details of an event give it (RFC 3339, as JSON writes a time).
fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

pub async fn creating_and_updating_a_user_record_their_events_about_the_user<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    _tokens: T,
    log: A,
) {
    // Given an admin,
    let t = now();
    let admin = insert_ok(&users, new_admin(1, "admin@example.com", t)).await;
    let before = all(&log).await;

    // when the admin creates Ada, with two events, one from a client that told nothing and with nested details,
    let created = AuditRecord::new(AuditKind::UserCreated, t + seconds(1), AuditActor::User(admin.id), &device(2))
        .with("roles", json!(["user"]))
        .with("source", json!({"tool": "admin-api", "batch": 7, "note": "zoë ✓", "dry_run": false}));
    let imported =
        AuditRecord::new(AuditKind::UserImported, t + seconds(1), AuditActor::Nobody, &ClientDetails::default());
    let ada = insert_ok(
        &users,
        NewUser { audit: vec![created.clone(), imported.clone()], ..new_user(2, "ada@example.com", t + seconds(1)) },
    )
    .await;

    // then both are about Ada, in their order, each as it was handed over: kind, time, actor, client and details;
    let events = all(&log).await;
    assert_eq!(events.len(), before.len() + 2);
    assert!(events[0].id > events[1].id && events[1].id > before[0].id, "ids grow: {events:?}");
    assert_eq!(events[1], expected(&created, ada.id, events[1].id));
    assert_eq!(events[0], expected(&imported, ada.id, events[0].id));
    assert_eq!(events[1].actor, Some(admin.id));
    assert_eq!((events[0].actor, events[0].ip, events[0].user_agent.clone()), (None, None, None));

    // when Ada updates herself from an IPv6 address, then the event is about her, by her;
    let from_v6 =
        ClientDetails { ip: Some("2001:db8::7".parse().expect("an IPv6 address")), user_agent: device(3).user_agent };
    let changed = AuditRecord::new(AuditKind::EmailChanged, t + seconds(2), AuditActor::Subject, &from_v6)
        .with("from", "ada@example.com")
        .with("to", "ada@example.org");
    users
        .update(ada.id, UserUpdate { email: Some(email("ada@example.org")), audit: vec![changed.clone()], ..touch(t) })
        .await
        .expect("update");
    let newest = all(&log).await.remove(0);
    assert_eq!(newest, expected(&changed, ada.id, newest.id));
    assert_eq!(newest.actor, Some(ada.id));

    // and updates that are refused, or find no one, record nothing.
    let count = all(&log).await.len();
    let taken = UserUpdate { email: Some(email("ADMIN@example.com")), ..touch(t + seconds(3)) };
    assert!(matches!(users.update(ada.id, taken).await, Err(UpdateUserError::DuplicateEmail)));
    let demotion = UserUpdate { roles: Some(vec![users_domain::Role::User]), ..touch(t + seconds(3)) };
    assert!(matches!(users.update(admin.id, demotion).await, Err(UpdateUserError::LastAdmin)));
    let nobody = UserId(ada.id.0 + 1000);
    assert!(matches!(users.update(nobody, touch(t + seconds(3))).await, Err(UpdateUserError::NotFound)));
    let duplicate = NewUser { audit: vec![audit(AuditKind::UserRegistered, t)], ..new_user(3, "ada@example.org", t) };
    assert!(users.insert(duplicate).await.is_err());
    assert_eq!(all(&log).await.len(), count, "nothing recorded for what did not happen");
}

pub async fn a_sign_in_records_its_session_its_failures_and_the_locks_they_set<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    A: AuditLog,
>(
    users: U,
    sessions: S,
    _tokens: T,
    log: A,
) {
    // Given Ada,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;

    // when she signs in, then the session's event is written with it;
    let signed_in = new_session(ada.id, "ada-1", t, t + seconds(3600));
    let record = signed_in.audit.clone();
    sessions.create(signed_in).await.unwrap().expect("created");
    let newest = all(&log).await.remove(0);
    assert_eq!(newest, expected(&record, ada.id, newest.id));
    // but a session that is not started (a password changed meanwhile, a user gone) records nothing;
    let count = all(&log).await.len();
    let stale = new_session(ada.id, "ada-2", t, t + seconds(3600));
    let stale = users_ports::NewSession { password_hash: other_password_hash(), ..stale };
    assert_eq!(sessions.create(stale).await.unwrap(), None);
    assert_eq!(sessions.create(new_session(UserId(ada.id.0 + 1000), "x", t, t)).await.unwrap(), None);
    assert_eq!(all(&log).await.len(), count);

    // when three attempts from one client's network are refused, then each records a failure from that client (no
    // actor: nobody is signed in), and the third, which locks the network, also the lock with its end;
    let client = device(7);
    let from = ClientNetwork::of(client.ip.expect("an address"));
    let mut locks = Vec::new();
    for _ in 0..3 {
        assert_eq!(users.begin_login_attempt(ada.id, &from, t, &LOCKOUT).await.unwrap(), LoginAttempt::Allowed);
        locks.push(
            users.finish_login_attempt(ada.id, &from, AttemptOutcome::Refused, t, &LOCKOUT, &client).await.unwrap(),
        );
    }
    let lock = locks[2].expect("the third failure locks the network");
    let events: Vec<AuditEvent> = all(&log).await.into_iter().take(4).rev().collect();
    let failed =
        AuditRecord::new(AuditKind::UserSignInFailed, t, AuditActor::Nobody, &client).with("network", from.as_str());
    let locked = AuditRecord::new(AuditKind::UserLocked, t, AuditActor::Nobody, &client)
        .with("until", rfc3339(lock))
        .with("network", from.as_str());
    for (n, event) in events.iter().take(3).enumerate() {
        assert_eq!(*event, expected(&failed, ada.id, event.id), "failure {n}");
    }
    assert_eq!(events[3], expected(&locked, ada.id, events[3].id));

    // when two more fail from another network, then the second of them reaches the account-wide backstop: its lock
    // is of the whole account;
    let elsewhere = device(8);
    let other = ClientNetwork::of("198.51.100.8".parse().expect("an address"));
    for _ in 0..2 {
        assert_eq!(users.begin_login_attempt(ada.id, &other, t, &LOCKOUT).await.unwrap(), LoginAttempt::Allowed);
        locks.push(
            users.finish_login_attempt(ada.id, &other, AttemptOutcome::Refused, t, &LOCKOUT, &elsewhere).await.unwrap(),
        );
    }
    let account_lock = locks[4].expect("the backstop locks the account");
    let newest = all(&log).await;
    assert_eq!(
        kinds(&newest[..4]),
        [AuditKind::UserLocked, AuditKind::UserSignInFailed, AuditKind::UserSignInFailed, AuditKind::UserLocked]
    );
    let whole = AuditRecord::new(AuditKind::UserLocked, t, AuditActor::Nobody, &elsewhere)
        .with("until", rfc3339(account_lock))
        .with("scope", "account");
    assert_eq!(newest[0], expected(&whole, ada.id, newest[0].id));
    assert_eq!(newest[1].details.get("network"), Some(&json!(other.as_str())));

    // A verified or abandoned attempt records nothing, nor one of a user who is gone.
    let count = newest.len();
    let home = ClientNetwork::of("192.0.2.1".parse().expect("an address"));
    for outcome in [AttemptOutcome::Verified, AttemptOutcome::Abandoned] {
        users.begin_login_attempt(ada.id, &home, t + seconds(700), &LOCKOUT).await.unwrap();
        let lock = users.finish_login_attempt(ada.id, &home, outcome, t + seconds(700), &LOCKOUT, &client).await;
        assert_eq!(lock.unwrap(), None);
    }
    let nobody = UserId(ada.id.0 + 1000);
    users.finish_login_attempt(nobody, &home, AttemptOutcome::Refused, t, &LOCKOUT, &client).await.unwrap();
    assert_eq!(all(&log).await.len(), count);
}

pub async fn ending_sessions_records_about_their_user_only_what_was_asked_of_an_existing_one<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    A: AuditLog,
>(
    users: U,
    sessions: S,
    _tokens: T,
    log: A,
) {
    // Given Ada with three sessions, and Grace,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let grace = insert_ok(&users, new_user(2, "grace@example.com", t)).await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        ids.push(sessions.create(new_session(ada.id, &format!("ada-{n}"), t, t + seconds(3600))).await.unwrap());
    }
    let [Some(first), Some(second), Some(_third)] = ids[..] else { panic!("three sessions: {ids:?}") };
    let key = sessions.list_live(ada.id, t).await.unwrap().into_iter().find(|s| s.id == second).expect("listed").key;
    let count = all(&log).await.len();

    // when one is signed out, then that is recorded about Ada; and so again when it is signed out a second time (the
    // request is recorded whenever the session exists);
    let signed_out = audit(AuditKind::UserSignedOut, t + seconds(1));
    sessions.revoke(first, t + seconds(1), signed_out.clone()).await.unwrap();
    sessions.revoke(first, t + seconds(2), audit(AuditKind::UserSignedOut, t + seconds(2))).await.unwrap();
    let events = all(&log).await;
    assert_eq!(events.len(), count + 2);
    assert_eq!(events[1], expected(&signed_out, ada.id, events[1].id));
    // but not for a session that does not exist.
    sessions.revoke(users_ports::SessionId(first.0 + 1000), t, audit(AuditKind::UserSignedOut, t)).await.unwrap();
    assert_eq!(all(&log).await.len(), count + 2);

    // When one is ended by its key, then that is recorded about its owner, whoever asked;
    let by_admin = AuditRecord::new(AuditKind::SessionRevoked, t + seconds(3), AuditActor::User(grace.id), &device(4));
    assert_eq!(sessions.revoke_by_key(ada.id, &key, t + seconds(3), by_admin.clone()).await.unwrap(), Some(second));
    let newest = all(&log).await.remove(0);
    assert_eq!(newest, expected(&by_admin, ada.id, newest.id));
    // but a key that ends nothing (ended already, another user's, unknown) records nothing.
    let count = all(&log).await.len();
    let unknown = SessionKey::generate().expect("OS random source");
    for (user, key) in [(ada.id, &key), (grace.id, &key), (ada.id, &unknown)] {
        let ended = sessions.revoke_by_key(user, key, t + seconds(4), audit(AuditKind::SessionRevoked, t)).await;
        assert_eq!(ended.unwrap(), None);
    }
    assert_eq!(all(&log).await.len(), count);

    // When every session of a user is ended, then that is recorded about them, even if none was live.
    let everywhere = audit(AuditKind::SessionRevoked, t + seconds(5)).with("all", true);
    sessions.revoke_all_of_user(ada.id, None, t + seconds(5), everywhere.clone()).await.unwrap();
    sessions.revoke_all_of_user(grace.id, None, t + seconds(5), everywhere.clone()).await.unwrap();
    let events = all(&log).await;
    assert_eq!(events[1], expected(&everywhere, ada.id, events[1].id));
    assert_eq!(events[0], expected(&everywhere, grace.id, events[0].id));
}

pub async fn one_time_tokens_record_only_a_token_stored_or_used<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    tokens: T,
    log: A,
) {
    // Given Ada,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let count = all(&log).await.len();
    let reset = |text: &str, at| mailed_token(text, TokenPurpose::ResetPassword, "ada@example.com", at, seconds(1800));
    let verify = |text: &str, at| mailed_token(text, TokenPurpose::VerifyEmail, "ada@example.com", at, seconds(1800));

    // when a reset link is mailed to her, with an event, then the event is written with it;
    let requested = AuditRecord::new(AuditKind::PasswordResetRequested, t, AuditActor::Nobody, &device(5));
    let issued = tokens.issue_token(ada.id, reset("ada-reset", t), seconds(60), Some(requested.clone())).await;
    assert_eq!(issued.unwrap(), TokenIssue::Queued);
    let newest = all(&log).await.remove(0);
    assert_eq!(newest, expected(&requested, ada.id, newest.id));
    // but not when none is stored: too soon, for an address she no longer has, for no one; nor without an event.
    let too_soon = tokens.issue_token(ada.id, reset("again", t + seconds(1)), seconds(60), Some(requested.clone()));
    assert_eq!(too_soon.await.unwrap(), TokenIssue::TooSoon);
    let elsewhere = mailed_token("x", TokenPurpose::VerifyEmail, "grace@example.com", t, seconds(1800));
    let not_hers = tokens.issue_token(ada.id, elsewhere, seconds(60), Some(requested.clone())).await;
    assert_eq!(not_hers.unwrap(), TokenIssue::NotIssued);
    let nobody = tokens.issue_token(UserId(ada.id.0 + 1000), verify("y", t), seconds(60), Some(requested.clone()));
    assert_eq!(nobody.await.unwrap(), TokenIssue::NotIssued);
    assert_eq!(
        tokens.issue_token(ada.id, verify("ada-verify", t), seconds(60), None).await.unwrap(),
        TokenIssue::Queued
    );
    assert_eq!(all(&log).await.len(), count + 1);

    // When an unknown token, or one of the other purpose, is used, then nothing is recorded;
    let verified = AuditRecord::new(AuditKind::EmailVerified, t + seconds(2), AuditActor::Nobody, &device(6));
    assert_eq!(tokens.confirm_email(&one_time("nobody's"), t + seconds(2), verified.clone()).await.unwrap(), None);
    assert_eq!(tokens.confirm_email(&one_time("ada-reset"), t + seconds(2), verified.clone()).await.unwrap(), None);
    // when her verification link is used, then that is recorded about her, once: used up, it records nothing more;
    assert!(tokens.confirm_email(&one_time("ada-verify"), t + seconds(2), verified.clone()).await.unwrap().is_some());
    assert_eq!(tokens.confirm_email(&one_time("ada-verify"), t + seconds(3), verified.clone()).await.unwrap(), None);
    let events = all(&log).await;
    assert_eq!(events.len(), count + 2);
    assert_eq!(events[0], expected(&verified, ada.id, events[0].id));

    // and likewise her reset link.
    let notice = Mail { to: email("ada@example.com"), content: MailContent::PasswordChanged };
    let reset_done = AuditRecord::new(AuditKind::PasswordReset, t + seconds(4), AuditActor::Nobody, &device(6));
    let link = one_time("ada-reset");
    let used = tokens.reset_password(&link, other_password_hash(), &notice, t + seconds(4), reset_done.clone()).await;
    assert!(used.unwrap().is_some());
    let again = tokens.reset_password(&link, other_password_hash(), &notice, t + seconds(5), reset_done.clone()).await;
    assert_eq!(again.unwrap(), None);
    let events = all(&log).await;
    assert_eq!(events.len(), count + 3);
    assert_eq!(events[0], expected(&reset_done, ada.id, events[0].id));
}

pub async fn unlocking_suspending_and_deleting_record_only_what_was_done<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    _tokens: T,
    log: A,
) {
    // Given an admin and Ada,
    let t = now();
    let admin = insert_ok(&users, new_admin(1, "admin@example.com", t)).await;
    let ada = insert_ok(&users, new_user(2, "ada@example.com", t)).await;
    let nobody = UserId(ada.id.0 + 1000);
    let by_admin = |kind, at| AuditRecord::new(kind, at, AuditActor::User(admin.id), &device(9));

    // when the admin unlocks, suspends and lifts the suspension of Ada, then each is recorded about her, by the admin;
    let unlocked = by_admin(AuditKind::UserUnlocked, t + seconds(1));
    assert!(users.clear_lockout(ada.id, unlocked.clone()).await.unwrap());
    let suspended = by_admin(AuditKind::UserSuspended, t + seconds(2)).with("reason", "abuse");
    users.suspend(ada.id, suspension(t + seconds(2), None, Some("abuse")), suspended.clone()).await.expect("suspend");
    let lifted = by_admin(AuditKind::UserUnsuspended, t + seconds(3));
    users.unsuspend(ada.id, t + seconds(3), lifted.clone()).await.unwrap().expect("lifted");
    let events = all(&log).await;
    for (event, record) in events.iter().zip([&lifted, &suspended, &unlocked]) {
        assert_eq!(*event, expected(record, ada.id, event.id));
    }

    // when one of these finds no one, is refused, or has nothing to change, then nothing is recorded;
    let count = events.len();
    let active = users.unsuspend(ada.id, t + seconds(4), by_admin(AuditKind::UserUnsuspended, t + seconds(4))).await;
    assert!(active.unwrap().is_some_and(|ada| ada.suspension.is_none()));
    assert!(!users.clear_lockout(nobody, by_admin(AuditKind::UserUnlocked, t)).await.unwrap());
    let unknown = users.suspend(nobody, suspension(t, None, None), by_admin(AuditKind::UserSuspended, t)).await;
    assert!(matches!(unknown, Err(SuspendUserError::NotFound)));
    let last = users.suspend(admin.id, suspension(t, None, None), by_admin(AuditKind::UserSuspended, t)).await;
    assert!(matches!(last, Err(SuspendUserError::LastActiveAdmin)));
    assert_eq!(users.unsuspend(nobody, t, by_admin(AuditKind::UserUnsuspended, t)).await.unwrap(), None);
    let unknown = users.delete(nobody, by_admin(AuditKind::UserDeleted, t)).await;
    assert!(matches!(unknown, Err(DeleteUserError::NotFound)));
    let last = users.delete(admin.id, by_admin(AuditKind::UserDeleted, t)).await;
    assert!(matches!(last, Err(DeleteUserError::LastAdmin)));
    assert_eq!(all(&log).await.len(), count);

    // When Ada is deleted, then that is recorded about her, and every event of hers stays, naming her id.
    let before_deletion = of(&log, ada.id).await;
    let deleted = by_admin(AuditKind::UserDeleted, t + seconds(4));
    users.delete(ada.id, deleted.clone()).await.expect("delete");
    let after = of(&log, ada.id).await;
    assert_eq!(after[0], expected(&deleted, ada.id, after[0].id));
    assert_eq!(after[1..], before_deletion[..]);
}

pub async fn every_kind_is_stored_and_read_back<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    _tokens: T,
    log: A,
) {
    // Given Ada, when events of every kind are recorded about her, then each reads back as its kind.
    let t = now();
    let records: Vec<AuditRecord> = AuditKind::ALL.into_iter().map(|kind| audit(kind, t)).collect();
    let ada = insert_ok(&users, NewUser { audit: records, ..new_user(1, "ada@example.com", t) }).await;
    let mut read = kinds(&of(&log, ada.id).await);
    read.reverse();
    assert_eq!(read, AuditKind::ALL);
}

pub async fn events_are_listed_newest_first_by_user_and_kind_a_page_at_a_time<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    _tokens: T,
    log: A,
) {
    // Given an admin, Ada and Grace: each registered; Ada updated herself twice; the admin updated Ada and suspended
    // Grace; nobody failed to sign in as Grace;
    let t = now();
    let admin = insert_ok(&users, new_admin(1, "admin@example.com", t)).await;
    let ada = insert_ok(&users, new_user(2, "ada@example.com", t)).await;
    let grace = insert_ok(&users, new_user(3, "grace@example.com", t)).await;
    let own = |at| UserUpdate { audit: vec![audit(AuditKind::UserUpdated, at)], ..touch(at) };
    users.update(ada.id, own(t + seconds(1))).await.unwrap();
    let by_admin = |kind, at| AuditRecord::new(kind, at, AuditActor::User(admin.id), &device(9));
    let admins = UserUpdate { audit: vec![by_admin(AuditKind::UserUpdated, t + seconds(2))], ..touch(t + seconds(2)) };
    users.update(ada.id, admins).await.unwrap();
    let grace_suspended = by_admin(AuditKind::UserSuspended, t + seconds(3));
    users.suspend(grace.id, suspension(t + seconds(3), None, None), grace_suspended).await.unwrap();
    let from = ClientNetwork::of("192.0.2.1".parse().expect("an address"));
    users.begin_login_attempt(grace.id, &from, t + seconds(4), &LOCKOUT).await.unwrap();
    let refused = AttemptOutcome::Refused;
    users.finish_login_attempt(grace.id, &from, refused, t + seconds(4), &LOCKOUT, &device(5)).await.unwrap();
    users.update(ada.id, own(t + seconds(5))).await.unwrap();
    let every = all(&log).await;
    assert_eq!(every.len(), 8);
    assert!(every.windows(2).all(|pair| pair[0].id > pair[1].id), "newest first: {every:?}");
    let query = |user, kind, before, limit| AuditQuery { user, kind, before, limit };
    let list = async |query: AuditQuery| log.list_events(query).await.expect("list events");
    let named =
        |pick: &dyn Fn(&AuditEvent) -> bool| every.iter().filter(|event| pick(event)).cloned().collect::<Vec<_>>();

    // when the events of a user are asked for, then those about them and those they did to others come, newest first:
    // the admin's are their registration, and what they did to Ada and Grace;
    let admins_events = list(query(Some(admin.id), None, None, 100)).await;
    assert_eq!(admins_events, named(&|event| event.subject == Some(admin.id) || event.actor == Some(admin.id)));
    assert_eq!(kinds(&admins_events), [AuditKind::UserSuspended, AuditKind::UserUpdated, AuditKind::UserRegistered]);
    // Ada's are about her, whoever did them (her own doings to herself come once);
    let adas = list(query(Some(ada.id), None, None, 100)).await;
    assert_eq!(adas, named(&|event| event.subject == Some(ada.id)));
    assert_eq!(adas.len(), 4);
    // Grace's include the failure nobody signed in did.
    let graces = list(query(Some(grace.id), None, None, 100)).await;
    assert_eq!(kinds(&graces), [AuditKind::UserSignInFailed, AuditKind::UserSuspended, AuditKind::UserRegistered]);

    // When a kind is asked for, alone or with a user, then only its events come;
    let updates = list(query(None, Some(AuditKind::UserUpdated), None, 100)).await;
    assert_eq!(updates, named(&|event| event.kind == AuditKind::UserUpdated));
    assert_eq!(updates.len(), 3);
    let admins_updates = list(query(Some(admin.id), Some(AuditKind::UserUpdated), None, 100)).await;
    assert_eq!(admins_updates, named(&|event| event.kind == AuditKind::UserUpdated && event.actor == Some(admin.id)));
    assert_eq!(admins_updates.len(), 1);
    let adas_updates = list(query(Some(ada.id), Some(AuditKind::UserUpdated), None, 100)).await;
    assert_eq!(adas_updates, updates);
    assert_eq!(list(query(Some(ada.id), Some(AuditKind::UserSuspended), None, 100)).await, vec![]);

    // when a page is asked for, then at most `limit` events come, and the next page starts before the last of them,
    // whatever the filter, until none is left.
    for (user, kind) in
        [(None, None), (Some(admin.id), None), (Some(ada.id), None), (None, Some(AuditKind::UserUpdated))]
    {
        let whole = list(query(user, kind, None, 100)).await;
        let mut paged = Vec::new();
        let mut before = None;
        loop {
            let page = list(query(user, kind, before, 2)).await;
            assert!(page.len() <= 2);
            let Some(last) = page.last() else { break };
            before = Some(last.id);
            paged.extend(page);
        }
        assert_eq!(paged, whole, "paged through {user:?} {kind:?}");
    }
    assert_eq!(list(query(None, None, Some(every[0].id), 1)).await, every[1..2]);
    assert_eq!(list(query(None, None, None, 0)).await, vec![]);
}

pub async fn pruning_deletes_only_the_events_older_than_asked<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    _tokens: T,
    log: A,
) {
    // Given events a hundred days old, ten days old and new,
    let t = now();
    let days = |n: i64| t - chrono::TimeDelta::days(n);
    let records = vec![
        audit(AuditKind::UserRegistered, days(100)),
        audit(AuditKind::UserUpdated, days(10)),
        audit(AuditKind::UserUpdated, t),
    ];
    let ada = insert_ok(&users, NewUser { audit: records, ..new_user(1, "ada@example.com", t) }).await;

    // when the events older than thirty days are pruned, then only the oldest goes;
    assert_eq!(log.prune_events(days(30)).await.unwrap(), 1);
    let left = of(&log, ada.id).await;
    assert_eq!(left.iter().map(|event| event.at).collect::<Vec<_>>(), [t, days(10)]);
    // an event exactly as old as the limit stays, and pruning again finds nothing.
    assert_eq!(log.prune_events(days(10)).await.unwrap(), 0);
    assert_eq!(of(&log, ada.id).await, left);

    // Ids are never given again, also after the newest were pruned: a later event comes after every earlier one.
    assert_eq!(log.prune_events(t + seconds(1)).await.unwrap(), 2);
    users.update(ada.id, touch(t + seconds(2))).await.unwrap();
    let newest = of(&log, ada.id).await;
    assert_eq!(newest.len(), 1);
    assert!(newest[0].id > left[0].id, "{newest:?} after {left:?}");
}

/// For a store that can be made to refuse audit events (a trigger, on the SQL stores), which `refuse_events` does:
/// then every change fails with an error and changes nothing, for the event it would record cannot be written. Not
/// among [`crate::store_contract_tests!`]: the memory store cannot refuse a write.
pub async fn a_change_whose_event_is_refused_fails_and_changes_nothing<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
>(
    users: U,
    sessions: S,
    tokens: T,
    refuse_events: impl Future<Output = ()>,
) {
    // Given Ada, signed in, with a verification link, and then a store that refuses every audit event,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let session = sessions.create(new_session(ada.id, "ada-1", t, t + seconds(3600))).await.unwrap().expect("created");
    let ada = signed_in_at(ada, t);
    let verify = mailed_token("ada-verify", TokenPurpose::VerifyEmail, "ada@example.com", t, seconds(3600));
    assert_eq!(tokens.issue_token(ada.id, verify, seconds(60), None).await.unwrap(), TokenIssue::Queued);
    refuse_events.await;
    let later = t + seconds(1);
    let ada_now = || async { users.find_by_id(ada.id).await.unwrap().expect("Ada is there") };
    let signed_in = || async { users.find_signed_in(ada.id, session, later).await.unwrap().is_some() };

    // when a user is created, then that fails, and there is no such user;
    let grace = users.insert(new_user(2, "grace@example.com", later)).await;
    assert!(matches!(grace, Err(users_ports::InsertUserError::Unexpected(_))), "{grace:?}");
    let login = users_domain::LoginIdentifier::Email(email("grace@example.com"));
    assert!(users.find_credentials(&login).await.unwrap().is_none());

    // when Ada is updated, suspended, deleted, then each fails, and she is as she was, still signed in;
    let update = UserUpdate { email: Some(email("ada@example.org")), ..touch(later) };
    assert!(matches!(users.update(ada.id, update).await, Err(UpdateUserError::Unexpected(_))));
    let suspended = users.suspend(ada.id, suspension(later, None, None), audit(AuditKind::UserSuspended, later)).await;
    assert!(matches!(suspended, Err(SuspendUserError::Unexpected(_))), "{suspended:?}");
    let deleted = users.delete(ada.id, audit(AuditKind::UserDeleted, later)).await;
    assert!(matches!(deleted, Err(DeleteUserError::Unexpected(_))), "{deleted:?}");
    assert_eq!(ada_now().await, ada);
    assert!(signed_in().await);

    // when she signs in again, or fails to, then that fails too: no new session, no failure counted;
    assert!(sessions.create(new_session(ada.id, "ada-2", later, later + seconds(3600))).await.is_err());
    assert_eq!(sessions.list_live(ada.id, later).await.unwrap().len(), 1);
    assert_eq!(sessions.find_by_refresh_token(&token("ada-2")).await.unwrap(), None);
    assert_eq!(ada_now().await.last_sign_in_at, Some(t), "the refused sign-in is not her last");
    let from = ClientNetwork::of("192.0.2.1".parse().expect("an address"));
    assert_eq!(users.begin_login_attempt(ada.id, &from, later, &LOCKOUT).await.unwrap(), LoginAttempt::Allowed);
    let failed = users.finish_login_attempt(ada.id, &from, AttemptOutcome::Refused, later, &LOCKOUT, &device(1)).await;
    assert!(failed.is_err());
    assert_eq!(throttle_of(&users, "ada@example.com").await.failed_logins, 0);

    // when her sessions are ended, then that fails, and she is still signed in;
    assert!(sessions.revoke(session, later, audit(AuditKind::UserSignedOut, later)).await.is_err());
    assert!(sessions.revoke_all_of_user(ada.id, None, later, audit(AuditKind::SessionRevoked, later)).await.is_err());
    assert!(signed_in().await);

    // when her link is used, then that fails, and the link still works, her address unverified.
    let link = one_time("ada-verify");
    assert!(tokens.confirm_email(&link, later, audit(AuditKind::EmailVerified, later)).await.is_err());
    let found = tokens.find_token_user(&link, TokenPurpose::VerifyEmail, later).await.unwrap();
    assert_eq!(found, Some(ada.clone()));
    assert!(!ada_now().await.email_verified);
}
