//! A user followed through several use cases on the in-memory store: what each step leaves in the store is what the
//! next one finds, as it would be in production, with no mock restating the implementation.

mod support;

use chrono::Duration;
use users_app::{
    AuthenticateError, CurrentPassword, LockoutPolicy, LoginError, LogoutError, RefreshError, SessionPolicy, SignIn,
};
use users_domain::{ClientNetwork, LoginIdentifier, ProfileChanges, Registration};

use support::in_memory::in_memory_service;
use support::*;

fn ada() -> Registration {
    Registration {
        username: Some(username("ada")),
        email: email("Ada@Example.com"),
        password: password("correct horse battery"),
        first_name: None,
        last_name: None,
    }
}

/// A sign-in by email.
fn sign_in(address: &str, typed: &str) -> SignIn {
    SignIn::Credentials { login: LoginIdentifier::Email(email(address)), password: password(typed) }
}

fn elsewhere() -> ClientNetwork {
    ClientNetwork::of("198.51.100.7".parse().expect("a valid address"))
}

#[tokio::test]
async fn a_new_account_signs_in_refreshes_and_signs_out() {
    // Given an account just signed up,
    let (service, clock) = in_memory_service(SessionPolicy::default());
    let signed_up = service.register(ada(), &device()).await.expect("sign up").into_signed_in().expect("signed in");

    // when it signs in by its email in another case, refreshes a minute later, and signs out,
    let signed_in = service
        .login(sign_in("ada@example.COM", "correct horse battery"), &network(), &device())
        .await
        .password_alone()
        .unwrap();
    assert_eq!(signed_in.user, signed_up.user);
    clock.advance(Duration::minutes(1));
    let refreshed = service.refresh(&signed_in.tokens.refresh_token, &device()).await.expect("refresh");
    let current = service.authenticate(&refreshed.access_token, &device()).await.expect("the new access token works");
    service.logout(&refreshed.refresh_token, &device()).await.expect("sign out");

    // then that session is over, for both its tokens, while the sign-up's session lives on.
    let ended = service.authenticate(&refreshed.access_token, &device()).await;
    assert!(matches!(ended, Err(AuthenticateError::SessionEnded)), "{ended:?}");
    let refused = service.refresh(&refreshed.refresh_token, &device()).await;
    assert!(matches!(refused, Err(RefreshError::InvalidToken)), "{refused:?}");
    assert_eq!(current.authenticated_at, Some(now()), "a refresh keeps the time the password was entered");
    let first = service.authenticate(&signed_up.tokens.access_token, &device()).await.expect("the sign-up's session");
    assert_ne!(first.session, current.session);
    // And signing out again with the same token is harmless.
    service.logout(&refreshed.refresh_token, &device()).await.expect("idempotent");
    let unknown = service.logout(&users_ports::RefreshToken::new("never-issued"), &device()).await;
    assert!(matches!(unknown, Err(LogoutError::InvalidToken)), "{unknown:?}");
}

#[tokio::test]
async fn two_tabs_refreshing_together_share_a_pair_but_a_late_replay_ends_the_session() {
    // Given a signed-in user,
    let (service, clock) = in_memory_service(SessionPolicy::default());
    let signed_in = service.register(ada(), &device()).await.expect("sign up").into_signed_in().expect("signed in");
    let token = signed_in.tokens.refresh_token;

    // when two tabs refresh the same token a moment apart,
    let first = service.refresh(&token, &device()).await.expect("the first tab");
    clock.advance(Duration::seconds(2));
    let second = service.refresh(&token, &device()).await.expect("the second tab, within the grace window");

    // then both hold the same successor;
    assert_eq!(first.refresh_token, second.refresh_token);
    assert_eq!(first.access_token, second.access_token, "the same claims, signed as of the first use");

    // and when the old token comes back after the grace window, the whole session ends.
    clock.advance(Duration::minutes(1));
    let replayed = service.refresh(&token, &device()).await;
    assert!(matches!(replayed, Err(RefreshError::Reused)), "{replayed:?}");
    let successor = service.refresh(&first.refresh_token, &device()).await;
    assert!(matches!(successor, Err(RefreshError::InvalidToken)), "{successor:?}");
    let access = service.authenticate(&first.access_token, &device()).await;
    assert!(matches!(access, Err(AuthenticateError::SessionEnded)), "{access:?}");
}

