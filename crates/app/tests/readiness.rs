//! The readiness check, against mocked ports.

mod support;

use support::*;

#[tokio::test]
async fn the_service_is_ready_when_its_store_answers() {
    let mut mocks = Mocks::new();
    mocks.users.expect_check_health().times(1).returning(|| Ok(()));

    mocks.service().check_ready().await.unwrap();
}

#[tokio::test]
async fn the_service_is_not_ready_when_its_store_fails() {
    let mut mocks = Mocks::new();
    mocks.users.expect_check_health().times(1).returning(|| Err(store_error()));

    let error = mocks.service().check_ready().await.unwrap_err();

    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}
