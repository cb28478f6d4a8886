//! Use cases of the second factor: enrolling, confirming, removing, and the sign-in's second step (replays,
//! recovery codes, the lockout), on mocked adapters and a fixed clock.

mod support;

use chrono::Duration;
use users_app::{
    ConfirmTotpError, EnrolTotpError, LoginOutcome, RemoveSecondFactorError, SecondFactorLoginError, SignIn,
};
use users_domain::{
    AttemptOutcome, LoginAttempt, LoginIdentifier, LoginThrottle, Password, RecoveryCode, SecondFactorCode, TotpStep,
    User, UserId,
};
use users_ports::{
    AuditKind, MfaSignIn, NewTotpSecret, OneTimeToken, OpenedSecret, RecoveryCodeHash, SealedSecret, SecondFactorProof,
    SessionId, StoredCredentials, TokenPurpose, TotpEnrolment, TotpFactor, TotpRemoval, TotpSecret,
};

use support::*;

const STEP: TotpStep = TotpStep(59_000_000);

fn secret() -> TotpSecret {
    TotpSecret::new(b"12345678901234567890".to_vec())
}

fn sealed() -> SealedSecret {
    SealedSecret("v1.current.sealed".to_owned())
}

fn code(raw: &str) -> SecondFactorCode {
    SecondFactorCode::parse(raw)
}

/// The sample user with a confirmed authenticator.
fn mfa_user() -> User {
    User { mfa_enabled: true, ..plain_user() }
}

fn factor(enabled: bool, last_used_step: Option<TotpStep>) -> TotpFactor {
    TotpFactor { secret: sealed(), enabled, last_used_step }
}

/// The sealer opens [`sealed`] to [`secret`], sealed with the current key.
fn expect_opened(mocks: &mut Mocks) {
    mocks
        .sealer
        .expect_open()
        .withf(|s| *s == sealed())
        .returning(|_| Ok(OpenedSecret { secret: secret(), sealed_with_old_key: false }));
}

/// The confirmation of the sample user's enrolment is throttled like a sign-in: an attempt allowed, ended with
/// `outcome`.
fn expect_confirmation_attempt(mocks: &mut Mocks, outcome: AttemptOutcome) {
    mocks.users.expect_find_credentials().returning(|_| Ok(Some(credentials())));
    expect_attempt(mocks, LoginAttempt::Allowed);
    expect_finished(mocks, outcome, None);
}

/// `raw` is the code of `step` at [`now`] (and no other code matches anything).
fn expect_code_of(mocks: &mut Mocks, raw: &'static str, step: TotpStep) {
    mocks
        .codes
        .expect_matching_step()
        .returning(move |s, code, at| (*s == secret() && code.as_str() == raw && at == now()).then_some(step));
}

#[tokio::test]
async fn enrolling_without_proof_of_presence_is_refused_and_stores_nothing() {
    // Given a session whose password was entered an hour ago
    let mut mocks = Mocks::new();
    mocks.second_factors.expect_start_totp_enrolment().never();
    mocks.codes.expect_new_secret().never();
    let stale = signed_in_at(plain_user(), Some(now() - Duration::hours(1)));

    // When it asks to enrol without typing the password
    let refused = mocks.service().enrol_totp(&stale, no_password()).await.unwrap_err();

    // Then it is told to prove its presence
    assert!(matches!(refused, EnrolTotpError::ReauthenticationRequired), "{refused:?}");
}