#[tokio::test]
async fn a_new_password_signs_out_every_other_session_and_the_old_one_stops_working() {
    // Given a user signed in on two devices,
    let (service, _clock) = in_memory_service(SessionPolicy::default());
    let laptop = service.register(ada(), &device()).await.expect("sign up").into_signed_in().expect("signed in");
    let phone = service
        .login(sign_in("ada@example.com", "correct horse battery"), &network(), &device())
        .await
        .password_alone();
    let phone = phone.expect("sign in on the phone");
    let here = service.authenticate(&laptop.tokens.access_token, &device()).await.unwrap();

    // when the password is changed on the laptop (signed in a moment ago, so without typing the old one),
    let changes = ProfileChanges { password: Some(password("a brand new passphrase")), ..ProfileChanges::default() };
    service.update_profile(&here, changes, no_password()).await.expect("change the password");

    // then the phone is signed out, the laptop is not,
    let ended = service.authenticate(&phone.tokens.access_token, &device()).await;
    assert!(matches!(ended, Err(AuthenticateError::SessionEnded)), "{ended:?}");
    let refused = service.refresh(&phone.tokens.refresh_token, &device()).await;
    assert!(matches!(refused, Err(RefreshError::InvalidToken)), "{refused:?}");
    service.authenticate(&laptop.tokens.access_token, &device()).await.expect("the session that changed it");
    // and only the new password signs in.
    let old = service
        .login(sign_in("ada@example.com", "correct horse battery"), &network(), &device())
        .await
        .password_alone();
    assert!(matches!(old, Err(LoginError::InvalidCredentials)), "{old:?}");
    service
        .login(sign_in("ada@example.com", "a brand new passphrase"), &network(), &device())
        .await
        .password_alone()
        .expect("new");
}

#[tokio::test]
async fn wrong_passwords_from_one_network_lock_it_out_but_not_the_owner_elsewhere() {
    // Given an account locked after three failures in a row from a network,
    let lockout = LockoutPolicy { threshold: 3, backstop: 10, ..LockoutPolicy::default() };
    let (service, clock) = in_memory_service(SessionPolicy { lockout, ..SessionPolicy::default() });
    service.register(ada(), &device()).await.expect("sign up").into_signed_in().expect("signed in");

    // when someone guesses three times from there,
    for _ in 0..3 {
        let guess =
            service.login(sign_in("ada@example.com", "not her password"), &network(), &device()).await.password_alone();
        assert!(matches!(guess, Err(LoginError::InvalidCredentials)), "{guess:?}");
    }

    // then that network is refused even the right password for a minute,
    let locked = service
        .login(sign_in("ada@example.com", "correct horse battery"), &network(), &device())
        .await
        .password_alone();
    assert!(matches!(locked, Err(LoginError::Locked { retry_after }) if retry_after == Duration::minutes(1)));
    // while the owner signs in from elsewhere, and the network may try again once the minute has passed.
    service
        .login(sign_in("ada@example.com", "correct horse battery"), &elsewhere(), &device())
        .await
        .password_alone()
        .expect("owner");
    clock.advance(Duration::minutes(1));
    service
        .login(sign_in("ada@example.com", "correct horse battery"), &network(), &device())
        .await
        .password_alone()
        .expect("later");
}

#[tokio::test]
async fn a_deleted_account_is_signed_out_and_its_email_is_free_again() {
    // Given a signed-in user,
    let (service, _clock) = in_memory_service(SessionPolicy::default());
    let signed_in = service.register(ada(), &device()).await.expect("sign up").into_signed_in().expect("signed in");
    let current = service.authenticate(&signed_in.tokens.access_token, &device()).await.unwrap();

    // when they delete their account, typing their password,
    let typed = proof(CurrentPassword::Typed(password("correct horse battery")));
    service.delete_account(&current, typed).await.expect("delete");

    // then their tokens stop working, their password signs in nowhere, and the email can sign up anew.
    let ended = service.authenticate(&signed_in.tokens.access_token, &device()).await;
    assert!(matches!(ended, Err(AuthenticateError::SessionEnded)), "{ended:?}");
    let refused = service.refresh(&signed_in.tokens.refresh_token, &device()).await;
    assert!(matches!(refused, Err(RefreshError::InvalidToken)), "{refused:?}");
    let gone = service
        .login(sign_in("ada@example.com", "correct horse battery"), &network(), &device())
        .await
        .password_alone();
    assert!(matches!(gone, Err(LoginError::InvalidCredentials)), "{gone:?}");
    let again =
        service.register(ada(), &device()).await.expect("the email is free").into_signed_in().expect("signed in");
    assert_ne!(again.user.id, current.user.id);
}
