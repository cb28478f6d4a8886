//! A second factor: an account enrols a TOTP authenticator (confirmed with a code, which hands out ten recovery
//! codes), and from then on a sign-in asks for a code after the password. The codes are computed here as an
//! authenticator app would (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), independently of the service's
//! implementation, against the real clock.

use std::time::{Duration as StdDuration, SystemTime, UNIX_EPOCH};

use chrono::{Duration, Utc};
use hmac::{Hmac, Mac as _};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sha1::Sha1;

use crate::helpers::*;

const PERIOD_SECS: u64 = 30;

/// An authenticator app of the test's own: the key it was given, and the last step whose code the service accepted
/// (the service accepts only later ones).
struct Authenticator {
    key: Vec<u8>,
    last_step: Option<u64>,
}

impl Authenticator {
    fn new(secret: &str) -> Self {
        Self { key: base32_decode(secret), last_step: None }
    }

    /// The code of `step`: HOTP (RFC 4226) of the step as an 8-byte big-endian counter.
    fn code_at(&self, step: u64) -> String {
        hotp(&self.key, step)
    }

    /// A code the service accepts now and has not accepted before: the earliest step of its window (one step either
    /// side of the clock's) after the last one accepted, so that a test rarely has to wait for the clock. Waits only
    /// when every step of the window is used up. Remembered as accepted.
    async fn fresh_code(&mut self) -> String {
        loop {
            let now = unix_now();
            let current = now.as_secs() / PERIOD_SECS;
            let left_in_step = StdDuration::from_secs((current + 1) * PERIOD_SECS).saturating_sub(now);
            let next_unused = self.last_step.map_or(0, |last| last + 1);
            // The previous step's code, unless its step may leave the window before the request is checked (a busy
            // machine hashing passwords for tests in parallel is slow).
            let earliest = if left_in_step < StdDuration::from_secs(10) { current } else { current - 1 };
            let step = earliest.max(next_unused);
            if step > current + 1 {
                // Even the next step is used: wait for the clock to enter it (its successor is then in the window).
                tokio::time::sleep(left_in_step + StdDuration::from_millis(50)).await;
                continue;
            }
            self.last_step = Some(step);
            return self.code_at(step);
        }
    }

    /// A code the service would accept now, for a request refused before its code is checked (a used or void
    /// token): not remembered as accepted, so that a later request can have it.
    async fn code_left_unused(&mut self) -> String {
        let last_step = self.last_step;
        let code = self.fresh_code().await;
        self.last_step = last_step;
        code
    }

    /// Six digits that are no code of any step near the clock: a wrong guess.
    fn wrong_code(&self) -> String {
        let current = unix_now().as_secs() / PERIOD_SECS;
        let near: Vec<String> = (current - 2..=current + 2).map(|step| self.code_at(step)).collect();
        (0..)
            .map(|guess: u32| format!("{:06}", (guess * 7_919) % 1_000_000))
            .find(|guess| !near.contains(guess))
            .expect("a code no step has")
    }
}

fn unix_now() -> StdDuration {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970")
}

/// HOTP (RFC 4226): HMAC-SHA1 of the counter, dynamic truncation, six decimal digits.
fn hotp(key: &[u8], counter: u64) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary =
        u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    format!("{:06}", binary % 1_000_000)
}

/// Base32 (RFC 4648) as an authenticator app reads a typed key: case and padding do not matter.
fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut buffer, mut bytes) = (0u32, 0u32, Vec::new());
    for character in text.trim_end_matches('=').bytes() {
        let value = ALPHABET
            .iter()
            .position(|letter| *letter == character.to_ascii_uppercase())
            .unwrap_or_else(|| panic!("{text:?} is not base32"));
        buffer = (buffer << 5) | u32::try_from(value).expect("below 32");
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push(u8::try_from((buffer >> bits) & 0xff).expect("a byte"));
        }
    }
    bytes
}

