//! Admin API v1: `/api/users` CRUD with roles and `/api/roles`, and the round trip with the Profile API.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const USER_KEYS: [&str; 14] = [
    "createdAt",
    "email",
    "emailVerified",
    "firstName",
    "id",
    "lastName",
    "lastSignInAt",
    "mfaEnabled",
    "roles",
    "suspended",
    "suspendedUntil",
    "suspensionReason",
    "updatedAt",
    "username",
];

fn new_user(email: &str) -> Value {
    json!({ "firstName": "Grace", "lastName": "Hopper", "email": email, "password": PASSWORD })
}

/// `base` with the fields of `extra` added or replaced.
fn with(mut base: Value, extra: Value) -> Value {
    let fields = base.as_object_mut().expect("an object");
    for (key, value) in extra.as_object().expect("an object") {
        fields.insert(key.clone(), value.clone());
    }
    base
}

fn keys(user: &Value) -> Vec<String> {
    let mut keys: Vec<String> = user.as_object().expect("a user object").keys().cloned().collect();
    keys.sort();
    keys
}

/// The roles claim of an access token, read without verifying (the service verifies; this only looks).
fn token_roles(access_token: &str) -> Value {
    let payload = access_token.split('.').nth(1).expect("JWT payload");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON");
    claims["roles"].clone()
}

async fn create(app: &TestApp, admin: &Session, body: &Value) -> Value {
    let response = app.post_as("/api/users", &admin.access_token, body).await;
    let location = response.headers().get("location").map(|value| value.to_str().unwrap().to_owned());
    let (status, user) = status_and_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(location, Some(format!("/api/users/{}", user["id"])));
    user
}

async fn every_admin_route_needs_a_token_and_the_admin_role(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let user = app.register_user("ada@example.com").await;
    let (_, me) = status_and_json(app.get("/api/users", &admin.access_token).await).await;
    let some_id = me["data"][0]["id"].to_string();
    let item = format!("/api/users/{some_id}");
    let body = new_user("new@example.com");

    let requests = [
        app.client.get(app.url("/api/users")),
        app.client.post(app.url("/api/users")).json(&body),
        app.client.get(app.url(&item)),
        app.client.put(app.url(&item)).json(&body),
        app.client.delete(app.url(&item)),
        app.client.get(app.url("/api/roles")),
    ];
    for request in requests {
        let anonymous = request.try_clone().unwrap().send().await.unwrap();
        assert_unauthorized(anonymous).await;
        let as_user = request.bearer_auth(&user.access_token).send().await.unwrap();
        assert_problem(as_user, StatusCode::FORBIDDEN).await;
    }
    assert_eq!(app.count("SELECT count(*) FROM users").await, 2, "nothing was created or deleted");
}
on_each_store!(every_admin_route_needs_a_token_and_the_admin_role);

async fn roles_are_listed_with_their_ids(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let (status, body) = status_and_json(app.get("/api/roles", &admin.access_token).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!([{ "id": 1, "name": "admin" }, { "id": 2, "name": "user" }]));
}
on_each_store!(roles_are_listed_with_their_ids);

async fn creating_a_user_answers_201_with_location_and_the_camel_case_user(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;

    let user = create(&app, &admin, &new_user("Grace@Example.com")).await;
    assert_eq!(keys(&user), USER_KEYS);
    assert_eq!(user["firstName"], "Grace");
    assert_eq!(user["lastName"], "Hopper");
    assert_eq!(user["email"], "Grace@Example.com");
    assert_eq!(user["username"], Value::Null);
    assert_eq!(user["lastSignInAt"], Value::Null, "never signed in");
    assert_eq!(user["roles"], json!(["user"]), "no roleIds: the user role");
    assert!(user["id"].is_i64() && user["createdAt"].is_string() && user["updatedAt"].is_string());
    assert!(!user.to_string().contains(PASSWORD));

    let admin_too = create(&app, &admin, &with(new_user("b@example.com"), json!({ "roleIds": [1, 2] }))).await;
    assert_eq!(admin_too["roles"], json!(["admin", "user"]));
    let only_admin = create(&app, &admin, &with(new_user("c@example.com"), json!({ "roleIds": [1, 1] }))).await;
    assert_eq!(only_admin["roles"], json!(["admin"]));

    let (status, read_back) =
        status_and_json(app.get(&format!("/api/users/{}", user["id"]), &admin.access_token).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read_back, user);
}
on_each_store!(creating_a_user_answers_201_with_location_and_the_camel_case_user);

