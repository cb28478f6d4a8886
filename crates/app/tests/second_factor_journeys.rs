//! A user's second factor followed through enrolment and sign-ins on the in-memory store, with the real TOTP adapter
//! and a clock the test moves; every code is computed here from the secret the enrolment showed (RFC 6238 by hand:
//! HMAC-SHA1 and dynamic truncation), independently of the crate the service uses.

mod support;

use chrono::Duration;
use hmac::{Hmac, Mac};
use users_app::{LockoutPolicy, LoginError, LoginOutcome, SecondFactorLoginError, SessionPolicy, SignIn, UserService};
use users_domain::{LoginIdentifier, Registration, SecondFactorCode};
use users_ports::{Clock, OneTimeToken};

use support::in_memory::{InMemory, TestClock, in_memory_service};
use support::*;

fn ada() -> Registration {
    Registration {
        username: Some(username("ada")),
        email: email("ada@example.com"),
        password: password("correct horse battery"),
        first_name: None,
        last_name: None,
    }
}

fn sign_in() -> SignIn {
    SignIn::Credentials {
        login: LoginIdentifier::Email(email("ada@example.com")),
        password: password("correct horse battery"),
    }
}

/// RFC 4648 base32 without padding, as apps read the secret.
fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut count, mut out) = (0u64, 0, Vec::new());
    for c in text.bytes().filter(|c| *c != b'=') {
        let value = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase()).expect("a base32 character");
        bits = (bits << 5) | value as u64;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

/// RFC 6238 with SHA-1, 6 digits and 30-second steps, for the Unix time `at`.
fn code_at(secret: &[u8], at: i64) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).expect("any key length");
    mac.update(&(at / 30).to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let number =
        u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    format!("{:06}", number % 1_000_000)
}

/// Ada, signed up, with a confirmed authenticator: the service, its clock, the secret and the recovery codes.
async fn ada_with_a_second_factor(policy: SessionPolicy) -> (UserService<InMemory>, TestClock, Vec<u8>, Vec<String>) {
    let (service, clock) = in_memory_service(policy);
    let signed_up = service.register(ada(), &device()).await.expect("sign up").into_signed_in().expect("signed in");
    let current = service.authenticate(&signed_up.tokens.access_token, &device()).await.expect("signed in");
    let enrolment = service.enrol_totp(&current, no_password()).await.expect("a recent sign-in enrols");
    assert!(enrolment.otpauth_uri.contains(&format!("secret={}", enrolment.secret)), "{}", enrolment.otpauth_uri);
    let secret = base32_decode(&enrolment.secret);
    let now = clock.now().timestamp();
    let codes = service
        .confirm_totp(&current, &SecondFactorCode::parse(&code_at(&secret, now)), &network())
        .await
        .expect("confirm");
    let shown = codes.iter().map(users_domain::RecoveryCode::display).collect();
    (service, clock, secret, shown)
}

async fn first_step(service: &UserService<InMemory>) -> OneTimeToken {
    match service.login(sign_in(), &network(), &device()).await.expect("the right password") {
        LoginOutcome::SecondFactorRequired(challenge) => challenge.mfa_token,
        LoginOutcome::SignedIn(_) => panic!("signed in without a code"),
    }
}

async fn second_step(
    service: &UserService<InMemory>,
    token: &OneTimeToken,
    code: &str,
) -> Result<users_app::SignedIn, SecondFactorLoginError> {
    service.login_with_second_factor(token, &SecondFactorCode::parse(code), &network(), &device()).await
}

#[tokio::test]
async fn a_code_of_the_step_before_or_after_signs_in_and_none_two_steps_away() {
    // Given Ada with an authenticator, confirmed with the code of now
    let (service, clock, secret, _) = ada_with_a_second_factor(SessionPolicy::default()).await;
    clock.advance(Duration::minutes(2));
    let now = clock.now().timestamp();
    let token = first_step(&service).await;

    // When she sends codes two steps away, then one of the step before
    for far in [now - 60, now + 60] {
        let refused = second_step(&service, &token, &code_at(&secret, far)).await.unwrap_err();
        assert!(matches!(refused, SecondFactorLoginError::InvalidCode), "{far}: {refused:?}");
    }
    let signed_in = second_step(&service, &token, &code_at(&secret, now - 30)).await.expect("one step of drift");

    // Then she is signed in, and the token is used up
    assert!(signed_in.user.mfa_enabled);
    let used = second_step(&service, &token, &code_at(&secret, now)).await.unwrap_err();
    assert!(matches!(used, SecondFactorLoginError::InvalidToken), "{used:?}");

    // And a code of the step after the one used still works on a new sign-in
    let token = first_step(&service).await;
    second_step(&service, &token, &code_at(&secret, now + 30)).await.expect("a later step");
}

