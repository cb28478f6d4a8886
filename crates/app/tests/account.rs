//! One's own account: updating the profile and deleting the account, against mocked ports.

mod support;

use chrono::{DateTime, Duration, Utc};
use users_app::{
    CurrentPassword, CurrentUser, DeleteAccountError, Reauthentication, SessionPolicy, UpdateProfileError,
};
use users_domain::{
    AttemptOutcome, LoginAttempt, LoginIdentifier, LoginThrottle, PersonName, ProfileChanges, ProfilePatch, User,
    UserId,
};
use users_ports::{DeleteUserError, EndSessions, PasswordHashError, StoredCredentials, UpdateUserError, UserUpdate};

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

fn new_password_only() -> ProfileChanges {
    ProfileChanges { password: Some(password("a brand new secret")), ..ProfileChanges::default() }
}

fn new_email_only() -> ProfileChanges {
    ProfileChanges { email: Some(email("ada@example.org")), ..ProfileChanges::default() }
}

/// The user the store returns after the update.
fn updated_user() -> User {
    User { email: email("ada@example.org"), username: None, updated_at: now(), ..plain_user() }
}

/// The hasher is asked once to hash the new password, "a brand new secret", and answers [`new_hash`].
fn expect_new_password_hashed(mocks: &mut Mocks) {
    mocks.hasher.expect_hash().withf(|p| p.expose() == "a brand new secret").times(1).returning(|_| Ok(new_hash()));
}

/// The store is asked once to update user 1 with an update that `matches`, and answers `updated`.
fn expect_update(mocks: &mut Mocks, matches: impl Fn(&UserUpdate) -> bool + Send + 'static, updated: User) {
    mocks
        .users
        .expect_update()
        .withf(move |id, update| *id == UserId(1) && matches(update))
        .times(1)
        .return_once(move |_, _| Ok(updated));
}

/// [`plain_user`], signed in a minute ago, saves `changes` without typing the password again.
async fn update_when_recently_signed_in(mocks: Mocks, changes: ProfileChanges) -> Result<User, UpdateProfileError> {
    mocks.service().update_profile(&current(plain_user()), changes, no_password()).await
}

// ---------------------------------------------------------------------------------------------------------------
// update_profile

#[tokio::test]
async fn update_profile_without_a_password_leaves_the_sessions_alone() {
    // Given a change of username, email and names, but not of the password
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().never();
    expect_update(
        &mut mocks,
        |update| {
            update.username == Some(None)
                && update.email == Some(email("ada@example.org"))
                && update.password_hash.is_none()
                && update.profile == patch()
                && update.roles.is_none()
                && update.ends_sessions.is_none()
                && update.updated_at == now()
        },
        updated_user(),
    );
    mocks.sessions.expect_revoke_all_of_user().never();

    // When the user saves it
    let user = update_when_recently_signed_in(mocks, changes_without_password()).await.unwrap();

    // Then the store updates just those fields and ends no session, and the client sees the stored user
    assert_eq!(user, updated_user());
}

#[tokio::test]
async fn update_profile_with_an_empty_change_still_touches_the_user() {
    // Given a change of nothing at all
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().never();
    expect_update(
        &mut mocks,
        |update| {
            update.username.is_none()
                && update.email.is_none()
                && update.password_hash.is_none()
                && update.profile == ProfilePatch::default()
                && update.ends_sessions.is_none()
        },
        plain_user(),
    );
    mocks.sessions.expect_revoke_all_of_user().never();

    // When the user saves it
    let user = update_when_recently_signed_in(mocks, ProfileChanges::default()).await.unwrap();

    // Then the store is still asked for an update, which changes no field, and the client sees the user
    assert_eq!(user, plain_user());
}

#[tokio::test]
async fn update_profile_with_a_password_stores_its_hash_and_ends_the_other_sessions() {
    // Given a change that includes a new password
    let mut mocks = Mocks::new();
    expect_new_password_hashed(&mut mocks);
    expect_update(
        &mut mocks,
        |update| {
            update.password_hash == Some(new_hash())
                && update.email == Some(email("ada@example.org"))
                && update.ends_sessions == Some(EndSessions::AllBut(SESSION))
                && update.updated_at == now()
        },
        updated_user(),
    );
    // In the same update, not after it.
    mocks.sessions.expect_revoke_all_of_user().never();

    // When the user saves it
    let user = update_when_recently_signed_in(mocks, changes_with_password()).await.unwrap();

    // Then the update stores the new hash and ends every session but this one, and the client sees the stored user
    assert_eq!(user, updated_user());
}