async fn invalid_creations_are_422_or_409_and_store_nothing(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    app.register_user("taken@example.com").await;

    let cases = [
        (json!({ "email": "x@example.com", "password": PASSWORD }), vec!["firstName", "lastName"]),
        (
            with(new_user("x@example.com"), json!({ "firstName": "", "lastName": "x".repeat(21) })),
            vec!["firstName", "lastName"],
        ),
        (with(new_user("not-an-email"), json!({ "password": "short" })), vec!["email", "password"]),
        (with(new_user("x@example.com"), json!({ "roleIds": "admin" })), vec!["roleIds"]),
        (with(new_user("x@example.com"), json!({ "roleIds": [1, "2"] })), vec!["roleIds"]),
        (with(new_user("x@example.com"), json!({ "roleIds": [] })), vec!["roleIds"]),
        // Role ids are checked with the other fields, so every mistake is named at once.
        (with(new_user("not-an-email"), json!({ "roleIds": [99] })), vec!["email", "roleIds"]),
    ];
    for (body, fields) in cases {
        let response = app.post_as("/api/users", &admin.access_token, &body).await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error_fields(&problem), fields, "{body}");
    }

    let unknown_roles = with(new_user("x@example.com"), json!({ "roleIds": [2, 99, 3, 99] }));
    let response = app.post_as("/api/users", &admin.access_token, &unknown_roles).await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "roleIds");
    assert_eq!(problem["errors"][0]["message"], "unknown role ids: 3, 99");

    let response = app.post_as("/api/users", &admin.access_token, &new_user("TAKEN@example.com")).await;
    assert_problem(response, StatusCode::CONFLICT).await;
    assert_eq!(app.count("SELECT count(*) FROM users").await, 2, "only the admin and the registered user");
}
on_each_store!(invalid_creations_are_422_or_409_and_store_nothing);

async fn a_user_created_here_signs_in_and_is_the_same_user_in_the_profile_api(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let created = create(&app, &admin, &new_user("grace@example.com")).await;

    let (status, body) = status_and_json(app.login("grace@example.com", PASSWORD).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = Session::from_body(&body);
    assert_eq!(session.user["first_name"], "Grace");
    assert_eq!(session.user["last_name"], "Hopper");

    let (status, profile) =
        status_and_json(app.get(&format!("/users/{}", session.id()), &admin.access_token).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["email"], created["email"]);
    assert_eq!(profile["created_at"], created["createdAt"]);
    assert_eq!(profile["roles"], created["roles"]);

    // And the other way round: a self-registered user is listed here.
    let registered = app.register(json!({ "email": "ada@example.com", "password": PASSWORD, "username": "ada" })).await;
    let (_, page) = status_and_json(app.get("/api/users?limit=100", &admin.access_token).await).await;
    let listed = page["data"].as_array().unwrap().iter().find(|user| user["email"] == "ada@example.com").cloned();
    let listed = listed.expect("the registered user is listed");
    assert_eq!(listed["username"], "ada");
    assert_eq!(listed["createdAt"], registered.user["created_at"]);
}
on_each_store!(a_user_created_here_signs_in_and_is_the_same_user_in_the_profile_api);

async fn get_takes_an_integer_id(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    for bad in ["abc", "1.5", "0x10", "99999999999999999999", "%2B1", "01", "-0"] {
        assert_problem(app.get(&format!("/api/users/{bad}"), &admin.access_token).await, StatusCode::BAD_REQUEST).await;
    }
    assert_problem(app.get("/api/users/424242", &admin.access_token).await, StatusCode::NOT_FOUND).await;
    assert_problem(app.get("/api/users/-1", &admin.access_token).await, StatusCode::NOT_FOUND).await;
}
on_each_store!(get_takes_an_integer_id);

async fn the_list_pages_by_id_with_an_envelope_over_a_few_hundred_users(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    app.execute_per_store(
        "INSERT INTO users (object_id, email, email_key, password_hash, created_at, updated_at) \
         SELECT lpad(to_hex(n), 24, '0'), 'user' || n || '@example.com', 'user' || n || '@example.com', 'not-a-hash', \
         now(), now() \
         FROM generate_series(1, 250) AS n",
        "WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < 250) \
         INSERT INTO users (object_id, email, email_key, password_hash, created_at, updated_at) \
         SELECT printf('%024x', n), 'user' || n || '@example.com', 'user' || n || '@example.com', 'not-a-hash', \
                strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'), strftime('%Y-%m-%d %H:%M:%f+00:00', 'now') \
         FROM numbers",
    )
    .await;
    app.execute("INSERT INTO user_roles (user_id, role_id) SELECT id, 2 FROM users WHERE email LIKE 'user%'").await;

    let page = |query: &'static str| {
        let app = &app;
        let token = admin.access_token.clone();
        async move {
            let (status, body) = status_and_json(app.get(&format!("/api/users{query}"), &token).await).await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            body
        }
    };
    let ids = |body: &Value| -> Vec<i64> {
        body["data"].as_array().unwrap().iter().map(|u| u["id"].as_i64().unwrap()).collect()
    };

    let first = page("").await;
    assert_eq!(
        (&first["page"], &first["limit"], &first["total"], &first["totalPages"]),
        (&json!(1), &json!(10), &json!(251), &json!(26))
    );
    assert_eq!(ids(&first).len(), 10);
    assert!(ids(&first).windows(2).all(|pair| pair[0] < pair[1]), "ordered by id");
    assert_eq!(first["data"][1]["email"], "user1@example.com");

    let last = page("?page=26").await;
    assert_eq!(ids(&last).len(), 1);
    let past_the_end = page("?page=27").await;
    assert_eq!((ids(&past_the_end).len(), &past_the_end["total"]), (0, &json!(251)));

    let big = page("?page=3&limit=100").await;
    assert_eq!((ids(&big).len(), &big["totalPages"], &big["limit"]), (51, &json!(3), &json!(100)));
    let second = page("?page=2&limit=100").await;
    assert_eq!(ids(&second).last().unwrap() + 1, ids(&big)[0], "pages follow one another without gaps");

    let exact = page("?limit=1").await;
    assert_eq!(exact["totalPages"], 251);
    let far = page("?page=9223372036854775807&limit=100").await;
    assert_eq!(ids(&far).len(), 0);
}
on_each_store!(the_list_pages_by_id_with_an_envelope_over_a_few_hundred_users);

