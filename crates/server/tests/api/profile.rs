//! `/users/current`: reading, changing and deleting one's own account.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

async fn the_current_user_is_read_fresh_and_never_cached(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let session = app.register(json!({ "email": "ada@example.com", "password": PASSWORD, "username": "ada" })).await;

    let response = app.get("/users/current", &session.access_token).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, session.user);
    assert!(body.get("password_hash").is_none() && body.get("password").is_none());
}
on_each_store!(the_current_user_is_read_fresh_and_never_cached);

async fn an_update_sets_given_fields_clears_null_ones_and_keeps_absent_ones(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let session = app
        .register(json!({ "email": "ada@example.com", "password": PASSWORD, "username": "ada", "first_name": "Ada", "last_name": "Byron" }))
        .await;

    let changes = json!({
        "last_name": "Lovelace", "username": null, "website": "https://ada.example/about",
        "x": "https://x.com/ada", "email": "Countess@Example.com"
    });
    let (status, body) = status_and_json(app.put("/users/current", &session.access_token, &changes).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["first_name"], "Ada", "absent: kept");
    assert_eq!(body["last_name"], "Lovelace", "given: set");
    assert_eq!(body["username"], json!(null), "null: cleared");
    assert_eq!(body["website"], "https://ada.example/about");
    assert_eq!(body["x"], "https://x.com/ada");
    assert_eq!(body["email"], "Countess@Example.com");
    assert_eq!(body["id"], session.user["id"]);
    assert_ne!(body["updated_at"], session.user["updated_at"]);

    let (_, read_back) = status_and_json(app.get("/users/current", &session.access_token).await).await;
    assert_eq!(read_back, body);
    assert_eq!(app.login("countess@example.com", PASSWORD).await.status(), StatusCode::OK);
}
on_each_store!(an_update_sets_given_fields_clears_null_ones_and_keeps_absent_ones);

async fn an_invalid_update_is_422_and_changes_nothing(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let session = app.register(json!({ "email": "ada@example.com", "password": PASSWORD, "first_name": "Ada" })).await;

    let cases = [
        (json!({ "website": "ftp://ada.example", "first_name": "Changed" }), vec!["website"]),
        (json!({ "youtube": "javascript:alert(1)" }), vec!["youtube"]),
        (json!({ "linkedin": format!("https://linkedin.com/{}", "a".repeat(80)) }), vec!["linkedin"]),
        (json!({ "email": null }), vec!["email"]),
        (json!({ "password": null }), vec!["password"]),
        (json!({ "password": "short" }), vec!["password"]),
        (json!({ "first_name": "x".repeat(21), "username": "bad name" }), vec!["username", "first_name"]),
    ];
    for (changes, fields) in cases {
        let response = app.put("/users/current", &session.access_token, &changes).await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error_fields(&problem), fields, "{changes}");
    }
    let (_, unchanged) = status_and_json(app.get("/users/current", &session.access_token).await).await;
    assert_eq!(unchanged, session.user);
}
on_each_store!(an_invalid_update_is_422_and_changes_nothing);

async fn taking_someone_elses_email_or_username_is_409(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    app.register(json!({ "email": "ada@example.com", "password": PASSWORD, "username": "ada" })).await;
    let bob = app.register_user("bob@example.com").await;

    let response = app.put("/users/current", &bob.access_token, &json!({ "email": "ADA@example.com" })).await;
    assert_problem(response, StatusCode::CONFLICT).await;
    let response = app.put("/users/current", &bob.access_token, &json!({ "username": "Ada" })).await;
    assert_problem(response, StatusCode::CONFLICT).await;
    let (_, unchanged) = status_and_json(app.get("/users/current", &bob.access_token).await).await;
    assert_eq!(unchanged, bob.user);
}
on_each_store!(taking_someone_elses_email_or_username_is_409);

async fn a_password_change_signs_out_every_other_session(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let here = app.register_user("ada@example.com").await;
    let (_, body) = status_and_json(app.login("ada@example.com", PASSWORD).await).await;
    let elsewhere = Session::from_body(&body);

    let response = app.put("/users/current", &here.access_token, &json!({ "password": "a brand new secret" })).await;
    assert_eq!(response.status(), StatusCode::OK);

    assert_eq!(app.get("/users/current", &here.access_token).await.status(), StatusCode::OK, "this session stays");
    assert_unauthorized(app.get("/users/current", &elsewhere.access_token).await).await;
    assert_unauthorized(app.post("/auth/refresh", &json!({ "refresh_token": elsewhere.refresh_token })).await).await;
    assert_unauthorized(app.login("ada@example.com", PASSWORD).await).await;
    assert_eq!(app.login("ada@example.com", "a brand new secret").await.status(), StatusCode::OK);
}
on_each_store!(a_password_change_signs_out_every_other_session);

