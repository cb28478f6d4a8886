//! Proof of an address and password recovery, against mocked ports: which mails are queued with which tokens, when
//! nothing is sent, and what a token lets its holder do.

mod support;

use std::sync::{Arc, Mutex};

use chrono::Duration;
use users_app::{
    ConfirmEmailError, EmailPolicy, LoginError, Registered, ReplaceUserError, ResetPasswordError,
    SendPasswordResetError, SessionPolicy, SignIn, UserReplacement,
};
use users_domain::{
    AttemptOutcome, LoginAttempt, LoginIdentifier, LoginThrottle, ProfileChanges, Registration, User, UserId,
};
use users_ports::{
    Mail, MailContent, MailedToken, OneTimeToken, OneTimeTokenHash, StoredCredentials, TokenIssue, TokenPurpose,
};

use support::*;

/// The token a queued mail carries, and the mail.
fn token_of(mailed: &MailedToken) -> OneTimeToken {
    match &mailed.mail.content {
        MailContent::VerifyEmail { token } | MailContent::ResetPassword { token } => token.clone(),
        other => panic!("a mail without a token: {other:?}"),
    }
}

/// The store finds `user` by the address `address` in any spelling (with its password hash), once.
fn expect_found(mocks: &mut Mocks, address: &'static str, user: Option<User>) {
    mocks
        .users
        .expect_find_credentials()
        .withf(move |login| matches!(login, LoginIdentifier::Email(asked) if asked.key() == email(address).key()))
        .times(1)
        .returning(move |_| {
            Ok(user.clone().map(|user| StoredCredentials {
                user,
                password_hash: stored_hash(),
                throttle: LoginThrottle::default(),
            }))
        });
}

/// Records what `issue_token` is asked to store for user 1, and answers `answer`.
fn expect_issued(mocks: &mut Mocks, answer: TokenIssue) -> Arc<Mutex<Vec<(MailedToken, Duration)>>> {
    let issued = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&issued);
    mocks.one_time_tokens.expect_issue_token().withf(|user, _, _, _| *user == UserId(1)).times(1).returning(
        move |_, mailed, interval, _| {
            record.lock().unwrap().push((mailed, interval));
            Ok(answer)
        },
    );
    issued
}

fn unverified(user: User) -> User {
    User { email_verified: false, ..user }
}

// ---------------------------------------------------------------------------------------------------------------
// asking for a reset

#[tokio::test]
async fn a_reset_asked_for_an_unknown_address_stores_and_sends_nothing() {
    // Given no account with the address
    let mut mocks = Mocks::new();
    expect_found(&mut mocks, "nobody@example.com", None);
    mocks.one_time_tokens.expect_issue_token().never();

    // when a reset is asked for it, then it succeeds, having done nothing.
    mocks.expect_sleeps(1);
    mocks.service().request_password_reset(email("nobody@example.com"), &device()).await.expect("the same answer");
}

#[tokio::test]
async fn a_reset_asked_for_a_known_address_queues_a_30_minute_token_to_it_at_most_once_a_minute() {
    // Given the account with the address
    let mut mocks = Mocks::new();
    expect_found(&mut mocks, "user1@example.com", Some(plain_user()));
    let issued = expect_issued(&mut mocks, TokenIssue::Queued);

    // when a reset is asked for in another spelling of it,
    mocks.expect_sleeps(1);
    mocks.service().request_password_reset(email("USER1@example.com"), &device()).await.unwrap();

    // then a reset token for the account's address is stored with the mail that carries it.
    let (mailed, interval) = issued.lock().unwrap().pop().expect("one token");
    assert_eq!(interval, Duration::seconds(60));
    assert_eq!(mailed.token.purpose, TokenPurpose::ResetPassword);
    assert_eq!(mailed.token.email, email("user1@example.com"));
    assert_eq!((mailed.token.created_at, mailed.token.expires_at), (now(), now() + Duration::minutes(30)));
    assert_eq!(mailed.mail.to, email("user1@example.com"));
    assert!(matches!(mailed.mail.content, MailContent::ResetPassword { .. }), "{:?}", mailed.mail);
    // Only the token's hash is stored; the mail carries the token itself.
    let token = token_of(&mailed);
    assert_eq!(mailed.token.hash, token.hash());
    assert_eq!(token.as_str().len(), 43, "32 random bytes, base64url");
}

