//! Sessions: a user sees where they are signed in and ends what they do not recognise; an admin signs a user out
//! everywhere. An ended session's tokens stop working at once, on every instance.

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const LAPTOP: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0";
const PHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) Safari/605.1";

impl TestApp {
    /// Signs `email` in with the test password from a device that says `user_agent`.
    async fn sign_in_on(&self, email: &str, user_agent: &str) -> Session {
        let body = json!({ "email": email, "password": PASSWORD });
        let response =
            self.client.post(self.url("/auth/login")).header("user-agent", user_agent).json(&body).send().await;
        let (status, body) = status_and_json(response.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Session::from_body(&body)
    }

    async fn sessions_of(&self, session: &Session) -> Vec<Value> {
        let (status, body) = status_and_json(self.get("/users/current/sessions", &session.access_token).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body.as_array().expect("an array").clone()
    }

    async fn refresh_on(&self, base: &str, refresh_token: &str, user_agent: &str) -> reqwest::Response {
        let body = json!({ "refresh_token": refresh_token });
        self.client
            .post(format!("{base}/auth/refresh"))
            .header("user-agent", user_agent)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

fn ids(sessions: &[Value]) -> Vec<&str> {
    sessions.iter().map(|session| session["id"].as_str().expect("an id")).collect()
}

/// The id of the caller's own session in `sessions`.
fn current_id(sessions: &[Value]) -> String {
    let current: Vec<_> = sessions.iter().filter(|session| session["current"] == true).collect();
    assert_eq!(current.len(), 1, "exactly one current session: {sessions:?}");
    current[0]["id"].as_str().unwrap().to_owned()
}

async fn a_user_lists_their_sessions_most_recently_used_first_with_their_devices(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    app.register_user("ada@example.com").await;
    let laptop = app.sign_in_on("ada@example.com", LAPTOP).await;
    let phone = app.sign_in_on("ada@example.com", PHONE).await;

    let sessions = app.sessions_of(&laptop).await;

    // The sign-up's session and the two sign-ins; the phone's is the latest.
    assert_eq!(sessions.len(), 3, "{sessions:?}");
    let latest = &sessions[0];
    assert_eq!(latest["user_agent"], PHONE);
    assert_eq!(latest["ip"], "127.0.0.1");
    assert_eq!(latest["current"], false);
    assert_eq!(sessions[1]["user_agent"], LAPTOP);
    assert_eq!(sessions[1]["current"], true, "the laptop asked");
    for session in &sessions {
        let id = session["id"].as_str().unwrap();
        assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "an opaque id: {id}");
        for field in ["created_at", "last_used_at", "expires_at"] {
            assert!(session[field].as_str().is_some_and(|time| time.ends_with('Z')), "{field}: {session}");
        }
        let keys: Vec<&String> = session.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 7, "{session}");
    }
    // Neither the ids nor the access token show the database's session number.
    let number = app.count(&format!("SELECT id FROM sessions WHERE public_id = '{}'", ids(&sessions)[0])).await;
    let sid = phone.claims()["sid"].as_str().expect("the token's session is sealed text").to_owned();
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&sid).expect("base64url");
    assert!(!sealed.windows(8).any(|bytes| bytes == number.to_be_bytes() || bytes == number.to_le_bytes()), "{sid}");
    assert_ne!(sid, number.to_string());
    // Each sees its own as current.
    let from_phone = app.sessions_of(&phone).await;
    assert_eq!(current_id(&from_phone), ids(&sessions)[0]);
}
on_each_store!(a_user_lists_their_sessions_most_recently_used_first_with_their_devices);

async fn a_refresh_moves_a_session_to_the_top_with_its_new_device(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let first = app.register_user("ada@example.com").await;
    app.sign_in_on("ada@example.com", PHONE).await;
    let before = app.sessions_of(&first).await;
    let first_id = current_id(&before);
    assert_ne!(ids(&before)[0], first_id, "the sign-up's session is the older one");

    let response = app.refresh_on(&app.address, &first.refresh_token, LAPTOP).await;
    let (status, pair) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{pair}");

    let after = app.sessions_of(&first).await;
    assert_eq!(ids(&after)[0], first_id, "the refreshed one is the most recently used");
    assert_eq!(after[0]["user_agent"], LAPTOP);
    let old = before.iter().find(|session| session["id"] == first_id.as_str()).unwrap();
    assert!(after[0]["last_used_at"].as_str() > old["last_used_at"].as_str(), "{} then {}", old, after[0]);
    assert_eq!(after[0]["created_at"], old["created_at"], "still the same sign-in");
    // Checking an access token writes nothing: the time does not move by use alone.
    app.get("/users/current", pair["access_token"].as_str().unwrap()).await;
    assert_eq!(app.sessions_of(&first).await[0]["last_used_at"], after[0]["last_used_at"]);
}
on_each_store!(a_refresh_moves_a_session_to_the_top_with_its_new_device);

async fn ending_a_session_stops_its_tokens_at_once_and_leaves_the_others(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let laptop = app.register_user("ada@example.com").await;
    let phone = app.sign_in_on("ada@example.com", PHONE).await;
    let phone_id = current_id(&app.sessions_of(&phone).await);
    // The phone's session is in use (and remembered as signed in).
    assert_eq!(app.get("/users/current", &phone.access_token).await.status(), StatusCode::OK);

    let response = app.delete(&format!("/users/current/sessions/{phone_id}"), &laptop.access_token).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    assert_unauthorized(app.get("/users/current", &phone.access_token).await).await;
    assert_unauthorized(app.refresh_on(&app.address, &phone.refresh_token, PHONE).await).await;
    assert_eq!(app.get("/users/current", &laptop.access_token).await.status(), StatusCode::OK);
    let left = app.sessions_of(&laptop).await;
    assert_eq!(left.len(), 1);
    assert_ne!(ids(&left)[0], phone_id);
    assert_eq!(app.count("SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL").await, 1);
    // Ended, it is no longer there to end.
    let again = app.delete(&format!("/users/current/sessions/{phone_id}"), &laptop.access_token).await;
    assert_problem(again, StatusCode::NOT_FOUND).await;
}
on_each_store!(ending_a_session_stops_its_tokens_at_once_and_leaves_the_others);

async fn another_users_session_is_not_found_and_keeps_working(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let ada = app.register_user("ada@example.com").await;
    let mallory = app.register_user("mallory@example.com").await;
    let adas_id = current_id(&app.sessions_of(&ada).await);

    let response = app.delete(&format!("/users/current/sessions/{adas_id}"), &mallory.access_token).await;
    let problem = assert_problem(response, StatusCode::NOT_FOUND).await;
    assert_eq!(problem["type"], "/problems/not-found");

    let made_up = app.delete("/users/current/sessions/0123456789abcdef0123456789abcdef", &mallory.access_token).await;
    assert_problem(made_up, StatusCode::NOT_FOUND).await;
    // Ids are opaque: a database's number, or text no session could have, is not found like any other.
    let shouted = adas_id.to_uppercase();
    for made_up in ["1", "not-a-session", &"f".repeat(200), "%27%20OR%201%3D1--", &shouted] {
        let response = app.delete(&format!("/users/current/sessions/{made_up}"), &mallory.access_token).await;
        let problem = assert_problem(response, StatusCode::NOT_FOUND).await;
        assert_eq!(problem["type"], "/problems/not-found", "{made_up}");
    }
    let response = app.delete(&format!("/users/current/sessions/{shouted}"), &ada.access_token).await;
    assert_problem(response, StatusCode::NOT_FOUND).await;
    assert_eq!(app.get("/users/current", &ada.access_token).await.status(), StatusCode::OK);
    assert_eq!(app.count("SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL").await, 0);
    // Nor does the list show anyone else's.
    assert_eq!(ids(&app.sessions_of(&mallory).await).len(), 1);
}
on_each_store!(another_users_session_is_not_found_and_keeps_working);

async fn ending_every_other_session_keeps_the_one_in_hand(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let kept = app.register_user("ada@example.com").await;
    let others = [app.sign_in_on("ada@example.com", LAPTOP).await, app.sign_in_on("ada@example.com", PHONE).await];
    let bystander = app.register_user("bob@example.com").await;

    let response = app.delete("/users/current/sessions", &kept.access_token).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    for other in &others {
        assert_unauthorized(app.get("/users/current", &other.access_token).await).await;
        assert_unauthorized(app.refresh_on(&app.address, &other.refresh_token, PHONE).await).await;
    }
    let left = app.sessions_of(&kept).await;
    assert_eq!((left.len(), left[0]["current"].clone()), (1, json!(true)));
    assert_eq!(app.get("/users/current", &bystander.access_token).await.status(), StatusCode::OK);
}
on_each_store!(ending_every_other_session_keeps_the_one_in_hand);

async fn the_session_routes_need_a_signed_in_user(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    for path in ["/users/current/sessions", "/users/current/sessions/0123456789abcdef0123456789abcdef"] {
        assert_unauthorized(app.client.delete(app.url(path)).send().await.unwrap()).await;
    }
    assert_unauthorized(app.client.get(app.url("/users/current/sessions")).send().await.unwrap()).await;
    assert_unauthorized(app.get("/users/current/sessions", "not.a.token").await).await;
}
on_each_store!(the_session_routes_need_a_signed_in_user);

async fn an_admin_lists_a_users_sessions_and_signs_them_out_everywhere(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let ada = app.register_user("ada@example.com").await;
    let phone = app.sign_in_on("ada@example.com", PHONE).await;
    let id = ada.claims()["uid"].as_i64().unwrap();

    let (status, sessions) =
        status_and_json(app.get(&format!("/api/users/{id}/sessions"), &admin.access_token).await).await;
    assert_eq!(status, StatusCode::OK, "{sessions}");
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["userAgent"], PHONE);
    for field in ["id", "createdAt", "lastUsedAt", "expiresAt", "ip", "current"] {
        assert!(sessions[0].get(field).is_some(), "{field} in {}", sessions[0]);
    }
    assert!(sessions.iter().all(|session| session["current"] == false), "none is the admin's");

