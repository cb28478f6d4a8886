//! Suspension: an admin stops an account without deleting it. Its sessions end at once (on every instance), a correct
//! sign-in is told it is suspended while a wrong one gets the usual 401, no reset mail goes out, and it lifts by
//! itself at its end or when an admin lifts it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// An admin, and Ada signed up: her numeric id and her session.
async fn admin_and_ada(app: &TestApp) -> (Session, i64, Session) {
    let admin = app.admin().await;
    let ada = app.register_user("ada@example.com").await;
    let id = ada.claims()["uid"].as_i64().unwrap();
    (admin, id, ada)
}

async fn suspend(app: &TestApp, admin: &Session, id: i64, body: &Value) -> reqwest::Response {
    app.post_as(&format!("/api/users/{id}/suspension"), &admin.access_token, body).await
}

async fn refresh(app: &TestApp, session: &Session) -> reqwest::Response {
    app.post("/auth/refresh", &json!({ "refresh_token": session.refresh_token })).await
}

async fn a_suspended_user_is_signed_out_everywhere_and_told_only_after_the_right_password(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let (admin, id, ada) = admin_and_ada(&app).await;
    let phone = Session::from_body(&status_and_json(app.login("ada@example.com", PASSWORD).await).await.1);

    let until = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = json!({ "reason": "  Chargeback under review ", "until": until });
    let (status, user) = status_and_json(suspend(&app, &admin, id, &body).await).await;

    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["id"], id);
    assert_eq!(user["suspended"], true);
    assert_eq!(user["suspensionReason"], "Chargeback under review");
    assert_eq!(user["suspendedUntil"], until.as_str());
    // Every session ended at once: access and refresh tokens alike.
    for session in [&ada, &phone] {
        assert_unauthorized(app.get("/users/current", &session.access_token).await).await;
        assert_unauthorized(refresh(&app, session).await).await;
    }
    assert_eq!(app.count("SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND user_id <> 1").await, 0);
    // The right password is told of the suspension; a wrong one learns nothing.
    let problem = assert_problem(app.login("ada@example.com", PASSWORD).await, StatusCode::FORBIDDEN).await;
    assert_eq!(problem["type"], "/problems/account-suspended");
    let problem = assert_unauthorized(app.login("ada@example.com", "not the password").await).await;
    assert_eq!(problem["type"], "/problems/invalid-credentials");
    assert_eq!(app.count("SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND user_id <> 1").await, 0);
    // Both dialects' admin views show it.
    let (_, shown) = status_and_json(app.get(&format!("/api/users/{id}"), &admin.access_token).await).await;
    assert_eq!((shown["suspended"].clone(), shown["suspendedUntil"].clone()), (json!(true), json!(until)));
    let object_id = ada.id();
    let (_, profile) = status_and_json(app.get(&format!("/users/{object_id}"), &admin.access_token).await).await;
    assert_eq!(profile["suspended"], true);
    assert_eq!(profile["suspension_reason"], "Chargeback under review");
    let (_, listed) = status_and_json(app.get("/api/users?limit=100", &admin.access_token).await).await;
    let listed_ada = listed["data"].as_array().unwrap().iter().find(|user| user["id"] == id).unwrap().clone();
    assert_eq!(listed_ada["suspended"], true);
}
on_each_store!(a_suspended_user_is_signed_out_everywhere_and_told_only_after_the_right_password);

async fn lifting_a_suspension_lets_the_user_sign_in_again(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let (admin, id, _) = admin_and_ada(&app).await;
    assert_eq!(suspend(&app, &admin, id, &json!({})).await.status(), StatusCode::OK);

    let response = app.delete(&format!("/api/users/{id}/suspension"), &admin.access_token).await;
    let (status, user) = status_and_json(response).await;

    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["suspended"], false);
    assert_eq!(user["suspendedUntil"], Value::Null);
    assert_eq!(user["suspensionReason"], Value::Null);
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), StatusCode::OK);
    // Lifting it from an active user changes nothing: not the user, nor the audit log.
    let lifted = "SELECT count(*) FROM audit_events WHERE kind = 'user.unsuspended'";
    assert_eq!(app.count(lifted).await, 1);
    let response = app.delete(&format!("/api/users/{id}/suspension"), &admin.access_token).await;
    let (status, again) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["updatedAt"], user["updatedAt"]);
    assert_eq!(app.count(lifted).await, 1);
}
on_each_store!(lifting_a_suspension_lets_the_user_sign_in_again);

