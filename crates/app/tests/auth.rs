//! Sign-up, sign-in, refresh, sign-out and access-token checks, against mocked ports.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use mockall::Sequence;
use users_app::{
    AuthenticateError, LoginError, LogoutError, RefreshError, RegisterError, SessionPolicy, SignIn, TokenPair,
};
use users_domain::{
    AttemptOutcome, ClientNetwork, LockoutPolicy, LoginAttempt, LoginIdentifier, LoginThrottle, PersonName, Profile,
    Registration, Role, User, UserId,
};
use users_ports::{
    AccessClaims, InsertUserError, NewSession, PasswordHash, PasswordHashError, RefreshToken, RefreshTokenUse,
    SessionId, SessionState, StoredCredentials, TokenError,
};

use support::*;

// ---------------------------------------------------------------------------------------------------------------
// register

fn registration() -> Registration {
    Registration {
        username: Some(username("ada")),
        email: email("ada@example.com"),
        password: password("correct horse battery"),
        first_name: Some(PersonName::parse("Ada").unwrap()),
        last_name: Some(PersonName::parse("Lovelace").unwrap()),
    }
}

/// The hasher expects the registration's password once and returns [`new_hash`].
fn expect_registration_hashed(mocks: &mut Mocks) {
    mocks.hasher.expect_hash().withf(|p| p.expose() == "correct horse battery").times(1).returning(|_| Ok(new_hash()));
}

fn expect_no_session(mocks: &mut Mocks) {
    mocks.sessions.expect_create().never();
    mocks.tokens.expect_new_refresh_token().never();
    mocks.tokens.expect_issue_access_token().never();
}

#[tokio::test]
async fn register_stores_a_user_and_signs_it_in() {
    let mut mocks = Mocks::new();
    let mut seq = Sequence::new();
    mocks
        .hasher
        .expect_hash()
        .withf(|p| p.expose() == "correct horse battery")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(new_hash()));
    mocks
        .users
        .expect_insert()
        .withf(|new| {
            new.username == Some(username("ada"))
                && new.email == email("ada@example.com")
                && new.password_hash == new_hash()
                && new.profile
                    == Profile {
                        first_name: Some(PersonName::parse("Ada").unwrap()),
                        last_name: Some(PersonName::parse("Lovelace").unwrap()),
                        ..Profile::default()
                    }
                && new.roles == [Role::User]
                && new.created_at == now()
                && object_id_seconds(new.object_id) == now_seconds()
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|new| Ok(stored(new, 1)));
    mocks.tokens.expect_new_refresh_token().times(1).returning(|| RefreshToken::new("rt-new"));
    mocks
        .sessions
        .expect_create()
        .withf(|session| {
            *session
                == NewSession {
                    key: session.key.clone(),
                    audit: signed_in_record(&session.key),
                    client: device(),
                    user_id: UserId(1),
                    password_hash: new_hash(),
                    rehashed_password: None,
                    refresh_token_hash: hash_of_str("rt-new"),
                    created_at: now(),
                    expires_at: now() + Duration::days(30),
                }
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(SessionId(7))));
    mocks
        .tokens
        .expect_issue_access_token()
        .withf(|subject, at| {
            subject.user_id == UserId(1)
                && subject.session_id == SessionId(7)
                && subject.roles == [Role::User]
                && subject.authenticated_at == now()
                && *at == now()
        })
        .times(1)
        .returning(|_, _| Ok(access_token()));

    let signed_in = mocks.service().register(registration(), &device()).await.unwrap().into_signed_in().unwrap();

    assert_eq!(signed_in.user.id, UserId(1));
    assert_eq!(signed_in.user.email, email("ada@example.com"));
    assert_eq!(signed_in.user.roles, [Role::User]);
    assert_eq!(signed_in.tokens.access_token, "signed.access.token");
    assert_eq!(signed_in.tokens.refresh_token.as_str(), "rt-new");
    assert_eq!(signed_in.tokens.expires_in, ACCESS_TTL_SECS);
}

#[tokio::test]
async fn register_signs_the_access_token_for_the_stored_user() {
    let mut mocks = Mocks::new();
    expect_registration_hashed(&mut mocks);
    mocks.users.expect_insert().times(1).returning(|new| Ok(stored(new, 41)));
    mocks.expect_new_refresh_token("rt-new");
    mocks.sessions.expect_create().times(1).returning(|_| Ok(Some(SessionId(3))));
    mocks
        .tokens
        .expect_issue_access_token()
        .withf(|subject, _| {
            subject.user_id == UserId(41)
                && object_id_seconds(subject.object_id) == now_seconds()
                && subject.session_id == SessionId(3)
        })
        .times(1)
        .returning(|_, _| Ok(access_token()));

    let signed_in = mocks.service().register(registration(), &device()).await.unwrap().into_signed_in().unwrap();

    assert_eq!(signed_in.user.id, UserId(41));
    assert_eq!(object_id_seconds(signed_in.user.object_id), now_seconds());
}

#[tokio::test]
async fn register_uses_the_refresh_token_lifetime_of_the_policy() {
    let mut mocks = Mocks::new();
    expect_registration_hashed(&mut mocks);
    mocks.users.expect_insert().times(1).returning(|new| Ok(stored(new, 1)));
    mocks.expect_new_refresh_token("rt-new");
    mocks
        .sessions
        .expect_create()
        .withf(|session| session.expires_at == now() + Duration::hours(12))
        .times(1)
        .returning(|_| Ok(Some(SessionId(7))));
    mocks.tokens.expect_issue_access_token().times(1).returning(|_, _| Ok(access_token()));

    let policy = SessionPolicy { refresh_token_ttl: Duration::hours(12), ..SessionPolicy::default() };
    mocks.service_with(policy).register(registration(), &device()).await.unwrap();
}

#[tokio::test]
async fn register_reports_a_taken_email_and_starts_no_session() {
    let mut mocks = Mocks::new();
    expect_registration_hashed(&mut mocks);
    mocks.users.expect_insert().times(1).returning(|_| Err(InsertUserError::DuplicateEmail));
    expect_no_session(&mut mocks);

    let error = mocks.service().register(registration(), &device()).await.unwrap_err();

    assert!(matches!(error, RegisterError::EmailTaken), "{error:?}");
}

#[tokio::test]
async fn register_reports_a_taken_username_and_starts_no_session() {
    let mut mocks = Mocks::new();
    expect_registration_hashed(&mut mocks);
    mocks.users.expect_insert().times(1).returning(|_| Err(InsertUserError::DuplicateUsername));
    expect_no_session(&mut mocks);

    let error = mocks.service().register(registration(), &device()).await.unwrap_err();

    assert!(matches!(error, RegisterError::UsernameTaken), "{error:?}");
}

