//! One's own account: updating the profile and deleting the account, against mocked ports.

mod support;

use chrono::{DateTime, Duration, Utc};
use users_app::{CurrentPassword, DeleteAccountError, Reauthentication, SessionPolicy, UpdateProfileError};
use users_domain::{LoginIdentifier, PersonName, ProfileChanges, ProfilePatch, User, UserId};
use users_ports::{
    AttemptOutcome, DeleteUserError, EndSessions, LoginAttempt, LoginThrottle, PasswordHashError, StoredCredentials,
    UpdateUserError,
};

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
                && update.roles.is_none()
                && update.ends_sessions.is_none()
                && update.updated_at == now()
        })
        .times(1)
        .returning(|_, _| Ok(updated_user()));
    mocks.sessions.expect_revoke_all_of_user().never();

    let user = mocks
        .service()
        .update_profile(&current(plain_user()), changes_without_password(), no_password())
        .await
        .unwrap();

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
                && update.ends_sessions.is_none()
        })
        .times(1)
        .returning(|_, _| Ok(plain_user()));
    mocks.sessions.expect_revoke_all_of_user().never();

    let user =
        mocks.service().update_profile(&current(plain_user()), ProfileChanges::default(), no_password()).await.unwrap();

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
                && update.ends_sessions == Some(EndSessions::AllBut(SESSION))
                && update.updated_at == now()
        })
        .times(1)
        .returning(|_, _| Ok(updated_user()));
    // In the same update, not after it.
    mocks.sessions.expect_revoke_all_of_user().never();

    let user =
        mocks.service().update_profile(&current(plain_user()), changes_with_password(), no_password()).await.unwrap();

    assert_eq!(user, updated_user());
}

