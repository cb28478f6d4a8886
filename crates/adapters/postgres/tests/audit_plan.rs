//! The audit log's indexes, measured: on a million events (`AUDIT_PLAN_EVENTS` for another number), spread as a
//! service's would be, PostgreSQL runs every page `list_events` reads, and a batch of pruning, without reading the
//! table through (no `Seq Scan`), the newest page straight down the primary key. The plans are those of the very
//! statements the store runs (`StoreAuditLog::explain`), with their parameters bound; their timings (`EXPLAIN
//! ANALYZE`) are printed, for BENCHMARKS.md: `cargo test -p users-postgres --test audit_plan -- --nocapture`.

use std::time::Instant;

use chrono::{DateTime, Utc};
use diesel_async::SimpleAsyncConnection as _;
use serde_json::Value;
use users_domain::UserId;
use users_ports::{AuditEventId, AuditKind, AuditLog as _, AuditQuery};
use users_postgres::testing::TestDatabase;
use users_store::AuditStatement;

/// How many events the log is filled with.
fn events() -> u64 {
    std::env::var("AUDIT_PLAN_EVENTS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000)
}

/// Fills the log with `n` events, one every 30 seconds from 2026-01-01, about 50,000 users (ids 100 to 50,099), of
/// every kind, as often as a service sees them (drawn by a hash of the event's number, so that a user's events are of
/// every kind): mostly sign-ins, some failures (by nobody), a few admin actions (by one of 20 admins, ids 1 to 20),
/// rarely a deletion. The secondary indexes are dropped first and made again after
/// (as the migration defines them): building an index at once takes a fraction of keeping it up row by row.
const SEED: &str = "
    CREATE TEMP TABLE audit_indexes AS
        SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_events' AND indexname <> 'audit_events_pkey';
    DO $$ DECLARE i record; BEGIN
        FOR i IN SELECT * FROM audit_indexes LOOP EXECUTE 'DROP INDEX ' || quote_ident(i.indexname); END LOOP;
    END $$;
    SET maintenance_work_mem = '256MB';
    INSERT INTO audit_events (at, kind, actor_id, subject_id, ip, user_agent, details)
    SELECT timestamptz '2026-01-01' + i * interval '30 seconds', kind,
           CASE WHEN kind IN ('user.sign_in_failed', 'user.locked', 'password.reset_requested', 'password.reset')
                    THEN NULL
                WHEN kind IN ('user.created', 'user.deleted', 'roles.changed', 'user.suspended', 'user.unsuspended',
                              'user.unlocked', 'user.imported')
                    THEN 1 + (i / 1000) % 20
                ELSE subject END,
           subject, '203.0.113.' || (i % 250), 'Mozilla/5.0 (X11; Linux x86_64) Firefox/' || (100 + i % 40) || '.0',
           '{\"network\": \"203.0.113.0/24\"}'
    FROM (
        SELECT i, 100 + (i * 7919) % 50000 AS subject,
               CASE WHEN r < 380 THEN 'user.signed_in' WHEN r < 530 THEN 'user.sign_in_failed'
                    WHEN r < 590 THEN 'session.revoked' WHEN r < 670 THEN 'user.signed_out'
                    WHEN r < 750 THEN 'user.updated' WHEN r < 790 THEN 'user.registered'
                    WHEN r < 825 THEN 'email.verified' WHEN r < 855 THEN 'password.reset_requested'
                    WHEN r < 875 THEN 'password.reset' WHEN r < 895 THEN 'password.changed'
                    WHEN r < 910 THEN 'email.changed' WHEN r < 930 THEN 'user.locked'
                    WHEN r < 940 THEN 'mfa.enabled' WHEN r < 945 THEN 'mfa.disabled'
                    WHEN r < 960 THEN 'user.created' WHEN r < 970 THEN 'roles.changed'
                    WHEN r < 978 THEN 'user.suspended' WHEN r < 984 THEN 'user.unsuspended'
                    WHEN r < 992 THEN 'user.unlocked' WHEN r < 997 THEN 'user.deleted'
                    ELSE 'user.imported' END AS kind
        FROM (SELECT i, abs(hashint8(i)::bigint) % 1000 AS r FROM generate_series(1::bigint, $EVENTS) AS i) AS drawn
    ) AS events;
    DO $$ DECLARE i record; BEGIN FOR i IN SELECT * FROM audit_indexes LOOP EXECUTE i.indexdef; END LOOP; END $$;
    ANALYZE audit_events;";

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

#[tokio::test(flavor = "multi_thread")]
async fn every_page_and_every_pruning_batch_is_read_through_indexes_on_a_million_events() {
    let Some(db) = TestDatabase::create().await else { return };
    let events = events();
    let mut conn = db.connect().await;
    let seeding = Instant::now();
    conn.batch_execute(&SEED.replace("$EVENTS", &events.to_string())).await.expect("seed the log");
    eprintln!("{events} events written, indexed and analysed in {:.1} s", seeding.elapsed().as_secs_f64());

    let store = db.store();
    let log = store.audit_log();
    let (user, admin) = (Some(UserId(4242)), Some(UserId(1)));
    let (common, rare) = (Some(AuditKind::UserSignedIn), Some(AuditKind::UserDeleted));
    let middle = Some(AuditEventId(i64::try_from(events / 2).expect("a count")));
    let pages = [
        ("newest", None, None, None),
        ("before an id", None, None, middle),
        ("a user", user, None, None),
        ("a user, before an id", user, None, middle),
        ("an admin (events done to others)", admin, None, None),
        ("an admin, before an id", admin, None, middle),
        ("a common kind", None, common, None),
        ("a common kind, before an id", None, common, middle),
        ("a rare kind", None, rare, None),
        ("a rare kind, before an id", None, rare, middle),
        ("a user and a kind", user, common, None),
        ("a user and a kind, before an id", user, common, middle),
        ("an admin and a rare kind", admin, rare, None),
        ("an admin and a rare kind, before an id", admin, rare, middle),
    ];
    let prune_before: DateTime<Utc> = "2026-02-01T00:00:00Z".parse().expect("a time");
    let mut statements: Vec<(String, AuditStatement)> = pages
        .iter()
        .map(|&(name, user, kind, before)| {
            (format!("page of 50: {name}"), AuditStatement::List(AuditQuery { user, kind, before, limit: 50 }))
        })
        .collect();
    statements.push(("a pruning batch (of the first month's events)".to_owned(), AuditStatement::Prune(prune_before)));

    let mut report = Vec::new();
    for (name, statement) in &statements {
        // Once to warm the caches, as a page read a moment ago would have; then measured.
        log.explain(*statement, true).await.expect("explain");
        let explained = log.explain(*statement, true).await.expect("explain");
        let explained: Value = serde_json::from_str(&explained[0]).expect("a JSON plan");
        let plan = &explained[0]["Plan"];
        let lines: Vec<String> = nodes(plan).into_iter().map(describe).collect();
        let shown = lines.join("\n  ");
        assert!(lines.iter().all(|line| !line.starts_with("Seq Scan")), "{name} reads the table through:\n  {shown}");
        // The nodes that read an index: each page's walks (a bitmap's index, or an index scan's).
        let walks: Vec<&String> = lines.iter().filter(|line| line.contains(" using audit_events_")).collect();
        assert!(!walks.is_empty(), "{name}:\n  {shown}");
        if let AuditStatement::List(query) = statement {
            if query.user.is_none() && query.kind.is_none() {
                let down_the_key = |walk: &&String| walk.contains("Scan Backward using audit_events_pkey");
                assert!(walks.iter().all(down_the_key), "{name} is a walk down the primary key:\n  {shown}");
            }
            if query.user.is_some() {
                assert_eq!(walks.len(), 2, "{name}: a walk about the user, one of their doings:\n  {shown}");
                assert!(walks[0].contains("using audit_events_subject"), "{name}:\n  {shown}");
                assert!(walks[1].contains("using audit_events_actor"), "{name}:\n  {shown}");
            }
        } else {
            assert!(walks.iter().any(|walk| walk.contains("using audit_events_at_idx")), "{name}:\n  {shown}");
        }
        let planning = explained[0]["Planning Time"].as_f64().unwrap_or_default();
        let execution = explained[0]["Execution Time"].as_f64().unwrap_or_default();
        // A deletion returns no rows: what it deleted is what its first child found.
        let found = if plan["Node Type"] == "ModifyTable" { &plan["Plans"][0] } else { plan };
        let rows = found["Actual Rows"].as_u64().unwrap_or_default();
        report.push(format!("| {name} | {rows} | {planning:.3} | {execution:.3} | {} |", lines.join(" → ")));
    }

    // What a caller waits for, for the same pages through the store (a pool's connection, the query, the rows read).
    let mut waits = Vec::new();
    for (name, statement) in &statements {
        let AuditStatement::List(query) = statement else { continue };
        let started = Instant::now();
        let page = log.list_events(*query).await.expect("list");
        waits.push(format!("| {name} | {} | {:.3} |", page.len(), started.elapsed().as_secs_f64() * 1000.0));
    }

    eprintln!("\n| statement, on {events} events | rows | planning ms | execution ms | plan |\n|---|---|---|---|---|");
    for line in report {
        eprintln!("{line}");
    }
    eprintln!("\n| list_events | events | ms |\n|---|---|---|");
    for line in waits {
        eprintln!("{line}");
    }
}
