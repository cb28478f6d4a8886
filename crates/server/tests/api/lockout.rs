//! The lockout cannot be turned against the owner: failed sign-ins lock the network they come from (IPv4 /24,
//! IPv6 /64), an account-wide backstop stops guessing spread over many networks, and an admin can lift every lock.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// An app behind a trusted proxy at 127.0.0.1, so each request says which client it comes from.
async fn behind_a_proxy(store: Store, adjust: impl FnOnce(&mut users_server::Settings)) -> Option<TestApp> {
    spawn_app_with(store, |settings| {
        settings.rate_limit.trusted_proxies = vec!["127.0.0.1".to_owned()];
        adjust(settings);
    })
    .await
}

async fn login_from(app: &TestApp, client: &str, password: &str) -> reqwest::Response {
    let body = json!({ "email": "ada@example.com", "password": password });
    app.client.post(app.url("/auth/login")).header("x-forwarded-for", client).json(&body).send().await.unwrap()
}

async fn assert_locked(response: reqwest::Response) {
    let retry_after: i64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After: {retry_after}");
    let problem = assert_problem(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(problem["type"], "/problems/too-many-attempts");
}

async fn an_attackers_failures_lock_their_network_while_the_owner_signs_in_from_another(store: Store) {
    let Some(app) = behind_a_proxy(store, |_| {}).await else { return };
    app.register_user("ada@example.com").await;

    for guess in 0..10 {
        // Anywhere in the attacker's /24.
        let attacker = format!("203.0.113.{}", 10 + guess);
        assert_unauthorized(login_from(&app, &attacker, "not the password").await).await;
    }
    assert_locked(login_from(&app, "203.0.113.200", PASSWORD).await).await;
    // The owner, at home, is not held by it; nor is an IPv6 client.
    assert_eq!(login_from(&app, "198.51.100.7", PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(login_from(&app, "2001:db8:1:2::7", PASSWORD).await.status(), StatusCode::OK);
    // And the owner's success lifts nothing for the attacker.
    assert_locked(login_from(&app, "203.0.113.9", "not the password").await).await;
}
on_each_store!(an_attackers_failures_lock_their_network_while_the_owner_signs_in_from_another);

async fn guessing_spread_over_many_networks_reaches_the_backstop_and_an_admin_lifts_every_lock(store: Store) {
    let Some(app) = behind_a_proxy(store, |settings| settings.auth.lockout_backstop = 5).await else { return };
    let admin = app.admin().await;
    let ada = app.register_user("ada@example.com").await;
    for network in 0..5 {
        let attacker = format!("203.0.{network}.9");
        assert_unauthorized(login_from(&app, &attacker, "not the password").await).await;
    }
    // Five failures from five networks: every network is refused now, the owner's too.
    assert_locked(login_from(&app, "198.51.100.7", PASSWORD).await).await;

    let id = app.count("SELECT id FROM users WHERE email = 'ada@example.com'").await;
    let lockout = format!("/api/users/{id}/lockout");
    let response = app.client.delete(app.url(&lockout)).bearer_auth(&ada.access_token).send().await.unwrap();
    assert_problem(response, StatusCode::FORBIDDEN).await;
    let response = app.client.delete(app.url(&lockout)).bearer_auth(&admin.access_token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.count(&format!("SELECT count(*) FROM login_throttles WHERE user_id = {id}")).await, 0);
    assert_eq!(app.count(&format!("SELECT CAST(failed_logins AS BIGINT) FROM users WHERE id = {id}")).await, 0);
    assert_eq!(login_from(&app, "198.51.100.7", PASSWORD).await.status(), StatusCode::OK);

    let response = app.client.delete(app.url("/api/users/999999/lockout")).bearer_auth(&admin.access_token).send();
    assert_problem(response.await.unwrap(), StatusCode::NOT_FOUND).await;
}
on_each_store!(guessing_spread_over_many_networks_reaches_the_backstop_and_an_admin_lifts_every_lock);

async fn concurrent_correct_sign_ins_from_one_network_all_get_in(store: Store) {
    let Some(app) = behind_a_proxy(store, |_| {}).await else { return };
    app.register_user("ada@example.com").await;
    let sign_ins = (0..25).map(|_| login_from(&app, "198.51.100.7", PASSWORD));
    let statuses: Vec<StatusCode> =
        futures_util::future::join_all(sign_ins).await.into_iter().map(|response| response.status()).collect();
    assert!(statuses.iter().all(|status| *status == StatusCode::OK), "{statuses:?}");
    assert_eq!(app.count("SELECT count(*) FROM login_throttles WHERE locked_until IS NOT NULL").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 26, "the sign-up's and each sign-in's");
}
on_each_store!(concurrent_correct_sign_ins_from_one_network_all_get_in);

async fn no_sign_in_outlives_a_password_change_it_raced(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let owner = app.register_user("ada@example.com").await;
    let mut password = PASSWORD.to_owned();
    for round in 0..8 {
        let new_password = format!("new secret number {round}");
        let change = json!({ "password": new_password });
        let (signed_in, changed) = tokio::join!(
            app.login("ada@example.com", &password),
            app.put("/users/current", &owner.access_token, &change)
        );
        assert_eq!(changed.status(), StatusCode::OK, "round {round}");
        if signed_in.status() == StatusCode::OK {
            // Whichever came first, a sign-in with the old password has no session after the change.
            let (_, body) = status_and_json(signed_in).await;
            let raced = Session::from_body(&body);
            assert_unauthorized(app.get("/users/current", &raced.access_token).await).await;
            let refresh = json!({ "refresh_token": raced.refresh_token });
            assert_unauthorized(app.post("/auth/refresh", &refresh).await).await;
        } else {
            assert_unauthorized(signed_in).await;
        }
        password = new_password;
    }
    assert_eq!(app.get("/users/current", &owner.access_token).await.status(), StatusCode::OK, "the changer's own");
    assert_eq!(app.count("SELECT count(*) FROM sessions WHERE revoked_at IS NULL").await, 1);
}
on_each_store!(no_sign_in_outlives_a_password_change_it_raced);

async fn a_burst_beyond_the_hashing_queue_is_refused_at_once_and_stores_nothing(store: Store) {
    let Some(app) = spawn_app_with(store, |settings| settings.auth.password_hash_queue = 1).await else { return };
    let bodies: Vec<_> =
        (0..40).map(|n| json!({ "email": format!("user{n}@example.com"), "password": PASSWORD })).collect();
    let responses = futures_util::future::join_all(bodies.iter().map(|body| app.post("/auth/register", body))).await;
    let mut created = 0;
    let mut refused = 0;
    for response in responses {
        match response.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(response.headers()["retry-after"], "1");
                let problem = assert_problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
                assert_eq!(problem["type"], "/problems/busy");
                refused += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(refused > 0, "40 hashes at once cannot all wait in a queue of 1");
    assert_eq!(app.count("SELECT count(*) FROM users").await, created, "a refused sign-up stores nothing");
    // Once the burst has passed, sign-ups are taken again.
    app.register_user("after@example.com").await;
}
on_each_store!(a_burst_beyond_the_hashing_queue_is_refused_at_once_and_stores_nothing);