async fn a_suspension_without_a_body_lasts_until_lifted(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let (admin, id, _) = admin_and_ada(&app).await;

    let response =
        app.client.post(app.url(&format!("/api/users/{id}/suspension"))).bearer_auth(&admin.access_token).send();
    let (status, user) = status_and_json(response.await.unwrap()).await;

    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!((user["suspended"].clone(), user["suspendedUntil"].clone()), (json!(true), Value::Null));
    assert_eq!(user["suspensionReason"], Value::Null);
    assert_problem(app.login("ada@example.com", PASSWORD).await, StatusCode::FORBIDDEN).await;
}
on_each_store!(a_suspension_without_a_body_lasts_until_lifted);

async fn a_suspension_with_an_end_lifts_by_itself_then(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let (admin, id, _) = admin_and_ada(&app).await;
    let until = chrono::Utc::now() + chrono::Duration::milliseconds(1_500);
    let body = json!({ "until": until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true) });
    assert_eq!(suspend(&app, &admin, id, &body).await.status(), StatusCode::OK);
    assert_problem(app.login("ada@example.com", PASSWORD).await, StatusCode::FORBIDDEN).await;

    tokio::time::sleep(
        (until - chrono::Utc::now()).to_std().unwrap_or_default() + std::time::Duration::from_millis(200),
    )
    .await;

    let (status, signed_in) = status_and_json(app.login("ada@example.com", PASSWORD).await).await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    let (_, user) = status_and_json(app.get(&format!("/api/users/{id}"), &admin.access_token).await).await;
    assert_eq!((user["suspended"].clone(), user["suspendedUntil"].clone()), (json!(false), Value::Null));
}
on_each_store!(a_suspension_with_an_end_lifts_by_itself_then);

async fn a_suspended_account_gets_no_reset_mail_and_its_earlier_link_sets_no_password(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let (admin, id, _) = admin_and_ada(&app).await;
    // A reset link mailed before the suspension.
    let forgot = json!({ "email": "ada@example.com" });
    assert_eq!(app.post("/auth/password/forgot", &forgot).await.status(), StatusCode::ACCEPTED);
    let mails = app.wait_for_mails("ada@example.com", 2).await;
    let token = mails.iter().rev().find(|mail| mail.text.contains("/reset-password")).unwrap().token("/reset-password");
    assert_eq!(suspend(&app, &admin, id, &json!({ "reason": "abuse" })).await.status(), StatusCode::OK);

    // Asked for now, the answer is the same as anyone's, and nothing is queued.
    let queued = "SELECT count(*) FROM mail_outbox WHERE kind = 'reset_password'";
    let before = app.count(queued).await;
    let issued = "SELECT count(*) FROM one_time_tokens WHERE purpose = 'reset_password'";
    let tokens_before = app.count(issued).await;
    // Long enough ago that the minute between mails is no reason to send nothing.
    app.execute_per_store(
        "UPDATE one_time_tokens SET created_at = created_at - interval '2 minutes'",
        "UPDATE one_time_tokens SET created_at = strftime('%Y-%m-%d %H:%M:%f+00:00', 'now', '-2 minutes')",
    )
    .await;
    assert_eq!(app.post("/auth/password/forgot", &forgot).await.status(), StatusCode::ACCEPTED);
    assert_eq!(app.count(queued).await, before);
    assert_eq!(app.count(issued).await, tokens_before, "no new token");
    // An admin is told it cannot be sent.
    let response = app.post_as(&format!("/api/users/{id}/password-reset"), &admin.access_token, &json!({})).await;
    let problem = assert_problem(response, StatusCode::CONFLICT).await;
    assert_eq!(problem["type"], "/problems/account-suspended");
    // The earlier link died with the suspension.
    let reset = json!({ "token": token, "password": "a brand new passphrase" });
    let refused = app.post("/auth/password/reset", &reset).await;
    assert!(refused.status().is_client_error(), "{}", refused.status());
    // Lifted, the old password is still the one.
    app.delete(&format!("/api/users/{id}/suspension"), &admin.access_token).await;
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), StatusCode::OK);
    assert_unauthorized(app.login("ada@example.com", "a brand new passphrase").await).await;
}
on_each_store!(a_suspended_account_gets_no_reset_mail_and_its_earlier_link_sets_no_password);

