//! The readiness check, against mocked ports.

mod support;

use support::*;

#[tokio::test]
async fn the_service_is_ready_when_its_store_answers() {
    // Given a store that answers its health check
    let mut mocks = Mocks::new();
    mocks.users.expect_check_health().times(1).returning(|| Ok(()));

    // When the operator asks whether the service is ready
    let ready = mocks.service().check_ready().await;

    // Then it is
    ready.unwrap();
}

#[tokio::test]
async fn the_service_is_not_ready_when_its_store_fails() {
    // Given a store that fails its health check
    let mut mocks = Mocks::new();
    mocks.users.expect_check_health().times(1).returning(|| Err(store_error()));

    // When the operator asks whether the service is ready
    let error = mocks.service().check_ready().await.unwrap_err();

    // Then it is not, and the answer keeps the store's reason
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}