/// Runs `update_profile` with a new password against a store that refuses with `error`; nothing is revoked.
async fn update_refused_with(error: fn() -> UpdateUserError) -> UpdateProfileError {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().times(1).returning(|_| Ok(new_hash()));
    mocks.users.expect_update().times(1).returning(move |_, _| Err(error()));
    mocks.sessions.expect_revoke_all_of_user().never();
    mocks.service().update_profile(&current(plain_user()), changes_with_password(), no_password()).await.unwrap_err()
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

    let error = mocks
        .service()
        .update_profile(&current(plain_user()), changes_with_password(), no_password())
        .await
        .unwrap_err();

    assert!(matches!(error, UpdateProfileError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn update_profile_reports_a_failure_to_end_the_other_sessions() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().times(1).returning(|_| Ok(new_hash()));
    // The sessions end with the update that stores the new hash: both fail together.
    mocks
        .users
        .expect_update()
        .withf(|_, update| update.ends_sessions == Some(EndSessions::AllBut(SESSION)))
        .times(1)
        .returning(|_, _| Err(UpdateUserError::Unexpected(store_error())));
    mocks.sessions.expect_revoke_all_of_user().never();

    let error = mocks
        .service()
        .update_profile(&current(plain_user()), changes_with_password(), no_password())
        .await
        .unwrap_err();

    assert!(matches!(error, UpdateProfileError::Unexpected(_)), "{error:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// delete_account

/// Runs `delete_account` for the plain user, signed in a minute ago, against a store that answers `outcome`.
async fn delete_answered(outcome: fn() -> Result<(), DeleteUserError>) -> Result<(), DeleteAccountError> {
    let mut mocks = Mocks::new();
    mocks.users.expect_delete().withf(|id| *id == UserId(1)).times(1).returning(move |_| outcome());
    mocks.service().delete_account(&current(plain_user()), no_password()).await
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

    let error = mocks.service().update_profile(&current(plain_user()), changes, no_password()).await.unwrap_err();

    assert!(matches!(error, UpdateProfileError::WeakPassword(_)), "{error:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// proof of presence

const CURRENT_PASSWORD: &str = "correct horse battery";

/// [`plain_user`] in a session whose password was entered ten minutes ago: longer than the default five.
fn signed_in_long_ago() -> users_app::CurrentUser {
    signed_in_at(plain_user(), Some(now() - Duration::minutes(10)))
}

/// The current password typed again, from [`network`].
fn typed(raw: &str) -> Reauthentication {
    proof(CurrentPassword::Typed(password(raw)))
}

fn new_password_only() -> ProfileChanges {
    ProfileChanges { password: Some(password("a brand new secret")), ..ProfileChanges::default() }
}

fn new_email_only() -> ProfileChanges {
    ProfileChanges { email: Some(email("ada@example.org")), ..ProfileChanges::default() }
}

/// No password is looked up or checked, and no sign-in attempt counted.
fn expect_no_password_check(mocks: &mut Mocks) {
    mocks.users.expect_find_credentials().never();
    expect_no_attempt(mocks);
    mocks.hasher.expect_verify().never();
}

/// Nothing is hashed, stored or deleted, and no session ended.
fn expect_nothing_changed(mocks: &mut Mocks) {
    mocks.hasher.expect_hash().never();
    mocks.users.expect_update().never();
    mocks.users.expect_delete().never();
    mocks.sessions.expect_revoke_all_of_user().never();
}

/// The store is asked once for the credentials behind [`plain_user`]'s email, and answers `found`.
fn expect_credentials_looked_up(mocks: &mut Mocks, found: Option<StoredCredentials>) {
    mocks
        .users
        .expect_find_credentials()
        .withf(|login| *login == LoginIdentifier::Email(email("user1@example.com")))
        .times(1)
        .return_once(move |_| Ok(found));
}

/// The typed password is checked once against [`stored_hash`], inside an attempt from [`network`] that ends with
/// the outcome the hasher's `answer` makes.
fn expect_checked_as_a_sign_in(
    mocks: &mut Mocks,
    typed: &'static str,
    answer: fn() -> Result<bool, PasswordHashError>,
) {
    expect_credentials_looked_up(mocks, Some(credentials()));
    expect_attempt(mocks, LoginAttempt::Allowed);
    mocks
        .hasher
        .expect_verify()
        .withf(move |p, hash| p.expose() == typed && *hash == stored_hash())
        .times(1)
        .returning(move |_, _| answer());
    let outcome = match answer() {
        Ok(true) => AttemptOutcome::Verified,
        Ok(false) => AttemptOutcome::Refused,
        Err(_) => AttemptOutcome::Abandoned,
    };
    expect_finished(mocks, outcome, None);
}

fn locked_credentials(until: DateTime<Utc>) -> StoredCredentials {
    StoredCredentials { throttle: LoginThrottle { failed_logins: 100, locked_until: Some(until) }, ..credentials() }
}

#[tokio::test]
async fn update_profile_of_the_profile_and_username_alone_needs_no_proof() {
    let mut mocks = Mocks::new();
    expect_no_password_check(&mut mocks);
    mocks.hasher.expect_hash().never();
    mocks
        .users
        .expect_update()
        .withf(|id, update| {
            *id == UserId(1)
                && update.username == Some(Some(username("lovelace")))
                && update.email.is_none()
                && update.password_hash.is_none()
                && update.profile == patch()
                && update.ends_sessions.is_none()
        })
        .times(1)
        .returning(|_, _| Ok(plain_user()));
    let changes =
        ProfileChanges { username: Some(Some(username("lovelace"))), profile: patch(), ..ProfileChanges::default() };
    // Even with a token that does not say when its password was entered.
    let current = signed_in_at(plain_user(), None);

    let user = mocks.service().update_profile(&current, changes, no_password()).await.unwrap();

    assert_eq!(user, plain_user());
}

#[tokio::test]
async fn update_profile_with_a_new_password_in_a_session_signed_in_a_minute_ago_needs_no_current_password() {
    let mut mocks = Mocks::new();
    expect_no_password_check(&mut mocks);
    mocks.hasher.expect_hash().withf(|p| p.expose() == "a brand new secret").times(1).returning(|_| Ok(new_hash()));
    mocks
        .users
        .expect_update()
        .withf(|id, update| {
            *id == UserId(1)
                && update.password_hash == Some(new_hash())
                && update.email.is_none()
                && update.ends_sessions == Some(EndSessions::AllBut(SESSION))
        })
        .times(1)
        .returning(|_, _| Ok(plain_user()));

    let current = signed_in_at(plain_user(), Some(now() - Duration::minutes(1)));
    mocks.service().update_profile(&current, new_password_only(), no_password()).await.unwrap();
}

#[tokio::test]
async fn update_profile_with_a_new_email_alone_ends_no_session() {
    let mut mocks = Mocks::new();
    expect_no_password_check(&mut mocks);
    mocks.hasher.expect_hash().never();
    mocks
        .users
        .expect_update()
        .withf(|id, update| {
            *id == UserId(1)
                && update.email == Some(email("ada@example.org"))
                && update.password_hash.is_none()
                && update.ends_sessions.is_none()
        })
        .times(1)
        .returning(|_, _| Ok(updated_user()));
    mocks.sessions.expect_revoke_all_of_user().never();

    let current = signed_in_at(plain_user(), Some(now() - Duration::minutes(1)));
    let user = mocks.service().update_profile(&current, new_email_only(), no_password()).await.unwrap();

    assert_eq!(user, updated_user());
}

#[tokio::test]
async fn update_profile_taking_over_the_account_in_a_session_signed_in_ten_minutes_ago_requires_reauthentication() {
    for (what, changes) in [("password", new_password_only()), ("email", new_email_only())] {
        let mut mocks = Mocks::new();
        expect_no_password_check(&mut mocks);
        expect_nothing_changed(&mut mocks);

        let error = mocks.service().update_profile(&signed_in_long_ago(), changes, no_password()).await.unwrap_err();

        assert!(matches!(error, UpdateProfileError::ReauthenticationRequired), "new {what}: {error:?}");
    }
}

#[tokio::test]
async fn update_profile_taking_over_the_account_with_a_token_without_a_sign_in_time_requires_reauthentication() {
    for (what, changes) in [("password", new_password_only()), ("email", new_email_only())] {
        let mut mocks = Mocks::new();
        expect_no_password_check(&mut mocks);
        expect_nothing_changed(&mut mocks);
        let current = signed_in_at(plain_user(), None);

        let error = mocks.service().update_profile(&current, changes, no_password()).await.unwrap_err();

        assert!(matches!(error, UpdateProfileError::ReauthenticationRequired), "new {what}: {error:?}");
    }
}

#[tokio::test]
async fn update_profile_takes_the_reauthentication_window_from_the_policy() {
    let mut mocks = Mocks::new();
    expect_no_password_check(&mut mocks);
    mocks.users.expect_update().times(1).returning(|_, _| Ok(updated_user()));

    let policy = SessionPolicy { reauthentication: Duration::minutes(30), ..SessionPolicy::default() };
    mocks.service_with(policy).update_profile(&signed_in_long_ago(), new_email_only(), no_password()).await.unwrap();
}

#[tokio::test]
async fn update_profile_with_the_right_current_password_passes_in_an_old_session() {
    let mut mocks = Mocks::new();
    expect_checked_as_a_sign_in(&mut mocks, CURRENT_PASSWORD, || Ok(true));
    mocks.hasher.expect_hash().withf(|p| p.expose() == "a brand new secret").times(1).returning(|_| Ok(new_hash()));
    mocks
        .users
        .expect_update()
        .withf(|id, update| {
            *id == UserId(1)
                && update.password_hash == Some(new_hash())
                && update.ends_sessions == Some(EndSessions::AllBut(SESSION))
        })
        .times(1)
        .returning(|_, _| Ok(plain_user()));

    mocks.service().update_profile(&signed_in_long_ago(), new_password_only(), typed(CURRENT_PASSWORD)).await.unwrap();
}

#[tokio::test]
async fn update_profile_with_a_wrong_current_password_requires_reauthentication_counts_a_failure_and_changes_nothing() {
    let mut mocks = Mocks::new();
    expect_checked_as_a_sign_in(&mut mocks, "wrong password!", || Ok(false));
    expect_nothing_changed(&mut mocks);

    // A recent sign-in does not excuse a wrong password.
    let error =
        mocks.service().update_profile(&current(plain_user()), new_email_only(), typed("wrong password!")).await;

    assert!(matches!(error, Err(UpdateProfileError::ReauthenticationRequired)), "{error:?}");
}

#[tokio::test]
async fn update_profile_with_an_impossible_current_password_requires_reauthentication_without_a_hash() {
    let mut mocks = Mocks::new();
    expect_no_password_check(&mut mocks);
    expect_nothing_changed(&mut mocks);

    // Refused like a wrong password, even in a recent session.
    let impossible = proof(CurrentPassword::Impossible);
    let error = mocks.service().update_profile(&current(plain_user()), new_password_only(), impossible).await;

    assert!(matches!(error, Err(UpdateProfileError::ReauthenticationRequired)), "{error:?}");
}

#[tokio::test]
async fn update_profile_with_the_current_password_of_a_locked_account_is_locked_without_a_hash() {
    let mut mocks = Mocks::new();
    expect_credentials_looked_up(&mut mocks, Some(locked_credentials(now() + Duration::minutes(3))));
    expect_no_attempt(&mut mocks);
    mocks.hasher.expect_verify().never();
    expect_nothing_changed(&mut mocks);

    let error =
        mocks.service().update_profile(&signed_in_long_ago(), new_password_only(), typed(CURRENT_PASSWORD)).await;

    assert!(
        matches!(error, Err(UpdateProfileError::Locked { retry_after }) if retry_after == Duration::minutes(3)),
        "{error:?}"
    );
}

#[tokio::test]
async fn update_profile_with_the_current_password_from_a_locked_network_is_locked_without_a_hash() {
    let mut mocks = Mocks::new();
    expect_credentials_looked_up(&mut mocks, Some(credentials()));
    expect_attempt(&mut mocks, LoginAttempt::Locked { until: now() + Duration::minutes(2) });
    mocks.hasher.expect_verify().never();
    mocks.users.expect_finish_login_attempt().never();
    expect_nothing_changed(&mut mocks);

    let error = mocks.service().update_profile(&signed_in_long_ago(), new_email_only(), typed(CURRENT_PASSWORD)).await;

    assert!(
        matches!(error, Err(UpdateProfileError::Locked { retry_after }) if retry_after == Duration::minutes(2)),
        "{error:?}"
    );
}

#[tokio::test]
async fn update_profile_with_the_current_password_while_the_hashers_are_busy_is_busy_and_abandons_the_attempt() {
    let mut mocks = Mocks::new();
    expect_checked_as_a_sign_in(&mut mocks, CURRENT_PASSWORD, || Err(PasswordHashError::Busy));
    expect_nothing_changed(&mut mocks);

    let error =
        mocks.service().update_profile(&signed_in_long_ago(), new_password_only(), typed(CURRENT_PASSWORD)).await;

    assert!(matches!(error, Err(UpdateProfileError::Busy)), "{error:?}");
}

#[tokio::test]
async fn update_profile_with_the_current_password_of_an_account_no_longer_behind_its_email_requires_reauthentication() {
    for found in [None, Some(StoredCredentials { user: user(2, &[]), ..credentials() })] {
        let mut mocks = Mocks::new();
        expect_credentials_looked_up(&mut mocks, found.clone());
        expect_no_attempt(&mut mocks);
        mocks.hasher.expect_verify().never();
        expect_nothing_changed(&mut mocks);

        let error =
            mocks.service().update_profile(&signed_in_long_ago(), new_email_only(), typed(CURRENT_PASSWORD)).await;

        assert!(matches!(error, Err(UpdateProfileError::ReauthenticationRequired)), "found {found:?}: {error:?}");
    }
}

#[tokio::test]
async fn update_profile_with_a_new_password_while_the_hashers_are_busy_is_busy_and_changes_nothing() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().times(1).returning(|_| Err(PasswordHashError::Busy));
    mocks.users.expect_update().never();

    let error = mocks.service().update_profile(&current(plain_user()), new_password_only(), no_password()).await;

    assert!(matches!(error, Err(UpdateProfileError::Busy)), "{error:?}");
}

#[tokio::test]
async fn delete_account_in_a_session_signed_in_ten_minutes_ago_requires_reauthentication() {
    for current in [signed_in_long_ago(), signed_in_at(plain_user(), None)] {
        let mut mocks = Mocks::new();
        expect_no_password_check(&mut mocks);
        expect_nothing_changed(&mut mocks);

        let error = mocks.service().delete_account(&current, no_password()).await;

        assert!(
            matches!(error, Err(DeleteAccountError::ReauthenticationRequired)),
            "signed in at {:?}: {error:?}",
            current.authenticated_at
        );
    }
}

#[tokio::test]
async fn delete_account_with_the_right_current_password_deletes_in_an_old_session() {
    let mut mocks = Mocks::new();
    expect_checked_as_a_sign_in(&mut mocks, CURRENT_PASSWORD, || Ok(true));
    mocks.users.expect_delete().withf(|id| *id == UserId(1)).times(1).returning(|_| Ok(()));

    mocks.service().delete_account(&signed_in_long_ago(), typed(CURRENT_PASSWORD)).await.unwrap();
}

#[tokio::test]
async fn delete_account_with_a_wrong_current_password_requires_reauthentication_counts_a_failure_and_deletes_nothing() {
    let mut mocks = Mocks::new();
    expect_checked_as_a_sign_in(&mut mocks, "wrong password!", || Ok(false));
    expect_nothing_changed(&mut mocks);

    let error = mocks.service().delete_account(&current(plain_user()), typed("wrong password!")).await;

    assert!(matches!(error, Err(DeleteAccountError::ReauthenticationRequired)), "{error:?}");
}

#[tokio::test]
async fn delete_account_with_an_impossible_current_password_requires_reauthentication_without_a_hash() {
    let mut mocks = Mocks::new();
    expect_no_password_check(&mut mocks);
    expect_nothing_changed(&mut mocks);

    let error = mocks.service().delete_account(&current(plain_user()), proof(CurrentPassword::Impossible)).await;

    assert!(matches!(error, Err(DeleteAccountError::ReauthenticationRequired)), "{error:?}");
}

#[tokio::test]
async fn delete_account_with_the_current_password_of_a_locked_account_is_locked_without_a_hash() {
    let mut mocks = Mocks::new();
    expect_credentials_looked_up(&mut mocks, Some(locked_credentials(now() + Duration::minutes(3))));
    expect_no_attempt(&mut mocks);
    mocks.hasher.expect_verify().never();
    expect_nothing_changed(&mut mocks);

    let error = mocks.service().delete_account(&signed_in_long_ago(), typed(CURRENT_PASSWORD)).await;

    assert!(
        matches!(error, Err(DeleteAccountError::Locked { retry_after }) if retry_after == Duration::minutes(3)),
        "{error:?}"
    );
}

#[tokio::test]
async fn delete_account_with_the_current_password_while_the_hashers_are_busy_is_busy_and_abandons_the_attempt() {
    let mut mocks = Mocks::new();
    expect_checked_as_a_sign_in(&mut mocks, CURRENT_PASSWORD, || Err(PasswordHashError::Busy));
    expect_nothing_changed(&mut mocks);

    let error = mocks.service().delete_account(&signed_in_long_ago(), typed(CURRENT_PASSWORD)).await;

    assert!(matches!(error, Err(DeleteAccountError::Busy)), "{error:?}");
}