async fn bad_suspensions_are_refused_and_change_nothing(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let (admin, id, ada) = admin_and_ada(&app).await;
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();

    for (body, field) in [
        (json!({ "until": past }), "until"),
        (json!({ "until": "next tuesday" }), "until"),
        (json!({ "until": "9999-12-31T23:59:59-23:59" }), "until"),
        (json!({ "reason": "   " }), "reason"),
        (json!({ "reason": "x".repeat(501) }), "reason"),
    ] {
        let problem = assert_problem(suspend(&app, &admin, id, &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error_fields(&problem), [field], "{body}");
    }
    assert_problem(suspend(&app, &admin, id, &json!({ "until": 42 })).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_problem(suspend(&app, &admin, 999_999, &json!({})).await, StatusCode::NOT_FOUND).await;
    let response = app.post_as("/api/users/ada/suspension", &admin.access_token, &json!({})).await;
    assert_problem(response, StatusCode::BAD_REQUEST).await;
    assert_problem(suspend(&app, &ada, id, &json!({})).await, StatusCode::FORBIDDEN).await;
    let lift = app.delete("/api/users/999999/suspension", &admin.access_token).await;
    assert_problem(lift, StatusCode::NOT_FOUND).await;

    // Nothing of it took: Ada is active and still signed in.
    assert_eq!(app.get("/users/current", &ada.access_token).await.status(), StatusCode::OK);
    assert_eq!(app.count("SELECT count(*) FROM users WHERE suspended_at IS NOT NULL").await, 0);
}
on_each_store!(bad_suspensions_are_refused_and_change_nothing);

async fn an_admin_cannot_suspend_themselves(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let own = admin.claims()["uid"].as_i64().unwrap();

    let problem = assert_problem(suspend(&app, &admin, own, &json!({})).await, StatusCode::CONFLICT).await;

    assert_eq!(problem["type"], "/problems/cannot-suspend-self");
    assert_eq!(app.get("/users/current", &admin.access_token).await.status(), StatusCode::OK);
}
on_each_store!(an_admin_cannot_suspend_themselves);

async fn two_admins_suspending_each_other_at_once_leave_one_active(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let first = app.admin().await;
    app.register_user("grace@example.com").await;
    app.promote("grace@example.com").await;
    let second = Session::from_body(&status_and_json(app.login("grace@example.com", PASSWORD).await).await.1);
    let (first_id, second_id) = (first.claims()["uid"].as_i64().unwrap(), second.claims()["uid"].as_i64().unwrap());

    let nothing = json!({});
    let (one, other) =
        tokio::join!(suspend(&app, &first, second_id, &nothing), suspend(&app, &second, first_id, &nothing));

    let statuses = [one.status(), other.status()];
    assert_eq!(statuses.iter().filter(|status| **status == StatusCode::OK).count(), 1, "{statuses:?}");
    let suspended_admins = "SELECT count(*) FROM users WHERE suspended_at IS NOT NULL";
    assert_eq!(app.count(suspended_admins).await, 1, "an active admin is left");
}
on_each_store!(two_admins_suspending_each_other_at_once_leave_one_active);

async fn a_user_suspended_on_one_instance_is_refused_on_the_other(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let (admin, id, ada) = admin_and_ada(&app).await;
    let twin = app.spawn_twin();
    let on_twin = |token: &str| app.client.get(format!("{twin}/users/current")).bearer_auth(token.to_owned()).send();
    // The twin remembers Ada as signed in.
    assert_eq!(on_twin(&ada.access_token).await.unwrap().status(), StatusCode::OK);
    assert_eq!(on_twin(&ada.access_token).await.unwrap().status(), StatusCode::OK);

    assert_eq!(suspend(&app, &admin, id, &json!({})).await.status(), StatusCode::OK);

    assert_unauthorized(on_twin(&ada.access_token).await.unwrap()).await;
    let body = json!({ "email": "ada@example.com", "password": PASSWORD });
    let response = app.client.post(format!("{twin}/auth/login")).json(&body).send().await.unwrap();
    assert_problem(response, StatusCode::FORBIDDEN).await;
}
on_each_store!(a_user_suspended_on_one_instance_is_refused_on_the_other);
