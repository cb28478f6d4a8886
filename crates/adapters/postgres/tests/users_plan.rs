//! The admin lists' indexes, measured: on a million users (`USERS_PLAN_USERS` for another number) seeded as the
//! benchmark seeds them (`bench/seed-users.sql`), PostgreSQL reads the page and the count of every filter alone and
//! together, in every order both ways, on the first page and on a deep one, without reading `users` through (no
//! `Seq Scan`), and counts the matches of a broad filter in under 50 ms. The plans are those of the very statements the
//! store runs (`StoreUsers::explain`), with their parameters bound; their timings (`EXPLAIN ANALYZE`) are printed, for
//! BENCHMARKS.md: `cargo test -p users-postgres --test users_plan -- --nocapture`.

use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use diesel_async::SimpleAsyncConnection as _;
use serde_json::Value;
use users_domain::{AccountStatus, Role, SearchPrefix};
use users_ports::{PageRequest, Total, UserFilter, UserOrder, UserQuery, UserRepository as _, UserSortKey};
use users_postgres::testing::TestDatabase;
use users_store::UserListStatement;

/// The benchmark's population, so that the plans asserted here are those the benchmark measures.
const SEED: &str = include_str!("../../../../bench/seed-users.sql");

/// A hash as long as the service's (Argon2id, PHC string): the rows are as wide as real ones, and so is the table the
/// planner weighs an index against. Nobody signs in with it.
const PASSWORD_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2VlZGVkIHVzZXJzIHNhbHQ$Yb0mU1qK3RZlX4lZ8yFJ7g0D6m2cPz9nQ4vW1sT5eAk";

/// As far as the service counts a filter's matches (`users_app::FILTERED_COUNT_LIMIT`, which this crate cannot see).
const COUNT_LIMIT: u64 = 1_000;

/// The size of a page, and the offset of a deep one (page 2,000 of 20).
const LIMIT: u32 = 20;
const DEEP: u64 = 39_980;

/// The most a count of a broad filter may take, in the best of three runs (a noisy machine slows one run, not three).
const BROAD_COUNT_MS: f64 = 50.0;

