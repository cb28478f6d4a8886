//! The audit log: each security-relevant change leaves an event, written with the change, that admins read by user
//! and kind and users read as their own activity, newest first a page at a time; no event holds a secret.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const AGENT: &str = "audit-test/1.0";

impl TestApp {
    async fn audit(&self, admin: &Session, query: &str) -> Value {
        let (status, body) =
            status_and_json(self.get(&format!("/api/audit-events?{query}"), &admin.access_token).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// The kinds of `user`'s events, newest first (one page of 100).
    async fn kinds_of(&self, admin: &Session, user: i64) -> Vec<String> {
        kinds(&self.audit(admin, &format!("userId={user}&limit=100")).await)
    }

    async fn post_from(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url(path)).header("user-agent", AGENT).json(body).send().await.unwrap()
    }
}

fn kinds(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|event| event["kind"].as_str().unwrap().to_owned()).collect()
}

fn uid(session: &Session) -> i64 {
    session.claims()["uid"].as_i64().unwrap()
}

async fn an_accounts_life_leaves_its_trail_newest_first(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let signed_up = app.post_from("/auth/register", &json!({ "email": "ada@example.com", "password": PASSWORD })).await;
    let ada = Session::from_body(&status_and_json(signed_up).await.1);
    let id = uid(&ada);
    let wrong = json!({ "email": "ada@example.com", "password": "not the password" });
    assert_eq!(app.post_from("/auth/login", &wrong).await.status(), StatusCode::UNAUTHORIZED);
    let right = json!({ "email": "ada@example.com", "password": PASSWORD });
    let phone = Session::from_body(&status_and_json(app.post_from("/auth/login", &right).await).await.1);
    assert_eq!(app.delete("/users/current/sessions", &phone.access_token).await.status(), StatusCode::NO_CONTENT);
    let suspension = json!({ "reason": "chargeback" });
    let response = app.post_as(&format!("/api/users/{id}/suspension"), &admin.access_token, &suspension).await;
    assert_eq!(response.status(), StatusCode::OK);
    app.delete(&format!("/api/users/{id}/suspension"), &admin.access_token).await;
    assert_eq!(
        app.delete(&format!("/api/users/{id}/sessions"), &admin.access_token).await.status(),
        StatusCode::NO_CONTENT
    );

    let page = app.audit(&admin, &format!("userId={id}&limit=100")).await;

    assert_eq!(
        kinds(&page),
        [
            "session.revoked",
            "user.unsuspended",
            "user.suspended",
            "session.revoked",
            "user.signed_in",
            "user.sign_in_failed",
            "user.signed_in",
            "user.registered",
        ]
    );
    assert_eq!(page["next"], Value::Null);
    let events = page["data"].as_array().unwrap();
    let ids: Vec<i64> = events.iter().map(|event| event["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|pair| pair[0] > pair[1]), "newest first: {ids:?}");
    let admin_id = uid(&admin);
    let [signed_out_everywhere, unsuspended, suspended, others_ended, signed_in, failed, _, registered] =
        events.as_slice()
    else {
        unreachable!()
    };
    assert_eq!(
        (signed_out_everywhere["actorId"].as_i64(), signed_out_everywhere["subjectId"].as_i64()),
        (Some(admin_id), Some(id))
    );
    assert_eq!(signed_out_everywhere["details"], json!({ "sessions": "all" }));
    assert_eq!(unsuspended["actorId"], admin_id);
    assert_eq!(suspended["details"]["reason"], "chargeback");
    assert_eq!(
        (others_ended["actorId"].as_i64(), others_ended["details"].clone()),
        (Some(id), json!({ "sessions": "others" }))
    );
    assert_eq!(signed_in["userAgent"], AGENT);
    assert_eq!(signed_in["ip"], "127.0.0.1");
    assert!(signed_in["details"]["session"].as_str().is_some_and(|key| key.len() == 32), "{signed_in}");
    assert_eq!((failed["actorId"].clone(), failed["subjectId"].as_i64()), (Value::Null, Some(id)));
    assert_eq!(registered["details"]["email"], "ada@example.com");
    for event in events {
        assert!(event["at"].as_str().is_some_and(|at| at.ends_with('Z')), "{event}");
        let keys: Vec<&String> = event.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 8, "{event}");
    }
}
on_each_store!(an_accounts_life_leaves_its_trail_newest_first);

async fn a_user_reads_their_own_activity_in_snake_case(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let ada = app.register_user("ada@example.com").await;
    app.register_user("bob@example.com").await;
    let change = json!({ "first_name": "Ada", "website": "https://ada.example.com" });
    assert_eq!(app.put("/users/current", &ada.access_token, &change).await.status(), StatusCode::OK);

    let (status, page) = status_and_json(app.get("/users/current/activity", &ada.access_token).await).await;

    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(kinds(&page), ["user.updated", "user.signed_in", "user.registered"], "nobody else's");
    let updated = &page["data"][0];
    assert_eq!(updated["details"], json!({ "fields": ["first_name", "website"] }));
    assert_eq!((updated["actor_id"].as_i64(), updated["subject_id"].as_i64()), (Some(uid(&ada)), Some(uid(&ada))));
    assert!(updated.get("user_agent").is_some() && updated.get("userAgent").is_none());
    assert_eq!(page["next"], Value::Null);
    assert_unauthorized(app.client.get(app.url("/users/current/activity")).send().await.unwrap()).await;
}
on_each_store!(a_user_reads_their_own_activity_in_snake_case);

async fn a_users_activity_names_the_admin_who_acted_but_not_their_address_or_device(store: Store) {
    // Given an admin who signs Ada out everywhere
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let ada = app.register_user("ada@example.com").await;
    let path = format!("/api/users/{}/sessions", uid(&ada));
    let ended = app.client.delete(app.url(&path)).bearer_auth(&admin.access_token).header("user-agent", AGENT);
    assert_eq!(ended.send().await.unwrap().status(), StatusCode::NO_CONTENT);

    // When Ada signs in again and reads her activity
    let ada = Session::from_body(&status_and_json(app.login("ada@example.com", PASSWORD).await).await.1);
    let (status, page) = status_and_json(app.get("/users/current/activity", &ada.access_token).await).await;

    // Then she sees that the admin ended her sessions, but not from where; the admin's log has both
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(kinds(&page), ["user.signed_in", "session.revoked", "user.signed_in", "user.registered"]);
    let revoked = &page["data"][1];
    assert_eq!((revoked["actor_id"].as_i64(), revoked["subject_id"].as_i64()), (Some(uid(&admin)), Some(uid(&ada))));
    assert_eq!((&revoked["ip"], &revoked["user_agent"]), (&Value::Null, &Value::Null));
    assert_eq!(page["data"][0]["ip"], "127.0.0.1", "her own sign-in shows where from");
    let log = app.audit(&admin, &format!("userId={}&kind=session.revoked", uid(&ada))).await;
    assert_eq!((log["data"][0]["ip"].as_str(), log["data"][0]["userAgent"].as_str()), (Some("127.0.0.1"), Some(AGENT)));
}
on_each_store!(a_users_activity_names_the_admin_who_acted_but_not_their_address_or_device);

async fn pages_follow_next_to_the_end_without_overlap(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    for n in 0..4 {
        app.register_user(&format!("user{n}@example.com")).await;
    }
    let everything = kinds(&app.audit(&admin, "limit=100").await).len();
    assert!(everything >= 10, "{everything} events");

    let mut seen = Vec::new();
    let mut query = "limit=3".to_owned();
    loop {
        let page = app.audit(&admin, &query).await;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 3);
        seen.extend(data.iter().map(|event| event["id"].as_i64().unwrap()));
        match page["next"].as_i64() {
            Some(next) => {
                assert_eq!(Some(next), data.last().and_then(|event| event["id"].as_i64()));
                query = format!("limit=3&before={next}");
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), everything);
    assert!(seen.windows(2).all(|pair| pair[0] > pair[1]), "{seen:?}");

    let only_sign_ups = app.audit(&admin, "kind=user.registered&limit=100").await;
    assert_eq!(kinds(&only_sign_ups), vec!["user.registered"; 4]);
    let one = app.audit(&admin, "kind=user.registered&limit=1").await;
    assert_eq!(one["data"][0]["details"]["email"], "user3@example.com");
    let older = app.audit(&admin, &format!("kind=user.registered&before={}", one["next"])).await;
    assert_eq!(kinds(&older).len(), 3);
}
on_each_store!(pages_follow_next_to_the_end_without_overlap);

async fn bad_queries_are_400_naming_the_parameter_and_only_admins_read_the_log(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let ada = app.register_user("ada@example.com").await;

    for (query, field) in [
        ("kind=user.hacked", "kind"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("before=0", "before"),
        ("userId=0", "userId"),
    ] {
        let problem = assert_problem(
            app.get(&format!("/api/audit-events?{query}"), &admin.access_token).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(error_fields(&problem), [field], "{query}");
    }
    assert_problem(app.get("/api/audit-events?userId=ada", &admin.access_token).await, StatusCode::BAD_REQUEST).await;
    assert_problem(app.get("/users/current/activity?limit=0", &ada.access_token).await, StatusCode::BAD_REQUEST).await;
    assert_problem(app.get("/api/audit-events", &ada.access_token).await, StatusCode::FORBIDDEN).await;
    assert_unauthorized(app.client.get(app.url("/api/audit-events")).send().await.unwrap()).await;
}
on_each_store!(bad_queries_are_400_naming_the_parameter_and_only_admins_read_the_log);

async fn changes_of_password_address_and_roles_are_recorded_without_secrets(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let ada = app.register_user("ada@example.com").await;
    let id = uid(&ada);
    let new_password = "a brand new passphrase";
    let change = json!({ "password": new_password, "email": "lovelace@example.com", "current_password": PASSWORD });
    assert_eq!(app.put("/users/current", &ada.access_token, &change).await.status(), StatusCode::OK);
    let replacement =
        json!({ "firstName": "Ada", "lastName": "Lovelace", "email": "lovelace@example.com", "roleIds": [1, 2] });
    assert_eq!(app.put(&format!("/api/users/{id}"), &admin.access_token, &replacement).await.status(), StatusCode::OK);
    // A reset asked for and used.
    assert_eq!(
        app.post("/auth/password/forgot", &json!({ "email": "lovelace@example.com" })).await.status(),
        StatusCode::ACCEPTED
    );
    let mail = app.wait_for_mails("lovelace@example.com", 2).await;
    let token =
        mail.iter().find(|mail| mail.text.contains("/reset-password")).expect("a reset mail").token("/reset-password");
    let reset = json!({ "token": token, "password": "yet another passphrase" });
    assert_eq!(app.post("/auth/password/reset", &reset).await.status(), StatusCode::NO_CONTENT);

    let page = app.audit(&admin, &format!("userId={id}&limit=100")).await;

    let newest: Vec<String> = kinds(&page).into_iter().take(6).collect();
    assert_eq!(
        newest,
        [
            "password.reset",
            "password.reset_requested",
            "roles.changed",
            "user.updated",
            "email.changed",
            "password.changed"
        ]
    );
    let events = page["data"].as_array().unwrap();
    assert_eq!(events[2]["details"], json!({ "from": ["user"], "to": ["admin", "user"] }));
    assert_eq!(events[2]["actorId"], uid(&admin));
    assert_eq!(events[3]["details"], json!({ "fields": ["first_name", "last_name"] }));
    assert_eq!(events[4]["details"], json!({ "from": "ada@example.com", "to": "lovelace@example.com" }));
    assert_eq!(events[1]["actorId"], Value::Null, "asked for by whoever knew the address");
    let text = page.to_string();
    for secret in [PASSWORD, new_password, "yet another passphrase", token.as_str(), "$argon2", &ada.refresh_token] {
        assert!(!text.contains(secret), "an event holds {secret}");
    }
}
on_each_store!(changes_of_password_address_and_roles_are_recorded_without_secrets);

async fn a_refused_change_records_nothing_and_a_deleted_users_events_remain(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let ada = app.register_user("ada@example.com").await;
    app.register_user("bob@example.com").await;
    let id = uid(&ada);
    let before = app.kinds_of(&admin, id).await;

    let taken = app
        .put(
            "/users/current",
            &ada.access_token,
            &json!({ "username": "x", "email": "bob@example.com", "current_password": PASSWORD }),
        )
        .await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    assert_eq!(app.kinds_of(&admin, id).await, before, "nothing changed, nothing recorded");

    assert_eq!(app.delete(&format!("/api/users/{id}"), &admin.access_token).await.status(), StatusCode::NO_CONTENT);
    let after = app.audit(&admin, &format!("userId={id}&limit=100")).await;
    assert_eq!(kinds(&after)[0], "user.deleted");
    assert_eq!(after["data"][0]["actorId"], uid(&admin));
    assert_eq!(kinds(&after).len(), before.len() + 1, "the earlier events stay");
}
on_each_store!(a_refused_change_records_nothing_and_a_deleted_users_events_remain);

async fn events_older_than_the_retention_are_pruned_in_the_background(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    app.register_user("ada@example.com").await;
    let recent = kinds(&app.audit(&admin, "limit=100").await).len();
    app.execute_per_store(
        "INSERT INTO audit_events (at, kind, details) VALUES (now() - interval '400 days', 'user.registered', '{}')",
        "INSERT INTO audit_events (at, kind, details) \
         VALUES (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now', '-400 days'), 'user.registered', '{}')",
    )
    .await;
    assert_eq!(kinds(&app.audit(&admin, "limit=100").await).len(), recent + 1);

    // An instance prunes as it starts, then every ten minutes.
    let twin = app.spawn_twin();
    let _ = app.client.get(format!("{twin}/health/ready")).send().await;
    for _ in 0..50 {
        if kinds(&app.audit(&admin, "limit=100").await).len() == recent {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the year-old event was not pruned");
}
on_each_store!(events_older_than_the_retention_are_pruned_in_the_background);
