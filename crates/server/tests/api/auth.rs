//! `/auth/*`: sign-up, sign-in, refresh-token rotation and sign-out, and the rejection of bad tokens.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::json;
use users_domain::{ObjectId, Role, UserId};
use users_jwt::{Ed25519KeyPair, JwtIssuer};
use users_ports::{SessionId, TokenIssuer, TokenSubject};

use crate::helpers::*;

async fn register_returns_201_with_a_token_pair_and_the_profile_but_never_the_password(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let body = json!({
        "username": "ada", "email": "Ada@Example.com", "password": PASSWORD,
        "first_name": "  Ada ", "last_name": "Lovelace"
    });
    let response = app.post("/auth/register", &body).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    let (status, body) = status_and_json(response).await;

    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3, "a JWT");
    assert!(body["refresh_token"].as_str().unwrap().len() >= 32);
    let user = &body["user"];
    assert_eq!(user["email"], "Ada@Example.com");
    assert_eq!(user["username"], "ada");
    assert_eq!(user["first_name"], "Ada", "names are trimmed");
    assert_eq!(user["roles"], json!(["user"]));
    assert!(ObjectId::parse(user["id"].as_str().unwrap()).is_ok());
    let text = body.to_string();
    assert!(!text.contains(PASSWORD) && !text.contains("argon2") && !text.contains("password"), "{text}");

    let stored =
        app.count("SELECT count(*) FROM users WHERE password_hash LIKE '$argon2id$v=19$m=19456,t=2,p=1$%'").await;
    assert_eq!(stored, 1, "the password is stored as an Argon2id hash");
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 1);
}
on_each_store!(register_returns_201_with_a_token_pair_and_the_profile_but_never_the_password);

async fn invalid_registrations_get_422_naming_every_bad_field_and_store_nothing(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let cases = [
        (json!({ "password": PASSWORD }), vec!["email"]),
        (json!({ "email": "not-an-email", "password": PASSWORD }), vec!["email"]),
        (json!({ "email": format!("{}@example.com", "a".repeat(39)), "password": PASSWORD }), vec!["email"]),
        (json!({ "email": "a@example.com", "password": "1234567" }), vec!["password"]),
        (json!({ "email": "a@example.com", "password": "x".repeat(129) }), vec!["password"]),
        (json!({ "email": "a@example.com" }), vec!["password"]),
        (json!({ "email": "a@example.com", "password": PASSWORD, "username": "a".repeat(21) }), vec!["username"]),
        (json!({ "email": "a@example.com", "password": PASSWORD, "username": "no spaces" }), vec!["username"]),
        (json!({ "email": "a@example.com", "password": PASSWORD, "first_name": "x".repeat(21) }), vec!["first_name"]),
        (json!({ "email": "a@example.com", "password": PASSWORD, "last_name": "   " }), vec!["last_name"]),
        (json!({ "email": "bad", "password": "short", "username": "" }), vec!["username", "email", "password"]),
    ];
    for (body, fields) in cases {
        let problem = assert_problem(app.post("/auth/register", &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error_fields(&problem), fields, "{body}");
    }
    assert_eq!(app.count("SELECT count(*) FROM users").await, 0);
}
on_each_store!(invalid_registrations_get_422_naming_every_bad_field_and_store_nothing);

async fn malformed_bodies_get_400_415_413_or_422(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let url = app.url("/auth/register");
    let send = |body: String, content_type: &'static str| {
        app.client.post(&url).header("content-type", content_type).body(body).send()
    };
    let response = send("{\"email\":".into(), "application/json").await.unwrap();
    assert_problem(response, StatusCode::BAD_REQUEST).await;
    let response = send("email=a@example.com".into(), "application/x-www-form-urlencoded").await.unwrap();
    assert_problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let huge = json!({ "email": "a@example.com", "password": "x".repeat(20_000) }).to_string();
    let response = send(huge, "application/json").await.unwrap();
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    let response = send(json!({ "email": 42, "password": PASSWORD }).to_string(), "application/json").await.unwrap();
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(app.count("SELECT count(*) FROM users").await, 0);
}
on_each_store!(malformed_bodies_get_400_415_413_or_422);

