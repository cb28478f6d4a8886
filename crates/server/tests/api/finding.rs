//! Finding users: both admin lists searched by the start of an address, username or name (case aside), filtered by
//! role, status, verification and creation time, counted, paged, and (on the Admin API) sorted each way by each key;
//! every bad value a 400 naming its parameter, and the lists an admin's alone.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// The users every test here starts from, by their numeric ids: made through the API, then spread in time by SQL
/// (the API cannot back-date an account or a sign-in).
///
/// | who      | made by         | email                  | username | first / last name  | roles       | verified | created    | last sign-in |
/// |----------|-----------------|------------------------|----------|--------------------|-------------|----------|------------|--------------|
/// | root     | create-admin    | root@example.com       |          |                    | admin, user | yes      | (now)      | (now)        |
/// | ada      | sign-up         | ada@example.com        | countess | Augusta King       | user        | no       | 2020-01-01 | 2021-01-01   |
/// | grace    | Admin API       | grace@navy.example     |          | Grace Hopper       | admin       | yes      | 2020-02-01 | never        |
/// | alan     | Admin API       | alan@bletchley.example |          | Alan Turing        | user        | yes      | 2020-03-01 | never        |
/// | kathleen | sign-up         | kathleen@example.com   | booth    | Kathleen Britten   | user        | no       | 2020-04-01 | 2021-03-01   |
/// | barbara  | Admin API       | barbara@mit.example    |          | Barbara Liskov     | user        | no       | 2020-04-01 | never        |
/// | edsger   | sign-up         | Edsger@Example.com     | ewd      | Edsger Dijkstra    | user        | no       | 2020-06-01 | 2021-02-01   |
///
/// Alan is suspended through the API; Barbara was suspended until a time now past, so she is active.
struct Population {
    admin: Session,
    root: i64,
    ada: i64,
    grace: i64,
    alan: i64,
    kathleen: i64,
    barbara: i64,
    edsger: i64,
}

impl Population {
    /// Every user, in id order (the order they were made in).
    fn all(&self) -> Vec<i64> {
        vec![self.root, self.ada, self.grace, self.alan, self.kathleen, self.barbara, self.edsger]
    }
}

/// The numeric id of a signed-up user.
fn uid(session: &Session) -> i64 {
    session.claims()["uid"].as_i64().expect("uid")
}

