//! Where an account is signed in, against mocked ports: whose sessions are listed and ended, and which one is kept.

mod support;

use chrono::Duration;
use users_app::{EndSessionError, ListUserSessionsError, SignOutEverywhereError};
use users_domain::UserId;
use users_ports::{SessionId, SessionKey, SessionRecord};

use support::*;

fn key(digit: char) -> SessionKey {
    SessionKey::parse(&digit.to_string().repeat(32)).expect("32 hex digits")
}

fn record(id: i64, digit: char) -> SessionRecord {
    SessionRecord {
        id: SessionId(id),
        key: key(digit),
        created_at: now() - Duration::days(2),
        last_used_at: now() - Duration::hours(id),
        expires_at: now() + Duration::days(20),
        client: device(),
    }
}

#[tokio::test]
async fn a_user_lists_their_live_sessions_with_the_one_in_hand_marked() {
    // Given user 1 with two live sessions, one of them the request's own
    let mut mocks = Mocks::new();
    let (own, other) = (record(SESSION.0, 'a'), record(99, 'b'));
    let listed = vec![own.clone(), other.clone()];
    mocks
        .sessions
        .expect_list_live()
        .withf(|user, at| *user == UserId(1) && *at == now())
        .times(1)
        .return_once(move |_, _| Ok(listed));

    // when they list their sessions,
    let views = mocks.service().list_sessions(&current(plain_user())).await.unwrap();

    // then both come in the store's order, and only the request's own is current.
    let shown: Vec<_> = views.iter().map(|view| (view.session.clone(), view.current)).collect();
    assert_eq!(shown, [(own, true), (other, false)]);
}

#[tokio::test]
async fn a_user_ends_one_of_their_sessions_by_its_key() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_revoke_by_key()
        .withf(|user, asked, at, _| *user == UserId(1) && *asked == key('b') && *at == now())
        .times(1)
        .returning(|_, _, _, _| Ok(Some(SessionId(99))));

    mocks.service().end_session(&current(plain_user()), &key('b')).await.unwrap();
}

#[tokio::test]
async fn ending_a_session_that_is_not_the_callers_live_one_is_not_found() {
    // Given a key the store finds no live session of user 1's for (another user's, an ended one, a made-up one)
    let mut mocks = Mocks::new();
    mocks.sessions.expect_revoke_by_key().times(1).returning(|_, _, _, _| Ok(None));

    let error = mocks.service().end_session(&current(plain_user()), &key('c')).await.unwrap_err();

    assert!(matches!(error, EndSessionError::NotFound), "{error:?}");
}

#[tokio::test]
async fn ending_the_other_sessions_keeps_the_one_in_hand() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_revoke_all_of_user()
        .withf(|user, keep, at, _| *user == UserId(1) && *keep == Some(SESSION) && *at == now())
        .times(1)
        .returning(|_, _, _, _| Ok(()));

    mocks.service().end_other_sessions(&current(plain_user())).await.unwrap();
}

#[tokio::test]
async fn an_admin_lists_a_users_sessions_none_of_them_current() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().withf(|id| *id == UserId(1)).times(1).returning(|_| Ok(Some(plain_user())));
    let listed = vec![record(SESSION.0 + 1, 'a')];
    mocks.sessions.expect_list_live().times(1).return_once(move |_, _| Ok(listed));

    let views = mocks.service().list_user_sessions(&administrator(), UserId(1)).await.unwrap();

    assert_eq!(views.len(), 1);
    assert!(!views[0].current, "the admin's own session is another one");
}

#[tokio::test]
async fn an_admin_listing_the_sessions_of_an_unknown_user_is_told_so() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().times(1).returning(|_| Ok(None));
    mocks.sessions.expect_list_live().never();

    let error = mocks.service().list_user_sessions(&administrator(), UserId(404)).await.unwrap_err();

    assert!(matches!(error, ListUserSessionsError::NotFound), "{error:?}");
}

#[tokio::test]
async fn an_admin_signs_a_user_out_everywhere() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().times(1).returning(|_| Ok(Some(plain_user())));
    mocks
        .sessions
        .expect_revoke_all_of_user()
        .withf(|user, keep, at, _| *user == UserId(1) && keep.is_none() && *at == now())
        .times(1)
        .returning(|_, _, _, _| Ok(()));

    mocks.service().sign_out_everywhere(&administrator(), UserId(1)).await.unwrap();
}

#[tokio::test]
async fn signing_out_an_unknown_user_is_not_found_and_ends_nothing() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().times(1).returning(|_| Ok(None));
    mocks.sessions.expect_revoke_all_of_user().never();

    let error = mocks.service().sign_out_everywhere(&administrator(), UserId(404)).await.unwrap_err();

    assert!(matches!(error, SignOutEverywhereError::NotFound), "{error:?}");
}