#[tokio::test]
async fn a_reset_asked_for_again_within_the_minute_is_answered_the_same() {
    let mut mocks = Mocks::new();
    expect_found(&mut mocks, "user1@example.com", Some(plain_user()));
    expect_issued(&mut mocks, TokenIssue::TooSoon);

    mocks.expect_sleeps(1);
    mocks
        .service()
        .request_password_reset(email("user1@example.com"), &device())
        .await
        .expect("no error to tell apart");
}

#[tokio::test]
async fn each_reset_asked_for_carries_a_new_token() {
    // Given two requests for the same account
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(2).returning(|_| Ok(Some(credentials())));
    let issued = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&issued);
    mocks.one_time_tokens.expect_issue_token().times(2).returning(move |_, mailed, _, _| {
        record.lock().unwrap().push(token_of(&mailed));
        Ok(TokenIssue::Queued)
    });
    mocks.expect_sleeps(2);
    let service = mocks.service();

    // when both are made,
    service.request_password_reset(email("user1@example.com"), &device()).await.unwrap();
    service.request_password_reset(email("user1@example.com"), &device()).await.unwrap();

    // then their tokens differ.
    let issued = issued.lock().unwrap();
    assert_ne!(issued[0], issued[1]);
}

#[tokio::test]
async fn an_admin_asking_a_reset_for_an_unknown_user_is_told_it_is_not_found() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().times(1).returning(|_| Ok(None));
    mocks.one_time_tokens.expect_issue_token().never();

    let outcome = mocks.service().send_password_reset(&administrator(), UserId(9)).await;

    assert!(matches!(outcome, Err(SendPasswordResetError::NotFound)), "{outcome:?}");
}

#[tokio::test]
async fn an_admin_asking_a_reset_queues_one_to_the_users_address() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().withf(|id| *id == UserId(1)).times(1).returning(|_| Ok(Some(plain_user())));
    let issued = expect_issued(&mut mocks, TokenIssue::Queued);

    mocks.service().send_password_reset(&administrator(), UserId(1)).await.unwrap();

    let (mailed, _) = issued.lock().unwrap().pop().unwrap();
    assert_eq!(
        (mailed.token.purpose, mailed.mail.to.clone()),
        (TokenPurpose::ResetPassword, email("user1@example.com"))
    );
}

// ---------------------------------------------------------------------------------------------------------------
// asking for a verification

#[tokio::test]
async fn a_verification_asked_for_a_verified_address_sends_nothing() {
    let mut mocks = Mocks::new();
    expect_found(&mut mocks, "user1@example.com", Some(plain_user()));
    mocks.one_time_tokens.expect_issue_token().never();

    mocks.expect_sleeps(1);
    mocks.service().request_verification(email("user1@example.com")).await.unwrap();
}

#[tokio::test]
async fn a_verification_asked_for_an_unknown_address_sends_nothing() {
    let mut mocks = Mocks::new();
    expect_found(&mut mocks, "nobody@example.com", None);
    mocks.one_time_tokens.expect_issue_token().never();

    mocks.expect_sleeps(1);
    mocks.service().request_verification(email("nobody@example.com")).await.unwrap();
}

#[tokio::test]
async fn a_verification_asked_for_an_unverified_address_queues_a_24_hour_token() {
    let mut mocks = Mocks::new();
    expect_found(&mut mocks, "user1@example.com", Some(unverified(plain_user())));
    let issued = expect_issued(&mut mocks, TokenIssue::Queued);

    mocks.expect_sleeps(1);
    mocks.service().request_verification(email("user1@example.com")).await.unwrap();

    let (mailed, interval) = issued.lock().unwrap().pop().unwrap();
    assert_eq!(interval, Duration::seconds(60));
    assert_eq!(mailed.token.purpose, TokenPurpose::VerifyEmail);
    assert_eq!(mailed.token.expires_at, now() + Duration::hours(24));
    assert!(matches!(mailed.mail.content, MailContent::VerifyEmail { .. }));
}

// ---------------------------------------------------------------------------------------------------------------
// using a token

