//! Deleting what no request can use any more, against mocked ports.

mod support;

use chrono::Duration;
use users_app::{Purged, RETAINED_AFTER_END};

use support::*;

#[test]
fn ended_sessions_and_idle_sign_in_counts_are_kept_for_a_day() {
    assert_eq!(RETAINED_AFTER_END, Duration::days(1));
}

#[tokio::test]
async fn what_ended_a_day_ago_is_deleted_from_both_stores_and_counted() {
    // Given 12 sessions, 3 sign-in counts and 5 mailed tokens that ended more than a day ago,
    let mut mocks = Mocks::new();
    let day_ago = now() - Duration::days(1);
    mocks.sessions.expect_purge_ended().withf(move |before| *before == day_ago).times(1).returning(|_| Ok(12));
    mocks.users.expect_purge_login_throttles().withf(move |before| *before == day_ago).times(1).returning(|_| Ok(3));
    mocks.one_time_tokens.expect_purge_tokens().withf(move |before| *before == day_ago).times(1).returning(|_| Ok(5));
    // and 2 audit events older than the year they are kept
    let year_ago = now() - Duration::days(365);
    mocks.audit.expect_prune_events().withf(move |before| *before == year_ago).times(1).returning(|_| Ok(2));

    // When the operator purges
    let purged = mocks.service().purge_ended().await.unwrap();

    // Then each store is asked to delete what ended before a day ago, and says how much it deleted
    assert_eq!(purged, Purged { sessions: 12, login_throttles: 3, one_time_tokens: 5, audit_events: 2 });
}

#[tokio::test]
async fn a_purge_with_nothing_to_delete_counts_nothing() {
    // Given stores where nothing has ended
    let mut mocks = Mocks::new();
    mocks.sessions.expect_purge_ended().times(1).returning(|_| Ok(0));
    mocks.users.expect_purge_login_throttles().times(1).returning(|_| Ok(0));
    mocks.one_time_tokens.expect_purge_tokens().times(1).returning(|_| Ok(0));
    mocks.audit.expect_prune_events().times(1).returning(|_| Ok(0));

    // When the operator purges
    let purged = mocks.service().purge_ended().await.unwrap();

    // Then nothing is counted
    assert_eq!(purged, Purged::default());
}

#[tokio::test]
async fn a_purge_whose_session_store_fails_is_unexpected() {
    // Given a session store that fails
    let mut mocks = Mocks::new();
    mocks.sessions.expect_purge_ended().times(1).returning(|_| Err(store_error()));
    // Whether the sign-in counts were purged first does not matter; at most once.
    mocks.users.expect_purge_login_throttles().times(0..=1).returning(|_| Ok(3));
    mocks.one_time_tokens.expect_purge_tokens().times(0..=1).returning(|_| Ok(0));

    // When the operator purges
    let error = mocks.service().purge_ended().await.unwrap_err();

    // Then the purge fails with the store's reason
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

#[tokio::test]
async fn a_purge_whose_user_store_fails_is_unexpected() {
    // Given a user store that fails to purge the sign-in counts
    let mut mocks = Mocks::new();
    // Whether the sessions were purged first does not matter; at most once.
    mocks.sessions.expect_purge_ended().times(0..=1).returning(|_| Ok(12));
    mocks.users.expect_purge_login_throttles().times(1).returning(|_| Err(store_error()));
    mocks.one_time_tokens.expect_purge_tokens().times(0..=1).returning(|_| Ok(0));

    // When the operator purges
    let error = mocks.service().purge_ended().await.unwrap_err();

    // Then the purge fails with the store's reason
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}