/// The new password of [`changes_with_password`] is hashed, then the store refuses the update with `error`; no
/// session is ended apart from it.
fn store_refusing_the_update(error: fn() -> UpdateUserError) -> Mocks {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().times(1).returning(|_| Ok(new_hash()));
    mocks.users.expect_update().times(1).returning(move |_, _| Err(error()));
    mocks.sessions.expect_revoke_all_of_user().never();
    mocks
}

#[tokio::test]
async fn update_profile_to_a_taken_email_is_refused() {
    // Given a new email that another account holds
    let mocks = store_refusing_the_update(|| UpdateUserError::DuplicateEmail);

    // When the user saves it, with a new password
    let error = update_when_recently_signed_in(mocks, changes_with_password()).await.unwrap_err();

    // Then the client is told the email is taken
    assert!(matches!(error, UpdateProfileError::EmailTaken), "{error:?}");
}

#[tokio::test]
async fn update_profile_to_a_taken_username_is_refused() {
    // Given a new username that another account holds
    let mocks = store_refusing_the_update(|| UpdateUserError::DuplicateUsername);

    // When the user saves it, with a new password
    let error = update_when_recently_signed_in(mocks, changes_with_password()).await.unwrap_err();

    // Then the client is told the username is taken
    assert!(matches!(error, UpdateProfileError::UsernameTaken), "{error:?}");
}

#[tokio::test]
async fn update_profile_of_an_account_deleted_meanwhile_says_it_is_gone() {
    // Given an account an admin deleted since the request was signed in
    let mocks = store_refusing_the_update(|| UpdateUserError::NotFound);

    // When the user saves a change
    let error = update_when_recently_signed_in(mocks, changes_with_password()).await.unwrap_err();

    // Then the client is told the account is gone
    assert!(matches!(error, UpdateProfileError::AccountGone), "{error:?}");
}