#[tokio::test]
async fn a_verification_token_is_looked_up_by_its_sha256() {
    // Given a token the store knows by its hash
    let mut mocks = Mocks::new();
    let expected = OneTimeTokenHash("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_owned());
    mocks
        .one_time_tokens
        .expect_confirm_email()
        .withf(move |hash, at, _| *hash == expected && *at == now())
        .times(1)
        .returning(|_, _, _| Ok(Some(plain_user())));

    // when it is used, then the user comes back verified.
    let user = mocks.service().confirm_email(&OneTimeToken::new("abc"), &device()).await.unwrap();
    assert_eq!(user, plain_user());
}

#[tokio::test]
async fn an_unknown_used_or_expired_verification_token_is_invalid() {
    let mut mocks = Mocks::new();
    mocks.one_time_tokens.expect_confirm_email().times(1).returning(|_, _, _| Ok(None));

    let outcome = mocks.service().confirm_email(&OneTimeToken::new("forged"), &device()).await;

    assert!(matches!(outcome, Err(ConfirmEmailError::InvalidToken)), "{outcome:?}");
}

#[tokio::test]
async fn a_reset_with_an_invalid_token_hashes_nothing() {
    let mut mocks = Mocks::new();
    mocks
        .one_time_tokens
        .expect_find_token_user()
        .withf(|_, purpose, at| *purpose == TokenPurpose::ResetPassword && *at == now())
        .times(1)
        .returning(|_, _, _| Ok(None));
    mocks.hasher.expect_hash().never();
    mocks.one_time_tokens.expect_reset_password().never();

    let outcome =
        mocks.service().reset_password(&OneTimeToken::new("forged"), password("a new good one"), &device()).await;

    assert!(matches!(outcome, Err(ResetPasswordError::InvalidToken)), "{outcome:?}");
}

#[tokio::test]
async fn a_reset_to_a_password_made_of_the_address_is_refused_and_leaves_the_token_unused() {
    let mut mocks = Mocks::new();
    mocks.one_time_tokens.expect_find_token_user().times(1).returning(|_, _, _| Ok(Some(plain_user())));
    mocks.hasher.expect_hash().never();
    mocks.one_time_tokens.expect_reset_password().never();

    let outcome =
        mocks.service().reset_password(&OneTimeToken::new("t"), password("user1@example.com"), &device()).await;

    assert!(matches!(outcome, Err(ResetPasswordError::WeakPassword(_))), "{outcome:?}");
}

#[tokio::test]
async fn a_reset_stores_the_new_passwords_hash_with_the_token_and_a_notice_to_the_address() {
    let mut mocks = Mocks::new();
    let token = OneTimeToken::new("reset-token");
    let hash = token.hash();
    mocks.one_time_tokens.expect_find_token_user().times(1).returning(|_, _, _| Ok(Some(plain_user())));
    mocks.hasher.expect_hash().withf(|p| p.expose() == "a new good one").times(1).returning(|_| Ok(new_hash()));
    mocks
        .one_time_tokens
        .expect_reset_password()
        .withf(move |used, new, notice, at, _| {
            *used == hash
                && *new == new_hash()
                && *notice == Mail { to: email("user1@example.com"), content: MailContent::PasswordChanged }
                && *at == now()
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(Some(plain_user())));

    mocks.service().reset_password(&token, password("a new good one"), &device()).await.expect("reset");
}

#[tokio::test]
async fn a_token_used_up_while_the_password_was_hashed_is_invalid() {
    let mut mocks = Mocks::new();
    mocks.one_time_tokens.expect_find_token_user().times(1).returning(|_, _, _| Ok(Some(plain_user())));
    mocks.hasher.expect_hash().times(1).returning(|_| Ok(new_hash()));
    mocks.one_time_tokens.expect_reset_password().times(1).returning(|_, _, _, _, _| Ok(None));

    let outcome = mocks.service().reset_password(&OneTimeToken::new("t"), password("a new good one"), &device()).await;

    assert!(matches!(outcome, Err(ResetPasswordError::InvalidToken)), "{outcome:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// addresses that come with a change

#[tokio::test]
async fn sign_up_stores_a_verification_mailed_to_the_new_address() {
    // Given a sign-up
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().times(1).returning(|_| Ok(new_hash()));
    let inserted = Arc::new(Mutex::new(None));
    let record = Arc::clone(&inserted);
    mocks.users.expect_insert().times(1).returning(move |new| {
        *record.lock().unwrap() = Some(new.clone());
        Ok(stored(new, 1))
    });
    mocks.expect_new_refresh_token("rt");
    mocks.sessions.expect_create().times(1).returning(|_| Ok(Some(SESSION)));
    mocks.tokens.expect_issue_access_token().times(1).returning(|_, _| Ok(access_token()));
    let registration = Registration {
        username: None,
        email: email("ada@example.com"),
        password: password("correct horse battery"),
        first_name: None,
        last_name: None,
    };

    // when it is made,
    let signed_up = mocks.service().register(registration, &device()).await.unwrap().into_signed_in().unwrap();

    // then the account is unverified, and its verification is stored in the same insert.
    assert!(!signed_up.user.email_verified);
    let new = inserted.lock().unwrap().take().unwrap();
    let verification = new.verification.expect("a verification");
    assert_eq!(
        (verification.token.purpose, verification.mail.to),
        (TokenPurpose::VerifyEmail, email("ada@example.com"))
    );
}

#[tokio::test]
async fn a_user_an_admin_vouches_for_gets_no_verification() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().times(1).returning(|_| Ok(new_hash()));
    mocks
        .users
        .expect_insert()
        .withf(|new| new.email_verified && new.verification.is_none())
        .times(1)
        .returning(|new| Ok(stored(new, 5)));
    let registration = Registration {
        username: None,
        email: email("grace@example.com"),
        password: password("correct horse battery"),
        first_name: None,
        last_name: None,
    };

    let user = mocks.service().create_user(&administrator(), registration, None, true).await.unwrap();

    assert!(user.email_verified);
}

#[tokio::test]
async fn a_new_address_is_unverified_mailed_a_verification_and_the_old_one_a_notice() {
    // Given a user changing their address (signed in a minute ago, so no password is needed)
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_update()
        .withf(|id, update| {
            let verification = update.verification.as_ref();
            *id == UserId(1)
                && update.email_verified == Some(false)
                && verification.is_some_and(|mailed| {
                    mailed.token.purpose == TokenPurpose::VerifyEmail
                        && mailed.token.email == email("ada@example.org")
                        && mailed.mail.to == email("ada@example.org")
                })
                && update.notices
                    == vec![Mail {
                        to: email("user1@example.com"),
                        content: MailContent::EmailChanged { new_email: email("ada@example.org") },
                    }]
        })
        .times(1)
        .returning(|_, _| Ok(unverified(plain_user())));
    let changes = ProfileChanges { email: Some(email("ada@example.org")), ..ProfileChanges::default() };

    // when the change is made, then it is stored with both mails (checked above).
    mocks.service().update_profile(&current(plain_user()), changes, no_password()).await.expect("updated");
}

#[tokio::test]
async fn the_same_address_in_capitals_is_no_change_of_address() {
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_update()
        .withf(|_, update| {
            update.email_verified.is_none() && update.verification.is_none() && update.notices.is_empty()
        })
        .times(1)
        .returning(|_, _| Ok(plain_user()));
    let changes = ProfileChanges { email: Some(email("USER1@example.com")), ..ProfileChanges::default() };

    mocks.service().update_profile(&current(plain_user()), changes, no_password()).await.unwrap();
}

#[tokio::test]
async fn an_admin_replacing_an_address_mails_both() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().times(1).returning(|_| Ok(Some(plain_user())));
    mocks
        .users
        .expect_update()
        .withf(|_, update| {
            update.email_verified == Some(false) && update.verification.is_some() && update.notices.len() == 1
        })
        .times(1)
        .returning(|_, _| Ok(unverified(plain_user())));
    let replacement = UserReplacement {
        first_name: person_name("Ada"),
        last_name: person_name("Lovelace"),
        email: email("ada@example.org"),
        roles: None,
    };

    mocks.service().replace_user(&administrator(), UserId(1), replacement).await.unwrap();
}

#[tokio::test]
async fn replacing_a_user_that_is_gone_is_not_found_and_changes_nothing() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().times(1).returning(|_| Ok(None));
    mocks.users.expect_update().never();
    let replacement = UserReplacement {
        first_name: person_name("Ada"),
        last_name: person_name("Lovelace"),
        email: email("ada@example.org"),
        roles: None,
    };

    let outcome = mocks.service().replace_user(&administrator(), UserId(1), replacement).await;

    assert!(matches!(outcome, Err(ReplaceUserError::NotFound)), "{outcome:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// sign-in of an unverified account

fn requiring_verified_addresses() -> SessionPolicy {
    SessionPolicy {
        email: EmailPolicy { require_verified_email: true, ..EmailPolicy::default() },
        ..SessionPolicy::default()
    }
}

fn unverified_credentials() -> StoredCredentials {
    StoredCredentials { user: unverified(plain_user()), ..credentials() }
}

#[tokio::test]
async fn when_addresses_must_be_verified_a_right_password_of_an_unverified_account_is_told_so_and_gets_no_session() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Ok(Some(unverified_credentials())));
    expect_attempt(&mut mocks, LoginAttempt::Allowed);
    expect_finished(&mut mocks, AttemptOutcome::Verified, None);
    mocks.hasher.expect_verify().times(1).returning(|_, _| Ok(true));
    mocks.sessions.expect_create().never();
    let sign_in = SignIn::Credentials {
        login: LoginIdentifier::Email(email("user1@example.com")),
        password: password("correct horse battery"),
    };

    let outcome =
        mocks.service_with(requiring_verified_addresses()).login(sign_in, &network(), &device()).await.password_alone();

    assert!(matches!(outcome, Err(LoginError::EmailNotVerified)), "{outcome:?}");
}

#[tokio::test]
async fn when_addresses_must_be_verified_a_sign_up_starts_no_session() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().times(1).returning(|_| Ok(new_hash()));
    mocks.users.expect_insert().withf(|new| new.verification.is_some()).times(1).returning(|new| Ok(stored(new, 1)));
    mocks.sessions.expect_create().never();
    mocks.tokens.expect_issue_access_token().never();
    let registration = Registration {
        username: None,
        email: email("ada@example.com"),
        password: password("correct horse battery"),
        first_name: None,
        last_name: None,
    };

    let registered =
        mocks.service_with(requiring_verified_addresses()).register(registration, &device()).await.unwrap();

    assert!(matches!(&registered, Registered::AwaitingVerification(user) if !user.email_verified), "{registered:?}");
}