async fn an_email_or_username_is_taken_whatever_its_case(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    app.register(json!({ "email": "ada@example.com", "password": PASSWORD, "username": "Ada" })).await;

    let same_email = json!({ "email": "ADA@example.COM", "password": PASSWORD });
    let problem = assert_problem(app.post("/auth/register", &same_email).await, StatusCode::CONFLICT).await;
    assert_eq!(problem["type"], "/problems/email-taken");
    let same_username = json!({ "email": "other@example.com", "password": PASSWORD, "username": "aDA" });
    let problem = assert_problem(app.post("/auth/register", &same_username).await, StatusCode::CONFLICT).await;
    assert_eq!(problem["type"], "/problems/username-taken");
    assert_eq!(app.count("SELECT count(*) FROM users").await, 1);
}
on_each_store!(an_email_or_username_is_taken_whatever_its_case);

async fn twenty_concurrent_registrations_of_one_email_give_one_201_and_nineteen_409s(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let body = json!({ "email": "race@example.com", "password": PASSWORD });
    let requests = (0..20).map(|_| app.post("/auth/register", &body));
    let statuses: Vec<StatusCode> =
        futures_util::future::join_all(requests).await.iter().map(reqwest::Response::status).collect();

    assert_eq!(statuses.iter().filter(|status| **status == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|status| **status == StatusCode::CONFLICT).count(), 19, "{statuses:?}");
    assert_eq!(app.count("SELECT count(*) FROM users").await, 1);
}
on_each_store!(twenty_concurrent_registrations_of_one_email_give_one_201_and_nineteen_409s);

async fn login_works_by_email_or_username_in_any_case(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let registered = app.register(json!({ "email": "ada@example.com", "password": PASSWORD, "username": "Ada" })).await;

    for body in [
        json!({ "email": "ADA@example.com", "password": PASSWORD }),
        json!({ "username": "ada", "password": PASSWORD }),
    ] {
        let response = app.post("/auth/login", &body).await;
        assert_eq!(response.headers()["cache-control"], "no-store");
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let session = Session::from_body(&body);
        assert_eq!(session.id(), registered.id());
        assert_eq!(app.get("/users/current", &session.access_token).await.status(), StatusCode::OK);
    }
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 3, "each sign-in is its own session");
}
on_each_store!(login_works_by_email_or_username_in_any_case);

async fn a_wrong_password_and_an_unknown_account_get_the_same_401(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    app.register_user("ada@example.com").await;

    let wrong_password = assert_unauthorized(app.login("ada@example.com", "not the password").await).await;
    let unknown_account = assert_unauthorized(app.login("nobody@example.com", PASSWORD).await).await;
    let impossible_password = assert_unauthorized(app.login("ada@example.com", "short").await).await;
    let malformed_email = json!({ "email": "not-an-email", "password": PASSWORD });
    let malformed_email = assert_unauthorized(app.post("/auth/login", &malformed_email).await).await;
    let malformed_username = json!({ "username": "has space", "password": PASSWORD });
    let malformed_username = assert_unauthorized(app.post("/auth/login", &malformed_username).await).await;
    assert_eq!(wrong_password, unknown_account);
    assert_eq!(wrong_password, impossible_password);
    assert_eq!(wrong_password, malformed_email);
    assert_eq!(wrong_password, malformed_username);
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 1, "only the registration's session");
}
on_each_store!(a_wrong_password_and_an_unknown_account_get_the_same_401);