#[test]
fn the_tests_own_authenticator_computes_the_rfc_6238_codes() {
    // RFC 6238's SHA-1 key, as base32, and its test vectors cut to six digits (T = 59, 1111111109, 1234567890 and
    // 20000000000 s).
    let app = Authenticator::new("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    assert_eq!(app.key, b"12345678901234567890");
    assert_eq!(app.code_at(59 / PERIOD_SECS), "287082");
    assert_eq!(app.code_at(1_111_111_109 / PERIOD_SECS), "081804");
    assert_eq!(app.code_at(1_234_567_890 / PERIOD_SECS), "005924");
    assert_eq!(app.code_at(20_000_000_000 / PERIOD_SECS), "353130");
}

fn user_id(session: &Session) -> i64 {
    session.claims()["uid"].as_i64().expect("uid")
}

async fn assert_problem_type(response: Response, status: StatusCode, slug: &str) -> Value {
    let problem = assert_problem(response, status).await;
    assert_eq!(problem["type"], format!("/problems/{slug}"), "{problem}");
    problem
}

/// A 401 with the bearer challenge, of the problem `slug`.
async fn assert_refused(response: Response, slug: &str) -> Value {
    let problem = assert_unauthorized(response).await;
    assert_eq!(problem["type"], format!("/problems/{slug}"), "{problem}");
    problem
}

impl TestApp {
    /// `POST` with no body at all, as the README's curl does.
    async fn post_without_body(&self, path: &str, token: &str) -> Response {
        self.client.post(self.url(path)).bearer_auth(token).send().await.expect("request")
    }

    async fn delete_with_body(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client.delete(self.url(path)).bearer_auth(token).json(body).send().await.expect("request")
    }

    /// Starts an enrolment from a session that signed in a moment ago; the secret and URI answered.
    async fn start_enrolment(&self, session: &Session) -> (String, String) {
        let (status, body) =
            status_and_json(self.post_without_body("/users/current/mfa/totp", &session.access_token).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let secret = body["secret"].as_str().expect("secret").to_owned();
        let uri = body["otpauth_uri"].as_str().expect("otpauth_uri").to_owned();
        let qr = body["qr_svg"].as_str().expect("qr_svg");
        assert!(qr.contains("<svg") && qr.trim_end().ends_with("</svg>"), "a QR code in SVG: {qr:.80}");
        (secret, uri)
    }

    async fn confirm(&self, session: &Session, code: &str) -> Response {
        self.post_as("/users/current/mfa/totp/confirm", &session.access_token, &json!({ "code": code })).await
    }

    /// Registers `email`, enrols an authenticator and confirms it: the session, the app and the recovery codes.
    async fn user_with_second_factor(&self, email: &str) -> (Session, Authenticator, Vec<String>) {
        let session = self.register_user(email).await;
        let (secret, _) = self.start_enrolment(&session).await;
        let mut app = Authenticator::new(&secret);
        let (status, body) = status_and_json(self.confirm(&session, &app.fresh_code().await).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let codes = body["recovery_codes"].as_array().expect("recovery_codes");
        let codes = codes.iter().map(|code| code.as_str().expect("a string").to_owned()).collect();
        (session, app, codes)
    }

    /// The first step of the sign-in of an account with a second factor: its `mfa_token`, after checking that the
    /// answer holds that token and nothing that signs in.
    async fn first_step(&self, email: &str, password: &str) -> String {
        let (status, body) = status_and_json(self.login(email, password).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["mfa_required"], true, "{body}");
        assert_eq!(body["expires_in"], 300, "{body}");
        let mut keys: Vec<&str> = body.as_object().expect("an object").keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["expires_in", "mfa_required", "mfa_token"], "no token that signs in: {body}");
        let token = body["mfa_token"].as_str().expect("mfa_token");
        assert!(!token.is_empty());
        token.to_owned()
    }

    async fn second_step(&self, mfa_token: &str, code: &str) -> Response {
        self.post("/auth/login/mfa", &json!({ "mfa_token": mfa_token, "code": code })).await
    }

    /// The second step, expected to sign in.
    async fn signed_in_with_code(&self, mfa_token: &str, code: &str) -> Session {
        let (status, body) = status_and_json(self.second_step(mfa_token, code).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Session::from_body(&body)
    }

    /// A sign-in with the password alone, expected to sign in at once.
    async fn signed_in_with_password(&self, email: &str, password: &str) -> Session {
        let (status, body) = status_and_json(self.login(email, password).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("mfa_required").is_none(), "{body}");
        Session::from_body(&body)
    }

    /// The audit events an admin reads with `query`, newest first.
    async fn audit_events(&self, admin: &Session, query: &str) -> Vec<Value> {
        let (status, page) =
            status_and_json(self.get(&format!("/api/audit-events?{query}"), &admin.access_token).await).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["data"].as_array().expect("data").clone()
    }

    async fn activity_kinds(&self, session: &Session) -> Vec<String> {
        let (status, page) = status_and_json(self.get("/users/current/activity", &session.access_token).await).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let events = page["data"].as_array().expect("data");
        events.iter().map(|event| event["kind"].as_str().expect("kind").to_owned()).collect()
    }

    async fn profile(&self, session: &Session) -> Value {
        let (status, body) = status_and_json(self.get("/users/current", &session.access_token).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn admin_view(&self, admin: &Session, id: i64) -> Value {
        let (status, body) = status_and_json(self.get(&format!("/api/users/{id}"), &admin.access_token).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

async fn given_an_enrolment_when_a_current_code_confirms_it_then_it_is_enabled_with_ten_recovery_codes(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let ada = app.register_user("ada@example.com").await;
    let id = user_id(&ada);
    assert_eq!(app.profile(&ada).await["mfa_enabled"], false);
    assert_eq!(app.admin_view(&admin, id).await["mfaEnabled"], false);

    let (secret, uri) = app.start_enrolment(&ada).await;
    assert!(base32_decode(&secret).len() >= 20, "at least 160 bits: {secret}");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")) && uri.contains("issuer=Users"), "{uri}");
    // Pending: nothing changes until a code confirms it.
    assert_eq!(app.profile(&ada).await["mfa_enabled"], false);
    app.signed_in_with_password("ada@example.com", PASSWORD).await;

    let mut authenticator = Authenticator::new(&secret);
    let response = app.confirm(&ada, &authenticator.fresh_code().await).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    let (status, body) = status_and_json(response).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let codes: Vec<&str> = body["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(codes.len(), 10, "{body}");
    let distinct: std::collections::HashSet<&str> = codes.iter().copied().collect();
    assert_eq!(distinct.len(), 10, "all different: {codes:?}");
    for code in &codes {
        let groups: Vec<&str> = code.split('-').collect();
        assert_eq!(groups.len(), 4, "{code}");
        assert!(
            groups
                .iter()
                .all(|group| group.len() == 4
                    && group.bytes().all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c))),
            "four groups of four base32 letters: {code}"
        );
    }
    assert_eq!(app.profile(&ada).await["mfa_enabled"], true);
    assert_eq!(app.admin_view(&admin, id).await["mfaEnabled"], true);
    let enabled = app.audit_events(&admin, "kind=mfa.enabled").await;
    assert_eq!(enabled.len(), 1, "{enabled:?}");
    assert_eq!((enabled[0]["actorId"].as_i64(), enabled[0]["subjectId"].as_i64()), (Some(id), Some(id)));
    assert_eq!(enabled[0]["details"]["method"], "totp", "{}", enabled[0]);
    assert_eq!(app.activity_kinds(&ada).await.first().map(String::as_str), Some("mfa.enabled"));
}
on_each_store!(given_an_enrolment_when_a_current_code_confirms_it_then_it_is_enabled_with_ten_recovery_codes);

async fn given_a_second_factor_when_signing_in_then_a_code_is_asked_for_and_the_mfa_token_works_once(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let (_, mut authenticator, _) = app.user_with_second_factor("ada@example.com").await;

    let mfa_token = app.first_step("ada@example.com", PASSWORD).await;
    let response = app.second_step(&mfa_token, &authenticator.fresh_code().await).await;

    assert_eq!(response.headers()["cache-control"], "no-store");
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["mfa_enabled"], true);
    let session = Session::from_body(&body);
    assert_eq!(app.profile(&session).await["email"], "ada@example.com");
    let (status, refreshed) =
        status_and_json(app.post("/auth/refresh", &json!({ "refresh_token": session.refresh_token })).await).await;
    assert_eq!(status, StatusCode::OK, "the refresh token works too: {refreshed}");

    // The token is used up: not even a new, right code brings it back.
    let again = app.second_step(&mfa_token, &authenticator.code_left_unused().await).await;
    assert_refused(again, "invalid-mfa-token").await;
    // Nor does a token nobody was given.
    let unknown = app.second_step("4hP0m2Qx9yZ7tWv1sRk3nLb6cJd8fGa5eHi0oUq2rTs", &authenticator.wrong_code()).await;
    assert_refused(unknown, "invalid-mfa-token").await;
    // Nor does one past its five minutes.
    let expired = app.first_step("ada@example.com", PASSWORD).await;
    app.execute("UPDATE one_time_tokens SET expires_at = '2000-01-01 00:00:00+00:00' WHERE used_at IS NULL").await;
    assert_refused(app.second_step(&expired, &authenticator.code_left_unused().await).await, "invalid-mfa-token").await;
}
on_each_store!(given_a_second_factor_when_signing_in_then_a_code_is_asked_for_and_the_mfa_token_works_once);

async fn given_a_code_accepted_once_when_replayed_on_a_new_sign_in_then_it_is_refused_and_a_later_code_works(
    store: Store,
) {
    let Some(app) = spawn_app(store).await else { return };
    let (_, mut authenticator, _) = app.user_with_second_factor("ada@example.com").await;
    let first = app.first_step("ada@example.com", PASSWORD).await;
    let code = authenticator.fresh_code().await;
    app.signed_in_with_code(&first, &code).await;

    let second = app.first_step("ada@example.com", PASSWORD).await;
    assert_refused(app.second_step(&second, &code).await, "invalid-code").await;

    // A refused code does not use up the token: the app's next code signs in with it.
    let session = app.signed_in_with_code(&second, &authenticator.fresh_code().await).await;
    assert_eq!(app.profile(&session).await["email"], "ada@example.com");
}
on_each_store!(given_a_code_accepted_once_when_replayed_on_a_new_sign_in_then_it_is_refused_and_a_later_code_works);

async fn given_recovery_codes_when_one_is_used_then_it_signs_in_once_only(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let (ada, _, recovery_codes) = app.user_with_second_factor("ada@example.com").await;

    let first = app.first_step("ada@example.com", PASSWORD).await;
    let session = app.signed_in_with_code(&first, &recovery_codes[0]).await;
    assert_eq!(app.profile(&session).await["email"], "ada@example.com");

    let second = app.first_step("ada@example.com", PASSWORD).await;
    assert_refused(app.second_step(&second, &recovery_codes[0]).await, "invalid-code").await;
    // Another one, typed in capitals with spaces for dashes, still works (with the token the refusal left usable).
    let typed = recovery_codes[1].to_uppercase().replace('-', " ");
    app.signed_in_with_code(&second, &typed).await;
    let third = app.first_step("ada@example.com", PASSWORD).await;
    assert_refused(app.second_step(&third, &recovery_codes[1]).await, "invalid-code").await;

    let sign_ins = app.audit_events(&admin, &format!("kind=user.signed_in&userId={}", user_id(&ada))).await;
    let factors: Vec<&Value> = sign_ins.iter().map(|event| &event["details"]["second_factor"]).collect();
    assert_eq!(factors[..2], [&json!("recovery_code"), &json!("recovery_code")], "{sign_ins:?}");
}
on_each_store!(given_recovery_codes_when_one_is_used_then_it_signs_in_once_only);

async fn given_wrong_codes_up_to_the_threshold_when_another_code_comes_then_the_account_is_locked(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    assert_eq!(app.settings.auth.lockout_threshold, 10);
    let (_, mut authenticator, _) = app.user_with_second_factor("ada@example.com").await;

    let mut mfa_token = app.first_step("ada@example.com", PASSWORD).await;
    for guess in 0..10 {
        if guess == 5 {
            // A right password half way through clears none of the failures.
            mfa_token = app.first_step("ada@example.com", PASSWORD).await;
        }
        assert_refused(app.second_step(&mfa_token, &authenticator.wrong_code()).await, "invalid-code").await;
    }

    // Locked now: even the right code is refused, and says how long to wait.
    let response = app.second_step(&mfa_token, &authenticator.fresh_code().await).await;
    let retry_after: i64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After: {retry_after}");
    assert_problem_type(response, StatusCode::TOO_MANY_REQUESTS, "too-many-attempts").await;
    // And so is the first step, with the right password.
    let response = app.login("ada@example.com", PASSWORD).await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem_type(response, StatusCode::TOO_MANY_REQUESTS, "too-many-attempts").await;
}
on_each_store!(given_wrong_codes_up_to_the_threshold_when_another_code_comes_then_the_account_is_locked);

async fn given_a_second_factor_when_the_password_is_wrong_then_the_refusal_is_the_same_as_without_one(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    app.user_with_second_factor("ada@example.com").await;
    app.register_user("bob@example.com").await;

    let with_factor = app.login("ada@example.com", "not the password").await;
    let without_factor = app.login("bob@example.com", "not the password").await;

    let headers = |response: &Response| {
        let header = |name: &str| response.headers().get(name).map(|value| value.to_str().unwrap().to_owned());
        (header("www-authenticate"), header("content-type"), header("retry-after"))
    };
    assert_eq!(headers(&with_factor), headers(&without_factor));
    let with_factor = assert_refused(with_factor, "invalid-credentials").await;
    let without_factor = assert_refused(without_factor, "invalid-credentials").await;
    assert_eq!(with_factor, without_factor, "nothing tells that Ada has a second factor");
    assert!(with_factor.get("mfa_required").is_none() && with_factor.get("mfa_token").is_none());
}
on_each_store!(given_a_second_factor_when_the_password_is_wrong_then_the_refusal_is_the_same_as_without_one);

async fn given_enrolment_requests_out_of_turn_then_each_is_refused_with_its_problem(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let ada = app.register_user("ada@example.com").await;
    // Ada's token as it is ten minutes after her sign-in: still valid, no longer proof of presence.
    let stale = app.token_authenticated_at(&ada, Utc::now() - Duration::minutes(10));

    let response = app.post_without_body("/users/current/mfa/totp", &stale).await;
    assert_problem_type(response, StatusCode::FORBIDDEN, "reauthentication-required").await;
    let wrong = json!({ "current_password": "not the password" });
    let response = app.post_as("/users/current/mfa/totp", &stale, &wrong).await;
    assert_problem_type(response, StatusCode::FORBIDDEN, "reauthentication-required").await;
    // Nothing was started.
    let nothing_pending = app.confirm(&ada, "123456").await;
    assert_problem_type(nothing_pending, StatusCode::CONFLICT, "mfa-not-pending").await;

    // The password typed again proves presence on the stale token.
    let right = json!({ "current_password": PASSWORD });
    let (status, body) = status_and_json(app.post_as("/users/current/mfa/totp", &stale, &right).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut authenticator = Authenticator::new(body["secret"].as_str().unwrap());

    let wrong_code = app.confirm(&ada, &authenticator.wrong_code()).await;
    assert_problem_type(wrong_code, StatusCode::UNPROCESSABLE_ENTITY, "invalid-code").await;
    let no_code = app.post_as("/users/current/mfa/totp/confirm", &ada.access_token, &json!({})).await;
    let problem = assert_problem_type(no_code, StatusCode::UNPROCESSABLE_ENTITY, "validation-failed").await;
    assert_eq!(error_fields(&problem), ["code"]);
    // Still pending: sign-ins ask for nothing yet, and the right code confirms it.
    assert_eq!(app.profile(&ada).await["mfa_enabled"], false);
    let response = app.confirm(&ada, &authenticator.fresh_code().await).await;
    assert_eq!(response.status(), StatusCode::OK);

    let twice = app.post_without_body("/users/current/mfa/totp", &ada.access_token).await;
    assert_problem_type(twice, StatusCode::CONFLICT, "mfa-already-enabled").await;
    let confirmed_already = app.confirm(&ada, &authenticator.fresh_code().await).await;
    assert_problem_type(confirmed_already, StatusCode::CONFLICT, "mfa-not-pending").await;
    // The second step wants both fields.
    let problem = assert_problem_type(
        app.post("/auth/login/mfa", &json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["code", "mfa_token"]);
}
on_each_store!(given_enrolment_requests_out_of_turn_then_each_is_refused_with_its_problem);

async fn given_a_second_factor_when_its_owner_removes_it_then_the_password_alone_signs_in(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let (ada, mut authenticator, recovery_codes) = app.user_with_second_factor("ada@example.com").await;
    let waiting = app.first_step("ada@example.com", PASSWORD).await;
    let stale = app.token_authenticated_at(&ada, Utc::now() - Duration::minutes(10));
    let response = app.delete("/users/current/mfa/totp", &stale).await;
    assert_problem_type(response, StatusCode::FORBIDDEN, "reauthentication-required").await;
    let wrong = json!({ "current_password": "not the password" });
    let response = app.delete_with_body("/users/current/mfa/totp", &stale, &wrong).await;
    assert_problem_type(response, StatusCode::FORBIDDEN, "reauthentication-required").await;
    assert_eq!(app.profile(&ada).await["mfa_enabled"], true, "a refused removal removes nothing");

    let response = app.delete("/users/current/mfa/totp", &ada.access_token).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let session = app.signed_in_with_password("ada@example.com", PASSWORD).await;
    assert_eq!(session.user["mfa_enabled"], false);
    assert_eq!(app.profile(&session).await["mfa_enabled"], false);
    // A sign-in that was waiting for its code gets no further: it is to start again, with the password alone.
    assert_refused(app.second_step(&waiting, &authenticator.code_left_unused().await).await, "invalid-mfa-token").await;
    assert_refused(app.second_step(&waiting, &recovery_codes[0]).await, "invalid-mfa-token").await;
    assert_eq!(app.activity_kinds(&session).await.iter().filter(|kind| *kind == "mfa.disabled").count(), 1);
    let disabled = app.audit_events(&admin, "kind=mfa.disabled").await;
    assert_eq!(disabled.len(), 1, "{disabled:?}");
    assert_eq!(disabled[0]["actorId"].as_i64(), Some(user_id(&ada)));
    // Removing none succeeds; with the password typed again on a stale token too.
    let typed_again = json!({ "current_password": PASSWORD });
    let response = app.delete_with_body("/users/current/mfa/totp", &stale, &typed_again).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}
on_each_store!(given_a_second_factor_when_its_owner_removes_it_then_the_password_alone_signs_in);

async fn given_a_user_with_a_second_factor_when_an_admin_removes_it_then_the_password_alone_signs_in(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let (ada, _, _) = app.user_with_second_factor("ada@example.com").await;
    let bob = app.register_user("bob@example.com").await;
    let id = user_id(&ada);
    let path = format!("/api/users/{id}/mfa");

    assert_problem_type(app.delete(&path, &bob.access_token).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem_type(
        app.delete("/api/users/999999/mfa", &admin.access_token).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    assert_eq!(app.admin_view(&admin, id).await["mfaEnabled"], true, "the refusals removed nothing");

    let response = app.delete(&path, &admin.access_token).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.admin_view(&admin, id).await["mfaEnabled"], false);
    let session = app.signed_in_with_password("ada@example.com", PASSWORD).await;
    assert_eq!(session.user["mfa_enabled"], false);
    let disabled = app.audit_events(&admin, "kind=mfa.disabled").await;
    assert_eq!(disabled.len(), 1, "{disabled:?}");
    assert_eq!((disabled[0]["actorId"].as_i64(), disabled[0]["subjectId"].as_i64()), (Some(user_id(&admin)), Some(id)));
    // Removing none succeeds.
    assert_eq!(app.delete(&path, &admin.access_token).await.status(), StatusCode::NO_CONTENT);
}
on_each_store!(given_a_user_with_a_second_factor_when_an_admin_removes_it_then_the_password_alone_signs_in);

async fn given_an_admin_token_signed_in_long_ago_when_it_removes_its_own_factor_then_it_needs_a_recent_sign_in(
    store: Store,
) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let id = user_id(&admin);
    let path = format!("/api/users/{id}/mfa");
    let stale = app.token_authenticated_at(&admin, Utc::now() - Duration::minutes(10));

    let response = app.delete(&path, &stale).await;

    assert_problem_type(response, StatusCode::FORBIDDEN, "reauthentication-required").await;
    // A fresh sign-in may.
    assert_eq!(app.delete(&path, &admin.access_token).await.status(), StatusCode::NO_CONTENT);
}
on_each_store!(given_an_admin_token_signed_in_long_ago_when_it_removes_its_own_factor_then_it_needs_a_recent_sign_in);

async fn given_a_pending_enrolment_when_wrong_codes_confirm_it_then_they_lock_the_account_like_wrong_passwords(
    store: Store,
) {
    let Some(app) = spawn_app(store).await else { return };
    let ada = app.register_user("ada@example.com").await;
    let (secret, _) = app.start_enrolment(&ada).await;
    let authenticator = Authenticator::new(&secret);

    // Ten wrong codes are refused one by one; the next, right or wrong, meets the lock.
    for _ in 0..10 {
        assert_problem_type(
            app.confirm(&ada, &authenticator.wrong_code()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-code",
        )
        .await;
    }
    let response = app.confirm(&ada, &authenticator.wrong_code()).await;

    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(app.profile(&ada).await["mfa_enabled"], false);
}
on_each_store!(given_a_pending_enrolment_when_wrong_codes_confirm_it_then_they_lock_the_account_like_wrong_passwords);

async fn given_a_sign_in_waiting_for_its_code_when_the_password_changes_then_its_mfa_token_is_void(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let (ada, mut authenticator, _) = app.user_with_second_factor("ada@example.com").await;
    let waiting = app.first_step("ada@example.com", PASSWORD).await;

    let new_password = "a brand new passphrase";
    let change = json!({ "password": new_password, "current_password": PASSWORD });
    let (status, body) = status_and_json(app.put("/users/current", &ada.access_token, &change).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let code = authenticator.fresh_code().await;
    assert_refused(app.second_step(&waiting, &code).await, "invalid-mfa-token").await;
    // The new password's sign-in still asks for a code, and the one just refused (never accepted) is good for it.
    let mfa_token = app.first_step("ada@example.com", new_password).await;
    let session = app.signed_in_with_code(&mfa_token, &code).await;

    // A new address voids one as well.
    let waiting = app.first_step("ada@example.com", new_password).await;
    let change = json!({ "email": "lovelace@example.com", "current_password": new_password });
    let (status, body) = status_and_json(app.put("/users/current", &session.access_token, &change).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let code = authenticator.fresh_code().await;
    assert_refused(app.second_step(&waiting, &code).await, "invalid-mfa-token").await;
    let mfa_token = app.first_step("lovelace@example.com", new_password).await;
    app.signed_in_with_code(&mfa_token, &code).await;
}
on_each_store!(given_a_sign_in_waiting_for_its_code_when_the_password_changes_then_its_mfa_token_is_void);

async fn given_an_enrolment_then_its_secret_is_never_shown_again(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let ada = app.register_user("ada@example.com").await;
    let (secret, _) = app.start_enrolment(&ada).await;
    let mut authenticator = Authenticator::new(&secret);
    let confirmed = app.confirm(&ada, &authenticator.fresh_code().await).await.text().await.unwrap();
    let recovery_codes: Vec<String> = serde_json::from_str::<Value>(&confirmed).unwrap()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    let mfa_token = app.first_step("ada@example.com", PASSWORD).await;
    let signed_in = app.second_step(&mfa_token, &authenticator.fresh_code().await).await.text().await.unwrap();
    let session = Session::from_body(&serde_json::from_str(&signed_in).unwrap());
    let id = user_id(&ada);

    let mut seen = vec![confirmed, signed_in];
    for (path, token) in [
        ("/users/current".to_owned(), &session.access_token),
        ("/users/current/activity".to_owned(), &session.access_token),
        (format!("/api/users/{id}"), &admin.access_token),
        (format!("/api/audit-events?userId={id}&limit=100"), &admin.access_token),
    ] {
        let response = app.get(&path, token).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        seen.push(response.text().await.unwrap());
    }

    for body in &seen {
        let body = body.to_uppercase();
        assert!(!body.contains(&secret.to_uppercase()), "the secret in {body}");
        assert!(!body.contains("OTPAUTH"), "the URI in {body}");
    }
    // Nor in the database: the secret is sealed, and only hashes of the recovery codes are kept.
    assert_eq!(app.count("SELECT count(*) FROM totp_factors").await, 1);
    let in_clear = format!("SELECT count(*) FROM totp_factors WHERE upper(secret) LIKE '%{secret}%'");
    assert_eq!(app.count(&in_clear).await, 0, "the secret in clear");
    assert_eq!(app.count("SELECT count(*) FROM recovery_codes").await, 10);
    for code in &recovery_codes {
        let bare = code.replace('-', "");
        let in_clear = format!(
            "SELECT count(*) FROM recovery_codes WHERE lower(code_hash) LIKE '%{code}%' OR lower(code_hash) LIKE '%{bare}%'"
        );
        assert_eq!(app.count(&in_clear).await, 0, "a recovery code in clear");
    }

    // Removed and enrolled again: a new secret.
    assert_eq!(app.delete("/users/current/mfa/totp", &session.access_token).await.status(), StatusCode::NO_CONTENT);
    let (another, _) = app.start_enrolment(&session).await;
    assert_ne!(another, secret);
}
on_each_store!(given_an_enrolment_then_its_secret_is_never_shown_again);

async fn given_one_code_when_two_sign_ins_present_it_at_once_then_only_one_gets_in(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let (_, mut authenticator, recovery_codes) = app.user_with_second_factor("ada@example.com").await;

    for code in [authenticator.fresh_code().await, recovery_codes[0].clone()] {
        let first = app.first_step("ada@example.com", PASSWORD).await;
        let second = app.first_step("ada@example.com", PASSWORD).await;

        let (one, other) = tokio::join!(app.second_step(&first, &code), app.second_step(&second, &code));

        let mut statuses = [one.status(), other.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::UNAUTHORIZED], "{code}: accepted once, on every store");
        let refused = if one.status() == StatusCode::OK { other } else { one };
        assert_refused(refused, "invalid-code").await;
    }
}
on_each_store!(given_one_code_when_two_sign_ins_present_it_at_once_then_only_one_gets_in);

async fn given_a_sign_in_waiting_for_its_code_when_an_admin_suspends_the_account_then_the_code_gets_no_session(
    store: Store,
) {
    let Some(app) = spawn_app(store).await else { return };
    let admin = app.admin().await;
    let (ada, mut authenticator, _) = app.user_with_second_factor("ada@example.com").await;
    let waiting = app.first_step("ada@example.com", PASSWORD).await;
    let suspension = format!("/api/users/{}/suspension", user_id(&ada));
    let response = app.post_as(&suspension, &admin.access_token, &json!({ "reason": "chargeback" })).await;
    assert_eq!(response.status(), StatusCode::OK);

    // The suspension voided the waiting sign-in: its code gets nothing, then or after the suspension is lifted.
    let response = app.second_step(&waiting, &authenticator.code_left_unused().await).await;
    assert_refused(response, "invalid-mfa-token").await;
    assert_eq!(app.delete(&suspension, &admin.access_token).await.status(), StatusCode::OK);
    let response = app.second_step(&waiting, &authenticator.code_left_unused().await).await;
    assert_refused(response, "invalid-mfa-token").await;
    // A new sign-in works once it is lifted.
    let again = app.first_step("ada@example.com", PASSWORD).await;
    let session = app.signed_in_with_code(&again, &authenticator.fresh_code().await).await;
    assert_eq!(app.profile(&session).await["email"], "ada@example.com");
}
on_each_store!(given_a_sign_in_waiting_for_its_code_when_an_admin_suspends_the_account_then_the_code_gets_no_session);
