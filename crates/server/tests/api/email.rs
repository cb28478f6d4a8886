//! Verified addresses and password recovery over HTTP, read from the mail folder as the user's mail client would:
//! the links mailed at sign-up, on request and on a change of address, what each token does once, and what it
//! never does.

use std::time::Duration as StdDuration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const NEW_PASSWORD: &str = "a brand new secret";

async fn assert_invalid_token(response: reqwest::Response) {
    let problem = assert_problem(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(problem["type"], "/problems/invalid-token", "{problem}");
}

/// The work of a 202 runs after the answer: time for it to be done (or, where nothing is to be done, not done).
async fn settle() {
    tokio::time::sleep(StdDuration::from_millis(500)).await;
}

async fn tokens_of(app: &TestApp, email: &str, purpose: &str) -> i64 {
    app.count(&format!(
        "SELECT count(*) FROM one_time_tokens t JOIN users u ON u.id = t.user_id \
         WHERE u.email = '{email}' AND t.purpose = '{purpose}'"
    ))
    .await
}

async fn sign_up_mails_a_link_that_verifies_the_address_once(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    // Given a new account: unverified, and mailed a link
    let session = app.register_user("ada@example.com").await;
    assert_eq!(session.user["email_verified"], false);
    let mail = app.wait_for_mails("ada@example.com", 1).await.remove(0);
    assert!(mail.text.contains(&format!("{}/verify-email?token=", app.address)), "{}", mail.text);
    assert!(mail.html.contains("/verify-email?token="), "{}", mail.html);
    assert!(!mail.subject.is_empty());

    // when the link's token is confirmed,
    let token = mail.token("/verify-email");
    let response = app.post("/auth/verification/confirm", &json!({ "token": token })).await;

    // then the address is verified, in the answer and for the account,
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["email"].as_str(), body["email_verified"].as_bool()), (Some("ada@example.com"), Some(true)));
    let (_, profile) = status_and_json(app.get("/users/current", &session.access_token).await).await;
    assert_eq!(profile["email_verified"], true);
    // and the token is used up.
    assert_invalid_token(app.post("/auth/verification/confirm", &json!({ "token": token })).await).await;
}

