//! The audit log, against mocked ports: which events each use case hands the store with its change (kind, actor,
//! details, device), that none carries a secret, and how the log is read a page at a time.

mod support;

use std::sync::{Arc, Mutex};

use chrono::Duration;
use serde_json::json;
use users_app::{AuditFilter, SuspensionRequest, UserReplacement};
use users_domain::{ProfileChanges, ProfilePatch, RoleSet, SuspensionReason, UserId};
use users_ports::{
    AuditActor, AuditEvent, AuditEventId, AuditKind, AuditQuery, AuditRecord, InsertUserError, UpdateUserError,
};

use support::*;

fn event(id: i64) -> AuditEvent {
    AuditEvent {
        id: AuditEventId(id),
        at: now() - Duration::minutes(id),
        kind: AuditKind::UserSignedIn,
        actor: Some(UserId(1)),
        subject: Some(UserId(1)),
        ip: device().ip,
        user_agent: device().user_agent,
        details: serde_json::Map::new(),
    }
}

/// What `update` is asked to record for user `id`, kept for the test to read.
fn record_updates(
    mocks: &mut Mocks,
    outcome: impl Fn() -> Result<users_domain::User, UpdateUserError> + Send + 'static,
) -> Arc<Mutex<Vec<AuditRecord>>> {
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&recorded);
    mocks.users.expect_update().times(1).returning(move |_, update| {
        keep.lock().unwrap().extend(update.audit);
        outcome()
    });
    recorded
}

fn kinds(records: &[AuditRecord]) -> Vec<AuditKind> {
    records.iter().map(|record| record.kind).collect()
}

#[tokio::test]
async fn a_page_asks_the_store_for_one_more_event_to_know_whether_another_follows() {
    // Given a log with more events than a page holds
    let mut mocks = Mocks::new();
    mocks
        .audit
        .expect_list_events()
        .withf(|query| {
            *query
                == AuditQuery {
                    user: Some(UserId(1)),
                    kind: Some(AuditKind::UserSignedIn),
                    before: Some(AuditEventId(90)),
                    limit: 3,
                }
        })
        .times(1)
        .returning(|_| Ok(vec![event(89), event(88), event(87)]));

    // when an admin asks for a page of two,
    let filter = AuditFilter {
        user: Some(UserId(1)),
        kind: Some(AuditKind::UserSignedIn),
        before: Some(AuditEventId(90)),
        limit: 2,
    };
    let page = mocks.service().list_audit_events(&administrator(), filter).await.unwrap();

    // then two come back, and the next page starts before the last of them.
    assert_eq!(page.events, [event(89), event(88)]);
    assert_eq!(page.next, Some(AuditEventId(88)));
}

#[tokio::test]
async fn the_last_page_has_no_next() {
    let mut mocks = Mocks::new();
    mocks.audit.expect_list_events().times(1).returning(|_| Ok(vec![event(2), event(1)]));

    let filter = AuditFilter { user: None, kind: None, before: None, limit: 2 };
    let page = mocks.service().list_audit_events(&administrator(), filter).await.unwrap();

    assert_eq!((page.events.len(), page.next), (2, None));
}

#[tokio::test]
async fn a_users_activity_names_who_else_acted_but_not_from_where() {
    // Given an event an admin (user 2) did to user 1, and one user 1 did
    let mut mocks = Mocks::new();
    let by_admin = AuditEvent { actor: Some(UserId(2)), kind: AuditKind::UserSuspended, ..event(5) };
    let returned = vec![by_admin, event(4)];
    mocks.audit.expect_list_events().times(1).return_once(move |_| Ok(returned));

    let page = mocks.service().list_activity(&current(plain_user()), None, 20).await.unwrap();

    // then the admin is named, but their address and device are not shown; the user's own are.
    let suspended = &page.events[0];
    assert_eq!(
        (suspended.kind, suspended.actor, suspended.ip, &suspended.user_agent),
        (AuditKind::UserSuspended, Some(UserId(2)), None, &None)
    );
    assert_eq!(page.events[1], event(4));
}

#[tokio::test]
async fn a_users_activity_is_the_log_of_their_own_account() {
    let mut mocks = Mocks::new();
    mocks
        .audit
        .expect_list_events()
        .withf(|query| *query == AuditQuery { user: Some(UserId(1)), kind: None, before: None, limit: 21 })
        .times(1)
        .returning(|_| Ok(Vec::new()));

    let page = mocks.service().list_activity(&current(plain_user()), None, 20).await.unwrap();

    assert_eq!((page.events.len(), page.next), (0, None));
}

#[tokio::test]
async fn a_sign_up_records_who_registered_from_where() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().returning(|_| Ok(new_hash()));
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&recorded);
    mocks.users.expect_insert().times(1).returning(move |new| {
        keep.lock().unwrap().extend(new.audit.clone());
        Err(InsertUserError::DuplicateEmail)
    });

    let registration = users_domain::Registration {
        username: None,
        email: email("ada@example.com"),
        password: password("correct horse battery"),
        first_name: None,
        last_name: None,
    };
    let _ = mocks.service().register(registration, &device()).await;

    let recorded = recorded.lock().unwrap();
    assert_eq!(kinds(&recorded), [AuditKind::UserRegistered]);
    assert_eq!(recorded[0].actor, AuditActor::Subject);
    assert_eq!((recorded[0].at, &recorded[0].client), (now(), &device()));
    assert_eq!(serde_json::Value::Object(recorded[0].details.clone()), json!({ "email": "ada@example.com" }));
}