#[tokio::test]
async fn register_turns_a_store_failure_into_unexpected() {
    let mut mocks = Mocks::new();
    expect_registration_hashed(&mut mocks);
    mocks.users.expect_insert().times(1).returning(|_| Err(InsertUserError::Unexpected(store_error())));
    expect_no_session(&mut mocks);

    let error = mocks.service().register(registration(), &device()).await.unwrap_err();

    assert!(matches!(error, RegisterError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

#[tokio::test]
async fn register_turns_a_hasher_failure_into_unexpected_and_stores_nothing() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().times(1).returning(|_| Err(PasswordHashError::Unexpected("out of memory".into())));
    mocks.users.expect_insert().never();
    expect_no_session(&mut mocks);

    let error = mocks.service().register(registration(), &device()).await.unwrap_err();

    assert!(matches!(error, RegisterError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains("out of memory"), "{error}");
}

#[tokio::test]
async fn register_turns_a_session_store_failure_into_unexpected() {
    let mut mocks = Mocks::new();
    expect_registration_hashed(&mut mocks);
    mocks.users.expect_insert().times(1).returning(|new| Ok(stored(new, 1)));
    mocks.expect_new_refresh_token("rt-new");
    mocks.sessions.expect_create().times(1).returning(|_| Err(store_error()));
    mocks.tokens.expect_issue_access_token().never();

    let error = mocks.service().register(registration(), &device()).await.unwrap_err();

    assert!(matches!(error, RegisterError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn register_turns_a_signing_failure_into_unexpected() {
    let mut mocks = Mocks::new();
    expect_registration_hashed(&mut mocks);
    mocks.users.expect_insert().times(1).returning(|new| Ok(stored(new, 1)));
    mocks.expect_new_refresh_token("rt-new");
    mocks.sessions.expect_create().times(1).returning(|_| Ok(Some(SessionId(7))));
    mocks.tokens.expect_issue_access_token().times(1).returning(|_, _| Err(TokenError::Unexpected("no key".into())));

    let error = mocks.service().register(registration(), &device()).await.unwrap_err();

    assert!(matches!(error, RegisterError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains("no key"), "{error}");
}

#[tokio::test]
async fn register_starts_the_session_for_the_hash_it_just_stored() {
    let mut mocks = Mocks::new();
    expect_registration_hashed(&mut mocks);
    mocks.users.expect_insert().times(1).returning(|new| Ok(stored(new, 1)));
    mocks.expect_new_refresh_token("rt-new");
    mocks
        .sessions
        .expect_create()
        .withf(|session| session.user_id == UserId(1) && session.password_hash == new_hash())
        .times(1)
        .returning(|_| Ok(Some(SessionId(7))));
    mocks
        .tokens
        .expect_issue_access_token()
        .withf(|subject, at| subject.session_id == SessionId(7) && subject.authenticated_at == now() && *at == now())
        .times(1)
        .returning(|_, _| Ok(access_token()));

    mocks.service().register(registration(), &device()).await.unwrap();
}

#[tokio::test]
async fn register_whose_account_is_deleted_before_its_session_starts_says_so_and_issues_no_token() {
    let mut mocks = Mocks::new();
    expect_registration_hashed(&mut mocks);
    mocks.users.expect_insert().times(1).returning(|new| Ok(stored(new, 1)));
    mocks.expect_new_refresh_token("rt-new");
    // An admin deleted user 1 between the insert and the session: the store starts no session for a missing user.
    mocks.sessions.expect_create().times(1).returning(|_| Ok(None));
    mocks.tokens.expect_issue_access_token().never();

    let result = mocks.service().register(registration(), &device()).await;

    assert!(matches!(result, Err(RegisterError::DeletedAtOnce)), "{result:?}");
}

#[tokio::test]
async fn register_while_the_hashers_are_busy_is_busy_and_stores_nothing() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().times(1).returning(|_| Err(PasswordHashError::Busy));
    mocks.users.expect_insert().never();
    expect_no_session(&mut mocks);

    let error = mocks.service().register(registration(), &device()).await.unwrap_err();

    assert!(matches!(error, RegisterError::Busy), "{error:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// login

fn by_email() -> LoginIdentifier {
    LoginIdentifier::Email(email("user1@example.com"))
}

/// Signing in as the sample user by email, with `typed` as the password.
fn by_email_with(typed: &str) -> SignIn {
    SignIn::Credentials { login: by_email(), password: password(typed) }
}

/// Signing in as the sample user by username, with `typed` as the password.
fn by_username_with(typed: &str) -> SignIn {
    SignIn::Credentials { login: LoginIdentifier::Username(username("user1")), password: password(typed) }
}

/// The right password's attempt ends `Verified`, which starts the counts again.
fn expect_count_reset(mocks: &mut Mocks) {
    expect_finished(mocks, AttemptOutcome::Verified, None);
}

#[tokio::test]
async fn login_with_the_right_password_starts_a_session() {
    // Given a known account and its right password
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_find_credentials()
        .withf(|login| *login == by_email())
        .times(1)
        .returning(|_| Ok(Some(credentials())));
    expect_attempt(&mut mocks, LoginAttempt::Allowed);
    expect_count_reset(&mut mocks);
    mocks
        .hasher
        .expect_verify()
        .withf(|p, hash| p.expose() == "correct horse battery" && *hash == stored_hash())
        .times(1)
        .returning(|_, _| Ok(true));
    mocks.hasher.expect_verify_dummy().never();
    mocks.expect_new_refresh_token("rt-new");
    mocks
        .sessions
        .expect_create()
        .withf(|session| {
            *session
                == NewSession {
                    key: session.key.clone(),
                    audit: signed_in_record(&session.key),
                    client: device(),
                    user_id: UserId(1),
                    password_hash: stored_hash(),
                    rehashed_password: None,
                    refresh_token_hash: hash_of_str("rt-new"),
                    created_at: now(),
                    expires_at: now() + Duration::days(30),
                }
        })
        .times(1)
        .returning(|_| Ok(Some(SessionId(9))));
    mocks.expect_access_token(&plain_user(), SessionId(9));

    // When the client signs in by email
    let signed_in = mocks
        .service()
        .login(by_email_with("correct horse battery"), &network(), &device())
        .await
        .password_alone()
        .unwrap();

    // Then a session starts for the hash that was checked, and the client gets its tokens and the user, signed in now
    assert_eq!(signed_in.user, User { last_sign_in_at: Some(now()), ..plain_user() });
    assert_eq!(signed_in.tokens.access_token, "signed.access.token");
    assert_eq!(signed_in.tokens.refresh_token.as_str(), "rt-new");
    assert_eq!(signed_in.tokens.expires_in, ACCESS_TTL_SECS);
}

/// An account imported with another system's hash of its password, and that hash.
fn imported_hash() -> PasswordHash {
    PasswordHash::new("$2b$12$imported.bcrypt.hash")
}

/// The sample user's right password, hashed the service's way at sign-in.
fn rehashed() -> PasswordHash {
    PasswordHash::new("$argon2id$rehashed")
}

/// The sample account, imported with [`imported_hash`], signing in with the right password.
fn expect_imported_sign_in(mocks: &mut Mocks) {
    mocks
        .users
        .expect_find_credentials()
        .times(1)
        .returning(|_| Ok(Some(StoredCredentials { password_hash: imported_hash(), ..credentials() })));
    expect_attempt(mocks, LoginAttempt::Allowed);
    expect_count_reset(mocks);
    // In place of the default that nothing needs replacing:
    mocks.hasher.checkpoint();
    mocks.hasher.expect_verify().withf(|_, hash| *hash == imported_hash()).times(1).returning(|_, _| Ok(true));
    mocks.hasher.expect_needs_rehash().withf(|hash| *hash == imported_hash()).times(1).returning(|_| true);
    mocks.expect_new_refresh_token("rt-new");
}

#[tokio::test]
async fn login_with_an_imported_hash_replaces_it_with_the_services_own_in_the_sessions_transaction() {
    // Given an account imported with another system's hash, and its right password
    let mut mocks = Mocks::new();
    expect_imported_sign_in(&mut mocks);
    mocks.hasher.expect_hash().withf(|p| p.expose() == "correct horse battery").times(1).returning(|_| Ok(rehashed()));
    mocks
        .sessions
        .expect_create()
        .withf(|session| session.password_hash == imported_hash() && session.rehashed_password == Some(rehashed()))
        .times(1)
        .returning(|_| Ok(Some(SessionId(9))));
    mocks.expect_access_token(&plain_user(), SessionId(9));

    // When the client signs in
    let signed_in =
        mocks.service().login(by_email_with("correct horse battery"), &network(), &device()).await.password_alone();

    // Then the session starts only if the imported hash is still the user's, and replaces it with the new one
    assert_eq!(signed_in.unwrap().tokens.refresh_token.as_str(), "rt-new");
}

#[tokio::test]
async fn login_with_an_imported_hash_signs_in_when_the_hashers_are_too_busy_to_replace_it() {
    // Given an imported account whose rehash is refused by busy hashers
    let mut mocks = Mocks::new();
    expect_imported_sign_in(&mut mocks);
    mocks.hasher.expect_hash().times(1).returning(|_| Err(PasswordHashError::Busy));
    mocks
        .sessions
        .expect_create()
        .withf(|session| session.password_hash == imported_hash() && session.rehashed_password.is_none())
        .times(1)
        .returning(|_| Ok(Some(SessionId(9))));
    mocks.expect_access_token(&plain_user(), SessionId(9));

    // When the client signs in
    let signed_in =
        mocks.service().login(by_email_with("correct horse battery"), &network(), &device()).await.password_alone();

    // Then the sign-in succeeds, and the old hash is left for the next one
    assert!(signed_in.is_ok());
}

#[tokio::test]
async fn login_by_username_looks_up_the_username() {
    // Given an account known by its username
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_find_credentials()
        .withf(|login| *login == LoginIdentifier::Username(username("user1")))
        .times(1)
        .returning(|_| Ok(Some(credentials())));
    expect_attempt(&mut mocks, LoginAttempt::Allowed);
    expect_count_reset(&mut mocks);
    mocks.hasher.expect_verify().times(1).returning(|_, _| Ok(true));
    mocks.expect_new_refresh_token("rt-new");
    mocks.sessions.expect_create().times(1).returning(|_| Ok(Some(SessionId(9))));
    mocks.expect_access_token(&plain_user(), SessionId(9));

    // When the client signs in by username
    let signed_in =
        mocks.service().login(by_username_with("correct horse battery"), &network(), &device()).await.password_alone();

    // Then the account is looked up by that username
    assert_eq!(signed_in.unwrap().user.id, UserId(1));
}

#[tokio::test]
async fn login_to_an_unknown_account_spends_a_dummy_verification_and_fails() {
    // Given an email no account has
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Ok(None));
    mocks.hasher.expect_verify_dummy().withf(|p| p.expose() == "correct horse battery").times(1).returning(|_| Ok(()));
    mocks.hasher.expect_verify().never();
    expect_no_attempt(&mut mocks);
    expect_no_session(&mut mocks);

    // When the client signs in with it
    let error = mocks
        .service()
        .login(by_email_with("correct horse battery"), &network(), &device())
        .await
        .password_alone()
        .unwrap_err();

    // Then a hash is spent as for a known account, and the answer is a wrong password's
    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn login_with_credentials_no_account_can_have_is_refused_like_a_wrong_password_at_once() {
    // Given text no account can have (a malformed email, a password too short to be anyone's)
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().never();
    mocks.hasher.expect_verify().never();
    mocks.hasher.expect_verify_dummy().never();
    expect_no_attempt(&mut mocks);
    expect_no_session(&mut mocks);

    // When the client signs in with it
    let error = mocks.service().login(SignIn::Impossible, &network(), &device()).await.password_alone().unwrap_err();

    // Then the answer is a wrong password's, given without a look-up, a hash or a count
    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn login_with_a_wrong_password_fails_the_same_way_and_starts_no_session() {
    // Given a known account and a wrong password
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Ok(Some(credentials())));
    mocks.hasher.expect_verify().withf(|p, _| p.expose() == "wrong password!").times(1).returning(|_, _| Ok(false));
    mocks.hasher.expect_verify_dummy().never();
    // Counted as one more failure from the client's network once the check is done.
    expect_attempt(&mut mocks, LoginAttempt::Allowed);
    expect_finished(&mut mocks, AttemptOutcome::Refused, None);
    expect_no_session(&mut mocks);

    // When the client signs in
    let error = mocks
        .service()
        .login(by_email_with("wrong password!"), &network(), &device())
        .await
        .password_alone()
        .unwrap_err();

    // Then the answer is an unknown account's, and no session starts
    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn login_against_a_malformed_hash_is_unexpected() {
    // Given an account whose stored hash is malformed
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Ok(Some(credentials())));
    expect_attempt(&mut mocks, LoginAttempt::Allowed);
    mocks.hasher.expect_verify().times(1).returning(|_, _| Err(PasswordHashError::MalformedHash));
    // The password was never checked: the attempt counts as nothing.
    expect_finished(&mut mocks, AttemptOutcome::Abandoned, None);
    expect_no_session(&mut mocks);

    // When the client signs in
    let error = mocks
        .service()
        .login(by_email_with("correct horse battery"), &network(), &device())
        .await
        .password_alone()
        .unwrap_err();

    // Then the fault is unexpected, and the attempt counts for nothing
    assert!(matches!(error, LoginError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains("malformed"), "{error}");
}

#[tokio::test]
async fn login_with_a_failing_dummy_verification_is_unexpected() {
    // Given an unknown account and a hasher that fails
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Ok(None));
    mocks
        .hasher
        .expect_verify_dummy()
        .times(1)
        .returning(|_| Err(PasswordHashError::Unexpected("out of memory".into())));
    expect_no_session(&mut mocks);

    // When the client signs in
    let error = mocks
        .service()
        .login(by_email_with("correct horse battery"), &network(), &device())
        .await
        .password_alone()
        .unwrap_err();

    // Then the fault is unexpected
    assert!(matches!(error, LoginError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn login_with_a_failing_store_is_unexpected() {
    // Given a store that fails to look the account up
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Err(store_error()));
    mocks.hasher.expect_verify().never();
    mocks.hasher.expect_verify_dummy().never();
    expect_no_attempt(&mut mocks);
    expect_no_session(&mut mocks);

    // When the client signs in
    let error = mocks
        .service()
        .login(by_email_with("correct horse battery"), &network(), &device())
        .await
        .password_alone()
        .unwrap_err();

    // Then the fault is unexpected, and nothing is hashed
    assert!(matches!(error, LoginError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

#[tokio::test]
async fn login_begins_and_finishes_its_attempt_for_the_clients_network() {
    // Given a client on another network
    let mut mocks = Mocks::new();
    let mut seq = Sequence::new();
    let elsewhere = ClientNetwork::of("2001:db8:1:2::7".parse().unwrap());
    mocks.users.expect_find_credentials().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(credentials())));
    let begun = elsewhere.clone();
    mocks
        .users
        .expect_begin_login_attempt()
        .withf(move |id, from, at, _| *id == UserId(1) && *from == begun && *at == now())
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _| Ok(LoginAttempt::Allowed));
    mocks.hasher.expect_verify().times(1).in_sequence(&mut seq).returning(|_, _| Ok(true));
    let finished = elsewhere.clone();
    mocks
        .users
        .expect_finish_login_attempt()
        .withf(move |id, from, outcome, at, _, _| {
            *id == UserId(1) && *from == finished && *outcome == AttemptOutcome::Verified && *at == now()
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _, _, _| Ok(None));
    mocks.expect_new_refresh_token("rt-new");
    mocks.sessions.expect_create().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(SessionId(9))));
    mocks.expect_access_token(&plain_user(), SessionId(9));

    // When it signs in
    let signed_in = mocks
        .service()
        .login(by_email_with("correct horse battery"), &elsewhere, &device())
        .await
        .password_alone()
        .unwrap();

    // Then its attempt was begun and finished for that network, around the password check
    assert_eq!(signed_in.user.id, plain_user().id);
}

/// The store is asked to start user 1's attempt from [`network`] at [`now`] up to `times`; it answers `Busy` to the
/// first `busy` of them and `Allowed` after. Returns how many it was asked.
fn expect_busy_starts(mocks: &mut Mocks, busy: usize, times: impl Into<mockall::TimesRange>) -> Arc<AtomicUsize> {
    let starts = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&starts);
    mocks
        .users
        .expect_begin_login_attempt()
        .withf(|id, from, at, lockout| {
            *id == UserId(1) && *from == network() && *at == now() && *lockout == LockoutPolicy::default()
        })
        .times(times)
        .returning(move |_, _, _, _| {
            let earlier = counted.fetch_add(1, Ordering::SeqCst);
            Ok(if earlier < busy { LoginAttempt::Busy } else { LoginAttempt::Allowed })
        });
    starts
}

#[tokio::test]
async fn login_waits_while_its_network_is_busy_then_checks_the_password() {
    // Given a network whose attempts under way fill its room twice before there is room
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Ok(Some(credentials())));
    let starts = expect_busy_starts(&mut mocks, 2, 3);
    // Each wait comes after a busy answer, before the next look.
    let waits = Arc::new(Mutex::new(Vec::new()));
    let (record, looked) = (Arc::clone(&waits), Arc::clone(&starts));
    mocks
        .clock
        .expect_sleep()
        .times(2)
        .returning(move |duration| record.lock().unwrap().push((looked.load(Ordering::SeqCst), duration)));
    let checked = Arc::clone(&starts);
    mocks.hasher.expect_verify().times(1).returning(move |_, _| {
        assert_eq!(checked.load(Ordering::SeqCst), 3, "the password is checked only once the attempt is allowed");
        Ok(true)
    });
    expect_count_reset(&mut mocks);
    mocks.expect_new_refresh_token("rt-new");
    mocks.sessions.expect_create().times(1).returning(|_| Ok(Some(SessionId(9))));
    mocks.expect_access_token(&plain_user(), SessionId(9));

    // When the client signs in
    let signed_in = mocks
        .service()
        .login(by_email_with("correct horse battery"), &network(), &device())
        .await
        .password_alone()
        .unwrap();

    // Then it waited twice, briefly, then its password was checked
    assert_eq!(signed_in.user.id, plain_user().id);
    let waits = waits.lock().unwrap();
    assert_eq!(waits.iter().map(|(after, _)| *after).collect::<Vec<_>>(), [1, 2], "{waits:?}");
    assert!(waits.iter().all(|(_, wait)| *wait > Duration::zero() && *wait < Duration::seconds(1)), "{waits:?}");
}

#[tokio::test]
async fn login_busy_for_longer_than_its_patience_is_locked_for_a_second_without_a_hash() {
    // Given a network whose room stays full
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Ok(Some(credentials())));
    // Never allowed; the bounds only stop a use case that would wait for ever.
    let starts = expect_busy_starts(&mut mocks, usize::MAX, 2..=10_000);
    let waits = mocks.expect_sleeps(1..10_000);
    mocks.hasher.expect_verify().never();
    mocks.users.expect_finish_login_attempt().never();
    expect_no_session(&mut mocks);

    // When the client signs in
    let error = mocks
        .service()
        .login(by_email_with("correct horse battery"), &network(), &device())
        .await
        .password_alone()
        .unwrap_err();

    // Then after ten seconds of waiting it is told to retry in a second, and no hash was spent
    assert!(matches!(error, LoginError::Locked { retry_after } if retry_after == Duration::seconds(1)), "{error:?}");
    let waits = waits.lock().unwrap();
    let waited = waits.iter().fold(Duration::zero(), |total, wait| total + *wait);
    let last = *waits.last().unwrap();
    assert!(waited >= Duration::seconds(10), "gave up after {waited} of waiting");
    assert!(waited - last < Duration::seconds(10), "waited on after 10 s: {waited}");
    assert!(waits.iter().all(|wait| *wait > Duration::zero() && *wait < Duration::seconds(1)), "{waits:?}");
    assert_eq!(starts.load(Ordering::SeqCst), waits.len() + 1, "one look after each wait");
}

#[tokio::test]
async fn login_whose_hasher_fails_abandons_the_attempt_and_is_unexpected() {
    // Given a hasher that fails
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Ok(Some(credentials())));
    expect_attempt(&mut mocks, LoginAttempt::Allowed);
    mocks.hasher.expect_verify().times(1).returning(|_, _| Err(PasswordHashError::Unexpected("out of memory".into())));
    expect_finished(&mut mocks, AttemptOutcome::Abandoned, None);
    expect_no_session(&mut mocks);

    // When the client signs in
    let error = mocks
        .service()
        .login(by_email_with("correct horse battery"), &network(), &device())
        .await
        .password_alone()
        .unwrap_err();

    // Then the fault is unexpected, and the attempt counts for nothing
    assert!(matches!(error, LoginError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains("out of memory"), "{error}");
}

#[tokio::test]
async fn login_while_the_hashers_are_busy_is_busy_and_abandons_the_attempt() {
    // Given hashers too busy to check the password
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Ok(Some(credentials())));
    expect_attempt(&mut mocks, LoginAttempt::Allowed);
    mocks.hasher.expect_verify().times(1).returning(|_, _| Err(PasswordHashError::Busy));
    expect_finished(&mut mocks, AttemptOutcome::Abandoned, None);
    expect_no_session(&mut mocks);

    // When the client signs in
    let error = mocks
        .service()
        .login(by_email_with("correct horse battery"), &network(), &device())
        .await
        .password_alone()
        .unwrap_err();

    // Then it is told the service is busy, and the attempt counts for nothing
    assert!(matches!(error, LoginError::Busy), "{error:?}");
}

#[tokio::test]
async fn login_to_an_unknown_account_while_the_hashers_are_busy_is_busy_like_a_known_one() {
    // Given an unknown account and hashers too busy for the dummy check
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Ok(None));
    mocks.hasher.expect_verify_dummy().times(1).returning(|_| Err(PasswordHashError::Busy));
    expect_no_attempt(&mut mocks);
    expect_no_session(&mut mocks);

    // When the client signs in
    let error = mocks
        .service()
        .login(by_email_with("correct horse battery"), &network(), &device())
        .await
        .password_alone()
        .unwrap_err();

    // Then it is told the service is busy, as for a known account
    assert!(matches!(error, LoginError::Busy), "{error:?}");
}

#[tokio::test]
async fn login_whose_password_changed_during_the_check_starts_no_session_and_is_refused_like_a_wrong_password() {
    // Given a password changed while this sign-in's was being checked
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Ok(Some(credentials())));
    expect_attempt(&mut mocks, LoginAttempt::Allowed);
    mocks.hasher.expect_verify().times(1).returning(|_, _| Ok(true));
    expect_count_reset(&mut mocks);
    mocks.expect_new_refresh_token("rt-new");
    // The session may start only while the user still has the hash the password was checked against.
    mocks
        .sessions
        .expect_create()
        .withf(|session| session.user_id == UserId(1) && session.password_hash == stored_hash())
        .times(1)
        .returning(|_| Ok(None));
    mocks.users.expect_find_by_id().times(1).returning(|_| Ok(Some(plain_user())));
    mocks.tokens.expect_issue_access_token().never();

    // When the client signs in with the old one
    let error = mocks
        .service()
        .login(by_email_with("correct horse battery"), &network(), &device())
        .await
        .password_alone()
        .unwrap_err();

    // Then no session starts, and the answer is a wrong password's
    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// refresh

/// When the password of [`live_session`] was entered: its sign-in, long before any refresh.
fn signed_in() -> DateTime<Utc> {
    now() - Duration::hours(2)
}

fn live_session() -> SessionState {
    SessionState {
        id: SESSION,
        user_id: UserId(1),
        authenticated_at: signed_in(),
        expires_at: now() + Duration::days(3),
        revoked: false,
    }
}

/// Expects exactly one access token to be signed for `user` in [`live_session`] as of `issued_at`: the session's
/// sign-in time goes into it unchanged.
fn expect_refreshed_token(mocks: &mut Mocks, user: &User, issued_at: DateTime<Utc>) {
    mocks.expect_access_token_at(user, SESSION, signed_in(), issued_at);
}

/// `rt-old`'s successor is `rt-new`, and the store expects to rotate the one into the other at [`now`], once, with
/// the session extended by the default 30 days, and says `outcome`.
fn expect_rotated(mocks: &mut Mocks, outcome: RefreshTokenUse) {
    expect_rotated_until(mocks, now() + Duration::days(30), outcome);
}

fn expect_rotated_until(mocks: &mut Mocks, expires_at: DateTime<Utc>, outcome: RefreshTokenUse) {
    mocks.expect_successor("rt-old", "rt-new");
    mocks
        .sessions
        .expect_rotate_refresh_token()
        .withf(move |used, successor, at, until, client| {
            *used == hash_of_str("rt-old")
                && *successor == hash_of_str("rt-new")
                && *at == now()
                && *until == expires_at
                && *client == device()
        })
        .times(1)
        .return_once(move |_, _, _, _, _| Ok(outcome));
}

/// The user of [`live_session`] is found, as `user`.
fn expect_user_found(mocks: &mut Mocks, user: User) {
    mocks.users.expect_find_by_id().withf(|id| *id == UserId(1)).times(1).return_once(move |_| Ok(Some(user)));
}

/// No pair is handed out.
fn expect_no_pair(mocks: &mut Mocks) {
    mocks.tokens.expect_new_refresh_token().never();
    mocks.tokens.expect_issue_access_token().never();
}

/// The client presents `rt-old`.
async fn refreshing(mocks: Mocks) -> Result<TokenPair, RefreshError> {
    mocks.service().refresh(&RefreshToken::new("rt-old"), &device()).await
}

#[tokio::test]
async fn refresh_with_a_current_token_rotates_it_and_returns_a_new_pair() {
    // Given a current token of a live session: the store rotates it, then the user is loaded
    let mut mocks = Mocks::new();
    let mut seq = Sequence::new();
    mocks.expect_successor("rt-old", "rt-new");
    mocks
        .sessions
        .expect_rotate_refresh_token()
        .withf(|used, successor, at, expires_at, client| {
            *used == hash_of_str("rt-old")
                && *successor == hash_of_str("rt-new")
                && *at == now()
                && *expires_at == now() + Duration::days(30)
                && *client == device()
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _, _| Ok(RefreshTokenUse::Rotated(live_session())));
    mocks
        .users
        .expect_find_by_id()
        .withf(|id| *id == UserId(1))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(plain_user())));
    expect_refreshed_token(&mut mocks, &plain_user(), now());
    mocks.sessions.expect_revoke().never();
    mocks.tokens.expect_new_refresh_token().never();

    // When the client refreshes
    let pair = refreshing(mocks).await.unwrap();

    // Then it gets a new access token and the successor the store now holds
    assert_eq!(pair.access_token, "signed.access.token");
    assert_eq!(pair.refresh_token.as_str(), "rt-new", "the successor the store now holds");
    assert_eq!(pair.expires_in, ACCESS_TTL_SECS);
}

#[tokio::test]
async fn refresh_extends_the_session_by_the_policy_lifetime() {
    // Given a policy whose refresh tokens last six hours
    let mut mocks = Mocks::new();
    expect_rotated_until(&mut mocks, now() + Duration::hours(6), RefreshTokenUse::Rotated(live_session()));
    expect_user_found(&mut mocks, plain_user());
    expect_refreshed_token(&mut mocks, &plain_user(), now());
    let policy = SessionPolicy { refresh_token_ttl: Duration::hours(6), ..SessionPolicy::default() };

    // When the client refreshes
    let refreshed = mocks.service_with(policy).refresh(&RefreshToken::new("rt-old"), &device()).await;

    // Then the store was asked to extend the session by six hours from now
    refreshed.unwrap();
}

#[tokio::test]
async fn refresh_signs_with_the_roles_the_user_has_now() {
    // Given a user promoted since the sign-in, and a signer that expects the roles they have now
    let mut mocks = Mocks::new();
    let promoted = user(1, &[Role::Admin, Role::User]);
    expect_rotated(&mut mocks, RefreshTokenUse::Rotated(live_session()));
    expect_user_found(&mut mocks, promoted.clone());
    expect_refreshed_token(&mut mocks, &promoted, now());

    // When the client refreshes
    let refreshed = refreshing(mocks).await;

    // Then the new access token was signed with the new roles
    refreshed.unwrap();
}

#[tokio::test]
async fn refresh_keeps_the_sign_in_time_of_the_session_in_the_new_token() {
    // Given a session signed in twenty days ago, and a signer that expects that sign-in time
    let mut mocks = Mocks::new();
    let long_ago = now() - Duration::days(20);
    let session = SessionState { authenticated_at: long_ago, ..live_session() };
    expect_rotated(&mut mocks, RefreshTokenUse::Rotated(session));
    expect_user_found(&mut mocks, plain_user());
    mocks.expect_access_token_at(&plain_user(), SESSION, long_ago, now());

    // When the client refreshes
    let refreshed = refreshing(mocks).await;

    // Then the token was issued now but says the password was entered at the sign-in: a refresh does not renew it
    refreshed.unwrap();
}

#[tokio::test]
async fn refresh_with_an_unknown_token_is_invalid() {
    // Given a token the store does not know
    let mut mocks = Mocks::new();
    expect_rotated(&mut mocks, RefreshTokenUse::Unknown);
    mocks.users.expect_find_by_id().never();
    mocks.sessions.expect_revoke().never();
    expect_no_pair(&mut mocks);

    // When the client refreshes
    let error = refreshing(mocks).await.unwrap_err();

    // Then it is refused and nothing is handed out
    assert!(matches!(error, RefreshError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn refresh_in_a_session_that_has_ended_is_invalid_and_hands_out_nothing() {
    let revoked = SessionState { revoked: true, ..live_session() };
    let expired = SessionState { expires_at: now(), ..live_session() };
    for ended in [revoked, expired] {
        // Given a current token whose session was revoked or has expired: the store uses it up, stores no successor
        let mut mocks = Mocks::new();
        expect_rotated(&mut mocks, RefreshTokenUse::SessionEnded(ended.clone()));
        mocks.users.expect_find_by_id().never();
        mocks.sessions.expect_revoke().never();
        expect_no_pair(&mut mocks);

        // When the client refreshes
        let error = refreshing(mocks).await.unwrap_err();

        // Then it is refused like an unknown token
        assert!(matches!(error, RefreshError::InvalidToken), "{ended:?}: {error:?}");
    }
}

#[tokio::test]
async fn refresh_for_a_deleted_user_is_invalid() {
    // Given a rotated token whose user was deleted meanwhile
    let mut mocks = Mocks::new();
    expect_rotated(&mut mocks, RefreshTokenUse::Rotated(live_session()));
    mocks.users.expect_find_by_id().withf(|id| *id == UserId(1)).times(1).returning(|_| Ok(None));
    expect_no_pair(&mut mocks);

    // When the client refreshes
    let error = refreshing(mocks).await.unwrap_err();

    // Then it is refused
    assert!(matches!(error, RefreshError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn refresh_with_a_failing_store_is_unexpected() {
    // Given a store that fails to rotate
    let mut mocks = Mocks::new();
    mocks.expect_successor("rt-old", "rt-new");
    mocks.sessions.expect_rotate_refresh_token().times(1).returning(|_, _, _, _, _| Err(store_error()));
    mocks.users.expect_find_by_id().never();
    expect_no_pair(&mut mocks);

    // When the client refreshes
    let error = refreshing(mocks).await.unwrap_err();

    // Then the fault is reported as unexpected, with its cause
    assert!(matches!(error, RefreshError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

#[tokio::test]
async fn refresh_that_cannot_sign_is_unexpected_and_a_retry_in_the_grace_window_gets_the_pair() {
    // Given a rotated token and a signer that fails
    let mut mocks = Mocks::new();
    expect_rotated(&mut mocks, RefreshTokenUse::Rotated(live_session()));
    expect_user_found(&mut mocks, plain_user());
    mocks
        .tokens
        .expect_issue_access_token()
        .times(1)
        .returning(|_, _| Err(TokenError::Unexpected("signer down".into())));

    // When the client refreshes
    let error = refreshing(mocks).await.unwrap_err();

    // Then the fault is unexpected (the successor is stored: a retry is a replay within the grace window, below)
    assert!(matches!(error, RefreshError::Unexpected(_)), "{error:?}");
}

/// The token was first used `ago` before [`now`], by an instance that derived the same successor.
fn replayed(ago: Duration, session: SessionState) -> RefreshTokenUse {
    RefreshTokenUse::Replayed { session, used_at: now() - ago, successor_issued: true }
}

#[tokio::test]
async fn refresh_replayed_within_the_grace_window_gets_the_first_answer_again() {
    // Given a token first used ten seconds ago (a second tab refreshing at the same moment)
    let mut mocks = Mocks::new();
    let first_use = now() - Duration::seconds(10);
    expect_rotated(&mut mocks, replayed(Duration::seconds(10), live_session()));
    expect_user_found(&mut mocks, plain_user());
    expect_refreshed_token(&mut mocks, &plain_user(), first_use);
    mocks.sessions.expect_revoke().never();
    mocks.tokens.expect_new_refresh_token().never();

    // When the client refreshes with it again
    let pair = refreshing(mocks).await.unwrap();

    // Then it gets the pair of the first use: signed as of then, with the successor stored then
    assert_eq!(pair.access_token, "signed.access.token");
    assert_eq!(pair.refresh_token.as_str(), "rt-new", "the successor the first request stored");
    assert_eq!(pair.expires_in, ACCESS_TTL_SECS);
}

#[tokio::test]
async fn refresh_replayed_after_the_grace_window_revokes_its_session() {
    // Given a token first used just over ten seconds ago
    let mut mocks = Mocks::new();
    expect_rotated(&mut mocks, replayed(Duration::seconds(10) + Duration::microseconds(1), live_session()));
    mocks
        .sessions
        .expect_revoke()
        .withf(|session, at, _| *session == SESSION && *at == now())
        .times(1)
        .returning(|_, _, _| Ok(()));
    mocks.users.expect_find_by_id().never();
    expect_no_pair(&mut mocks);

    // When it is presented again
    let error = refreshing(mocks).await.unwrap_err();

    // Then one of its two presenters must have stolen it: the session is revoked
    assert!(matches!(error, RefreshError::Reused), "{error:?}");
}

#[tokio::test]
async fn refresh_replayed_with_no_grace_window_revokes_at_once() {
    // Given a policy without a grace window, and a token used a microsecond ago
    let mut mocks = Mocks::new();
    expect_rotated(&mut mocks, replayed(Duration::microseconds(1), live_session()));
    mocks.sessions.expect_revoke().times(1).returning(|_, _, _| Ok(()));
    expect_no_pair(&mut mocks);
    let policy = SessionPolicy { refresh_grace: Duration::zero(), ..SessionPolicy::default() };

    // When it is presented again
    let error = mocks.service_with(policy).refresh(&RefreshToken::new("rt-old"), &device()).await.unwrap_err();

    // Then the session is revoked
    assert!(matches!(error, RefreshError::Reused), "{error:?}");
}

#[tokio::test]
async fn refresh_replayed_within_the_grace_window_of_an_ended_session_is_invalid() {
    let revoked = SessionState { revoked: true, ..live_session() };
    let expired = SessionState { expires_at: now(), ..live_session() };
    for ended in [revoked, expired] {
        // Given a token used a second ago, whose session has ended since (or had before)
        let mut mocks = Mocks::new();
        expect_rotated(&mut mocks, replayed(Duration::seconds(1), ended.clone()));
        mocks.sessions.expect_revoke().never();
        mocks.users.expect_find_by_id().never();
        expect_no_pair(&mut mocks);

        // When it is presented again
        let error = refreshing(mocks).await.unwrap_err();

        // Then it is refused, and the first answer is not handed out again
        assert!(matches!(error, RefreshError::InvalidToken), "{ended:?}: {error:?}");
    }
}

#[tokio::test]
async fn refresh_with_a_replayed_token_reports_a_failed_revocation() {
    // Given a replay long after the first use, and a store that fails to revoke
    let mut mocks = Mocks::new();
    expect_rotated(&mut mocks, replayed(Duration::minutes(5), live_session()));
    mocks.sessions.expect_revoke().times(1).returning(|_, _, _| Err(store_error()));
    expect_no_pair(&mut mocks);

    // When it is presented
    let error = refreshing(mocks).await.unwrap_err();

    // Then the fault is reported, not a mere reuse
    assert!(matches!(error, RefreshError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn refresh_replayed_within_the_grace_window_for_a_successor_never_issued_is_invalid_and_revokes_nothing() {
    // Given a first use answered by an instance that derives successors with another secret
    let mut mocks = Mocks::new();
    let other_successor = RefreshTokenUse::Replayed {
        session: live_session(),
        used_at: now() - Duration::seconds(1),
        successor_issued: false,
    };
    expect_rotated(&mut mocks, other_successor);
    mocks.sessions.expect_revoke().never();
    mocks.users.expect_find_by_id().never();
    expect_no_pair(&mut mocks);

    // When the token is presented again here
    let error = refreshing(mocks).await.unwrap_err();

    // Then this instance's successor, which the session never had, is not handed out
    assert!(matches!(error, RefreshError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn refresh_replayed_after_the_grace_window_revokes_its_session_whatever_successor_was_issued() {
    // Given a late replay of a token whose first use another instance answered
    let mut mocks = Mocks::new();
    let late = RefreshTokenUse::Replayed {
        session: live_session(),
        used_at: now() - Duration::minutes(5),
        successor_issued: false,
    };
    expect_rotated(&mut mocks, late);
    mocks
        .sessions
        .expect_revoke()
        .withf(|session, at, _| *session == SESSION && *at == now())
        .times(1)
        .returning(|_, _, _| Ok(()));
    mocks.users.expect_find_by_id().never();
    expect_no_pair(&mut mocks);

    // When it is presented
    let error = refreshing(mocks).await.unwrap_err();

    // Then the session is revoked all the same
    assert!(matches!(error, RefreshError::Reused), "{error:?}");
}

#[tokio::test]
async fn logout_revokes_the_session_of_the_token() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_find_by_refresh_token()
        .withf(|hash| *hash == hash_of_str("rt-old"))
        .times(1)
        .returning(|_| Ok(Some(SESSION)));
    mocks
        .sessions
        .expect_revoke()
        .withf(|session, at, _| *session == SESSION && *at == now())
        .times(1)
        .returning(|_, _, _| Ok(()));

    mocks.service().logout(&RefreshToken::new("rt-old"), &device()).await.unwrap();
}

#[tokio::test]
async fn logout_with_an_unknown_token_is_invalid_and_revokes_nothing() {
    let mut mocks = Mocks::new();
    mocks.sessions.expect_find_by_refresh_token().times(1).returning(|_| Ok(None));
    mocks.sessions.expect_revoke().never();

    let error = mocks.service().logout(&RefreshToken::new("rt-old"), &device()).await.unwrap_err();

    assert!(matches!(error, LogoutError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn logout_with_a_failing_store_is_unexpected() {
    let mut mocks = Mocks::new();
    mocks.sessions.expect_find_by_refresh_token().times(1).returning(|_| Ok(Some(SESSION)));
    mocks.sessions.expect_revoke().times(1).returning(|_, _, _| Err(store_error()));

    let error = mocks.service().logout(&RefreshToken::new("rt-old"), &device()).await.unwrap_err();

    assert!(matches!(error, LogoutError::Unexpected(_)), "{error:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// authenticate

fn claims() -> AccessClaims {
    let user = plain_user();
    AccessClaims {
        user_id: user.id,
        object_id: user.object_id,
        session_id: SESSION,
        // Stale on purpose: the user is loaded fresh, so the roles in the token do not count.
        roles: vec![Role::Admin, Role::User],
        authenticated_at: Some(now() - Duration::hours(2)),
        issued_at: now() - Duration::minutes(5),
        expires_at: now() + Duration::minutes(10),
    }
}

#[tokio::test]
async fn authenticate_returns_the_user_as_stored_now() {
    let mut mocks = Mocks::new();
    mocks
        .tokens
        .expect_verify_access_token()
        .withf(|token, at| token == "signed.access.token" && *at == now())
        .times(1)
        .returning(|_, _| Ok(claims()));
    mocks
        .users
        .expect_find_signed_in()
        .withf(|id, session, at| *id == UserId(1) && *session == SESSION && *at == now())
        .times(1)
        .returning(|_, _, _| Ok(Some(plain_user())));

    let current = mocks.service().authenticate("signed.access.token", &device()).await.unwrap();

    assert_eq!(current.user, plain_user());
    assert_eq!(current.user.roles, [Role::User]);
    assert_eq!(current.session, SESSION);
}

#[tokio::test]
async fn authenticate_reports_an_expired_token() {
    let mut mocks = Mocks::new();
    mocks.tokens.expect_verify_access_token().times(1).returning(|_, _| Err(TokenError::Expired));
    mocks.users.expect_find_signed_in().never();

    let error = mocks.service().authenticate("signed.access.token", &device()).await.unwrap_err();

    assert!(matches!(error, AuthenticateError::ExpiredToken), "{error:?}");
}

#[tokio::test]
async fn authenticate_reports_an_invalid_token() {
    let mut mocks = Mocks::new();
    mocks.tokens.expect_verify_access_token().times(1).returning(|_, _| Err(TokenError::Invalid));
    mocks.users.expect_find_signed_in().never();

    let error = mocks.service().authenticate("forged", &device()).await.unwrap_err();

    assert!(matches!(error, AuthenticateError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn authenticate_with_a_failing_verifier_is_unexpected() {
    let mut mocks = Mocks::new();
    mocks.tokens.expect_verify_access_token().times(1).returning(|_, _| Err(TokenError::Unexpected("no key".into())));
    mocks.users.expect_find_signed_in().never();

    let error = mocks.service().authenticate("signed.access.token", &device()).await.unwrap_err();

    assert!(matches!(error, AuthenticateError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn authenticate_in_an_ended_session_fails() {
    let mut mocks = Mocks::new();
    mocks.tokens.expect_verify_access_token().times(1).returning(|_, _| Ok(claims()));
    mocks.users.expect_find_signed_in().times(1).returning(|_, _, _| Ok(None));

    let error = mocks.service().authenticate("signed.access.token", &device()).await.unwrap_err();

    assert!(matches!(error, AuthenticateError::SessionEnded), "{error:?}");
}

#[tokio::test]
async fn authenticate_with_a_failing_store_is_unexpected() {
    let mut mocks = Mocks::new();
    mocks.tokens.expect_verify_access_token().times(1).returning(|_, _| Ok(claims()));
    mocks.users.expect_find_signed_in().times(1).returning(|_, _, _| Err(store_error()));

    let error = mocks.service().authenticate("signed.access.token", &device()).await.unwrap_err();

    assert!(matches!(error, AuthenticateError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn authenticate_tells_when_the_password_was_entered_as_the_token_says() {
    let mut mocks = Mocks::new();
    mocks.tokens.expect_verify_access_token().times(1).returning(|_, _| Ok(claims()));
    mocks.users.expect_find_signed_in().times(1).returning(|_, _, _| Ok(Some(plain_user())));

    let current = mocks.service().authenticate("signed.access.token", &device()).await.unwrap();

    assert_eq!(current.authenticated_at, Some(now() - Duration::hours(2)));
}

#[tokio::test]
async fn authenticate_with_a_token_that_predates_sign_in_times_tells_none() {
    let mut mocks = Mocks::new();
    mocks
        .tokens
        .expect_verify_access_token()
        .times(1)
        .returning(|_, _| Ok(AccessClaims { authenticated_at: None, ..claims() }));
    mocks.users.expect_find_signed_in().times(1).returning(|_, _, _| Ok(Some(plain_user())));

    let current = mocks.service().authenticate("signed.access.token", &device()).await.unwrap();

    assert_eq!(current.authenticated_at, None);
    assert_eq!(current.session, SESSION);
}

// ---------------------------------------------------------------------------------------------------------------
// into_admin

#[test]
fn an_admin_becomes_an_administrator() {
    let admin = current(admin_user()).into_admin().unwrap();

    assert_eq!(admin.current().user, admin_user());
    assert_eq!(admin.current().session, SESSION);
}

#[test]
fn a_plain_user_is_not_an_admin() {
    assert!(current(plain_user()).into_admin().is_err());
}

#[tokio::test]
async fn login_of_an_account_deleted_during_the_password_check_is_refused_like_a_wrong_password() {
    // Given an account deleted while its password was being checked
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Ok(Some(credentials())));
    expect_attempt(&mut mocks, LoginAttempt::Allowed);
    expect_count_reset(&mut mocks);
    mocks.hasher.expect_verify().times(1).returning(|_, _| Ok(true));
    mocks.expect_new_refresh_token("rt-new");
    mocks.sessions.expect_create().times(1).returning(|_| Ok(None));
    mocks.users.expect_find_by_id().times(1).returning(|_| Ok(None));
    mocks.tokens.expect_issue_access_token().never();

    // When the client signs in
    let error = mocks
        .service()
        .login(by_email_with("correct horse battery"), &network(), &device())
        .await
        .password_alone()
        .unwrap_err();

    // Then no token is issued, and the answer is a wrong password's
    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn register_refuses_a_password_made_of_the_accounts_names_before_hashing_anything() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().never();
    mocks.users.expect_insert().never();
    expect_no_session(&mut mocks);
    let registration = Registration { password: password("ada@lovelace 1815"), ..registration() };

    let error = mocks.service().register(registration, &device()).await.unwrap_err();

    assert!(
        matches!(error, RegisterError::WeakPassword(users_domain::PasswordError::ContainsPersonalInfo)),
        "{error:?}"
    );
}

fn throttled(failed_logins: u32, locked_until: Option<DateTime<Utc>>) -> StoredCredentials {
    StoredCredentials { throttle: LoginThrottle { failed_logins, locked_until }, ..credentials() }
}

#[tokio::test]
async fn a_locked_account_is_refused_at_once_without_spending_a_hash() {
    // Given an account locked from everywhere for 90 more seconds
    let mut mocks = Mocks::new();
    let until = now() + Duration::seconds(90);
    mocks.users.expect_find_credentials().times(1).returning(move |_| Ok(Some(throttled(10, Some(until)))));
    mocks.hasher.expect_verify().never();
    mocks.hasher.expect_verify_dummy().never();
    // No store transaction either.
    expect_no_attempt(&mut mocks);
    expect_no_session(&mut mocks);

    // When the client signs in, even with the right password
    let error = mocks
        .service()
        .login(by_email_with("correct horse battery"), &network(), &device())
        .await
        .password_alone()
        .unwrap_err();

    // Then it is refused for those 90 seconds, without a hash or a store transaction
    assert!(matches!(error, LoginError::Locked { retry_after } if retry_after == Duration::seconds(90)), "{error:?}");
}

#[tokio::test]
async fn an_attempt_refused_by_a_lock_another_attempt_just_took_spends_no_hash() {
    // Given an account that another attempt has just locked for this network
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Ok(Some(throttled(9, None))));
    let until = now() + Duration::minutes(1);
    expect_attempt(&mut mocks, LoginAttempt::Locked { until });
    mocks.hasher.expect_verify().never();
    mocks.users.expect_finish_login_attempt().never();
    expect_no_session(&mut mocks);

    // When the client signs in
    let error = mocks
        .service()
        .login(by_email_with("correct horse battery"), &network(), &device())
        .await
        .password_alone()
        .unwrap_err();

    // Then it is refused for the lock's minute, without a hash
    assert!(matches!(error, LoginError::Locked { retry_after } if retry_after == Duration::minutes(1)), "{error:?}");
}

#[tokio::test]
async fn the_failure_that_reaches_the_threshold_leaves_the_account_locked() {
    // Given an account nine failures in a row into its threshold
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Ok(Some(throttled(9, None))));
    expect_attempt(&mut mocks, LoginAttempt::Allowed);
    mocks.hasher.expect_verify().times(1).returning(|_, _| Ok(false));
    // The store locks the network when it counts the tenth failure; the client is told no more than for any other.
    expect_finished(&mut mocks, AttemptOutcome::Refused, Some(now() + Duration::minutes(1)));
    expect_no_session(&mut mocks);

    // When a tenth wrong password comes
    let error = mocks
        .service()
        .login(by_email_with("wrong password!"), &network(), &device())
        .await
        .password_alone()
        .unwrap_err();

    // Then the store locks the network, and the client hears no more than for any wrong password
    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn an_expired_lock_lets_the_right_password_in_and_resets_the_count() {
    // Given an account whose lock has just expired
    let mut mocks = Mocks::new();
    let expired = now() - Duration::seconds(1);
    mocks.users.expect_find_credentials().times(1).returning(move |_| Ok(Some(throttled(12, Some(expired)))));
    expect_attempt(&mut mocks, LoginAttempt::Allowed);
    mocks.hasher.expect_verify().times(1).returning(|_, _| Ok(true));
    expect_count_reset(&mut mocks);
    mocks.expect_new_refresh_token("rt-new");
    mocks.sessions.expect_create().times(1).returning(|_| Ok(Some(SessionId(9))));
    mocks.expect_access_token(&plain_user(), SessionId(9));

    // When the client signs in with the right password
    let signed_in =
        mocks.service().login(by_email_with("correct horse battery"), &network(), &device()).await.password_alone();

    // Then it is signed in, and the counts start again
    assert!(signed_in.is_ok(), "{signed_in:?}");
}

/// The `user.signed_in` event a new session `key` records: by its owner, now, from the sample device.
fn signed_in_record(key: &users_ports::SessionKey) -> users_ports::AuditRecord {
    users_ports::AuditRecord::new(
        users_ports::AuditKind::UserSignedIn,
        now(),
        users_ports::AuditActor::Subject,
        &device(),
    )
    .with("session", key.as_str())
}