async fn create_user(app: &TestApp, admin: &Session, body: Value) -> i64 {
    let (status, user) = status_and_json(app.post_as("/api/users", &admin.access_token, &body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    user["id"].as_i64().expect("id")
}

async fn populate(app: &TestApp) -> Population {
    let admin = app.admin().await;
    let root = uid(&admin);
    let ada = app
        .register(json!({ "email": "ada@example.com", "password": PASSWORD, "username": "countess",
                          "first_name": "Augusta", "last_name": "King" }))
        .await;
    let grace = create_user(
        app,
        &admin,
        json!({ "firstName": "Grace", "lastName": "Hopper", "email": "grace@navy.example", "password": PASSWORD,
                "roleIds": [1], "emailVerified": true }),
    )
    .await;
    let alan = create_user(
        app,
        &admin,
        json!({ "firstName": "Alan", "lastName": "Turing", "email": "alan@bletchley.example", "password": PASSWORD,
                "emailVerified": true }),
    )
    .await;
    let kathleen = app
        .register(json!({ "email": "kathleen@example.com", "password": PASSWORD, "username": "booth",
                          "first_name": "Kathleen", "last_name": "Britten" }))
        .await;
    let barbara = create_user(
        app,
        &admin,
        json!({ "firstName": "Barbara", "lastName": "Liskov", "email": "barbara@mit.example", "password": PASSWORD }),
    )
    .await;
    let edsger = app
        .register(json!({ "email": "Edsger@Example.com", "password": PASSWORD, "username": "ewd",
                          "first_name": "Edsger", "last_name": "Dijkstra" }))
        .await;
    let population = Population {
        root,
        ada: uid(&ada),
        grace,
        alan,
        kathleen: uid(&kathleen),
        barbara,
        edsger: uid(&edsger),
        admin,
    };

    let suspend = |id: i64, body: Value| {
        let token = population.admin.access_token.clone();
        async move {
            let response = app.post_as(&format!("/api/users/{id}/suspension"), &token, &body).await;
            let (status, user) = status_and_json(response).await;
            assert_eq!(status, StatusCode::OK, "{user}");
        }
    };
    suspend(population.alan, json!({ "reason": "on leave" })).await;
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    suspend(population.barbara, json!({ "until": tomorrow })).await;
    // Her suspension has run out since: she is active again, though the row still holds it.
    app.execute(&format!(
        "UPDATE users SET suspended_at = '2021-05-01 00:00:00+00:00', suspended_until = '2021-06-01 00:00:00+00:00' \
         WHERE id = {}",
        population.barbara
    ))
    .await;

    let times = [
        (population.ada, "'2020-01-01 00:00:00+00:00'", "'2021-01-01 00:00:00+00:00'"),
        (population.grace, "'2020-02-01 00:00:00+00:00'", "NULL"),
        (population.alan, "'2020-03-01 00:00:00+00:00'", "NULL"),
        (population.kathleen, "'2020-04-01 00:00:00+00:00'", "'2021-03-01 00:00:00+00:00'"),
        (population.barbara, "'2020-04-01 00:00:00+00:00'", "NULL"),
        (population.edsger, "'2020-06-01 00:00:00+00:00'", "'2021-02-01 00:00:00+00:00'"),
    ];
    for (id, created_at, last_sign_in_at) in times {
        app.execute(&format!(
            "UPDATE users SET created_at = {created_at}, last_sign_in_at = {last_sign_in_at} WHERE id = {id}"
        ))
        .await;
    }
    population
}

/// The body of a list that must answer 200.
async fn list(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app.get(path, token).await;
    let cache_control = response.headers().get("cache-control").map(|value| value.to_str().unwrap().to_owned());
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    assert_eq!(cache_control.as_deref(), Some("no-store"), "{path}");
    body
}

/// The ids of an Admin API page, in its order.
fn ids(body: &Value) -> Vec<i64> {
    body["data"].as_array().expect("data").iter().map(|user| user["id"].as_i64().expect("id")).collect()
}

/// The ids an Admin API query lists on its first page of 100.
async fn found(app: &TestApp, population: &Population, query: &str) -> Vec<i64> {
    let body = list(app, &population.admin.access_token, &format!("/api/users?limit=100&{query}")).await;
    let ids = ids(&body);
    assert_eq!(body["total"], ids.len(), "{query}: total counts the matches: {body}");
    assert_eq!(body["totalIsExact"], true, "{query}");
    ids
}

/// The fields a refused list query names, after checking it is a 400 problem.
async fn refused(app: &TestApp, token: &str, path: &str) -> Vec<String> {
    let problem = assert_problem(app.get(path, token).await, StatusCode::BAD_REQUEST).await;
    error_fields(&problem)
}

async fn the_search_finds_users_by_the_start_of_their_email_username_or_names_case_aside(store: Store) {
    // Given the population
    let Some(app) = spawn_app(store).await else { return };
    let p = populate(&app).await;

    // When an admin searches, then each field is searched on its own: Augusta King is ada@, "countess", "Augusta"
    // and "King".
    assert_eq!(found(&app, &p, "q=ada").await, [p.ada], "by email");
    assert_eq!(found(&app, &p, "q=COUNT").await, [p.ada], "by username");
    assert_eq!(found(&app, &p, "q=aUg").await, [p.ada], "by first name");
    assert_eq!(found(&app, &p, "q=king").await, [p.ada], "by last name");
    // An address given in capitals is found in any case, and by any start of it, up to the whole.
    assert_eq!(found(&app, &p, "q=EDSGER%40example.COM").await, [p.edsger]);
    assert_eq!(found(&app, &p, "q=edsger@ex").await, [p.edsger]);
    // Trimmed.
    assert_eq!(found(&app, &p, "q=%20%20Hopper%20").await, [p.grace]);
    // Each user once, however many of its fields start so: Ada by her address and first name, Alan by his.
    assert_eq!(found(&app, &p, "q=a").await, [p.ada, p.alan]);
    // Kathleen by her username (booth) and last name (Britten), Barbara by her address and first name.
    assert_eq!(found(&app, &p, "q=b").await, [p.kathleen, p.barbara]);
    // A start, not a part: "ing" is inside Turing and King; "example" inside every other address.
    assert_eq!(found(&app, &p, "q=ing").await, Vec::<i64>::new());
    assert_eq!(found(&app, &p, "q=example").await, Vec::<i64>::new());
    assert_eq!(found(&app, &p, "q=lovelace").await, Vec::<i64>::new());
    // No wildcards: % and _ are themselves.
    assert_eq!(found(&app, &p, "q=%25").await, Vec::<i64>::new());
    assert_eq!(found(&app, &p, "q=_").await, Vec::<i64>::new());
    assert_eq!(found(&app, &p, "q=a_a").await, Vec::<i64>::new());
    // Longer than every field: nothing.
    assert_eq!(found(&app, &p, "q=kathleen@example.com.au").await, Vec::<i64>::new());
    // 100 characters are allowed.
    assert_eq!(found(&app, &p, &format!("q={}", "k".repeat(100))).await, Vec::<i64>::new());
}
on_each_store!(the_search_finds_users_by_the_start_of_their_email_username_or_names_case_aside);

async fn role_status_and_verification_filters_keep_only_the_users_that_meet_them(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let p = populate(&app).await;

    assert_eq!(found(&app, &p, "role=admin").await, [p.root, p.grace]);
    // Grace is an admin only; the admin made by create-admin has both roles.
    assert_eq!(found(&app, &p, "role=user").await, [p.root, p.ada, p.alan, p.kathleen, p.barbara, p.edsger]);
    // Alan is suspended; Barbara's suspension ran out.
    assert_eq!(found(&app, &p, "status=suspended").await, [p.alan]);
    assert_eq!(found(&app, &p, "status=active").await, [p.root, p.ada, p.grace, p.kathleen, p.barbara, p.edsger]);
    // Verified: the admin, and the two addresses an admin vouched for; not the sign-ups, nor Barbara.
    assert_eq!(found(&app, &p, "verified=true").await, [p.root, p.grace, p.alan]);
    assert_eq!(found(&app, &p, "verified=false").await, [p.ada, p.kathleen, p.barbara, p.edsger]);

    // The users shown are whole, and as filtered.
    let body = list(&app, &p.admin.access_token, "/api/users?status=suspended").await;
    let alan = &body["data"][0];
    assert_eq!(
        (&alan["email"], &alan["suspended"], &alan["suspensionReason"]),
        (&json!("alan@bletchley.example"), &json!(true), &json!("on leave"))
    );
    assert_eq!(alan["lastSignInAt"], Value::Null);
    assert_eq!(alan["createdAt"], "2020-03-01T00:00:00Z");
}
on_each_store!(role_status_and_verification_filters_keep_only_the_users_that_meet_them);

async fn the_creation_range_leaves_out_its_bounds(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let p = populate(&app).await;

    // After, not at: Grace was created at 2020-02-01 itself.
    assert_eq!(
        found(&app, &p, "createdAfter=2020-02-01T00:00:00Z&createdBefore=2020-06-01T00:00:00Z").await,
        [p.alan, p.kathleen, p.barbara]
    );
    // A millisecond either way takes in the bound.
    assert_eq!(
        found(&app, &p, "createdAfter=2020-01-31T23:59:59.999Z&createdBefore=2020-06-01T00:00:00.001Z").await,
        [p.grace, p.alan, p.kathleen, p.barbara, p.edsger]
    );
    // Before, not at.
    assert_eq!(found(&app, &p, "createdBefore=2020-02-01T00:00:00Z").await, [p.ada]);
    // Any offset, the same instant: 01:00 at +01:00 is midnight UTC. Its + encoded, or sent bare (read as a space).
    assert_eq!(found(&app, &p, "createdBefore=2020-02-01T01:00:00%2B01:00").await, [p.ada]);
    assert_eq!(found(&app, &p, "createdBefore=2020-02-01T01:00:00+01:00").await, [p.ada]);
    assert_eq!(found(&app, &p, "createdAfter=2020-05-31T18:59:59-05:00").await, [p.root, p.edsger]);
    assert_eq!(found(&app, &p, "createdAfter=2020-05-31T19:00:00-05:00").await, [p.root], "Edsger's own time");
    // Only the admin was made after 2021 (now).
    assert_eq!(found(&app, &p, "createdAfter=2021-01-01T00:00:00Z").await, [p.root]);
    // An empty range, or one upside down, holds no one.
    assert_eq!(
        found(&app, &p, "createdAfter=2020-04-01T00:00:00Z&createdBefore=2020-04-01T00:00:00Z").await,
        Vec::<i64>::new()
    );
    assert_eq!(
        found(&app, &p, "createdAfter=2020-06-01T00:00:00Z&createdBefore=2020-01-01T00:00:00Z").await,
        Vec::<i64>::new()
    );
}
on_each_store!(the_creation_range_leaves_out_its_bounds);

async fn filters_combine_and_total_counts_the_matches_across_pages(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let p = populate(&app).await;
    let token = p.admin.access_token.clone();

    // Every filter at once: active, unverified users with the user role created in the first half of 2020 whose
    // something starts with "b": Kathleen (booth, Britten) and Barbara, not Alan (suspended, verified).
    let all_of_them = "q=B&role=user&status=active&verified=false\
                       &createdAfter=2019-12-31T00:00:00Z&createdBefore=2020-07-01T00:00:00Z";
    assert_eq!(found(&app, &p, all_of_them).await, [p.kathleen, p.barbara]);
    assert_eq!(found(&app, &p, "q=a&status=active").await, [p.ada]);
    assert_eq!(found(&app, &p, "q=a&verified=true").await, [p.alan]);
    assert_eq!(found(&app, &p, "role=admin&verified=true&createdBefore=2021-01-01T00:00:00Z").await, [p.grace]);
    assert_eq!(found(&app, &p, "role=admin&status=suspended").await, Vec::<i64>::new());

    // Four unverified users, two a page: each page holds its own, the envelope counts them all.
    let mut paged = Vec::new();
    for page in 1..=2 {
        let body = list(&app, &token, &format!("/api/users?verified=false&limit=2&page={page}")).await;
        assert_eq!(
            (&body["page"], &body["limit"], &body["total"], &body["totalIsExact"], &body["totalPages"]),
            (&json!(page), &json!(2), &json!(4), &json!(true), &json!(2))
        );
        assert_eq!(ids(&body).len(), 2);
        paged.extend(ids(&body));
    }
    assert_eq!(paged, [p.ada, p.kathleen, p.barbara, p.edsger]);
    let past_the_end = list(&app, &token, "/api/users?verified=false&limit=2&page=3").await;
    assert_eq!((ids(&past_the_end), &past_the_end["total"]), (vec![], &json!(4)));
    // Three a page: the last page is short.
    let last = list(&app, &token, "/api/users?verified=false&limit=3&page=2").await;
    assert_eq!((ids(&last), &last["totalPages"]), (vec![p.edsger], &json!(2)));
    // A filter no one meets: an empty list of no pages.
    let none = list(&app, &token, "/api/users?q=zz").await;
    assert_eq!(none, json!({ "data": [], "page": 1, "limit": 10, "total": 0, "totalIsExact": true, "totalPages": 0 }));
    // No filter: everyone, counted exactly.
    let everyone = list(&app, &token, "/api/users").await;
    assert_eq!((ids(&everyone), &everyone["total"], &everyone["totalIsExact"]), (p.all(), &json!(7), &json!(true)));
}
on_each_store!(filters_combine_and_total_counts_the_matches_across_pages);

async fn every_sort_goes_both_ways_with_ties_broken_by_id(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let p = populate(&app).await;
    let sorted = |query: &'static str| found(&app, &p, query);

    assert_eq!(sorted("sort=id").await, p.all());
    assert_eq!(sorted("").await, p.all(), "by id, going up, unless asked");
    assert_eq!(sorted("order=asc").await, p.all());
    let mut by_id_down = p.all();
    by_id_down.reverse();
    assert_eq!(sorted("sort=id&order=desc").await, by_id_down);
    assert_eq!(sorted("order=desc").await, by_id_down, "by id unless asked");

    // By address, case aside: Edsger@ between barbara@ and grace@ (in byte order it would come first).
    let by_email = [p.ada, p.alan, p.barbara, p.edsger, p.grace, p.kathleen, p.root];
    assert_eq!(sorted("sort=email").await, by_email);
    assert_eq!(sorted("sort=email&order=desc").await, by_email.iter().rev().copied().collect::<Vec<_>>());

    // By creation: Kathleen and Barbara were created at the same time, so by id, in the same direction.
    let by_creation = [p.ada, p.grace, p.alan, p.kathleen, p.barbara, p.edsger, p.root];
    assert_eq!(sorted("sort=createdAt").await, by_creation);
    assert_eq!(sorted("sort=createdAt&order=desc").await, by_creation.iter().rev().copied().collect::<Vec<_>>());

    // By last sign-in: those never signed in (by id) come first going up and last going down; the admin signed in
    // at the start of the test.
    let by_sign_in = [p.grace, p.alan, p.barbara, p.ada, p.edsger, p.kathleen, p.root];
    assert_eq!(sorted("sort=lastSignInAt&order=asc").await, by_sign_in);
    assert_eq!(
        sorted("sort=lastSignInAt&order=desc").await,
        [p.root, p.kathleen, p.edsger, p.ada, p.barbara, p.alan, p.grace]
    );

    // A sorted list pages the same: its pages, two by two, make up the whole.
    for query in ["sort=createdAt&order=desc", "sort=lastSignInAt", "sort=email&order=desc&verified=false"] {
        let whole = found(&app, &p, query).await;
        let mut paged = Vec::new();
        for page in 1..=whole.len().div_ceil(2) {
            let path = format!("/api/users?{query}&limit=2&page={page}");
            paged.extend(ids(&list(&app, &p.admin.access_token, &path).await));
        }
        assert_eq!(paged, whole, "{query}");
    }

    // Each user carries the time: set for those who signed in, null for the others.
    let body = list(&app, &p.admin.access_token, "/api/users?sort=lastSignInAt&limit=4").await;
    let times: Vec<&Value> = body["data"].as_array().unwrap().iter().map(|user| &user["lastSignInAt"]).collect();
    assert_eq!(times, [&Value::Null, &Value::Null, &Value::Null, &json!("2021-01-01T00:00:00Z")]);
}
on_each_store!(every_sort_goes_both_ways_with_ties_broken_by_id);

async fn a_sign_in_through_the_api_sets_the_last_sign_in_time_and_a_refresh_does_not(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    // Given Grace, never signed in
    let p = populate(&app).await;
    let before = chrono::Utc::now();

    // When she signs in through the API
    let (status, signed_in) = status_and_json(app.login("grace@navy.example", PASSWORD).await).await;

    // Then the time is in the answer, in her row, and in the order of the list
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    let after = chrono::Utc::now();
    let shown = signed_in["user"]["last_sign_in_at"].as_str().expect("the time, in the sign-in's answer");
    let at: chrono::DateTime<chrono::Utc> = shown.parse().expect("RFC 3339");
    assert!(before <= at && at <= after, "{before} <= {at} <= {after}");
    let (_, grace) = status_and_json(app.get(&format!("/api/users/{}", p.grace), &p.admin.access_token).await).await;
    assert_eq!(
        grace["lastSignInAt"].as_str().map(|text| text.parse::<chrono::DateTime<chrono::Utc>>().unwrap()),
        Some(at)
    );
    // She now comes last going up: after the admin, who signed in before her.
    let by_sign_in = found(&app, &p, "sort=lastSignInAt").await;
    assert_eq!(by_sign_in, [p.alan, p.barbara, p.ada, p.edsger, p.kathleen, p.root, p.grace]);
    assert_eq!(found(&app, &p, "sort=lastSignInAt&order=desc").await[0], p.grace);

    // A refresh keeps the session going: it is no sign-in.
    let session = Session::from_body(&signed_in);
    let refreshed = app.post("/auth/refresh", &json!({ "refresh_token": session.refresh_token })).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let (_, grace) = status_and_json(app.get(&format!("/api/users/{}", p.grace), &p.admin.access_token).await).await;
    assert_eq!(
        grace["lastSignInAt"].as_str().map(|text| text.parse::<chrono::DateTime<chrono::Utc>>().unwrap()),
        Some(at)
    );
    // A wrong password is no sign-in either.
    assert_unauthorized(app.login("alan@bletchley.example", "not his password").await).await;
    let (_, alan) = status_and_json(app.get(&format!("/api/users/{}", p.alan), &p.admin.access_token).await).await;
    assert_eq!(alan["lastSignInAt"], Value::Null);
}
on_each_store!(a_sign_in_through_the_api_sets_the_last_sign_in_time_and_a_refresh_does_not);

async fn the_profile_api_filters_with_snake_case_parameters_in_its_own_envelope(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let p = populate(&app).await;
    let token = p.admin.access_token.clone();
    let emails = |body: &Value| -> Vec<String> {
        body["data"].as_array().unwrap().iter().map(|user| user["email"].as_str().unwrap().to_owned()).collect()
    };

    let query = "q=B&role=user&status=active&verified=false\
                 &created_after=2019-12-31T00:00:00Z&created_before=2020-07-01T00:00:00Z";
    let body = list(&app, &token, &format!("/users/?{query}")).await;
    assert_eq!(emails(&body), ["kathleen@example.com", "barbara@mit.example"]);
    assert_eq!(
        (&body["total"], &body["total_is_exact"], &body["limit"], &body["offset"]),
        (&json!(2), &json!(true), &json!(20), &json!(0))
    );
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["data", "limit", "offset", "total", "total_is_exact"]);
    let kathleen = &body["data"][0];
    assert!(kathleen["id"].as_str().is_some_and(|id| id.len() == 24), "an ObjectId: {kathleen}");
    assert_eq!(
        (&kathleen["last_sign_in_at"], &kathleen["created_at"]),
        (&json!("2021-03-01T00:00:00Z"), &json!("2020-04-01T00:00:00Z"))
    );
    assert_eq!(kathleen["username"], "booth");
    // The same without the slash.
    assert_eq!(list(&app, &token, &format!("/users?{query}")).await, body);

    // The bounds are left out, as on the Admin API.
    let body =
        list(&app, &token, "/users/?created_after=2020-02-01T00:00:00Z&created_before=2020-04-01T00:00:00Z").await;
    assert_eq!(emails(&body), ["alan@bletchley.example"]);
    let body = list(&app, &token, "/users/?status=suspended").await;
    assert_eq!(
        (emails(&body), &body["data"][0]["suspended"]),
        (vec!["alan@bletchley.example".to_owned()], &json!(true))
    );
    let body = list(&app, &token, "/users/?q=EDSGER").await;
    assert_eq!(emails(&body), ["Edsger@Example.com"]);

    // Offsets page a filtered list in id order; the total is the filter's.
    let first = list(&app, &token, "/users/?verified=false&limit=3").await;
    let second = list(&app, &token, "/users/?verified=false&limit=3&offset=3").await;
    assert_eq!(emails(&first), ["ada@example.com", "kathleen@example.com", "barbara@mit.example"]);
    assert_eq!(emails(&second), ["Edsger@Example.com"]);
    assert_eq!((&second["total"], &second["limit"], &second["offset"]), (&json!(4), &json!(3), &json!(3)));
    let past = list(&app, &token, "/users/?verified=false&offset=10").await;
    assert_eq!((past["data"].as_array().unwrap().len(), &past["total"]), (0, &json!(4)));
}
on_each_store!(the_profile_api_filters_with_snake_case_parameters_in_its_own_envelope);

async fn every_bad_value_is_a_400_naming_its_parameter_and_changes_nothing(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let p = populate(&app).await;
    let token = p.admin.access_token.clone();
    let users_before = app.count("SELECT count(*) FROM users").await;
    let events_before = app.count("SELECT count(*) FROM audit_events").await;

    let too_long = "q".repeat(101);
    let admin_cases: Vec<(String, &[&str])> = vec![
        ("sort=name".into(), &["sort"]),
        ("sort=created_at".into(), &["sort"]),
        ("sort=".into(), &["sort"]),
        ("order=up".into(), &["order"]),
        ("order=DESC".into(), &["order"]),
        ("status=banned".into(), &["status"]),
        ("status=Active".into(), &["status"]),
        ("role=root".into(), &["role"]),
        ("role=".into(), &["role"]),
        ("verified=yes".into(), &["verified"]),
        ("verified=1".into(), &["verified"]),
        ("createdAfter=yesterday".into(), &["createdAfter"]),
        ("createdAfter=2020-01-01".into(), &["createdAfter"]),
        ("createdBefore=2026-13-01T00:00:00Z".into(), &["createdBefore"]),
        ("createdBefore=2020-01-01T00:00:00".into(), &["createdBefore"]),
        (format!("q={too_long}"), &["q"]),
        ("q=a%00b".into(), &["q"]),
        ("limit=0".into(), &["limit"]),
        ("limit=101".into(), &["limit"]),
        ("limit=-1".into(), &["limit"]),
        ("page=0".into(), &["page"]),
        ("page=-3".into(), &["page"]),
        // Every mistake at once, each named.
        (
            format!(
                "page=0&limit=500&q={too_long}&role=root&status=gone&verified=maybe&createdAfter=x&createdBefore=y\
                 &sort=name&order=sideways"
            ),
            &["page", "limit", "q", "role", "status", "verified", "createdAfter", "createdBefore", "sort", "order"],
        ),
    ];
    for (query, fields) in &admin_cases {
        let mut named = refused(&app, &token, &format!("/api/users?{query}")).await;
        named.sort();
        let mut expected: Vec<String> = fields.iter().map(|field| (*field).to_owned()).collect();
        expected.sort();
        assert_eq!(named, expected, "/api/users?{query}");
    }

    let profile_cases: Vec<(String, &[&str])> = vec![
        ("created_after=yesterday".into(), &["created_after"]),
        ("created_before=2020-02-30T00:00:00Z".into(), &["created_before"]),
        ("status=banned".into(), &["status"]),
        ("role=root".into(), &["role"]),
        ("verified=no".into(), &["verified"]),
        ("q=%07".into(), &["q"]),
        (format!("q={too_long}"), &["q"]),
        ("limit=0".into(), &["limit"]),
        ("limit=51".into(), &["limit"]),
        ("offset=-1".into(), &["offset"]),
        (
            "q=%01&role=x&status=x&verified=x&created_after=x&created_before=x&limit=51&offset=-1".into(),
            &["q", "role", "status", "verified", "created_after", "created_before", "limit", "offset"],
        ),
    ];
    for (query, fields) in &profile_cases {
        let mut named = refused(&app, &token, &format!("/users/?{query}")).await;
        named.sort();
        let mut expected: Vec<String> = fields.iter().map(|field| (*field).to_owned()).collect();
        expected.sort();
        assert_eq!(named, expected, "/users/?{query}");
    }

    // An empty search box (`q=`, or blanks) is no search: the whole list.
    let everyone = app.count("SELECT count(*) FROM users").await;
    for query in ["q=", "q=%20%20"] {
        let (status, body) = status_and_json(app.get(&format!("/api/users?{query}"), &token).await).await;
        assert_eq!((status, &body["total"]), (StatusCode::OK, &json!(everyone)), "/api/users?{query}");
        let (status, body) = status_and_json(app.get(&format!("/users/?{query}"), &token).await).await;
        assert_eq!((status, &body["total"]), (StatusCode::OK, &json!(everyone)), "/users/?{query}");
    }

    // A good value beside a bad one is not enough.
    assert_eq!(refused(&app, &token, "/api/users?q=ada&sort=name").await, ["sort"]);
    assert_eq!(app.count("SELECT count(*) FROM users").await, users_before, "nothing was created or deleted");
    assert_eq!(app.count("SELECT count(*) FROM audit_events").await, events_before, "nothing was recorded");
}
on_each_store!(every_bad_value_is_a_400_naming_its_parameter_and_changes_nothing);

async fn only_an_admin_finds_users(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let p = populate(&app).await;
    let user = app.register_user("someone@example.com").await;

    for path in ["/api/users?q=a&role=admin&sort=email", "/users/?q=a&role=admin", "/api/users?sort=nonsense"] {
        let problem = assert_problem(app.get(path, &user.access_token).await, StatusCode::FORBIDDEN).await;
        assert!(problem.get("errors").is_none() || problem["errors"] == json!([]), "{path}: {problem}");
        assert_unauthorized(app.client.get(app.url(path)).send().await.unwrap()).await;
        assert_unauthorized(app.get(path, "not-a-token").await).await;
    }
    // An admin with the same query is answered.
    assert_eq!(found(&app, &p, "q=a&role=admin&sort=email").await, Vec::<i64>::new());
    assert_eq!(found(&app, &p, "q=g&role=admin&sort=email").await, [p.grace]);
}
on_each_store!(only_an_admin_finds_users);

async fn on_postgres_the_search_folds_the_case_of_every_alphabet(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let p = populate(&app).await;
    let emile = app
        .register(json!({ "email": "emile@example.com", "password": PASSWORD, "first_name": "Émile",
                          "last_name": "Ångström" }))
        .await;

    // (SQLite's lower() folds A to Z only: there, these names are not found by their first letters.)
    for q in ["%C3%89mile", "%C3%A9MILE", "%C3%A5ng", "%C3%85NGSTR%C3%96M"] {
        assert_eq!(found(&app, &p, &format!("q={q}")).await, [uid(&emile)], "q={q}");
    }
    assert_eq!(found(&app, &p, "q=%C3%A9").await, [uid(&emile)]);
    assert_eq!(found(&app, &p, "q=e").await, [p.edsger, uid(&emile)], "by the address, which starts with e");
}
on_postgres_only!(on_postgres_the_search_folds_the_case_of_every_alphabet);