#[tokio::test]
async fn enrolling_stores_the_secret_sealed_and_shows_it_once() {
    // Given a recent sign-in
    let mut mocks = Mocks::new();
    mocks.codes.expect_new_secret().withf(|account| account == "user1@example.com").times(1).returning(|_| {
        Ok(NewTotpSecret {
            secret: secret(),
            text: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into(),
            otpauth_uri: "otpauth://totp/Users:user1%40example.com?secret=GEZD".into(),
        })
    });
    mocks.sealer.expect_seal().withf(|s| *s == secret()).times(1).returning(|_| Ok(sealed()));
    mocks
        .second_factors
        .expect_start_totp_enrolment()
        .withf(|user, stored, at| *user == UserId(1) && *stored == sealed() && *at == now())
        .times(1)
        .returning(|_, _, _| Ok(TotpEnrolment::Started));

    // When the user enrols
    let started = mocks.service().enrol_totp(&current(plain_user()), no_password()).await.unwrap();

    // Then only the sealed secret is stored, and the clear one is answered for the app
    assert_eq!(started.secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    assert!(started.otpauth_uri.starts_with("otpauth://totp/"));
}

#[tokio::test]
async fn enrolling_again_while_a_factor_is_enabled_is_a_conflict() {
    let mut mocks = Mocks::new();
    mocks.codes.expect_new_secret().returning(|_| {
        Ok(NewTotpSecret { secret: secret(), text: "X".into(), otpauth_uri: "otpauth://totp/x".into() })
    });
    mocks.sealer.expect_seal().returning(|_| Ok(sealed()));
    mocks.second_factors.expect_start_totp_enrolment().returning(|_, _, _| Ok(TotpEnrolment::AlreadyEnabled));

    let refused = mocks.service().enrol_totp(&current(mfa_user()), no_password()).await.unwrap_err();

    assert!(matches!(refused, EnrolTotpError::AlreadyEnabled), "{refused:?}");
}

#[tokio::test]
async fn confirming_with_the_current_code_enables_the_factor_and_hands_out_ten_recovery_codes_once() {
    // Given a pending enrolment and the code the app shows now
    let mut mocks = Mocks::new();
    mocks.second_factors.expect_find_totp().returning(|_| Ok(Some(factor(false, None))));
    expect_confirmation_attempt(&mut mocks, AttemptOutcome::Verified);
    expect_opened(&mut mocks);
    expect_code_of(&mut mocks, "492039", STEP);
    let stored = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = std::sync::Arc::clone(&stored);
    mocks
        .second_factors
        .expect_enable_totp()
        .withf(|user, checked, step, resealed, codes, at, audit| {
            // Its own code may still sign in once; the codes before it not.
            *user == UserId(1)
                && *checked == sealed()
                && *step == TotpStep(STEP.0 - 1)
                && resealed.is_none()
                && codes.len() == 10
                && *at == now()
                && audit.kind == AuditKind::MfaEnabled
        })
        .times(1)
        .returning(move |_, _, _, _, codes, _, _| {
            *kept.lock().unwrap() = codes;
            Ok(true)
        });

    // When the user confirms with it
    let codes = mocks.service().confirm_totp(&current(plain_user()), &code("492 039"), &network()).await.unwrap();

    // Then ten distinct codes come back, and only their hashes were stored
    assert_eq!(codes.len(), 10);
    let hashes: Vec<RecoveryCodeHash> = codes.iter().map(RecoveryCodeHash::of).collect();
    assert_eq!(*stored.lock().unwrap(), hashes);
    let mut distinct = hashes.clone();
    distinct.sort_by(|a, b| a.0.cmp(&b.0));
    distinct.dedup();
    assert_eq!(distinct.len(), 10);
}

#[tokio::test]
async fn confirming_with_a_wrong_code_enables_nothing_and_counts_as_a_failed_sign_in() {
    let mut mocks = Mocks::new();
    mocks.second_factors.expect_find_totp().returning(|_| Ok(Some(factor(false, None))));
    expect_confirmation_attempt(&mut mocks, AttemptOutcome::Refused);
    expect_opened(&mut mocks);
    expect_code_of(&mut mocks, "492039", STEP);
    mocks.second_factors.expect_enable_totp().never();

    let refused = mocks.service().confirm_totp(&current(plain_user()), &code("000000"), &network()).await.unwrap_err();

    assert!(matches!(refused, ConfirmTotpError::InvalidCode), "{refused:?}");
}

#[tokio::test]
async fn confirming_while_locked_checks_no_code() {
    let mut mocks = Mocks::new();
    mocks.second_factors.expect_find_totp().returning(|_| Ok(Some(factor(false, None))));
    let locked = LoginThrottle { failed_logins: 100, locked_until: Some(now() + Duration::minutes(2)) };
    mocks
        .users
        .expect_find_credentials()
        .returning(move |_| Ok(Some(StoredCredentials { throttle: locked, ..credentials() })));
    expect_no_attempt(&mut mocks);
    mocks.codes.expect_matching_step().never();

    let refused = mocks.service().confirm_totp(&current(plain_user()), &code("492039"), &network()).await.unwrap_err();

    assert!(matches!(refused, ConfirmTotpError::Locked { .. }), "{refused:?}");
}

#[tokio::test]
async fn confirming_without_a_pending_enrolment_is_refused() {
    for found in [None, Some(factor(true, Some(STEP)))] {
        let mut mocks = Mocks::new();
        mocks.second_factors.expect_find_totp().returning(move |_| Ok(found.clone()));
        mocks.second_factors.expect_enable_totp().never();

        let refused =
            mocks.service().confirm_totp(&current(plain_user()), &code("492039"), &network()).await.unwrap_err();

        assert!(matches!(refused, ConfirmTotpError::NotPending), "{refused:?}");
    }
}

#[tokio::test]
async fn a_secret_sealed_with_a_retired_key_is_sealed_again_as_it_is_confirmed() {
    let mut mocks = Mocks::new();
    mocks.second_factors.expect_find_totp().returning(|_| Ok(Some(factor(false, None))));
    expect_confirmation_attempt(&mut mocks, AttemptOutcome::Verified);
    mocks.sealer.expect_open().returning(|_| Ok(OpenedSecret { secret: secret(), sealed_with_old_key: true }));
    let resealed = SealedSecret("v1.newkey.sealed".to_owned());
    let stored = resealed.clone();
    mocks.sealer.expect_seal().times(1).returning(move |_| Ok(stored.clone()));
    expect_code_of(&mut mocks, "492039", STEP);
    mocks
        .second_factors
        .expect_enable_totp()
        .withf(move |_, _, _, with, _, _, _| *with == Some(resealed.clone()))
        .times(1)
        .returning(|_, _, _, _, _, _, _| Ok(true));

    mocks.service().confirm_totp(&current(plain_user()), &code("492039"), &network()).await.unwrap();
}

/// The sample account with a second factor, its right password, and a sign-in attempt allowed.
fn expect_right_password_of_an_mfa_account(mocks: &mut Mocks) {
    mocks
        .users
        .expect_find_credentials()
        .returning(|_| Ok(Some(StoredCredentials { user: mfa_user(), ..credentials() })));
    expect_attempt(mocks, LoginAttempt::Allowed);
    mocks.hasher.expect_verify().returning(|password, _| Ok(password.expose() == "correct horse battery"));
}

fn sign_in(password: &str) -> SignIn {
    SignIn::Credentials {
        login: LoginIdentifier::Email(email("user1@example.com")),
        password: Password::typed(password.to_owned()).unwrap(),
    }
}

#[tokio::test]
async fn a_right_password_of_an_account_with_a_second_factor_gives_a_five_minute_token_and_no_session() {
    // Given an account with a second factor, and its right password
    let mut mocks = Mocks::new();
    expect_right_password_of_an_mfa_account(&mut mocks);
    // The failures before it are not forgotten: a code is still to come.
    expect_finished(&mut mocks, AttemptOutcome::AwaitingSecondFactor, None);
    mocks
        .second_factors
        .expect_start_mfa_sign_in()
        .withf(|user, token| {
            *user == UserId(1)
                && token.purpose == TokenPurpose::MfaSignIn
                && token.created_at == now()
                && token.expires_at == now() + Duration::minutes(5)
        })
        .times(1)
        .returning(|_, _| Ok(true));
    mocks.sessions.expect_create().never();
    mocks.tokens.expect_issue_access_token().never();

    // When the client signs in
    let outcome = mocks.service().login(sign_in("correct horse battery"), &network(), &device()).await.unwrap();

    // Then it gets a token for the code step, and no tokens
    let LoginOutcome::SecondFactorRequired(challenge) = outcome else { panic!("signed in without a code") };
    assert_eq!(challenge.expires_in, 300);
    assert_eq!(challenge.mfa_token.as_str().len(), 43);
}

#[tokio::test]
async fn a_wrong_password_of_an_account_with_a_second_factor_is_the_plain_refusal() {
    let mut mocks = Mocks::new();
    expect_right_password_of_an_mfa_account(&mut mocks);
    expect_finished(&mut mocks, AttemptOutcome::Refused, None);
    mocks.second_factors.expect_start_mfa_sign_in().never();

    let refused = mocks.service().login(sign_in("not the password"), &network(), &device()).await.unwrap_err();

    assert!(matches!(refused, users_app::LoginError::InvalidCredentials), "{refused:?}");
}

const MFA_TOKEN: &str = "mfa-token-of-the-first-step";

/// The first step's token names the account with a second factor; its credentials, an attempt allowed.
fn expect_waiting_sign_in(mocks: &mut Mocks) {
    mocks
        .one_time_tokens
        .expect_find_token_user()
        .withf(|hash, purpose, at| {
            *hash == OneTimeToken::new(MFA_TOKEN).hash() && *purpose == TokenPurpose::MfaSignIn && *at == now()
        })
        .returning(|_, _, _| Ok(Some(mfa_user())));
    mocks
        .users
        .expect_find_credentials()
        .returning(|_| Ok(Some(StoredCredentials { user: mfa_user(), ..credentials() })));
    expect_attempt(mocks, LoginAttempt::Allowed);
}

async fn second_step(mocks: Mocks, raw: &str) -> Result<users_app::SignedIn, SecondFactorLoginError> {
    mocks.service().login_with_second_factor(&OneTimeToken::new(MFA_TOKEN), &code(raw), &network(), &device()).await
}

#[tokio::test]
async fn the_current_code_finishes_the_sign_in_using_up_its_step_and_the_token_in_the_sessions_transaction() {
    // Given a waiting sign-in, and the code of a step later than the last one used
    let mut mocks = Mocks::new();
    expect_waiting_sign_in(&mut mocks);
    mocks.second_factors.expect_find_totp().returning(|_| Ok(Some(factor(true, Some(TotpStep(STEP.0 - 1))))));
    expect_opened(&mut mocks);
    expect_code_of(&mut mocks, "492039", STEP);
    mocks.expect_new_refresh_token("rt-new");
    mocks
        .second_factors
        .expect_finish_mfa_sign_in()
        .withf(|token, proof, session| {
            *token == OneTimeToken::new(MFA_TOKEN).hash()
                && *proof == SecondFactorProof::Totp { step: STEP, resealed: None }
                && session.user_id == UserId(1)
                && session.password_hash == stored_hash()
                && session.audit.kind == AuditKind::UserSignedIn
        })
        .times(1)
        .returning(|_, _, _| Ok(MfaSignIn::Started(SessionId(9))));
    expect_finished(&mut mocks, AttemptOutcome::Verified, None);
    mocks.expect_access_token(&mfa_user(), SessionId(9));

    // When the client presents it
    let signed_in = second_step(mocks, "492039").await.unwrap();

    // Then it is signed in
    assert_eq!(signed_in.tokens.refresh_token.as_str(), "rt-new");
    assert_eq!(signed_in.user.last_sign_in_at, Some(now()));
}

#[tokio::test]
async fn a_code_of_a_step_already_used_is_refused_and_counted_as_a_failure() {
    // Given the code's step is the last one used (a replay)
    let mut mocks = Mocks::new();
    expect_waiting_sign_in(&mut mocks);
    mocks.second_factors.expect_find_totp().returning(|_| Ok(Some(factor(true, Some(STEP)))));
    expect_opened(&mut mocks);
    expect_code_of(&mut mocks, "492039", STEP);
    mocks.second_factors.expect_finish_mfa_sign_in().never();
    expect_finished(&mut mocks, AttemptOutcome::Refused, None);

    let refused = second_step(mocks, "492039").await.unwrap_err();

    assert!(matches!(refused, SecondFactorLoginError::InvalidCode), "{refused:?}");
}

#[tokio::test]
async fn a_code_another_instance_used_meanwhile_is_refused_by_the_store_and_counted() {
    let mut mocks = Mocks::new();
    expect_waiting_sign_in(&mut mocks);
    mocks.second_factors.expect_find_totp().returning(|_| Ok(Some(factor(true, None))));
    expect_opened(&mut mocks);
    expect_code_of(&mut mocks, "492039", STEP);
    mocks.expect_new_refresh_token("rt-new");
    mocks.second_factors.expect_finish_mfa_sign_in().times(1).returning(|_, _, _| Ok(MfaSignIn::ProofRefused));
    expect_finished(&mut mocks, AttemptOutcome::Refused, None);
    mocks.tokens.expect_issue_access_token().never();

    let refused = second_step(mocks, "492039").await.unwrap_err();

    assert!(matches!(refused, SecondFactorLoginError::InvalidCode), "{refused:?}");
}

#[tokio::test]
async fn a_wrong_code_counts_toward_the_lockout_and_the_lock_it_sets_is_kept() {
    let mut mocks = Mocks::new();
    expect_waiting_sign_in(&mut mocks);
    mocks.second_factors.expect_find_totp().returning(|_| Ok(Some(factor(true, None))));
    expect_opened(&mut mocks);
    expect_code_of(&mut mocks, "492039", STEP);
    expect_finished(&mut mocks, AttemptOutcome::Refused, Some(now() + Duration::minutes(1)));

    let refused = second_step(mocks, "000000").await.unwrap_err();

    assert!(matches!(refused, SecondFactorLoginError::InvalidCode), "{refused:?}");
}

#[tokio::test]
async fn a_recovery_code_is_presented_to_the_store_by_its_hash() {
    let mut mocks = Mocks::new();
    expect_waiting_sign_in(&mut mocks);
    mocks.second_factors.expect_find_totp().returning(|_| Ok(Some(factor(true, Some(STEP)))));
    let recovery = RecoveryCode::parse("abcd-efgh-ijkl-mnop").unwrap();
    let expected = SecondFactorProof::RecoveryCode(RecoveryCodeHash::of(&recovery));
    mocks.expect_new_refresh_token("rt-new");
    mocks
        .second_factors
        .expect_finish_mfa_sign_in()
        .withf(move |_, proof, session| {
            *proof == expected
                && session.audit.details.get("second_factor") == Some(&serde_json::json!("recovery_code"))
        })
        .times(1)
        .returning(|_, _, _| Ok(MfaSignIn::Started(SessionId(9))));
    expect_finished(&mut mocks, AttemptOutcome::Verified, None);
    mocks.expect_access_token(&mfa_user(), SessionId(9));

    second_step(mocks, "ABCD EFGH IJKL MNOP").await.unwrap();
}

#[tokio::test]
async fn a_code_after_an_admin_removed_the_factor_asks_for_a_new_sign_in_and_counts_nothing() {
    let mut mocks = Mocks::new();
    expect_waiting_sign_in(&mut mocks);
    mocks.second_factors.expect_find_totp().returning(|_| Ok(None));
    mocks.second_factors.expect_finish_mfa_sign_in().never();
    expect_finished(&mut mocks, AttemptOutcome::Abandoned, None);

    let refused = second_step(mocks, "492039").await.unwrap_err();

    assert!(matches!(refused, SecondFactorLoginError::InvalidToken), "{refused:?}");
}

#[tokio::test]
async fn a_right_password_typed_as_proof_of_presence_forgets_no_wrong_code() {
    // Given an account with a second factor, and its password typed again to enrol
    let mut mocks = Mocks::new();
    expect_right_password_of_an_mfa_account(&mut mocks);
    expect_finished(&mut mocks, AttemptOutcome::AwaitingSecondFactor, None);
    mocks.codes.expect_new_secret().returning(|_| {
        Ok(NewTotpSecret { secret: secret(), text: "X".into(), otpauth_uri: "otpauth://totp/x".into() })
    });
    mocks.sealer.expect_seal().returning(|_| Ok(sealed()));
    mocks.second_factors.expect_start_totp_enrolment().returning(|_, _, _| Ok(TotpEnrolment::AlreadyEnabled));
    let typed = proof(users_app::CurrentPassword::Typed(Password::typed("correct horse battery".to_owned()).unwrap()));
    let stale = signed_in_at(mfa_user(), Some(now() - Duration::hours(1)));

    // When it is checked, then the failures counted before it stay (see the outcome expected above)
    let refused = mocks.service().enrol_totp(&stale, typed).await.unwrap_err();
    assert!(matches!(refused, EnrolTotpError::AlreadyEnabled), "{refused:?}");
}

#[tokio::test]
async fn an_unusable_token_is_refused_before_any_attempt_is_counted() {
    let mut mocks = Mocks::new();
    mocks.one_time_tokens.expect_find_token_user().returning(|_, _, _| Ok(None));
    expect_no_attempt(&mut mocks);

    let refused = second_step(mocks, "492039").await.unwrap_err();

    assert!(matches!(refused, SecondFactorLoginError::InvalidToken), "{refused:?}");
}

#[tokio::test]
async fn a_locked_account_is_refused_without_checking_the_code() {
    let mut mocks = Mocks::new();
    mocks.one_time_tokens.expect_find_token_user().returning(|_, _, _| Ok(Some(mfa_user())));
    let locked = LoginThrottle { failed_logins: 100, locked_until: Some(now() + Duration::minutes(3)) };
    mocks
        .users
        .expect_find_credentials()
        .returning(move |_| Ok(Some(StoredCredentials { user: mfa_user(), throttle: locked, ..credentials() })));
    expect_no_attempt(&mut mocks);
    mocks.second_factors.expect_find_totp().never();

    let refused = second_step(mocks, "492039").await.unwrap_err();

    assert!(
        matches!(refused, SecondFactorLoginError::Locked { retry_after } if retry_after == Duration::minutes(3)),
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_admin_removes_a_users_factor_and_it_is_recorded_as_theirs() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().returning(|_| Ok(Some(mfa_user())));
    mocks
        .second_factors
        .expect_remove_totp()
        .withf(|user, at, audit| {
            *user == UserId(1)
                && *at == now()
                && audit.kind == AuditKind::MfaDisabled
                && audit.actor == users_ports::AuditActor::User(UserId(2))
        })
        .times(1)
        .returning(|_, _, _| Ok(TotpRemoval::Enabled));

    mocks.service().remove_second_factor(&administrator(), UserId(1)).await.unwrap();
}

#[tokio::test]
async fn an_admin_removing_their_own_factor_through_the_admin_route_needs_a_recent_sign_in() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().returning(|_| Ok(Some(admin_user())));
    mocks.second_factors.expect_remove_totp().never();
    let stale = signed_in_at(admin_user(), Some(now() - Duration::hours(1))).into_admin().unwrap();

    let refused = mocks.service().remove_second_factor(&stale, UserId(2)).await.unwrap_err();

    assert!(matches!(refused, RemoveSecondFactorError::ReauthenticationRequired), "{refused:?}");
}

#[tokio::test]
async fn an_admin_removing_the_factor_of_an_unknown_user_is_told_so() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().returning(|_| Ok(None));
    mocks.second_factors.expect_remove_totp().never();

    let refused = mocks.service().remove_second_factor(&administrator(), UserId(404)).await.unwrap_err();

    assert!(matches!(refused, RemoveSecondFactorError::NotFound), "{refused:?}");
}

#[tokio::test]
async fn removing_ones_own_factor_needs_proof_of_presence() {
    let mut mocks = Mocks::new();
    mocks.second_factors.expect_remove_totp().never();
    let stale = signed_in_at(mfa_user(), Some(now() - Duration::hours(1)));

    let refused = mocks.service().disable_totp(&stale, no_password()).await.unwrap_err();

    assert!(matches!(refused, users_app::DisableTotpError::ReauthenticationRequired), "{refused:?}");
}
