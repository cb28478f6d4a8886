//! Token trust: the JWKS, key rotation with tokens in flight, and forged tokens (`alg: none`, algorithm confusion,
//! unknown `kid`), plus the shared-secret mode.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// The decoded header of a JWT.
fn header_of(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

/// The decoded claims of a JWT, unverified.
fn claims_of(token: &str) -> Value {
    let claims = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap()
}

async fn jwks(base: &str) -> (reqwest::header::HeaderMap, JwkSet) {
    let response = reqwest::get(format!("{base}/.well-known/jwks.json")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    (headers, response.json().await.unwrap())
}

async fn current_user_status(base: &str, token: &str) -> StatusCode {
    let client = reqwest::Client::new();
    client.get(format!("{base}/users/current")).bearer_auth(token).send().await.unwrap().status()
}

async fn sign_in(base: &str, email: &str) -> Session {
    let client = reqwest::Client::new();
    let body = json!({ "email": email, "password": PASSWORD });
    let response = client.post(format!("{base}/auth/login")).json(&body).send().await.unwrap();
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    Session::from_body(&body)
}

async fn another_service_verifies_our_tokens_with_the_published_keys_alone(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let session = app.register_user("ada@example.com").await;

    let (headers, set) = jwks(&app.address).await;
    assert_eq!(headers["cache-control"], "public, max-age=300");
    assert_eq!(set.keys.len(), 1);
    let published = serde_json::to_value(&set.keys[0]).unwrap();
    assert_eq!(
        (&published["kty"], &published["crv"], &published["alg"]),
        (&json!("OKP"), &json!("Ed25519"), &json!("EdDSA"))
    );
    assert!(published.get("d").is_none(), "the private key is never published: {published}");

    let header = header_of(&session.access_token);
    assert_eq!(header["alg"], "EdDSA");
    let jwk = set.find(header["kid"].as_str().unwrap()).expect("the token's kid is published");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&["users-service"]);
    let claims =
        jsonwebtoken::decode::<Value>(&session.access_token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .expect("the token verifies with the published key")
            .claims;
    assert_eq!(claims["sub"], session.id());
}
on_each_store!(another_service_verifies_our_tokens_with_the_published_keys_alone);

async fn a_rotated_key_keeps_tokens_in_flight_working_until_it_is_removed(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    app.register_user("ada@example.com").await;
    let before = sign_in(&app.address, "ada@example.com").await;
    let old_kid = header_of(&before.access_token)["kid"].as_str().unwrap().to_owned();

    // Rotation: a new key in the folder; an instance started now signs with it and still trusts the old one.
    let folder = app.settings.auth.jwt_keys_dir.clone();
    let new_kid = users_server::key_ring::add_key(&folder).unwrap().to_string();
    assert!(new_kid > old_kid, "a newer key sorts after the older");
    let rotated = app.spawn_twin();
    assert_eq!(current_user_status(&rotated, &before.access_token).await, StatusCode::OK, "the old token still works");
    let after = sign_in(&rotated, "ada@example.com").await;
    assert_eq!(header_of(&after.access_token)["kid"], new_kid.as_str());
    assert_eq!(current_user_status(&rotated, &after.access_token).await, StatusCode::OK);
    let (_, set) = jwks(&rotated).await;
    assert!(set.find(&old_kid).is_some() && set.find(&new_kid).is_some(), "both keys are published");

    // Once the old tokens have expired the old key is removed; a token it signed is then refused everywhere.
    std::fs::remove_file(folder.join(format!("{old_kid}.pem"))).unwrap();
    let retired = app.spawn_twin();
    assert_eq!(current_user_status(&retired, &before.access_token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(current_user_status(&retired, &after.access_token).await, StatusCode::OK);
    let (_, set) = jwks(&retired).await;
    assert!(set.find(&old_kid).is_none());
}
on_each_store!(a_rotated_key_keeps_tokens_in_flight_working_until_it_is_removed);

async fn a_pinned_signing_key_lets_every_instance_trust_a_new_key_before_it_signs(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    app.register_user("ada@example.com").await;
    let old_kid = app.signing_key().key_id().to_string();
    let new_kid = users_server::key_ring::add_key(&app.settings.auth.jwt_keys_dir).unwrap().to_string();

    let mut pinned = app.settings.clone();
    pinned.auth.jwt_signing_key_id = Some(old_kid.clone());
    let staged = app.spawn_twin_with(&pinned);
    let session = sign_in(&staged, "ada@example.com").await;
    assert_eq!(header_of(&session.access_token)["kid"], old_kid.as_str(), "the pinned key still signs");
    let (_, set) = jwks(&staged).await;
    assert!(set.find(&new_kid).is_some(), "the new key is published before it signs");
}
on_each_store!(a_pinned_signing_key_lets_every_instance_trust_a_new_key_before_it_signs);

async fn unsigned_confused_and_unknown_key_tokens_are_refused(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let session = app.register_user("ada@example.com").await;
    let token = &session.access_token;
    let kid = header_of(token)["kid"].as_str().unwrap().to_owned();
    let claims = claims_of(token);
    let payload = token.split('.').nth(1).unwrap();
    assert_eq!(current_user_status(&app.address, token).await, StatusCode::OK, "the control case");

    // alg none, with and without a signature part.
    for alg in ["none", "None", "NONE"] {
        let header = URL_SAFE_NO_PAD.encode(json!({ "alg": alg, "typ": "JWT", "kid": kid }).to_string());
        for unsigned in [format!("{header}.{payload}."), format!("{header}.{payload}")] {
            let response = app.get("/users/current", &unsigned).await;
            assert_unauthorized(response).await;
        }
    }

    // Algorithm confusion: HS256 keyed with the public key an attacker reads from the JWKS.
    let (_, set) = jwks(&app.address).await;
    let x = serde_json::to_value(set.find(&kid).unwrap()).unwrap()["x"].as_str().unwrap().to_owned();
    let raw = URL_SAFE_NO_PAD.decode(&x).unwrap();
    for secret in [raw.as_slice(), x.as_bytes()] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        let confused = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap();
        assert_unauthorized(app.get("/users/current", &confused).await).await;
    }

    // A key of the attacker's own, under an id we do not know, and under ours.
    let attacker = EncodingKey::from_ed_der(&attacker_pkcs8());
    for forged_kid in ["attacker", kid.as_str()] {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(forged_kid.to_owned());
        let forged = jsonwebtoken::encode(&header, &claims, &attacker).unwrap();
        assert_unauthorized(app.get("/users/current", &forged).await).await;
    }
    // Our own signature with the kid taken off.
    let signature = token.split('.').nth(2).unwrap();
    let no_kid = URL_SAFE_NO_PAD.encode(json!({ "alg": "EdDSA", "typ": "JWT" }).to_string());
    assert_unauthorized(app.get("/users/current", &format!("{no_kid}.{payload}.{signature}")).await).await;
}
on_each_store!(unsigned_confused_and_unknown_key_tokens_are_refused);

/// An Ed25519 private key (PKCS#8 DER) that is not the service's.
fn attacker_pkcs8() -> Vec<u8> {
    let pem = users_jwt::Ed25519KeyPair::generate(users_jwt::KeyId::parse("attacker").unwrap()).unwrap().to_pem();
    let body: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).unwrap()
}

async fn a_shared_secret_still_signs_when_configured_and_is_never_published(store: Store) {
    let secret = "a shared secret of at least 32 bytes, for HS256";
    let Some(app) = spawn_app_with(store, |settings| settings.auth.jwt_secret = Some(secret.into())).await else {
        return;
    };
    let session = app.register_user("ada@example.com").await;
    assert_eq!(header_of(&session.access_token)["alg"], "HS256");
    assert_eq!(app.get("/users/current", &session.access_token).await.status(), StatusCode::OK);
    let (_, set) = jwks(&app.address).await;
    assert!(set.keys.is_empty());
    assert!(!app.settings.auth.jwt_keys_dir.exists(), "no key pair is generated in secret mode");

    // A token an EdDSA instance signed means nothing here, and an HS256 token signed with another secret neither.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = None;
    let other = jsonwebtoken::encode(
        &header,
        &claims_of(&session.access_token),
        &EncodingKey::from_secret(b"another secret of at least 32 bytes!!"),
    )
    .unwrap();
    assert_unauthorized(app.get("/users/current", &other).await).await;
}
on_each_store!(a_shared_secret_still_signs_when_configured_and_is_never_published);

async fn instances_signing_with_different_keys_hand_two_tabs_the_same_refresh_token(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let first = app.register_user("ada@example.com").await;
    // A key rotation under way: this instance still signs with the old key, its twin already with the new one.
    let old_kid = app.signing_key().key_id().to_string();
    let new_kid = users_server::key_ring::add_key(&app.settings.auth.jwt_keys_dir).unwrap().to_string();
    let mut pinned = app.settings.clone();
    pinned.auth.jwt_signing_key_id = Some(old_kid.clone());
    let old = app.spawn_twin_with(&pinned);
    pinned.auth.jwt_signing_key_id = Some(new_kid.clone());
    let new = app.spawn_twin_with(&pinned);

    let body = json!({ "refresh_token": first.refresh_token });
    let (status, on_old) =
        status_and_json(app.client.post(format!("{old}/auth/refresh")).json(&body).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{on_old}");
    let (status, on_new) =
        status_and_json(app.client.post(format!("{new}/auth/refresh")).json(&body).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{on_new}");
    assert_eq!(header_of(on_new["access_token"].as_str().unwrap())["kid"], new_kid.as_str());
    assert_eq!(on_new["refresh_token"], on_old["refresh_token"], "one successor, whichever key signs");
    let next = json!({ "refresh_token": on_new["refresh_token"] });
    assert_eq!(app.post("/auth/refresh", &next).await.status(), StatusCode::OK, "and it is the stored one");
}
on_each_store!(instances_signing_with_different_keys_hand_two_tabs_the_same_refresh_token);

async fn an_instance_with_another_refresh_secret_hands_out_no_successor_it_did_not_store(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let first = app.register_user("ada@example.com").await;
    let mut stranger = app.settings.clone();
    stranger.auth.refresh_secret = Some("a refresh secret no other instance has".to_owned());
    let stranger = app.spawn_twin_with(&stranger);

    let body = json!({ "refresh_token": first.refresh_token });
    let (status, pair) = status_and_json(app.post("/auth/refresh", &body).await).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    // The second tab reaches the misconfigured instance within the grace window: refused, and nothing ends.
    let response = app.client.post(format!("{stranger}/auth/refresh")).json(&body).send().await.unwrap();
    assert_unauthorized(response).await;
    assert_eq!(app.count("SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL").await, 0);
    let next = json!({ "refresh_token": pair["refresh_token"] });
    assert_eq!(app.post("/auth/refresh", &next).await.status(), StatusCode::OK, "the first tab's pair still works");
}
on_each_store!(an_instance_with_another_refresh_secret_hands_out_no_successor_it_did_not_store);

async fn the_refresh_secret_is_generated_once_beside_the_keys_and_kept_private(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let file = app.settings.auth.jwt_keys_dir.join("refresh-token.secret");
    let secret = std::fs::read_to_string(&file).expect("generated on the first start");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    app.spawn_twin();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), secret, "a second instance uses the same one");
}
on_each_store!(the_refresh_secret_is_generated_once_beside_the_keys_and_kept_private);
