//! Admin routes of the Profile API: `/users/` listing, and `/users/{userId}` lookup and deletion.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn only_admins_may_use_the_admin_routes(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let user = app.register_user("ada@example.com").await;
    let id_path = format!("/users/{}", user.id());

    for path in ["/users/", "/users", id_path.as_str()] {
        assert_problem(app.get(path, &user.access_token).await, StatusCode::FORBIDDEN).await;
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_unauthorized(response).await;
    }
    assert_problem(app.delete(&id_path, &user.access_token).await, StatusCode::FORBIDDEN).await;
    assert_eq!(app.count("SELECT count(*) FROM users").await, 1, "the forbidden delete changed nothing");
}
on_each_store!(only_admins_may_use_the_admin_routes);

async fn the_list_pages_through_users_in_creation_order(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    for n in 0..5 {
        app.register_user(&format!("user{n}@example.com")).await;
    }

    let (status, body) = status_and_json(app.get("/users/?limit=2&offset=1", &admin.access_token).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["total"].as_u64(), body["limit"].as_u64(), body["offset"].as_u64()), (Some(6), Some(2), Some(1)));
    let emails: Vec<&str> =
        body["data"].as_array().unwrap().iter().map(|user| user["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["user0@example.com", "user1@example.com"]);

    let (_, body) = status_and_json(app.get("/users", &admin.access_token).await).await;
    assert_eq!((body["limit"].as_u64(), body["offset"].as_u64()), (Some(20), Some(0)), "defaults");
    assert_eq!(body["data"].as_array().unwrap().len(), 6);
    assert_eq!(body["data"][0]["roles"], json!(["admin", "user"]));
    assert!(body.to_string().find("argon2").is_none());

    let (_, body) = status_and_json(app.get("/users/?offset=100", &admin.access_token).await).await;
    assert_eq!((body["data"].as_array().unwrap().len(), body["total"].as_u64()), (0, Some(6)));
}
on_each_store!(the_list_pages_through_users_in_creation_order);

async fn bad_paging_parameters_are_400(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    for query in ["limit=0", "limit=51", "limit=-1", "offset=-1", "limit=abc", "offset=1.5"] {
        let response = app.get(&format!("/users/?{query}"), &admin.access_token).await;
        assert_problem(response, StatusCode::BAD_REQUEST).await;
    }
    let (status, _) = status_and_json(app.get("/users/?limit=50", &admin.access_token).await).await;
    assert_eq!(status, StatusCode::OK, "50 is the largest page");
}
on_each_store!(bad_paging_parameters_are_400);

async fn an_admin_looks_users_up_by_object_id(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let user = app.register(json!({ "email": "ada@example.com", "password": PASSWORD, "username": "ada" })).await;

    let (status, body) = status_and_json(app.get(&format!("/users/{}", user.id()), &admin.access_token).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, user.user);
    let upper = user.id().to_uppercase();
    assert_eq!(app.get(&format!("/users/{upper}"), &admin.access_token).await.status(), StatusCode::OK);

    let problem =
        assert_problem(app.get("/users/0123456789abcdef01234567", &admin.access_token).await, StatusCode::NOT_FOUND)
            .await;
    assert_eq!(problem["type"], "/problems/not-found");
    for bad in ["123", "not-an-object-id", "0123456789abcdef0123456z"] {
        assert_problem(app.get(&format!("/users/{bad}"), &admin.access_token).await, StatusCode::BAD_REQUEST).await;
    }
}
on_each_store!(an_admin_looks_users_up_by_object_id);

async fn an_admin_deletes_a_user_whose_tokens_then_stop_working(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let user = app.register_user("ada@example.com").await;
    let path = format!("/users/{}", user.id());

    assert_eq!(app.delete(&path, &admin.access_token).await.status(), StatusCode::NO_CONTENT);

    assert_problem(app.get(&path, &admin.access_token).await, StatusCode::NOT_FOUND).await;
    assert_problem(app.delete(&path, &admin.access_token).await, StatusCode::NOT_FOUND).await;
    assert_unauthorized(app.get("/users/current", &user.access_token).await).await;
    assert_eq!(app.count("SELECT count(*) FROM users").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = 'ada@example.com'")
            .await,
        0
    );
}
on_each_store!(an_admin_deletes_a_user_whose_tokens_then_stop_working);

async fn the_last_admin_cannot_be_deleted_but_one_of_two_can(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let own_path = format!("/users/{}", admin.id());
    assert_problem(app.delete(&own_path, &admin.access_token).await, StatusCode::CONFLICT).await;

    let second = app.register_user("second@example.com").await;
    app.promote("second@example.com").await;
    let (_, promoted) = status_and_json(app.get(&format!("/users/{}", second.id()), &admin.access_token).await).await;
    assert_eq!(promoted["roles"], json!(["admin", "user"]));

    assert_eq!(app.delete(&own_path, &second.access_token).await.status(), StatusCode::NO_CONTENT);
    let (_, body) = status_and_json(app.get("/users/", &second.access_token).await).await;
    let remaining: Vec<&Value> = body["data"].as_array().unwrap().iter().collect();
    assert_eq!(remaining.len(), 1);
    assert_problem(app.delete("/users/current", &second.access_token).await, StatusCode::CONFLICT).await;
}
on_each_store!(the_last_admin_cannot_be_deleted_but_one_of_two_can);