async fn login_without_an_identifier_or_password_is_422(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let problem = assert_problem(
        app.post("/auth/login", &json!({ "password": PASSWORD })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error_fields(&problem), ["email"]);
    let problem = assert_problem(
        app.post("/auth/login", &json!({ "email": "a@example.com" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error_fields(&problem), ["password"]);
}
on_each_store!(login_without_an_identifier_or_password_is_422);

async fn refresh_rotates_the_pair_and_a_replayed_token_revokes_the_session(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let first = app.register_user("ada@example.com").await;

    let (status, body) =
        status_and_json(app.post("/auth/refresh", &json!({ "refresh_token": first.refresh_token })).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let second_refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let second_access = body["access_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first.refresh_token);
    assert_eq!(app.get("/users/current", &second_access).await.status(), StatusCode::OK);

    // The first token was used up: presenting it again after the grace window is a replay, and the session ends.
    app.execute_per_store(
        "UPDATE refresh_tokens SET used_at = used_at - interval '11 seconds' WHERE used_at IS NOT NULL",
        "UPDATE refresh_tokens SET used_at = strftime('%Y-%m-%d %H:%M:%f+00:00', used_at, '-11 seconds') \
         WHERE used_at IS NOT NULL",
    )
    .await;
    assert_unauthorized(app.post("/auth/refresh", &json!({ "refresh_token": first.refresh_token })).await).await;
    assert_unauthorized(app.post("/auth/refresh", &json!({ "refresh_token": second_refresh })).await).await;
    assert_unauthorized(app.get("/users/current", &second_access).await).await;
    assert_unauthorized(app.get("/users/current", &first.access_token).await).await;
    assert_eq!(app.count("SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL").await, 1);
}
on_each_store!(refresh_rotates_the_pair_and_a_replayed_token_revokes_the_session);

async fn tabs_refreshing_one_token_together_all_get_the_same_new_pair_without_ending_the_session(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let first = app.register_user("ada@example.com").await;
    let twin = app.spawn_twin();
    let body = json!({ "refresh_token": first.refresh_token });

    // Four tabs at once, two on each instance.
    let requests = (0..4).map(|tab| {
        let base = if tab % 2 == 0 { app.address.clone() } else { twin.clone() };
        app.client.post(format!("{base}/auth/refresh")).json(&body).send()
    });
    let mut answers = Vec::new();
    for response in futures_util::future::join_all(requests).await {
        answers.push(status_and_json(response.unwrap()).await);
    }
    for (status, answer) in &answers {
        assert_eq!(*status, StatusCode::OK, "{answer}");
        assert_eq!(answer, &answers[0].1, "every tab gets the same pair");
    }
    let pair = &answers[0].1;
    assert_ne!(pair["refresh_token"], first.refresh_token);
    assert_eq!(app.count("SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM refresh_tokens").await, 2, "one successor stored, once");

    // A late tab inside the window gets it too; the pair works and rotates as usual.
    let (status, late) = status_and_json(app.post("/auth/refresh", &body).await).await;
    assert_eq!((status, &late), (StatusCode::OK, pair));
    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(app.get("/users/current", access).await.status(), StatusCode::OK);
    let next = json!({ "refresh_token": pair["refresh_token"] });
    let (status, rotated) = status_and_json(app.post("/auth/refresh", &next).await).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_ne!(rotated["refresh_token"], pair["refresh_token"]);

    // After the window the first token is a replay: the session ends, with every token of it.
    app.execute_per_store(
        "UPDATE refresh_tokens SET used_at = used_at - interval '11 seconds' WHERE used_at IS NOT NULL",
        "UPDATE refresh_tokens SET used_at = strftime('%Y-%m-%d %H:%M:%f+00:00', used_at, '-11 seconds') \
         WHERE used_at IS NOT NULL",
    )
    .await;
    assert_unauthorized(app.post("/auth/refresh", &body).await).await;
    assert_eq!(app.count("SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL").await, 1);
    assert_unauthorized(app.get("/users/current", rotated["access_token"].as_str().unwrap()).await).await;
}
on_each_store!(tabs_refreshing_one_token_together_all_get_the_same_new_pair_without_ending_the_session);

async fn an_unknown_or_missing_refresh_token_is_refused(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    assert_unauthorized(app.post("/auth/refresh", &json!({ "refresh_token": "made-up" })).await).await;
    let problem = assert_problem(app.post("/auth/refresh", &json!({})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error_fields(&problem), ["refresh_token"]);
}
on_each_store!(an_unknown_or_missing_refresh_token_is_refused);

async fn logout_ends_the_session_and_only_that_session(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let first = app.register_user("ada@example.com").await;
    let (_, body) = status_and_json(app.login("ada@example.com", PASSWORD).await).await;
    let second = Session::from_body(&body);
    // Read once before, so that the instance has it in memory when the session ends.
    assert_eq!(app.get("/users/current", &first.access_token).await.status(), StatusCode::OK);

    let response = app.post("/auth/logout", &json!({ "refresh_token": first.refresh_token })).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    assert_unauthorized(app.get("/users/current", &first.access_token).await).await;
    assert_unauthorized(app.post("/auth/refresh", &json!({ "refresh_token": first.refresh_token })).await).await;
    assert_eq!(app.get("/users/current", &second.access_token).await.status(), StatusCode::OK);
    assert_unauthorized(app.post("/auth/logout", &json!({ "refresh_token": "made-up" })).await).await;
}
on_each_store!(logout_ends_the_session_and_only_that_session);

async fn a_session_ended_on_one_instance_ends_on_the_others(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let session = app.register_user("ada@example.com").await;
    let twin = app.spawn_twin();
    let current_on_twin = || async {
        app.client.get(format!("{twin}/users/current")).bearer_auth(&session.access_token).send().await.unwrap()
    };
    // Once the twin listens for changes it answers from memory: a change that notifies nobody stays unseen there.
    let mut remembered = false;
    for attempt in 0..100 {
        let (status, _) = status_and_json(current_on_twin().await).await;
        assert_eq!(status, StatusCode::OK);
        app.execute("ALTER TABLE users DISABLE TRIGGER users_changed").await;
        app.execute(&format!("UPDATE users SET first_name = 'Unheard{attempt}'")).await;
        app.execute("ALTER TABLE users ENABLE TRIGGER users_changed").await;
        let (_, body) = status_and_json(current_on_twin().await).await;
        if body["first_name"] != format!("Unheard{attempt}") {
            remembered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(remembered, "the twin never answered from memory");

    let response = app.post("/auth/logout", &json!({ "refresh_token": session.refresh_token })).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // The twin hears of it through the database's notification, a moment after the sign-out answered.
    for _ in 0..200 {
        if current_on_twin().await.status() == StatusCode::UNAUTHORIZED {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the twin still accepts the ended session after 2 s");
}
on_postgres_only!(a_session_ended_on_one_instance_ends_on_the_others);

async fn requests_without_a_valid_access_token_get_401_with_a_bearer_challenge(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let session = app.register_user("ada@example.com").await;

    let response = app.client.get(app.url("/users/current")).send().await.unwrap();
    assert_unauthorized(response).await;
    let response =
        app.client.get(app.url("/users/current")).header("authorization", "Basic YTpi").send().await.unwrap();
    assert_unauthorized(response).await;
    assert_unauthorized(app.get("/users/current", "not-a-jwt").await).await;
    assert_unauthorized(app.get("/users/current", &format!("{}x", session.access_token)).await).await;

    // Well-formed tokens for this very user and session, but signed with another key, or naming a session sealed
    // with another secret, or expired.
    let subject = TokenSubject {
        user_id: UserId(1),
        object_id: ObjectId::parse(session.id()).unwrap(),
        session_id: SessionId(1),
        roles: vec![Role::User],
        authenticated_at: Utc::now(),
    };
    let ours = app.signing_key();
    let impostor = Ed25519KeyPair::generate(ours.key_id().clone()).unwrap();
    let forger = JwtIssuer::ed25519(&impostor, &[], Duration::minutes(15), app.instance_refresh_secret()).unwrap();
    let forged = forger.issue_access_token(&subject, Utc::now()).unwrap();
    assert_unauthorized(app.get("/users/current", &forged.token).await).await;
    let other_seal = JwtIssuer::ed25519(&ours, &[], Duration::minutes(15), refresh_secret()).unwrap();
    let unsealable = other_seal.issue_access_token(&subject, Utc::now()).unwrap();
    assert_unauthorized(app.get("/users/current", &unsealable.token).await).await;
    let issuer = app.issuer();
    let expired = issuer.issue_access_token(&subject, Utc::now() - Duration::hours(1)).unwrap();
    let problem = assert_unauthorized(app.get("/users/current", &expired.token).await).await;
    assert_eq!(problem["detail"], "the access token has expired");
    let valid = issuer.issue_access_token(&subject, Utc::now()).unwrap();
    assert_eq!(app.get("/users/current", &valid.token).await.status(), StatusCode::OK, "the control case");
}
on_each_store!(requests_without_a_valid_access_token_get_401_with_a_bearer_challenge);

async fn unknown_routes_and_methods_answer_with_problems(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let response = app.client.get(app.url("/nowhere")).send().await.unwrap();
    assert_problem(response, StatusCode::NOT_FOUND).await;
    let response = app.client.get(app.url("/auth/login")).send().await.unwrap();
    assert_problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
}
on_each_store!(unknown_routes_and_methods_answer_with_problems);

async fn the_health_probes_answer(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let (status, body) = status_and_json(app.client.get(app.url("/health/live")).send().await.unwrap()).await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("ok")));
    let (status, body) = status_and_json(app.client.get(app.url("/health/ready")).send().await.unwrap()).await;
    assert_eq!((status, &body["database"]), (StatusCode::OK, &json!("ok")));
}
on_each_store!(the_health_probes_answer);

async fn a_body_must_be_a_json_object_and_bad_types_are_named_without_echoing_the_value(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let positional = json!([null, "ada@example.com", PASSWORD, "Ada", "Lovelace"]);
    let problem = assert_problem(app.post("/auth/register", &positional).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"], json!([{ "field": "body", "message": "must be a JSON object" }]));
    for scalar in [json!("ada@example.com"), json!(42), json!(null)] {
        assert_problem(app.post("/auth/register", &scalar).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    assert_eq!(app.count("SELECT count(*) FROM users").await, 0);

    let typed = json!({ "email": "ada@example.com", "password": 98_765_432_123_u64 });
    let problem = assert_problem(app.post("/auth/login", &typed).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"], json!([{ "field": "password", "message": "must be a string" }]));
    assert!(!problem.to_string().contains("98765432123"), "{problem}");
}
on_each_store!(a_body_must_be_a_json_object_and_bad_types_are_named_without_echoing_the_value);

async fn a_wrong_method_gets_405_with_allow_and_the_probes_answer_head(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let response = app.client.patch(app.url("/users/current")).send().await.unwrap();
    assert_eq!(response.headers()["allow"], "GET, PUT, DELETE");
    assert_problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
    let response = app.client.post(app.url("/health/live")).send().await.unwrap();
    assert_eq!(response.headers()["allow"], "GET, HEAD");
    assert_problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
    assert_eq!(app.client.head(app.url("/health/live")).send().await.unwrap().status(), StatusCode::OK);
}
on_each_store!(a_wrong_method_gets_405_with_allow_and_the_probes_answer_head);

async fn signing_in_or_refreshing_while_the_account_is_deleted_never_fails_with_500(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    // Enough rounds to meet the deadlock a deletion once met with a refresh that took its locks the other way round.
    for round in 0..24 {
        let email = format!("racer{round}@example.com");
        let session = app.register_user(&email).await;
        let refresh = json!({ "refresh_token": session.refresh_token });
        let (login, rotation, deletion) = tokio::join!(
            app.login(&email, PASSWORD),
            app.post("/auth/refresh", &refresh),
            app.delete("/users/current", &session.access_token),
        );
        assert_eq!(deletion.status(), StatusCode::NO_CONTENT);
        for (what, response) in [("sign-in", login), ("refresh", rotation)] {
            let (status, body) = status_and_json(response).await;
            let answered = status == StatusCode::OK || status == StatusCode::UNAUTHORIZED;
            assert!(answered, "round {round}, {what}: {status} {body}");
        }
        let user = format!("SELECT count(*) FROM users WHERE email = '{email}'");
        assert_eq!(app.count(&user).await, 0);
    }
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 0, "no session outlived its user");
}
on_each_store!(signing_in_or_refreshing_while_the_account_is_deleted_never_fails_with_500);

async fn repeated_failed_sign_ins_lock_the_account_across_instances(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    app.register_user("ada@example.com").await;
    let twin = app.spawn_twin();
    let wrong = json!({ "email": "ada@example.com", "password": "not the password" });

    // Ten failures, split between two instances that share only the database.
    for attempt in 0..10 {
        let base = if attempt % 2 == 0 { app.address.clone() } else { twin.clone() };
        let response = app.client.post(format!("{base}/auth/login")).json(&wrong).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    assert_eq!(app.count("SELECT CAST(failed_logins AS BIGINT) FROM users").await, 10);

    // Now even the right password waits, on either instance, and no hash is spent on it.
    for base in [&app.address, &twin] {
        let right = json!({ "email": "ada@example.com", "password": PASSWORD });
        let response = app.client.post(format!("{base}/auth/login")).json(&right).send().await.unwrap();
        let retry_after: i64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry_after), "Retry-After: {retry_after}");
        let problem = assert_problem(response, StatusCode::TOO_MANY_REQUESTS).await;
        assert_eq!(problem["type"], "/problems/too-many-attempts");
    }

    // When the lock has passed, the right password gets in and the counts start again.
    app.execute_per_store(
        "UPDATE login_throttles SET locked_until = now() - interval '1 second'",
        "UPDATE login_throttles SET locked_until = strftime('%Y-%m-%d %H:%M:%f+00:00', 'now', '-1 second')",
    )
    .await;
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(app.count("SELECT CAST(failed_logins AS BIGINT) FROM users").await, 0);
    assert_eq!(app.count("SELECT CAST(failures AS BIGINT) FROM login_throttles").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM login_throttles WHERE locked_until IS NULL").await, 1);
}
on_each_store!(repeated_failed_sign_ins_lock_the_account_across_instances);

// PostgreSQL only: two instances writing one SQLite file at once can meet "database is locked" (a deferred
// transaction that read before the other instance wrote cannot take the write lock, and SQLite refuses it at once
// rather than waiting), which is answered 503 with Retry-After, not the 429 this test expects.
async fn a_burst_of_concurrent_guesses_on_two_instances_gets_ten_checked_and_the_rest_refused(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    app.register_user("ada@example.com").await;
    let twin = app.spawn_twin();
    let wrong = json!({ "email": "ada@example.com", "password": "not the password" });

    let guesses = (0..40).map(|guess| {
        let base = if guess % 2 == 0 { app.address.clone() } else { twin.clone() };
        app.client.post(format!("{base}/auth/login")).json(&wrong).send()
    });
    let statuses: Vec<StatusCode> =
        futures_util::future::join_all(guesses).await.into_iter().map(|response| response.unwrap().status()).collect();
    let checked = statuses.iter().filter(|status| **status == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|status| **status == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, refused), (10, 30), "{statuses:?}");
    assert_eq!(app.count("SELECT CAST(failed_logins AS BIGINT) FROM users").await, 10);
}
on_postgres_only!(a_burst_of_concurrent_guesses_on_two_instances_gets_ten_checked_and_the_rest_refused);