async fn deleting_ones_account_removes_it_with_its_sessions(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let session = app.register_user("ada@example.com").await;
    let other = app.register_user("bob@example.com").await;

    assert_eq!(app.delete("/users/current", &session.access_token).await.status(), StatusCode::NO_CONTENT);

    assert_unauthorized(app.get("/users/current", &session.access_token).await).await;
    assert_unauthorized(app.post("/auth/refresh", &json!({ "refresh_token": session.refresh_token })).await).await;
    assert_unauthorized(app.login("ada@example.com", PASSWORD).await).await;
    assert_eq!(app.count("SELECT count(*) FROM users WHERE lower(email) = 'ada@example.com'").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 1, "only bob's session is left");
    assert_eq!(app.get("/users/current", &other.access_token).await.status(), StatusCode::OK);
    // The address is free again.
    app.register_user("ada@example.com").await;
}
on_each_store!(deleting_ones_account_removes_it_with_its_sessions);

async fn the_last_admin_cannot_delete_their_own_account(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;

    let problem = assert_problem(app.delete("/users/current", &admin.access_token).await, StatusCode::CONFLICT).await;
    assert_eq!(problem["type"], "/problems/last-admin");
    assert_eq!(app.get("/users/current", &admin.access_token).await.status(), StatusCode::OK);
}
on_each_store!(the_last_admin_cannot_delete_their_own_account);

async fn the_most_common_passwords_are_refused_wherever_a_password_is_set(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let expected = json!([{ "field": "password", "message": "is one of the most commonly used passwords" }]);
    for password in ["Password1", "12345678", "QWERTYUIOP"] {
        let body = json!({ "email": "ada@example.com", "password": password });
        let problem = assert_problem(app.post("/auth/register", &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["errors"], expected, "{password}");
    }
    assert_eq!(app.count("SELECT count(*) FROM users").await, 0);

    let session = app.register_user("grace@example.com").await;
    let response = app.put("/users/current", &session.access_token, &json!({ "password": "iloveyou" })).await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(app.login("grace@example.com", PASSWORD).await.status(), StatusCode::OK, "the password is unchanged");

    let admin = app.admin().await;
    let create =
        json!({ "firstName": "Hedy", "lastName": "Lamarr", "email": "hedy@example.com", "password": "sunshine" });
    assert_problem(app.post_as("/api/users", &admin.access_token, &create).await, StatusCode::UNPROCESSABLE_ENTITY)
        .await;
}
on_each_store!(the_most_common_passwords_are_refused_wherever_a_password_is_set);

async fn passwords_made_of_the_accounts_own_names_are_refused_wherever_a_password_is_set(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let expected =
        json!([{ "field": "password", "message": "must not contain your username or the name part of your email" }]);
    let cases = [
        json!({ "email": "ada.lovelace@example.com", "password": "I am ADA.LOVELACE" }),
        json!({ "email": "countess@example.com", "password": "countess" }),
        json!({ "email": "x@example.com", "username": "countess", "password": "countess1815" }),
    ];
    for body in cases {
        let problem = assert_problem(app.post("/auth/register", &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["errors"], expected, "{body}");
    }
    assert_eq!(app.count("SELECT count(*) FROM users").await, 0);
    // A short name is refused only as the whole password: "al" may well be inside one.
    app.register(json!({ "email": "al@example.com", "password": "totally real passphrase" })).await;

    let session =
        app.register(json!({ "email": "grace@example.com", "username": "amazing", "password": PASSWORD })).await;
    for password in ["still amazing", "grace hopper!"] {
        let response = app.put("/users/current", &session.access_token, &json!({ "password": password })).await;
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    assert_eq!(app.login("grace@example.com", PASSWORD).await.status(), StatusCode::OK, "the password is unchanged");
    // Checked against the names the account will have after the change.
    let renamed = json!({ "username": "rear_admiral", "password": "amazing & clever" });
    assert_eq!(app.put("/users/current", &session.access_token, &renamed).await.status(), StatusCode::OK);
    assert_eq!(app.login("grace@example.com", "amazing & clever").await.status(), StatusCode::OK);
    let both = json!({ "email": "hopper@example.com", "password": "admiral hopper" });
    assert_problem(app.put("/users/current", &session.access_token, &both).await, StatusCode::UNPROCESSABLE_ENTITY)
        .await;

    let admin = app.admin().await;
    let create =
        json!({ "firstName": "Hedy", "lastName": "Lamarr", "email": "hedy@example.com", "password": "hedy lamarr" });
    assert_problem(app.post_as("/api/users", &admin.access_token, &create).await, StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email = 'hedy@example.com'").await, 0);
}
on_each_store!(passwords_made_of_the_accounts_own_names_are_refused_wherever_a_password_is_set);