#[tokio::test]
async fn a_profile_change_records_the_fields_it_changes_but_not_their_values() {
    let mut mocks = Mocks::new();
    let recorded = record_updates(&mut mocks, || Ok(plain_user()));
    let changes = ProfileChanges {
        profile: ProfilePatch {
            first_name: Some(Some(person_name("Ada"))),
            // Cleared while already empty: no change.
            website: Some(None),
            ..ProfilePatch::default()
        },
        ..ProfileChanges::default()
    };

    mocks.service().update_profile(&current(plain_user()), changes, no_password()).await.unwrap();

    let recorded = recorded.lock().unwrap();
    assert_eq!(kinds(&recorded), [AuditKind::UserUpdated]);
    assert_eq!(recorded[0].actor, AuditActor::User(UserId(1)));
    assert_eq!(serde_json::Value::Object(recorded[0].details.clone()), json!({ "fields": ["first_name"] }));
}

#[tokio::test]
async fn a_new_password_and_address_are_recorded_as_such_without_the_password() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().returning(|_| Ok(new_hash()));
    let recorded = record_updates(&mut mocks, || Ok(plain_user()));
    let changes = ProfileChanges {
        email: Some(email("lovelace@example.com")),
        password: Some(password("a brand new passphrase")),
        ..ProfileChanges::default()
    };

    mocks.service().update_profile(&current(plain_user()), changes, no_password()).await.unwrap();

    let recorded = recorded.lock().unwrap();
    assert_eq!(kinds(&recorded), [AuditKind::PasswordChanged, AuditKind::EmailChanged]);
    assert_eq!(
        serde_json::Value::Object(recorded[1].details.clone()),
        json!({ "from": "user1@example.com", "to": "lovelace@example.com" })
    );
    let written = format!("{recorded:?}");
    assert!(!written.contains("a brand new passphrase") && !written.contains("argon2"), "{written}");
}

#[tokio::test]
async fn an_admin_replacing_roles_records_them_before_and_after() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().returning(|_| Ok(Some(plain_user())));
    let recorded = record_updates(&mut mocks, || Ok(plain_user()));
    let replacement = UserReplacement {
        first_name: person_name("Grace"),
        last_name: person_name("Hopper"),
        email: email("user1@example.com"),
        roles: Some(RoleSet::from_ids(&[1, 2]).unwrap()),
    };

    mocks.service().replace_user(&administrator(), UserId(1), replacement).await.unwrap();

    let recorded = recorded.lock().unwrap();
    assert_eq!(kinds(&recorded), [AuditKind::UserUpdated, AuditKind::RolesChanged]);
    assert!(recorded.iter().all(|record| record.actor == AuditActor::User(UserId(2))), "the admin did it");
    assert_eq!(
        serde_json::Value::Object(recorded[1].details.clone()),
        json!({ "from": ["user"], "to": ["admin", "user"] })
    );
}

#[tokio::test]
async fn a_refused_update_records_nothing_beyond_what_the_store_refused() {
    // The records travel with the update: a store that refuses it writes neither.
    let mut mocks = Mocks::new();
    let recorded = record_updates(&mut mocks, || Err(UpdateUserError::DuplicateEmail));
    let changes = ProfileChanges { username: Some(None), ..ProfileChanges::default() };

    let outcome = mocks.service().update_profile(&current(plain_user()), changes, no_password()).await;

    assert!(outcome.is_err());
    assert_eq!(kinds(&recorded.lock().unwrap()), [AuditKind::UserUpdated]);
}

#[tokio::test]
async fn a_suspension_records_its_reason_and_end() {
    let mut mocks = Mocks::new();
    let until = now() + Duration::days(2);
    mocks
        .users
        .expect_suspend()
        .withf(move |_, _, record| {
            record.kind == AuditKind::UserSuspended
                && record.actor == AuditActor::User(UserId(2))
                && serde_json::Value::Object(record.details.clone())
                    == json!({ "reason": "spam", "until": until.to_rfc3339_opts(chrono::SecondsFormat::Micros, true) })
        })
        .times(1)
        .returning(|_, _, _| Ok(plain_user()));

    let request = SuspensionRequest { until: Some(until), reason: Some(SuspensionReason::parse("spam").unwrap()) };
    mocks.service().suspend_user(&administrator(), UserId(1), request).await.unwrap();
}

#[tokio::test]
async fn signing_a_user_out_everywhere_records_the_admin_who_did() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().returning(|_| Ok(Some(plain_user())));
    mocks
        .sessions
        .expect_revoke_all_of_user()
        .withf(|_, _, _, record| {
            record.kind == AuditKind::SessionRevoked
                && record.actor == AuditActor::User(UserId(2))
                && serde_json::Value::Object(record.details.clone()) == json!({ "sessions": "all" })
        })
        .times(1)
        .returning(|_, _, _, _| Ok(()));

    mocks.service().sign_out_everywhere(&administrator(), UserId(1)).await.unwrap();
}

#[tokio::test]
async fn housekeeping_prunes_the_events_older_than_the_retention() {
    let mut mocks = Mocks::new();
    mocks.sessions.expect_purge_ended().returning(|_| Ok(0));
    mocks.users.expect_purge_login_throttles().returning(|_| Ok(0));
    mocks.one_time_tokens.expect_purge_tokens().returning(|_| Ok(0));
    mocks
        .audit
        .expect_prune_events()
        .withf(|before| *before == now() - Duration::days(365))
        .times(1)
        .returning(|_| Ok(7));

    let purged = mocks.service().purge_ended().await.unwrap();

    assert_eq!(purged.audit_events, 7);
}

#[test]
fn no_kind_is_named_twice() {
    let mut names: Vec<_> = AuditKind::ALL.iter().map(|kind| kind.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), AuditKind::ALL.len());
}
