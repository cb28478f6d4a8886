//! One's own account: updating the profile and deleting the account, against mocked ports.

mod support;

use users_app::{DeleteAccountError, UpdateProfileError};
use users_domain::{PersonName, ProfileChanges, ProfilePatch, User, UserId};
use users_ports::{DeleteUserError, PasswordHashError, UpdateUserError};

use support::*;

fn patch() -> ProfilePatch {
    ProfilePatch {
        first_name: Some(Some(PersonName::parse("Ada").unwrap())),
        last_name: Some(None),
        ..ProfilePatch::default()
    }
}

fn changes_without_password() -> ProfileChanges {
    ProfileChanges { username: Some(None), email: Some(email("ada@example.org")), password: None, profile: patch() }
}

fn changes_with_password() -> ProfileChanges {
    ProfileChanges { password: Some(password("a brand new secret")), ..changes_without_password() }
}

/// The user the store returns after the update.
fn updated_user() -> User {
    User { email: email("ada@example.org"), username: None, updated_at: now(), ..plain_user() }
}

// ---------------------------------------------------------------------------------------------------------------
// update_profile

#[tokio::test]
async fn update_profile_without_a_password_leaves_the_sessions_alone() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().never();
    mocks
        .users
        .expect_update()
        .withf(|id, update| {
            *id == UserId(1)
                && update.username == Some(None)
                && update.email == Some(email("ada@example.org"))
                && update.password_hash.is_none()
                && update.profile == patch()
                && update.updated_at == now()
        })
        .times(1)
        .returning(|_, _| Ok(updated_user()));
    mocks.sessions.expect_revoke_all_of_user().never();

    let user = mocks.service().update_profile(&current(plain_user()), changes_without_password()).await.unwrap();

    assert_eq!(user, updated_user());
}

#[tokio::test]
async fn update_profile_with_an_empty_change_still_touches_the_user() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().never();
    mocks
        .users
        .expect_update()
        .withf(|id, update| {
            *id == UserId(1)
                && update.username.is_none()
                && update.email.is_none()
                && update.password_hash.is_none()
                && update.profile == ProfilePatch::default()
        })
        .times(1)
        .returning(|_, _| Ok(plain_user()));
    mocks.sessions.expect_revoke_all_of_user().never();

    let user = mocks.service().update_profile(&current(plain_user()), ProfileChanges::default()).await.unwrap();

    assert_eq!(user, plain_user());
}

#[tokio::test]
async fn update_profile_with_a_password_stores_its_hash_and_ends_the_other_sessions() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().withf(|p| p.expose() == "a brand new secret").times(1).returning(|_| Ok(new_hash()));
    mocks
        .users
        .expect_update()
        .withf(|id, update| {
            *id == UserId(1)
                && update.password_hash == Some(new_hash())
                && update.email == Some(email("ada@example.org"))
        })
        .times(1)
        .returning(|_, _| Ok(updated_user()));
    mocks
        .sessions
        .expect_revoke_all_of_user()
        .withf(|user, keep, at| *user == UserId(1) && *keep == Some(SESSION) && *at == now())
        .times(1)
        .returning(|_, _, _| Ok(()));

    let user = mocks.service().update_profile(&current(plain_user()), changes_with_password()).await.unwrap();

    assert_eq!(user, updated_user());
}

/// Runs `update_profile` with a new password against a store that refuses with `error`; nothing is revoked.
async fn update_refused_with(error: fn() -> UpdateUserError) -> UpdateProfileError {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().times(1).returning(|_| Ok(new_hash()));
    mocks.users.expect_update().times(1).returning(move |_, _| Err(error()));
    mocks.sessions.expect_revoke_all_of_user().never();
    mocks.service().update_profile(&current(plain_user()), changes_with_password()).await.unwrap_err()
}

#[tokio::test]
async fn update_profile_reports_a_taken_email() {
    let error = update_refused_with(|| UpdateUserError::DuplicateEmail).await;
    assert!(matches!(error, UpdateProfileError::EmailTaken), "{error:?}");
}

#[tokio::test]
async fn update_profile_reports_a_taken_username() {
    let error = update_refused_with(|| UpdateUserError::DuplicateUsername).await;
    assert!(matches!(error, UpdateProfileError::UsernameTaken), "{error:?}");
}

#[tokio::test]
async fn update_profile_reports_an_account_deleted_meanwhile() {
    let error = update_refused_with(|| UpdateUserError::NotFound).await;
    assert!(matches!(error, UpdateProfileError::AccountGone), "{error:?}");
}

#[tokio::test]
async fn update_profile_turns_a_store_failure_into_unexpected() {
    let error = update_refused_with(|| UpdateUserError::Unexpected(store_error())).await;
    assert!(matches!(error, UpdateProfileError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

#[tokio::test]
async fn update_profile_turns_a_hasher_failure_into_unexpected_and_changes_nothing() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().times(1).returning(|_| Err(PasswordHashError::Unexpected("out of memory".into())));
    mocks.users.expect_update().never();
    mocks.sessions.expect_revoke_all_of_user().never();

    let error = mocks.service().update_profile(&current(plain_user()), changes_with_password()).await.unwrap_err();

    assert!(matches!(error, UpdateProfileError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn update_profile_reports_a_failure_to_end_the_other_sessions() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().times(1).returning(|_| Ok(new_hash()));
    mocks.users.expect_update().times(1).returning(|_, _| Ok(updated_user()));
    mocks.sessions.expect_revoke_all_of_user().times(1).returning(|_, _, _| Err(store_error()));

    let error = mocks.service().update_profile(&current(plain_user()), changes_with_password()).await.unwrap_err();

    assert!(matches!(error, UpdateProfileError::Unexpected(_)), "{error:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// delete_account

/// Runs `delete_account` for the plain user against a store that answers `outcome`.
async fn delete_answered(outcome: fn() -> Result<(), DeleteUserError>) -> Result<(), DeleteAccountError> {
    let mut mocks = Mocks::new();
    mocks.users.expect_delete().withf(|id| *id == UserId(1)).times(1).returning(move |_| outcome());
    mocks.service().delete_account(&current(plain_user())).await
}

#[tokio::test]
async fn delete_account_deletes_the_user() {
    delete_answered(|| Ok(())).await.unwrap();
}

#[tokio::test]
async fn delete_account_of_an_already_deleted_user_succeeds() {
    delete_answered(|| Err(DeleteUserError::NotFound)).await.unwrap();
}

#[tokio::test]
async fn delete_account_of_the_last_admin_is_refused() {
    let error = delete_answered(|| Err(DeleteUserError::LastAdmin)).await.unwrap_err();
    assert!(matches!(error, DeleteAccountError::LastAdmin), "{error:?}");
}

#[tokio::test]
async fn delete_account_turns_a_store_failure_into_unexpected() {
    let error = delete_answered(|| Err(DeleteUserError::Unexpected(store_error()))).await.unwrap_err();
    assert!(matches!(error, DeleteAccountError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

#[tokio::test]
async fn update_profile_refuses_a_new_password_containing_the_username_it_will_have() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().never();
    mocks.users.expect_update().never();
    mocks.sessions.expect_revoke_all_of_user().never();
    let changes = ProfileChanges {
        username: Some(Some(username("lovelace"))),
        password: Some(password("dear lovelace!")),
        ..ProfileChanges::default()
    };

    let error = mocks.service().update_profile(&current(plain_user()), changes).await.unwrap_err();

    assert!(matches!(error, UpdateProfileError::WeakPassword(_)), "{error:?}");
}