async fn bad_page_or_limit_is_400(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    for query in
        ["page=0", "page=-1", "page=abc", "limit=0", "limit=101", "limit=-5", "limit=1.5", "page=99999999999999999999"]
    {
        let response = app.get(&format!("/api/users?{query}"), &admin.access_token).await;
        assert_problem(response, StatusCode::BAD_REQUEST).await;
    }
}
on_each_store!(bad_page_or_limit_is_400);

async fn put_replaces_names_and_email_and_roles_only_when_given(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let user = create(&app, &admin, &with(new_user("grace@example.com"), json!({ "roleIds": [2] }))).await;
    let path = format!("/api/users/{}", user["id"]);

    let replacement = json!({ "firstName": "Amazing", "lastName": "Grace", "email": "amazing@example.com" });
    let (status, replaced) = status_and_json(app.put(&path, &admin.access_token, &replacement).await).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(
        (&replaced["firstName"], &replaced["lastName"], &replaced["email"]),
        (&json!("Amazing"), &json!("Grace"), &json!("amazing@example.com"))
    );
    assert_eq!(replaced["roles"], json!(["user"]), "roles kept when roleIds is absent");
    assert_eq!(replaced["createdAt"], user["createdAt"]);
    assert_ne!(replaced["updatedAt"], user["updatedAt"]);

    let promoted = with(replacement.clone(), json!({ "roleIds": [1, 2] }));
    let (_, body) = status_and_json(app.put(&path, &admin.access_token, &promoted).await).await;
    assert_eq!(body["roles"], json!(["admin", "user"]));
    let (_, read_back) = status_and_json(app.get(&path, &admin.access_token).await).await;
    assert_eq!(read_back, body);
    assert_eq!(app.login("amazing@example.com", PASSWORD).await.status(), StatusCode::OK, "password untouched");
}
on_each_store!(put_replaces_names_and_email_and_roles_only_when_given);