#[tokio::test]
async fn the_code_that_confirmed_the_app_signs_in_once_and_an_earlier_one_never() {
    let (service, clock, secret, _) = ada_with_a_second_factor(SessionPolicy::default()).await;
    let now = clock.now().timestamp();

    let token = first_step(&service).await;
    let earlier = second_step(&service, &token, &code_at(&secret, now - 30)).await.unwrap_err();
    assert!(matches!(earlier, SecondFactorLoginError::InvalidCode), "{earlier:?}");
    second_step(&service, &token, &code_at(&secret, now)).await.expect("the confirmation's code, once");

    let again = second_step(&service, &first_step(&service).await, &code_at(&secret, now)).await.unwrap_err();
    assert!(matches!(again, SecondFactorLoginError::InvalidCode), "{again:?}");
}

#[tokio::test]
async fn a_code_is_accepted_once_and_neither_it_nor_an_earlier_one_again() {
    let (service, clock, secret, _) = ada_with_a_second_factor(SessionPolicy::default()).await;
    clock.advance(Duration::minutes(2));
    let now = clock.now().timestamp();
    second_step(&service, &first_step(&service).await, &code_at(&secret, now)).await.expect("the current code");

    let token = first_step(&service).await;
    for replayed in [now, now - 30] {
        let refused = second_step(&service, &token, &code_at(&secret, replayed)).await.unwrap_err();
        assert!(matches!(refused, SecondFactorLoginError::InvalidCode), "{replayed}: {refused:?}");
    }
}

#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let (service, _clock, _secret, codes) = ada_with_a_second_factor(SessionPolicy::default()).await;
    assert_eq!(codes.len(), 10);

    second_step(&service, &first_step(&service).await, &codes[3].to_uppercase()).await.expect("a recovery code");

    let again = second_step(&service, &first_step(&service).await, &codes[3]).await.unwrap_err();
    assert!(matches!(again, SecondFactorLoginError::InvalidCode), "{again:?}");
    second_step(&service, &first_step(&service).await, &codes[4]).await.expect("another recovery code");
}

#[tokio::test]
async fn wrong_codes_lock_the_account_and_the_right_password_does_not_unlock_it() {
    // Given a lockout after three failures
    let policy =
        SessionPolicy { lockout: LockoutPolicy { threshold: 3, ..LockoutPolicy::default() }, ..Default::default() };
    let (service, _clock, _secret, _) = ada_with_a_second_factor(policy).await;

    // When a guesser who has the password sends wrong codes, signing in again between guesses
    for _ in 0..3 {
        let token = first_step(&service).await;
        let refused = second_step(&service, &token, "000000").await.unwrap_err();
        assert!(matches!(refused, SecondFactorLoginError::InvalidCode | SecondFactorLoginError::Locked { .. }));
    }

    // Then the account is locked, for the password as for codes
    let locked = service.login(sign_in(), &network(), &device()).await.unwrap_err();
    assert!(matches!(locked, LoginError::Locked { .. }), "{locked:?}");
}

#[tokio::test]
async fn without_a_confirmed_factor_the_password_alone_signs_in() {
    // Given an enrolment never confirmed
    let (service, _clock) = in_memory_service(SessionPolicy::default());
    let signed_up = service.register(ada(), &device()).await.expect("sign up").into_signed_in().expect("signed in");
    let current = service.authenticate(&signed_up.tokens.access_token, &device()).await.expect("signed in");
    service.enrol_totp(&current, no_password()).await.expect("enrol");

    // When she signs in, then the password is enough
    let outcome = service.login(sign_in(), &network(), &device()).await.expect("signed in");
    assert!(matches!(outcome, LoginOutcome::SignedIn(_)));
}