#[derive(diesel::QueryableByName)]
struct Counted {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// How many users the table is filled with. (Far fewer, and reading the table through is the cheaper plan, rightly:
/// the assertions are for a table of a service's size.)
fn users() -> u64 {
    std::env::var("USERS_PLAN_USERS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000)
}

/// Every node of a plan, depth first.
fn nodes(plan: &Value) -> Vec<&Value> {
    let mut found = vec![plan];
    for child in plan.get("Plans").and_then(Value::as_array).into_iter().flatten() {
        found.extend(nodes(child));
    }
    found
}

/// A node as one line: its type, direction, index and relation.
fn describe(node: &Value) -> String {
    let field = |name: &str| node.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut line = field("Node Type");
    for (name, label) in [("Scan Direction", ""), ("Index Name", "using "), ("Relation Name", "on ")] {
        let value = field(name);
        if !value.is_empty() && value != "Forward" {
            line.push_str(&format!(" {label}{value}"));
        }
    }
    line
}

fn prefix(text: &str) -> Option<SearchPrefix> {
    Some(SearchPrefix::parse(text).expect("a valid prefix"))
}

/// A statement's plan, as the store explains it, run (`EXPLAIN ANALYZE`).
struct Explained {
    /// Its nodes, one line each.
    lines: Vec<String>,
    rows: u64,
    planning_ms: f64,
    execution_ms: f64,
}

async fn explain(users: &users_store::StoreUsers, statement: &UserListStatement) -> Explained {
    let explained = users.explain(statement.clone(), true).await.expect("explain");
    let explained: Value = serde_json::from_str(&explained[0]).expect("a JSON plan");
    let plan = &explained[0]["Plan"];
    Explained {
        lines: nodes(plan).into_iter().map(describe).collect(),
        rows: plan["Actual Rows"].as_u64().unwrap_or_default(),
        planning_ms: explained[0]["Planning Time"].as_f64().unwrap_or_default(),
        execution_ms: explained[0]["Execution Time"].as_f64().unwrap_or_default(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_filter_and_order_is_read_through_indexes_on_a_million_users() {
    let Some(db) = TestDatabase::create().await else { return };
    let count = users();
    let mut conn = db.connect().await;
    let seeding = Instant::now();
    conn.batch_execute(&format!("SET seed.users = {count}; SET seed.password_hash = '{PASSWORD_HASH}';"))
        .await
        .expect("the seed's settings");
    conn.batch_execute(SEED).await.expect("seed the users");
    // As autovacuum would have by the time a table this size is searched: the visibility map that lets index-only
    // scans skip the table (the seed's own comment says why it is not in the seed's transaction).
    conn.batch_execute("VACUUM users, user_roles").await.expect("vacuum");
    eprintln!("{count} users written, indexed and analysed in {:.1} s", seeding.elapsed().as_secs_f64());

    let now = Utc::now();
    let days = |n: i64| TimeDelta::days(n);
    let first_month: DateTime<Utc> = now - days(3 * 365) + days(30);
    let broad = UserFilter {
        text: prefix("a"),
        role: Some(Role::User),
        status: Some(AccountStatus::Active),
        verified: Some(true),
        ..UserFilter::default()
    };
    let smi = UserFilter { text: prefix("smi"), ..UserFilter::default() };
    let admins = UserFilter { role: Some(Role::Admin), ..UserFilter::default() };
    let filters: Vec<(&str, UserFilter)> = vec![
        ("q=smi (a common last name's start)", smi.clone()),
        ("q=a (a letter)", UserFilter { text: prefix("a"), ..UserFilter::default() }),
        ("q=james.smith (an address's start)", UserFilter { text: prefix("james.smith"), ..UserFilter::default() }),
        ("q=patricia.w (a few thousand addresses)", UserFilter { text: prefix("patricia.w"), ..UserFilter::default() }),
        ("q=qxz (nobody)", UserFilter { text: prefix("qxz"), ..UserFilter::default() }),
        ("role=admin", admins.clone()),
        ("role=user", UserFilter { role: Some(Role::User), ..UserFilter::default() }),
        ("status=active", UserFilter { status: Some(AccountStatus::Active), ..UserFilter::default() }),
        ("status=suspended", UserFilter { status: Some(AccountStatus::Suspended), ..UserFilter::default() }),
        ("verified=true", UserFilter { verified: Some(true), ..UserFilter::default() }),
        ("verified=false", UserFilter { verified: Some(false), ..UserFilter::default() }),
        ("created in the last 30 days", UserFilter { created_after: Some(now - days(30)), ..UserFilter::default() }),
        ("created in the first month", UserFilter { created_before: Some(first_month), ..UserFilter::default() }),
        (
            "created in one week a year ago",
            UserFilter {
                created_after: Some(now - days(365)),
                created_before: Some(now - days(358)),
                ..UserFilter::default()
            },
        ),
        ("broad: q=a, role=user, active, verified", broad.clone()),
        (
            "q=j, role=admin, active",
            UserFilter {
                text: prefix("j"),
                role: Some(Role::Admin),
                status: Some(AccountStatus::Active),
                ..UserFilter::default()
            },
        ),
        (
            "suspended, unverified",
            UserFilter { status: Some(AccountStatus::Suspended), verified: Some(false), ..UserFilter::default() },
        ),
        (
            "q=smi, created in the last year",
            UserFilter { text: prefix("smi"), created_after: Some(now - days(365)), ..UserFilter::default() },
        ),
        (
            "role=admin, unverified, created in the last year",
            UserFilter {
                role: Some(Role::Admin),
                verified: Some(false),
                created_after: Some(now - days(365)),
                ..UserFilter::default()
            },
        ),
    ];
    let query = |filter: &UserFilter, key: UserSortKey, descending: bool, offset: u64| UserQuery {
        filter: filter.clone(),
        order: UserOrder { key, descending },
        page: PageRequest { offset, limit: LIMIT },
        count_limit: COUNT_LIMIT,
        now,
    };

    // Every filter: its first page and a deep one in id order, and its count.
    let mut statements: Vec<(String, UserListStatement)> = Vec::new();
    for (name, filter) in &filters {
        statements.push((format!("{name}: page 1"), UserListStatement::Page(query(filter, UserSortKey::Id, false, 0))));
        statements
            .push((format!("{name}: page 2000"), UserListStatement::Page(query(filter, UserSortKey::Id, false, DEEP))));
        statements.push((format!("{name}: count"), UserListStatement::Count(query(filter, UserSortKey::Id, false, 0))));
    }
    // Every order both ways: over everyone, over a search, over a role, and the broad filter's first page.
    let sorted = [
        ("everyone", UserFilter::default()),
        ("q=smi", smi.clone()),
        ("role=admin", admins.clone()),
        ("broad", broad.clone()),
    ];
    for key in [UserSortKey::Id, UserSortKey::Email, UserSortKey::CreatedAt, UserSortKey::LastSignInAt] {
        for descending in [false, true] {
            for (name, filter) in &sorted {
                let pages: &[u64] = if *name == "broad" { &[0] } else { &[0, DEEP] };
                for &offset in pages {
                    let order = if descending { "desc" } else { "asc" };
                    let page = offset / u64::from(LIMIT) + 1;
                    statements.push((
                        format!("{name}, sort={key:?} {order}: page {page}"),
                        UserListStatement::Page(query(filter, key, descending, offset)),
                    ));
                }
            }
        }
    }

    let store = db.store();
    let users = store.users();
    let mut report = Vec::new();
    let mut table_scans = Vec::new();
    for (name, statement) in &statements {
        // Once to warm the caches, as a page read a moment ago would have; then measured.
        explain(&users, statement).await;
        let explained = explain(&users, statement).await;
        let shown = explained.lines.join(" → ");
        if explained.lines.iter().any(|line| line.starts_with("Seq Scan") && line.ends_with(" on users")) {
            table_scans.push(format!("{name}: {shown}"));
        }
        report.push(format!(
            "| {name} | {} | {:.3} | {:.3} | {shown} |",
            explained.rows, explained.planning_ms, explained.execution_ms
        ));
    }

    // The broad filter's count, the best of three runs.
    let counted = UserListStatement::Count(query(&broad, UserSortKey::Id, false, 0));
    let mut broad_count_ms = f64::INFINITY;
    for _ in 0..3 {
        broad_count_ms = broad_count_ms.min(explain(&users, &counted).await.execution_ms);
    }

    // What a caller waits for through the store (a pooled connection, the page's ids and rows, their roles, the
    // count), for the pages the benchmark asks for.
    let mut waits = Vec::new();
    let everyone = UserFilter::default();
    let listed = [
        ("q=smi", query(&smi, UserSortKey::Id, false, 0)),
        ("role=admin", query(&admins, UserSortKey::Id, false, 0)),
        ("broad", query(&broad, UserSortKey::Id, false, 0)),
        ("sort=createdAt desc, page 1", query(&everyone, UserSortKey::CreatedAt, true, 0)),
        ("sort=createdAt desc, page 2000", query(&everyone, UserSortKey::CreatedAt, true, DEEP)),
    ];
    for (name, query) in &listed {
        users.list(query).await.expect("list");
        let started = Instant::now();
        let page = users.list(query).await.expect("list");
        let total = page.total;
        waits.push(format!("| {name} | {total:?} | {:.3} |", started.elapsed().as_secs_f64() * 1000.0));
    }

    // A search alone is counted as the union of its four ranges, each cut at the limit: the same total as counting
    // every match, for prefixes whose ranges overlap (Mary's address, first name and handle all start with "mary"),
    // past the limit or under it.
    for text in ["mary", "kayla", "smi", "qxz"] {
        let filter = UserFilter { text: prefix(text), ..UserFilter::default() };
        let counted = users.list(&query(&filter, UserSortKey::Id, false, 0)).await.expect("list").total;
        let every = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM users WHERE email_key LIKE '{text}%' OR lower(username) LIKE '{text}%' \
             OR lower(first_name) LIKE '{text}%' OR lower(last_name) LIKE '{text}%'"
        ));
        let every: Counted = diesel_async::RunQueryDsl::get_result(every, &mut conn).await.expect("count");
        let every = u64::try_from(every.n).expect("a count");
        let expected = if every > COUNT_LIMIT { Total::AtLeast(COUNT_LIMIT) } else { Total::Exact(every) };
        assert_eq!(counted, expected, "q={text}: {every} users match");
    }

    eprintln!("\n| statement, on {count} users | rows | planning ms | execution ms | plan |\n|---|---|---|---|---|");
    for line in &report {
        eprintln!("{line}");
    }
    eprintln!("\nthe broad filter's count, best of 3: {broad_count_ms:.3} ms");
    eprintln!("\n| list (debug build) | total | ms |\n|---|---|---|");
    for line in &waits {
        eprintln!("{line}");
    }

    assert!(table_scans.is_empty(), "these read the users table through:\n{}", table_scans.join("\n"));
    assert!(
        broad_count_ms < BROAD_COUNT_MS,
        "the broad filter's count took {broad_count_ms:.1} ms at best, over {BROAD_COUNT_MS} ms"
    );
}
