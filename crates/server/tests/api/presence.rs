//! Proof of presence: a token alone, taken from a log or a browser, cannot change the password or email nor delete
//! the account; the password typed again, or a sign-in within the last few minutes, can.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn assert_reauthentication_required(response: reqwest::Response) {
    let problem = assert_problem(response, StatusCode::FORBIDDEN).await;
    assert_eq!(problem["type"], "/problems/reauthentication-required", "{problem}");
}

async fn delete_with(app: &TestApp, token: &str, body: Option<Value>) -> reqwest::Response {
    let mut request = app.client.delete(app.url("/users/current")).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn a_token_whose_sign_in_is_old_cannot_take_over_the_account(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let session = app.register_user("ada@example.com").await;
    // The same session's token, as it is once the sign-in is ten minutes old (the token itself still valid).
    let stale = app.token_authenticated_at(&session, Utc::now() - Duration::minutes(10));

    for change in [json!({ "password": "a brand new secret" }), json!({ "email": "mallory@example.com" })] {
        assert_reauthentication_required(app.put("/users/current", &stale, &change).await).await;
    }
    assert_reauthentication_required(app.delete("/users/current", &stale).await).await;

    // Nothing changed: the old password signs in, the email is Ada's, the account is there.
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email = 'ada@example.com'").await, 1);
    // Changes that take nothing over need no proof.
    let response = app.put("/users/current", &stale, &json!({ "first_name": "Ada" })).await;
    assert_eq!(response.status(), StatusCode::OK);
}
on_each_store!(a_token_whose_sign_in_is_old_cannot_take_over_the_account);

async fn the_current_password_proves_presence_and_a_wrong_one_counts_as_a_failed_sign_in(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let session = app.register_user("ada@example.com").await;
    let stale = app.token_authenticated_at(&session, Utc::now() - Duration::minutes(10));

    let wrong = json!({ "password": "a brand new secret", "current_password": "not the password" });
    assert_reauthentication_required(app.put("/users/current", &stale, &wrong).await).await;
    // A short one is a password too (an imported account may have one): checked, and counted when wrong.
    let short = json!({ "email": "new@example.com", "current_password": "short" });
    assert_reauthentication_required(app.put("/users/current", &stale, &short).await).await;
    // An empty one cannot be any account's: refused without a check, and not counted.
    let empty = json!({ "email": "new@example.com", "current_password": "" });
    assert_reauthentication_required(app.put("/users/current", &stale, &empty).await).await;
    assert_eq!(app.count("SELECT CAST(failed_logins AS BIGINT) FROM users").await, 2, "the wrong ones were counted");
    assert_eq!(app.count("SELECT CAST(failures AS BIGINT) FROM login_throttles").await, 2);

    let right = json!({ "password": "a brand new secret", "current_password": PASSWORD });
    let response = app.put("/users/current", &stale, &right).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.count("SELECT CAST(failed_logins AS BIGINT) FROM users").await,
        0,
        "a success starts the count again"
    );
    assert_eq!(app.login("ada@example.com", "a brand new secret").await.status(), StatusCode::OK);

    // Deleting takes the password in an optional body.
    let wrong = json!({ "current_password": "not the password" });
    assert_reauthentication_required(delete_with(&app, &stale, Some(wrong)).await).await;
    let right = json!({ "current_password": "a brand new secret" });
    assert_eq!(delete_with(&app, &stale, Some(right)).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.count("SELECT count(*) FROM users").await, 0);
}
on_each_store!(the_current_password_proves_presence_and_a_wrong_one_counts_as_a_failed_sign_in);

async fn wrong_current_passwords_lock_like_failed_sign_ins(store: Store) {
    let Some(app) = spawn_app_with(store, |settings| settings.auth.lockout_threshold = 3).await else { return };
    let session = app.register_user("ada@example.com").await;
    let stale = app.token_authenticated_at(&session, Utc::now() - Duration::minutes(10));
    let wrong = json!({ "email": "new@example.com", "current_password": "not the password" });
    for _ in 0..3 {
        assert_reauthentication_required(app.put("/users/current", &stale, &wrong).await).await;
    }
    let right = json!({ "email": "new@example.com", "current_password": PASSWORD });
    let response = app.put("/users/current", &stale, &right).await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email = 'ada@example.com'").await, 1);
}
on_each_store!(wrong_current_passwords_lock_like_failed_sign_ins);

