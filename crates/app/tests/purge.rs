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
async fn purge_ended_deletes_from_both_stores_what_ended_a_day_ago_and_counts_it() {
    let mut mocks = Mocks::new();
    let day_ago = now() - Duration::days(1);
    mocks.sessions.expect_purge_ended().withf(move |before| *before == day_ago).times(1).returning(|_| Ok(12));
    mocks.users.expect_purge_login_throttles().withf(move |before| *before == day_ago).times(1).returning(|_| Ok(3));

    let purged = mocks.service().purge_ended().await.unwrap();

    assert_eq!(purged, Purged { sessions: 12, login_throttles: 3 });
}

#[tokio::test]
async fn purge_ended_with_nothing_to_delete_counts_nothing() {
    let mut mocks = Mocks::new();
    mocks.sessions.expect_purge_ended().times(1).returning(|_| Ok(0));
    mocks.users.expect_purge_login_throttles().times(1).returning(|_| Ok(0));

    assert_eq!(mocks.service().purge_ended().await.unwrap(), Purged::default());
}

#[tokio::test]
async fn purge_ended_with_a_failing_session_store_is_unexpected() {
    let mut mocks = Mocks::new();
    mocks.sessions.expect_purge_ended().times(1).returning(|_| Err(store_error()));
    // Whether the sign-in counts were purged first does not matter; at most once.
    mocks.users.expect_purge_login_throttles().times(0..=1).returning(|_| Ok(3));

    let error = mocks.service().purge_ended().await.unwrap_err();

    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

#[tokio::test]
async fn purge_ended_with_a_failing_user_store_is_unexpected() {
    let mut mocks = Mocks::new();
    mocks.sessions.expect_purge_ended().times(0..=1).returning(|_| Ok(12));
    mocks.users.expect_purge_login_throttles().times(1).returning(|_| Err(store_error()));

    let error = mocks.service().purge_ended().await.unwrap_err();

    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}