#[tokio::test]
async fn when_addresses_must_be_verified_a_wrong_password_of_an_unverified_account_gives_no_hint() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Ok(Some(unverified_credentials())));
    expect_attempt(&mut mocks, LoginAttempt::Allowed);
    expect_finished(&mut mocks, AttemptOutcome::Refused, None);
    mocks.hasher.expect_verify().times(1).returning(|_, _| Ok(false));
    let sign_in = SignIn::Credentials {
        login: LoginIdentifier::Email(email("user1@example.com")),
        password: password("not the password"),
    };

    let outcome =
        mocks.service_with(requiring_verified_addresses()).login(sign_in, &network(), &device()).await.password_alone();

    assert!(matches!(outcome, Err(LoginError::InvalidCredentials)), "{outcome:?}");
}

#[test]
fn the_default_policy_mails_30_minute_resets_and_24_hour_verifications_at_most_once_a_minute() {
    let policy = EmailPolicy::default();
    assert_eq!(policy.reset_ttl, Duration::minutes(30));
    assert_eq!(policy.verification_ttl, Duration::hours(24));
    assert_eq!(policy.mail_interval, Duration::seconds(60));
    assert!(!policy.require_verified_email);
}

#[tokio::test]
async fn asking_for_a_mail_for_a_known_or_an_unknown_address_is_answered_after_the_same_floor() {
    for known in [true, false] {
        // Given an address that has an account, or not,
        let mut mocks = Mocks::new();
        let user = known.then(plain_user);
        expect_found(&mut mocks, "user1@example.com", user);
        if known {
            expect_issued(&mut mocks, TokenIssue::Queued);
        }
        let waits = mocks.expect_sleeps(1);

        // when a reset is asked for it (on a clock that does not move while the work is done),
        mocks.service().request_password_reset(email("user1@example.com"), &device()).await.unwrap();

        // then the answer waits out the whole floor either way.
        assert_eq!(*waits.lock().unwrap(), [Duration::milliseconds(300)], "known: {known}");
    }
}

#[tokio::test]
async fn a_new_password_set_by_its_owner_queues_a_notice_to_the_address() {
    // Given a user signed in a minute ago, changing their password
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().times(1).returning(|_| Ok(new_hash()));
    mocks
        .users
        .expect_update()
        .withf(|_, update| {
            update.password_hash == Some(new_hash())
                && update.notices == [Mail { to: email("user1@example.com"), content: MailContent::PasswordChanged }]
        })
        .times(1)
        .returning(|_, _| Ok(plain_user()));
    let changes = ProfileChanges { password: Some(password("a brand new secret")), ..ProfileChanges::default() };

    // when the change is made, then the notice is stored with it (checked above).
    mocks.service().update_profile(&current(plain_user()), changes, no_password()).await.expect("updated");
}