async fn a_fresh_sign_in_proves_presence_and_a_refresh_does_not_renew_it(store: Store) {
    let Some(app) = spawn_app_with(store, |settings| settings.auth.reauthentication_secs = 2).await else { return };
    let session = app.register_user("ada@example.com").await;
    // Just signed up: the password was entered a moment ago.
    let response = app.put("/users/current", &session.access_token, &json!({ "email": "ada2@example.com" })).await;
    assert_eq!(response.status(), StatusCode::OK);

    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let (status, body) =
        status_and_json(app.post("/auth/refresh", &json!({ "refresh_token": session.refresh_token })).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refreshed = body["access_token"].as_str().unwrap();
    let change = json!({ "password": "a brand new secret" });
    assert_reauthentication_required(app.put("/users/current", refreshed, &change).await).await;
    assert_reauthentication_required(delete_with(&app, refreshed, None).await).await;

    // Signing in again counts.
    let (_, body) = status_and_json(app.login("ada2@example.com", PASSWORD).await).await;
    let signed_in = Session::from_body(&body);
    assert_eq!(app.put("/users/current", &signed_in.access_token, &change).await.status(), StatusCode::OK);
    assert_eq!(delete_with(&app, &signed_in.access_token, None).await.status(), StatusCode::NO_CONTENT);
}
on_each_store!(a_fresh_sign_in_proves_presence_and_a_refresh_does_not_renew_it);

async fn password_changes_count_against_a_budget_per_user(store: Store) {
    let Some(app) = spawn_app_with(store, |settings| {
        settings.rate_limit.password_work_per_minute = 1;
        settings.rate_limit.password_work_burst = 2;
    })
    .await
    else {
        return;
    };
    let ada = app.register_user("ada@example.com").await;
    let bob = app.register_user("bob@example.com").await;
    for n in 0..2 {
        let change = json!({ "password": format!("new secret number {n}") });
        assert_eq!(app.put("/users/current", &ada.access_token, &change).await.status(), StatusCode::OK);
    }
    let change = json!({ "password": "one change too many" });
    let response = app.put("/users/current", &ada.access_token, &change).await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(app.login("ada@example.com", "new secret number 1").await.status(), StatusCode::OK, "not applied");
    // Another user's budget is their own, and changes without a password cost nothing.
    assert_eq!(app.put("/users/current", &bob.access_token, &change).await.status(), StatusCode::OK);
    let profile = json!({ "first_name": "Ada" });
    assert_eq!(app.put("/users/current", &ada.access_token, &profile).await.status(), StatusCode::OK);
}
on_each_store!(password_changes_count_against_a_budget_per_user);

async fn deleting_takes_no_body_a_null_one_or_an_object_and_nothing_else(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let ada = app.register_user("ada@example.com").await;
    let send = |body: &'static str, content_type: &'static str| {
        let request = app.client.delete(app.url("/users/current")).bearer_auth(&ada.access_token);
        request.header("content-type", content_type).body(body).send()
    };
    let problem = assert_problem(send("[]", "application/json").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error_fields(&problem), ["body"]);
    assert_problem(send("{}", "text/plain").await.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert_problem(send("{", "application/json").await.unwrap(), StatusCode::BAD_REQUEST).await;
    assert_eq!(app.count("SELECT count(*) FROM users").await, 1, "nothing deleted so far");
    // `null` is no body: the fresh sign-up is proof enough.
    assert_eq!(send("null", "application/json").await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(app.count("SELECT count(*) FROM users").await, 0);
}
on_each_store!(deleting_takes_no_body_a_null_one_or_an_object_and_nothing_else);

async fn an_admin_token_whose_sign_in_is_old_cannot_take_over_its_own_account_through_the_admin_routes(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let stale = app.token_authenticated_at(&admin, Utc::now() - Duration::minutes(10));
    let own_id = admin.claims()["uid"].as_i64().unwrap();
    let own = format!("/api/users/{own_id}");

    let takeover = json!({ "firstName": "Mallory", "lastName": "Evil", "email": "mallory@example.com" });
    assert_reauthentication_required(
        app.client.put(app.url(&own)).bearer_auth(&stale).json(&takeover).send().await.unwrap(),
    )
    .await;
    assert_reauthentication_required(app.delete(&own, &stale).await).await;
    assert_reauthentication_required(app.delete(&format!("/users/{}", admin.id()), &stale).await).await;
    assert_eq!(app.count(&format!("SELECT count(*) FROM users WHERE email = '{ADMIN_EMAIL}'")).await, 1, "unchanged");

    // A new name needs no proof, and another user is the admin's to manage.
    let rename = json!({ "firstName": "Root", "lastName": "Admin", "email": ADMIN_EMAIL });
    let response = app.client.put(app.url(&own)).bearer_auth(&stale).json(&rename).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let ada = app.register_user("ada@example.com").await;
    assert_eq!(app.delete(&format!("/users/{}", ada.id()), &stale).await.status(), StatusCode::NO_CONTENT);
}
on_each_store!(an_admin_token_whose_sign_in_is_old_cannot_take_over_its_own_account_through_the_admin_routes);