#[tokio::test]
async fn update_profile_turns_a_store_failure_into_unexpected() {
    // Given a store that fails the update
    let mocks = store_refusing_the_update(|| UpdateUserError::Unexpected(store_error()));

    // When the user saves a change
    let error = update_when_recently_signed_in(mocks, changes_with_password()).await.unwrap_err();

    // Then the fault is unexpected, and keeps the store's reason
    assert!(matches!(error, UpdateProfileError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

#[tokio::test]
async fn update_profile_turns_a_hasher_failure_into_unexpected_and_changes_nothing() {
    // Given a hasher that fails
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().times(1).returning(|_| Err(PasswordHashError::Unexpected("out of memory".into())));
    mocks.users.expect_update().never();
    mocks.sessions.expect_revoke_all_of_user().never();

    // When the user saves a change with a new password
    let error = update_when_recently_signed_in(mocks, changes_with_password()).await.unwrap_err();

    // Then the fault is unexpected, and nothing is stored or ended
    assert!(matches!(error, UpdateProfileError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn a_new_password_and_the_end_of_the_other_sessions_fail_together() {
    // Given a store that fails the update that would store the new hash
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

    // When the user saves a change with a new password
    let error = update_when_recently_signed_in(mocks, changes_with_password()).await.unwrap_err();

    // Then the fault is unexpected, and no session was ended apart from the failed update
    assert!(matches!(error, UpdateProfileError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn update_profile_refuses_a_new_password_containing_the_username_it_will_have() {
    // Given a new username, and a new password that contains it
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().never();
    mocks.users.expect_update().never();
    mocks.sessions.expect_revoke_all_of_user().never();
    let changes = ProfileChanges {
        username: Some(Some(username("lovelace"))),
        password: Some(password("dear lovelace!")),
        ..ProfileChanges::default()
    };

    // When the user saves them
    let error = update_when_recently_signed_in(mocks, changes).await.unwrap_err();

    // Then the password is refused as weak, before it is hashed or anything stored
    assert!(matches!(error, UpdateProfileError::WeakPassword(_)), "{error:?}");
}

#[tokio::test]
async fn update_profile_with_a_new_password_while_the_hashers_are_busy_is_busy_and_changes_nothing() {
    // Given hashers too busy to hash the new password
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().times(1).returning(|_| Err(PasswordHashError::Busy));
    mocks.users.expect_update().never();

    // When the user saves it
    let error = update_when_recently_signed_in(mocks, new_password_only()).await;

    // Then the client is told the service is busy, and nothing is stored
    assert!(matches!(error, Err(UpdateProfileError::Busy)), "{error:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// delete_account

/// A store whose delete of user 1 is asked once and answers `outcome`.
fn store_deleting_with(outcome: fn() -> Result<(), DeleteUserError>) -> Mocks {
    let mut mocks = Mocks::new();
    mocks.users.expect_delete().withf(|id, _| *id == UserId(1)).times(1).returning(move |_, _| outcome());
    mocks
}

/// [`plain_user`], signed in a minute ago, deletes their account without typing the password again.
async fn delete_when_recently_signed_in(mocks: Mocks) -> Result<(), DeleteAccountError> {
    mocks.service().delete_account(&current(plain_user()), no_password()).await
}

#[tokio::test]
async fn delete_account_deletes_the_user() {
    // Given a store that deletes the user
    let mocks = store_deleting_with(|| Ok(()));

    // When the user deletes their account
    let deleted = delete_when_recently_signed_in(mocks).await;

    // Then the store deleted user 1, and the client is told so
    deleted.unwrap();
}

#[tokio::test]
async fn delete_account_of_an_already_deleted_user_succeeds() {
    // Given an account an admin deleted since the request was signed in
    let mocks = store_deleting_with(|| Err(DeleteUserError::NotFound));

    // When the user deletes it
    let deleted = delete_when_recently_signed_in(mocks).await;

    // Then the client is told it is deleted: it is
    deleted.unwrap();
}

#[tokio::test]
async fn delete_account_of_the_last_admin_is_refused() {
    // Given a store that refuses to delete the last admin
    let mocks = store_deleting_with(|| Err(DeleteUserError::LastAdmin));

    // When that admin deletes their own account
    let error = delete_when_recently_signed_in(mocks).await.unwrap_err();

    // Then the refusal is passed on
    assert!(matches!(error, DeleteAccountError::LastAdmin), "{error:?}");
}

#[tokio::test]
async fn delete_account_turns_a_store_failure_into_unexpected() {
    // Given a store that fails the delete
    let mocks = store_deleting_with(|| Err(DeleteUserError::Unexpected(store_error())));

    // When the user deletes their account
    let error = delete_when_recently_signed_in(mocks).await.unwrap_err();

    // Then the fault is unexpected, and keeps the store's reason
    assert!(matches!(error, DeleteAccountError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

// ---------------------------------------------------------------------------------------------------------------
// proof of presence

const CURRENT_PASSWORD: &str = "correct horse battery";

/// [`plain_user`] in a session whose password was entered ten minutes ago: longer than the default five.
fn signed_in_long_ago() -> CurrentUser {
    signed_in_at(plain_user(), Some(now() - Duration::minutes(10)))
}

/// The current password typed again, from [`network`].
fn typed(raw: &str) -> Reauthentication {
    proof(CurrentPassword::Typed(password(raw)))
}

/// [`plain_user`], signed in long ago, saves `changes`, typing `current_password` again.
async fn update_retyping(
    mocks: Mocks,
    changes: ProfileChanges,
    current_password: &str,
) -> Result<User, UpdateProfileError> {
    mocks.service().update_profile(&signed_in_long_ago(), changes, typed(current_password)).await
}

/// [`plain_user`], signed in long ago, deletes their account, typing `current_password` again.
async fn delete_retyping(mocks: Mocks, current_password: &str) -> Result<(), DeleteAccountError> {
    mocks.service().delete_account(&signed_in_long_ago(), typed(current_password)).await
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

/// The credentials behind [`plain_user`]'s email are looked up and answer `found`, but no sign-in attempt is begun
/// and no password checked.
fn expect_looked_up_but_not_checked(mocks: &mut Mocks, found: Option<StoredCredentials>) {
    expect_credentials_looked_up(mocks, found);
    expect_no_attempt(mocks);
    mocks.hasher.expect_verify().never();
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
    // Given a change of username and names alone, in a session whose token does not say when its password was
    // entered
    let mut mocks = Mocks::new();
    expect_no_password_check(&mut mocks);
    mocks.hasher.expect_hash().never();
    expect_update(
        &mut mocks,
        |update| {
            update.username == Some(Some(username("lovelace")))
                && update.email.is_none()
                && update.password_hash.is_none()
                && update.profile == patch()
                && update.ends_sessions.is_none()
        },
        plain_user(),
    );
    let changes =
        ProfileChanges { username: Some(Some(username("lovelace"))), profile: patch(), ..ProfileChanges::default() };
    let current = signed_in_at(plain_user(), None);

    // When the user saves it without typing the password again
    let user = mocks.service().update_profile(&current, changes, no_password()).await.unwrap();

    // Then it is stored without a password check
    assert_eq!(user, plain_user());
}

#[tokio::test]
async fn update_profile_with_a_new_password_in_a_session_signed_in_a_minute_ago_needs_no_current_password() {
    // Given a new password, in a session whose password was entered a minute ago
    let mut mocks = Mocks::new();
    expect_no_password_check(&mut mocks);
    expect_new_password_hashed(&mut mocks);
    expect_update(
        &mut mocks,
        |update| {
            update.password_hash == Some(new_hash())
                && update.email.is_none()
                && update.ends_sessions == Some(EndSessions::AllBut(SESSION))
        },
        plain_user(),
    );

    // When the user saves it without typing the current password
    let updated = update_when_recently_signed_in(mocks, new_password_only()).await;

    // Then it is stored without a password check, and the other sessions end
    updated.unwrap();
}

#[tokio::test]
async fn update_profile_with_a_new_email_alone_ends_no_session() {
    // Given a new email alone, in a session whose password was entered a minute ago
    let mut mocks = Mocks::new();
    expect_no_password_check(&mut mocks);
    mocks.hasher.expect_hash().never();
    expect_update(
        &mut mocks,
        |update| {
            update.email == Some(email("ada@example.org"))
                && update.password_hash.is_none()
                && update.ends_sessions.is_none()
        },
        updated_user(),
    );
    mocks.sessions.expect_revoke_all_of_user().never();

    // When the user saves it
    let user = update_when_recently_signed_in(mocks, new_email_only()).await.unwrap();

    // Then it is stored, and every session goes on
    assert_eq!(user, updated_user());
}

#[tokio::test]
async fn update_profile_taking_over_the_account_in_a_session_signed_in_ten_minutes_ago_requires_reauthentication() {
    for (what, changes) in [("password", new_password_only()), ("email", new_email_only())] {
        // Given a new password or email, in a session whose password was entered ten minutes ago
        let mut mocks = Mocks::new();
        expect_no_password_check(&mut mocks);
        expect_nothing_changed(&mut mocks);

        // When the user saves it without typing the current password
        let error = mocks.service().update_profile(&signed_in_long_ago(), changes, no_password()).await.unwrap_err();

        // Then the client is asked to sign in again, and nothing changes
        assert!(matches!(error, UpdateProfileError::ReauthenticationRequired), "new {what}: {error:?}");
    }
}

#[tokio::test]
async fn update_profile_taking_over_the_account_with_a_token_without_a_sign_in_time_requires_reauthentication() {
    for (what, changes) in [("password", new_password_only()), ("email", new_email_only())] {
        // Given a new password or email, in a session whose token does not say when its password was entered
        let mut mocks = Mocks::new();
        expect_no_password_check(&mut mocks);
        expect_nothing_changed(&mut mocks);
        let current = signed_in_at(plain_user(), None);

        // When the user saves it without typing the current password
        let error = mocks.service().update_profile(&current, changes, no_password()).await.unwrap_err();

        // Then the client is asked to sign in again, and nothing changes
        assert!(matches!(error, UpdateProfileError::ReauthenticationRequired), "new {what}: {error:?}");
    }
}

#[tokio::test]
async fn update_profile_takes_the_reauthentication_window_from_the_policy() {
    // Given a policy that trusts a sign-in for thirty minutes, and a session signed in ten minutes ago
    let mut mocks = Mocks::new();
    expect_no_password_check(&mut mocks);
    mocks.users.expect_update().times(1).returning(|_, _| Ok(updated_user()));
    let policy = SessionPolicy { reauthentication: Duration::minutes(30), ..SessionPolicy::default() };

    // When the user saves a new email without typing the current password
    let updated =
        mocks.service_with(policy).update_profile(&signed_in_long_ago(), new_email_only(), no_password()).await;

    // Then it is stored without a password check
    updated.unwrap();
}

#[tokio::test]
async fn update_profile_with_the_right_current_password_passes_in_an_old_session() {
    // Given a session signed in ten minutes ago, and the right current password
    let mut mocks = Mocks::new();
    expect_checked_as_a_sign_in(&mut mocks, CURRENT_PASSWORD, || Ok(true));
    expect_new_password_hashed(&mut mocks);
    expect_update(
        &mut mocks,
        |update| update.password_hash == Some(new_hash()) && update.ends_sessions == Some(EndSessions::AllBut(SESSION)),
        plain_user(),
    );

    // When the user saves a new password, typing the current one
    let updated = update_retyping(mocks, new_password_only(), CURRENT_PASSWORD).await;

    // Then the current one is checked as a sign-in is, and the new one stored
    updated.unwrap();
}

#[tokio::test]
async fn update_profile_with_a_wrong_current_password_requires_reauthentication_counts_a_failure_and_changes_nothing() {
    // Given a recent session, and a wrong current password
    let mut mocks = Mocks::new();
    expect_checked_as_a_sign_in(&mut mocks, "wrong password!", || Ok(false));
    expect_nothing_changed(&mut mocks);

    // When the user saves a new email, typing the wrong password
    let error =
        mocks.service().update_profile(&current(plain_user()), new_email_only(), typed("wrong password!")).await;

    // Then the client is asked to sign in again (a recent sign-in does not excuse a wrong password), the failure
    // counts, and nothing changes
    assert!(matches!(error, Err(UpdateProfileError::ReauthenticationRequired)), "{error:?}");
}

#[tokio::test]
async fn update_profile_with_an_impossible_current_password_requires_reauthentication_without_a_hash() {
    // Given a recent session, and a current password no account can have
    let mut mocks = Mocks::new();
    expect_no_password_check(&mut mocks);
    expect_nothing_changed(&mut mocks);
    let impossible = proof(CurrentPassword::Impossible);

    // When the user saves a new password, typing it
    let error = mocks.service().update_profile(&current(plain_user()), new_password_only(), impossible).await;

    // Then it is refused like a wrong password, without a look-up or a hash, and nothing changes
    assert!(matches!(error, Err(UpdateProfileError::ReauthenticationRequired)), "{error:?}");
}

#[tokio::test]
async fn update_profile_with_the_current_password_of_a_locked_account_is_locked_without_a_hash() {
    // Given an account locked for three more minutes
    let mut mocks = Mocks::new();
    expect_looked_up_but_not_checked(&mut mocks, Some(locked_credentials(now() + Duration::minutes(3))));
    expect_nothing_changed(&mut mocks);

    // When the user saves a new password, typing the current one
    let error = update_retyping(mocks, new_password_only(), CURRENT_PASSWORD).await;

    // Then it is refused for those three minutes, without an attempt or a hash, and nothing changes
    assert!(
        matches!(error, Err(UpdateProfileError::Locked { retry_after }) if retry_after == Duration::minutes(3)),
        "{error:?}"
    );
}

#[tokio::test]
async fn update_profile_with_the_current_password_from_a_locked_network_is_locked_without_a_hash() {
    // Given a network locked for two more minutes
    let mut mocks = Mocks::new();
    expect_credentials_looked_up(&mut mocks, Some(credentials()));
    expect_attempt(&mut mocks, LoginAttempt::Locked { until: now() + Duration::minutes(2) });
    mocks.hasher.expect_verify().never();
    mocks.users.expect_finish_login_attempt().never();
    expect_nothing_changed(&mut mocks);

    // When the user saves a new email from it, typing the current password
    let error = update_retyping(mocks, new_email_only(), CURRENT_PASSWORD).await;

    // Then it is refused for those two minutes, without a hash, and nothing changes
    assert!(
        matches!(error, Err(UpdateProfileError::Locked { retry_after }) if retry_after == Duration::minutes(2)),
        "{error:?}"
    );
}

#[tokio::test]
async fn update_profile_with_the_current_password_while_the_hashers_are_busy_is_busy_and_abandons_the_attempt() {
    // Given hashers too busy to check the current password
    let mut mocks = Mocks::new();
    expect_checked_as_a_sign_in(&mut mocks, CURRENT_PASSWORD, || Err(PasswordHashError::Busy));
    expect_nothing_changed(&mut mocks);

    // When the user saves a new password, typing the current one
    let error = update_retyping(mocks, new_password_only(), CURRENT_PASSWORD).await;

    // Then the client is told the service is busy, the attempt counts for nothing, and nothing changes
    assert!(matches!(error, Err(UpdateProfileError::Busy)), "{error:?}");
}

#[tokio::test]
async fn update_profile_with_the_current_password_of_an_account_no_longer_behind_its_email_requires_reauthentication() {
    for found in [None, Some(StoredCredentials { user: user(2, &[]), ..credentials() })] {
        // Given a user's email that now leads to no account, or to another one
        let mut mocks = Mocks::new();
        expect_looked_up_but_not_checked(&mut mocks, found.clone());
        expect_nothing_changed(&mut mocks);

        // When the user saves a new email, typing the current password
        let error = update_retyping(mocks, new_email_only(), CURRENT_PASSWORD).await;

        // Then the client is asked to sign in again, no password is checked, and nothing changes
        assert!(matches!(error, Err(UpdateProfileError::ReauthenticationRequired)), "found {found:?}: {error:?}");
    }
}

#[tokio::test]
async fn delete_account_in_a_session_signed_in_ten_minutes_ago_requires_reauthentication() {
    for current in [signed_in_long_ago(), signed_in_at(plain_user(), None)] {
        // Given a session signed in ten minutes ago, or one whose token does not say when
        let mut mocks = Mocks::new();
        expect_no_password_check(&mut mocks);
        expect_nothing_changed(&mut mocks);

        // When the user deletes their account without typing the current password
        let error = mocks.service().delete_account(&current, no_password()).await;

        // Then the client is asked to sign in again, and nothing is deleted
        assert!(
            matches!(error, Err(DeleteAccountError::ReauthenticationRequired)),
            "signed in at {:?}: {error:?}",
            current.authenticated_at
        );
    }
}

#[tokio::test]
async fn delete_account_with_the_right_current_password_deletes_in_an_old_session() {
    // Given a session signed in ten minutes ago, and the right current password
    let mut mocks = Mocks::new();
    expect_checked_as_a_sign_in(&mut mocks, CURRENT_PASSWORD, || Ok(true));
    mocks.users.expect_delete().withf(|id, _| *id == UserId(1)).times(1).returning(|_, _| Ok(()));

    // When the user deletes their account, typing it
    let deleted = delete_retyping(mocks, CURRENT_PASSWORD).await;

    // Then the password is checked as a sign-in is, and the account deleted
    deleted.unwrap();
}

#[tokio::test]
async fn delete_account_with_a_wrong_current_password_requires_reauthentication_counts_a_failure_and_deletes_nothing() {
    // Given a recent session, and a wrong current password
    let mut mocks = Mocks::new();
    expect_checked_as_a_sign_in(&mut mocks, "wrong password!", || Ok(false));
    expect_nothing_changed(&mut mocks);

    // When the user deletes their account, typing it
    let error = mocks.service().delete_account(&current(plain_user()), typed("wrong password!")).await;

    // Then the client is asked to sign in again, the failure counts, and nothing is deleted
    assert!(matches!(error, Err(DeleteAccountError::ReauthenticationRequired)), "{error:?}");
}

#[tokio::test]
async fn delete_account_with_an_impossible_current_password_requires_reauthentication_without_a_hash() {
    // Given a recent session, and a current password no account can have
    let mut mocks = Mocks::new();
    expect_no_password_check(&mut mocks);
    expect_nothing_changed(&mut mocks);

    // When the user deletes their account, typing it
    let error = mocks.service().delete_account(&current(plain_user()), proof(CurrentPassword::Impossible)).await;

    // Then it is refused like a wrong password, without a look-up or a hash, and nothing is deleted
    assert!(matches!(error, Err(DeleteAccountError::ReauthenticationRequired)), "{error:?}");
}

#[tokio::test]
async fn delete_account_with_the_current_password_of_a_locked_account_is_locked_without_a_hash() {
    // Given an account locked for three more minutes
    let mut mocks = Mocks::new();
    expect_looked_up_but_not_checked(&mut mocks, Some(locked_credentials(now() + Duration::minutes(3))));
    expect_nothing_changed(&mut mocks);

    // When the user deletes it, typing the current password
    let error = delete_retyping(mocks, CURRENT_PASSWORD).await;

    // Then it is refused for those three minutes, without an attempt or a hash, and nothing is deleted
    assert!(
        matches!(error, Err(DeleteAccountError::Locked { retry_after }) if retry_after == Duration::minutes(3)),
        "{error:?}"
    );
}

#[tokio::test]
async fn delete_account_with_the_current_password_while_the_hashers_are_busy_is_busy_and_abandons_the_attempt() {
    // Given hashers too busy to check the current password
    let mut mocks = Mocks::new();
    expect_checked_as_a_sign_in(&mut mocks, CURRENT_PASSWORD, || Err(PasswordHashError::Busy));
    expect_nothing_changed(&mut mocks);

    // When the user deletes their account, typing it
    let error = delete_retyping(mocks, CURRENT_PASSWORD).await;

    // Then the client is told the service is busy, the attempt counts for nothing, and nothing is deleted
    assert!(matches!(error, Err(DeleteAccountError::Busy)), "{error:?}");
}