    let response = app.delete(&format!("/api/users/{id}/sessions"), &admin.access_token).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    for session in [&ada, &phone] {
        assert_unauthorized(app.get("/users/current", &session.access_token).await).await;
        assert_unauthorized(app.refresh_on(&app.address, &session.refresh_token, PHONE).await).await;
    }
    let (_, left) = status_and_json(app.get(&format!("/api/users/{id}/sessions"), &admin.access_token).await).await;
    assert_eq!(left, json!([]));
    // The account itself is untouched: its owner signs in again.
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(app.get("/users/current", &admin.access_token).await.status(), StatusCode::OK);
}
on_each_store!(an_admin_lists_a_users_sessions_and_signs_them_out_everywhere);

async fn the_admin_session_routes_refuse_non_admins_and_unknown_users(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let ada = app.register_user("ada@example.com").await;
    let id = ada.claims()["uid"].as_i64().unwrap();
    let path = format!("/api/users/{id}/sessions");

    assert_problem(app.get(&path, &ada.access_token).await, StatusCode::FORBIDDEN).await;
    assert_problem(app.delete(&path, &ada.access_token).await, StatusCode::FORBIDDEN).await;
    assert_problem(app.get("/api/users/999999/sessions", &admin.access_token).await, StatusCode::NOT_FOUND).await;
    assert_problem(app.delete("/api/users/999999/sessions", &admin.access_token).await, StatusCode::NOT_FOUND).await;
    let problem =
        assert_problem(app.get("/api/users/ada/sessions", &admin.access_token).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error_fields(&problem), ["id"]);
    // The non-admin's attempt ended nothing.
    assert_eq!(app.get("/users/current", &ada.access_token).await.status(), StatusCode::OK);
}
on_each_store!(the_admin_session_routes_refuse_non_admins_and_unknown_users);

async fn a_session_ended_on_one_instance_is_refused_on_the_other(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let twin = app.spawn_twin();
    let laptop = app.register_user("ada@example.com").await;
    let phone = app.sign_in_on("ada@example.com", PHONE).await;
    let phone_id = current_id(&app.sessions_of(&phone).await);
    // The twin has the phone's session in use, so it remembers it as signed in.
    let on_twin = |token: &str| app.client.get(format!("{twin}/users/current")).bearer_auth(token.to_owned()).send();
    assert_eq!(on_twin(&phone.access_token).await.unwrap().status(), StatusCode::OK);
    assert_eq!(on_twin(&phone.access_token).await.unwrap().status(), StatusCode::OK);

    let response = app.delete(&format!("/users/current/sessions/{phone_id}"), &laptop.access_token).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    assert_unauthorized(on_twin(&phone.access_token).await.unwrap()).await;
    assert_unauthorized(app.refresh_on(&twin, &phone.refresh_token, PHONE).await).await;
    assert_eq!(on_twin(&laptop.access_token).await.unwrap().status(), StatusCode::OK);
}
on_each_store!(a_session_ended_on_one_instance_is_refused_on_the_other);