async fn bad_replacements_are_refused_and_change_nothing(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let user = create(&app, &admin, &new_user("grace@example.com")).await;
    app.register_user("taken@example.com").await;
    let path = format!("/api/users/{}", user["id"]);
    let valid = json!({ "firstName": "Amazing", "lastName": "Grace", "email": "amazing@example.com" });

    let response = app.put(&path, &admin.access_token, &json!({ "firstName": "Only" })).await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error_fields(&problem), ["lastName", "email"]);
    let response = app.put(&path, &admin.access_token, &with(valid.clone(), json!({ "roleIds": [7] }))).await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"], json!([{ "field": "roleIds", "message": "unknown role ids: 7" }]));
    let response = app
        .put(&path, &admin.access_token, &with(valid.clone(), json!({ "email": "Taken@example.com", "roleIds": [1] })))
        .await;
    assert_problem(response, StatusCode::CONFLICT).await;
    assert_problem(app.put("/api/users/424242", &admin.access_token, &valid).await, StatusCode::NOT_FOUND).await;
    assert_problem(app.put("/api/users/abc", &admin.access_token, &valid).await, StatusCode::BAD_REQUEST).await;

    let (_, unchanged) = status_and_json(app.get(&path, &admin.access_token).await).await;
    assert_eq!(unchanged, user);
}
on_each_store!(bad_replacements_are_refused_and_change_nothing);

async fn the_last_admin_cannot_be_demoted_or_deleted_here_either(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let (_, page) = status_and_json(app.get("/api/users", &admin.access_token).await).await;
    let me = page["data"][0].clone();
    let path = format!("/api/users/{}", me["id"]);

    let demotion = json!({ "firstName": "New", "lastName": "Name", "email": ADMIN_EMAIL, "roleIds": [2] });
    let problem = assert_problem(app.put(&path, &admin.access_token, &demotion).await, StatusCode::CONFLICT).await;
    assert_eq!(problem["type"], "/problems/last-admin");
    assert_problem(app.delete(&path, &admin.access_token).await, StatusCode::CONFLICT).await;
    let (_, unchanged) = status_and_json(app.get(&path, &admin.access_token).await).await;
    assert_eq!(unchanged, me, "the refused demotion changed nothing, names included");

    // With a second admin, the first can be demoted.
    create(&app, &admin, &with(new_user("second@example.com"), json!({ "roleIds": [1] }))).await;
    let (status, demoted) = status_and_json(app.put(&path, &admin.access_token, &demotion).await).await;
    assert_eq!((status, &demoted["roles"]), (StatusCode::OK, &json!(["user"])));
    assert_problem(app.get("/api/users", &admin.access_token).await, StatusCode::FORBIDDEN).await;
}
on_each_store!(the_last_admin_cannot_be_demoted_or_deleted_here_either);

async fn a_role_change_shows_in_the_users_next_token(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let user = app.register_user("ada@example.com").await;
    assert_eq!(token_roles(&user.access_token), json!(["user"]));
    let (_, page) = status_and_json(app.get("/api/users", &admin.access_token).await).await;
    let id = page["data"].as_array().unwrap().iter().find(|u| u["email"] == "ada@example.com").unwrap()["id"].clone();

    let promotion =
        json!({ "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "roleIds": [1, 2] });
    let response = app.put(&format!("/api/users/{id}"), &admin.access_token, &promotion).await;
    assert_eq!(response.status(), StatusCode::OK);

    let (status, body) =
        status_and_json(app.post("/auth/refresh", &json!({ "refresh_token": user.refresh_token })).await).await;
    assert_eq!(status, StatusCode::OK);
    let next = body["access_token"].as_str().unwrap();
    assert_eq!(token_roles(next), json!(["admin", "user"]));
    assert_eq!(app.get("/api/users", next).await.status(), StatusCode::OK);
}
on_each_store!(a_role_change_shows_in_the_users_next_token);

async fn delete_answers_204_then_404_and_takes_the_sessions(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let session = app.register_user("ada@example.com").await;
    let (_, page) = status_and_json(app.get("/api/users", &admin.access_token).await).await;
    let id = page["data"].as_array().unwrap().iter().find(|u| u["email"] == "ada@example.com").unwrap()["id"].clone();
    let path = format!("/api/users/{id}");

    assert_eq!(app.delete(&path, &admin.access_token).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, &admin.access_token).await, StatusCode::NOT_FOUND).await;
    assert_problem(app.delete(&path, &admin.access_token).await, StatusCode::NOT_FOUND).await;
    assert_problem(app.delete("/api/users/abc", &admin.access_token).await, StatusCode::BAD_REQUEST).await;
    assert_unauthorized(app.get("/users/current", &session.access_token).await).await;
    assert_eq!(app.count(&format!("SELECT count(*) FROM sessions WHERE user_id = {id}")).await, 0);
}
on_each_store!(delete_answers_204_then_404_and_takes_the_sessions);