async fn tokens_that_were_never_issued_are_invalid(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    app.register_user("ada@example.com").await;
    let forged = "A".repeat(43);

    assert_invalid_token(app.post("/auth/verification/confirm", &json!({ "token": forged })).await).await;
    let reset = json!({ "token": forged, "password": NEW_PASSWORD });
    assert_invalid_token(app.post("/auth/password/reset", &reset).await).await;
    // A missing or empty token is a malformed request, not a guess.
    let problem = assert_problem(
        app.post("/auth/password/reset", &json!({ "password": NEW_PASSWORD })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error_fields(&problem), ["token"]);
    assert_problem(
        app.post("/auth/verification/confirm", &json!({ "token": "" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

async fn forgetting_a_password_is_answered_alike_for_known_and_unknown_addresses(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    app.register_user("ada@example.com").await;

    // Both are accepted with the same empty answer,
    let known = app.post("/auth/password/forgot", &json!({ "email": "ada@example.com" })).await;
    let unknown = app.post("/auth/password/forgot", &json!({ "email": "nobody@example.com" })).await;
    assert_eq!((known.status(), unknown.status()), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());

    // and only the account's address gets a reset link.
    let mails = app.wait_for_mails("ada@example.com", 2).await;
    assert!(mails[1].text.contains("/reset-password?token="), "{}", mails[1].text);
    settle().await;
    assert!(app.mails_to("nobody@example.com").is_empty());
    assert_eq!(app.count("SELECT count(*) FROM one_time_tokens WHERE purpose = 'reset_password'").await, 1);
    // A malformed address is the client's mistake to hear of.
    let problem = assert_problem(
        app.post("/auth/password/forgot", &json!({ "email": "not-an-address" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error_fields(&problem), ["email"]);
}

async fn at_most_one_mail_a_minute_goes_to_an_account(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    app.register_user("ada@example.com").await;

    for _ in 0..3 {
        let response = app.post("/auth/password/forgot", &json!({ "email": "ada@example.com" })).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    settle().await;

    assert_eq!(tokens_of(&app, "ada@example.com", "reset_password").await, 1);
    let mails = app.wait_for_mails("ada@example.com", 2).await;
    settle().await;
    assert_eq!(app.mails_to("ada@example.com").len(), mails.len(), "the sign-up's verification and one reset");
}

async fn a_reset_refuses_a_weak_password_then_takes_a_good_one_and_ends_every_session(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    // Given an account signed in twice
    let first = app.register_user("ada@example.com").await;
    let (_, second) = status_and_json(app.login("ada@example.com", PASSWORD).await).await;
    let second = Session::from_body(&second);
    app.post("/auth/password/forgot", &json!({ "email": "ada@example.com" })).await;
    let mail = app.wait_for_mails("ada@example.com", 2).await.remove(1);
    let token = mail.token("/reset-password");

    // when a weak password is offered, it is refused and the token stays usable,
    let weak = app.post("/auth/password/reset", &json!({ "token": token, "password": "short" })).await;
    let problem = assert_problem(weak, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error_fields(&problem), ["password"]);
    let personal = app.post("/auth/password/reset", &json!({ "token": token, "password": "ada@example.com" })).await;
    assert_problem(personal, StatusCode::UNPROCESSABLE_ENTITY).await;

    // and a good one replaces the password,
    let good = app.post("/auth/password/reset", &json!({ "token": token, "password": NEW_PASSWORD })).await;
    assert_eq!(good.status(), StatusCode::NO_CONTENT);
    // (and the address hears of it, with no link to act on)
    let notice = app.wait_for_mails("ada@example.com", 3).await.remove(2);
    assert!(notice.subject.contains("password") && !notice.text.contains("token="), "{notice:?}");

    // then every session has ended, the old password is refused and the new one signs in,
    assert_unauthorized(app.get("/users/current", &first.access_token).await).await;
    assert_unauthorized(app.get("/users/current", &second.access_token).await).await;
    assert_unauthorized(app.post("/auth/refresh", &json!({ "refresh_token": second.refresh_token })).await).await;
    assert_unauthorized(app.login("ada@example.com", PASSWORD).await).await;
    let (status, body) = status_and_json(app.login("ada@example.com", NEW_PASSWORD).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // the address counts as verified (the link reached it), and the token is used up.
    assert_eq!(body["user"]["email_verified"], true);
    let again = app.post("/auth/password/reset", &json!({ "token": token, "password": "yet another secret" })).await;
    assert_invalid_token(again).await;
}

async fn a_newer_reset_link_voids_the_older(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    app.register_user("ada@example.com").await;
    app.post("/auth/password/forgot", &json!({ "email": "ada@example.com" })).await;
    let older = app.wait_for_mails("ada@example.com", 2).await.remove(1).token("/reset-password");
    // A minute later (the interval, moved back in the store rather than waited for), another is asked for.
    app.execute("UPDATE one_time_tokens SET created_at = '2000-01-01 00:00:00+00:00'").await;
    app.post("/auth/password/forgot", &json!({ "email": "ada@example.com" })).await;
    let newer = app.wait_for_mails("ada@example.com", 3).await.remove(2).token("/reset-password");

    let stale = app.post("/auth/password/reset", &json!({ "token": older, "password": NEW_PASSWORD })).await;
    assert_invalid_token(stale).await;
    let fresh = app.post("/auth/password/reset", &json!({ "token": newer, "password": NEW_PASSWORD })).await;
    assert_eq!(fresh.status(), StatusCode::NO_CONTENT);
}

async fn an_expired_reset_link_is_invalid(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    app.register_user("ada@example.com").await;
    app.post("/auth/password/forgot", &json!({ "email": "ada@example.com" })).await;
    let token = app.wait_for_mails("ada@example.com", 2).await.remove(1).token("/reset-password");
    app.execute("UPDATE one_time_tokens SET expires_at = '2000-01-01 00:00:00+00:00'").await;

    let late = app.post("/auth/password/reset", &json!({ "token": token, "password": NEW_PASSWORD })).await;

    assert_invalid_token(late).await;
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), StatusCode::OK, "the password is unchanged");
}

async fn a_reset_lifts_the_accounts_lockout(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    app.register_user("ada@example.com").await;
    for _ in 0..10 {
        app.login("ada@example.com", "not the password").await;
    }
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
    app.post("/auth/password/forgot", &json!({ "email": "ada@example.com" })).await;
    let token = app.wait_for_mails("ada@example.com", 2).await.remove(1).token("/reset-password");

    app.post("/auth/password/reset", &json!({ "token": token, "password": NEW_PASSWORD })).await;

    assert_eq!(app.login("ada@example.com", NEW_PASSWORD).await.status(), StatusCode::OK);
}

async fn a_new_address_is_mailed_a_verification_and_the_old_one_a_notice(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    // Given a verified account
    let session = app.register_user("ada@example.com").await;
    let first = app.wait_for_mails("ada@example.com", 1).await.remove(0).token("/verify-email");
    app.post("/auth/verification/confirm", &json!({ "token": first })).await;
    // (a minute later: an address is sent one such mail a minute, and this one was sent its verification just now)
    app.execute("UPDATE one_time_tokens SET created_at = '2000-01-01 00:00:00+00:00'").await;

    // when its address changes,
    let response = app.put("/users/current", &session.access_token, &json!({ "email": "ada@example.org" })).await;

    // then the new one is unverified and gets a link, and the old one hears of the change.
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email_verified"], false);
    let verification = app.wait_for_mails("ada@example.org", 1).await.remove(0);
    let notice = app.wait_for_mails("ada@example.com", 2).await.remove(1);
    assert!(notice.text.contains("ada@example.org"), "{}", notice.text);
    assert!(!notice.text.contains("token="), "a notice carries no link to act on: {}", notice.text);
    let confirmed =
        app.post("/auth/verification/confirm", &json!({ "token": verification.token("/verify-email") })).await;
    let (status, body) = status_and_json(confirmed).await;
    assert_eq!((status, body["email_verified"].as_bool()), (StatusCode::OK, Some(true)), "{body}");
}

async fn an_address_gets_no_notice_or_verification_it_was_sent_one_of_a_moment_ago(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    // Given an account that moved to a victim's address, so the victim was sent a verification,
    let mallory = app.register_user("mallory@example.com").await;
    let to_victim = json!({ "email": "victim@example.com" });
    assert_eq!(app.put("/users/current", &mallory.access_token, &to_victim).await.status(), StatusCode::OK);

    // when it moves back and forth again and again within the minute,
    for address in ["mallory@example.com", "victim@example.com", "mallory@example.com", "victim@example.com"] {
        let response = app.put("/users/current", &mallory.access_token, &json!({ "email": address })).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    // then the victim's mailbox holds that one verification and nothing more.
    app.wait_for_mails("victim@example.com", 1).await;
    settle().await;
    assert_eq!(app.mails_to("victim@example.com").len(), 1);
}

async fn a_link_mailed_to_a_former_address_does_nothing(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let session = app.register_user("ada@example.com").await;
    let old_link = app.wait_for_mails("ada@example.com", 1).await.remove(0).token("/verify-email");
    app.post("/auth/password/forgot", &json!({ "email": "ada@example.com" })).await;
    let old_reset = app.wait_for_mails("ada@example.com", 2).await.remove(1).token("/reset-password");

    app.put("/users/current", &session.access_token, &json!({ "email": "ada@example.org" })).await;

    assert_invalid_token(app.post("/auth/verification/confirm", &json!({ "token": old_link })).await).await;
    let reset = app.post("/auth/password/reset", &json!({ "token": old_reset, "password": NEW_PASSWORD })).await;
    assert_invalid_token(reset).await;
}

async fn a_verification_is_mailed_on_request_only_to_an_unverified_address(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    app.register_user("ada@example.com").await;
    app.wait_for_mails("ada@example.com", 1).await;
    app.execute("UPDATE one_time_tokens SET created_at = '2000-01-01 00:00:00+00:00'").await;

    let asked = app.post("/auth/verification", &json!({ "email": "ada@example.com" })).await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let second = app.wait_for_mails("ada@example.com", 2).await.remove(1);
    let confirmed = app.post("/auth/verification/confirm", &json!({ "token": second.token("/verify-email") })).await;
    assert_eq!(confirmed.status(), StatusCode::OK);

    // Verified now: asking again (a minute later) sends nothing, and is answered the same.
    app.execute("UPDATE one_time_tokens SET created_at = '2000-01-01 00:00:00+00:00'").await;
    let again = app.post("/auth/verification", &json!({ "email": "ada@example.com" })).await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    settle().await;
    assert_eq!(tokens_of(&app, "ada@example.com", "verify_email").await, 2);
}

async fn an_admin_can_have_a_reset_link_mailed_to_a_user(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let user = app.register_user("ada@example.com").await;
    let id = user.claims()["uid"].as_i64().unwrap();

    let response = app.post_as(&format!("/api/users/{id}/password-reset"), &admin.access_token, &json!({})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let token = app.wait_for_mails("ada@example.com", 2).await.remove(1).token("/reset-password");
    let reset = app.post("/auth/password/reset", &json!({ "token": token, "password": NEW_PASSWORD })).await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);

    // Nobody else may (the reset ended the user's first session; a new one is refused as not an admin), and an
    // unknown user is not found.
    let refused = app.post_as(&format!("/api/users/{id}/password-reset"), &user.access_token, &json!({})).await;
    assert_problem(refused, StatusCode::UNAUTHORIZED).await;
    let (_, other) = status_and_json(app.login("ada@example.com", NEW_PASSWORD).await).await;
    let other = Session::from_body(&other);
    let refused = app.post_as(&format!("/api/users/{id}/password-reset"), &other.access_token, &json!({})).await;
    assert_problem(refused, StatusCode::FORBIDDEN).await;
    let missing = app.post_as("/api/users/999999/password-reset", &admin.access_token, &json!({})).await;
    assert_problem(missing, StatusCode::NOT_FOUND).await;
}

async fn admins_vouch_for_addresses(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    assert_eq!(admin.user["email_verified"], true, "create-admin makes verified admins");
    let user =
        |email: &str| json!({ "firstName": "Grace", "lastName": "Hopper", "email": email, "password": PASSWORD });

    let mut vouched = user("grace@example.com");
    vouched["emailVerified"] = json!(true);
    let (status, body) = status_and_json(app.post_as("/api/users", &admin.access_token, &vouched).await).await;
    assert_eq!((status, body["emailVerified"].as_bool()), (StatusCode::CREATED, Some(true)), "{body}");
    let (status, body) =
        status_and_json(app.post_as("/api/users", &admin.access_token, &user("alan@example.com")).await).await;
    assert_eq!((status, body["emailVerified"].as_bool()), (StatusCode::CREATED, Some(false)), "{body}");

    app.wait_for_mails("alan@example.com", 1).await;
    settle().await;
    assert!(app.mails_to("grace@example.com").is_empty());
}

async fn when_addresses_must_be_verified_an_unverified_account_cannot_sign_in_until_it_is(store: Store) {
    let Some(app) = spawn_app_with(store, |settings| settings.auth.require_verified_email = true).await else { return };
    // A sign-up starts no session: the account waits for its link.
    let signed_up = app.post("/auth/register", &json!({ "email": "ada@example.com", "password": PASSWORD })).await;
    let (status, body) = status_and_json(signed_up).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        (body["user"]["email"].as_str(), body["user"]["email_verified"].as_bool()),
        (Some("ada@example.com"), Some(false))
    );
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none(), "{body}");
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 0);

    let problem = assert_problem(app.login("ada@example.com", PASSWORD).await, StatusCode::FORBIDDEN).await;
    assert_eq!(problem["type"], "/problems/email-not-verified", "{problem}");
    // A wrong password gives no hint that the account is unverified.
    assert_unauthorized(app.login("ada@example.com", "not the password").await).await;

    let token = app.wait_for_mails("ada@example.com", 1).await.remove(0).token("/verify-email");
    app.post("/auth/verification/confirm", &json!({ "token": token })).await;
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), StatusCode::OK);
}

on_each_store!(
    sign_up_mails_a_link_that_verifies_the_address_once,
    tokens_that_were_never_issued_are_invalid,
    forgetting_a_password_is_answered_alike_for_known_and_unknown_addresses,
    at_most_one_mail_a_minute_goes_to_an_account,
    a_reset_refuses_a_weak_password_then_takes_a_good_one_and_ends_every_session,
    a_newer_reset_link_voids_the_older,
    an_expired_reset_link_is_invalid,
    a_reset_lifts_the_accounts_lockout,
    a_new_address_is_mailed_a_verification_and_the_old_one_a_notice,
    a_link_mailed_to_a_former_address_does_nothing,
    an_address_gets_no_notice_or_verification_it_was_sent_one_of_a_moment_ago,
    a_verification_is_mailed_on_request_only_to_an_unverified_address,
    an_admin_can_have_a_reset_link_mailed_to_a_user,
    admins_vouch_for_addresses,
    when_addresses_must_be_verified_an_unverified_account_cannot_sign_in_until_it_is,
);
