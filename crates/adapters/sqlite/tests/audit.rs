//! The audit log on SQLite: an event that cannot be written fails its change, and each page of the log, and each
//! batch of its pruning, is an index walk.

use diesel::Connection as _;
use diesel::connection::SimpleConnection as _;
use users_domain::UserId;
use users_ports::{AuditEventId, AuditKind, AuditQuery};
use users_sqlite::testing::TestDatabase;
use users_store::AuditStatement;

/// A connection of its own to the test's database file, as an operator's shell would have.
fn connect(db: &TestDatabase) -> diesel::SqliteConnection {
    diesel::SqliteConnection::establish(db.path().to_str().expect("a UTF-8 path")).expect("open the database")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_whose_event_is_refused_fails_and_changes_nothing() {
    let db = TestDatabase::create().await;
    let store = db.store();
    let mut shell = connect(&db);
    let refuse_events = async move {
        shell
            .batch_execute(
                "CREATE TRIGGER refuse_audit_events BEFORE INSERT ON audit_events \
                 BEGIN SELECT RAISE(ABORT, 'audit events refused'); END",
            )
            .expect("install the trigger");
    };

    users_store_contract::audit::a_change_whose_event_is_refused_fails_and_changes_nothing(
        store.users(),
        store.sessions(),
        store.one_time_tokens(),
        refuse_events,
    )
    .await;
}

/// Every page `list_events` reads (no filter, a user, a kind, both; first pages and later ones) is a search of one
/// index, or of the table's own b-tree, in id order, stopped after the page: never a scan of the table (but the
/// newest events, whose walk is the table's b-tree backwards) nor a sort of the matching rows (a user's page sorts the
/// two pages its walks found, nothing more). And so is a batch of pruning. On 20,000 events, analysed, so that the
/// planner weighs real statistics.
#[tokio::test(flavor = "multi_thread")]
async fn every_page_and_every_pruning_batch_walks_an_index() {
    let db = TestDatabase::create().await;
    let store = db.store();
    let mut shell = connect(&db);
    // About 2,000 users, of four common kinds and a rare one; one in ten done by an admin (user 1) to another account,
    // a quarter by nobody (failed sign-ins).
    shell
        .batch_execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) \
             INSERT INTO audit_events (at, kind, actor_id, subject_id, ip, user_agent, details) \
             SELECT strftime('%Y-%m-%dT%H:%M:%f+00:00', '2026-01-01', '+' || i || ' minutes'), \
                    CASE WHEN i % 1000 = 7 THEN 'user.deleted' WHEN i % 4 = 0 THEN 'user.signed_in' \
                         WHEN i % 4 = 1 THEN 'user.sign_in_failed' WHEN i % 4 = 2 THEN 'user.updated' \
                         ELSE 'session.revoked' END, \
                    CASE WHEN i % 10 = 0 THEN 1 WHEN i % 4 = 1 THEN NULL ELSE i % 2000 + 2 END, \
                    i % 2000 + 2, '203.0.113.7', 'curl/8', '{}' FROM n; \
             ANALYZE;",
        )
        .expect("seed the log");
    let log = store.audit_log();
    let (ada, admin) = (Some(UserId(42)), Some(UserId(1)));
    let (common, rare) = (Some(AuditKind::UserUpdated), Some(AuditKind::UserDeleted));
    let before = Some(AuditEventId(15_000));
    for (user, kind, before) in [
        (None, None, None),
        (None, None, before),
        (ada, None, None),
        (ada, None, before),
        (admin, None, None),
        (None, common, None),
        (None, common, before),
        (None, rare, before),
        (ada, common, None),
        (ada, common, before),
        (admin, rare, before),
    ] {
        let query = AuditQuery { user, kind, before, limit: 50 };
        let plan = log.explain(AuditStatement::List(query), false).await.expect("explain");
        let shown = plan.join("\n");
        eprintln!("{query:?}\n{shown}\n");
        let walks: Vec<&String> = plan.iter().filter(|line| line.contains(" audit_events")).collect();
        if (user, kind, before) == (None, None, None) {
            assert_eq!(walks, ["SCAN audit_events"], "the table's own b-tree, backwards:\n{shown}");
        } else {
            assert!(walks.iter().all(|walk| walk.starts_with("SEARCH audit_events USING ")), "a scan:\n{shown}");
        }
        let sorted_after = |n: usize| n > 0 && plan[n - 1].starts_with("SCAN (subquery-");
        for (n, line) in plan.iter().enumerate() {
            assert!(!line.contains("TEMP B-TREE") || sorted_after(n), "a sort of the rows found:\n{shown}");
        }
        if user.is_some() {
            assert_eq!(walks.len(), 2, "two walks, about the user and by them:\n{shown}");
            let index = if kind.is_some() { ["subject_kind", "actor_kind"] } else { ["subject", "actor"] };
            for (walk, index) in walks.iter().zip(index) {
                assert!(walk.contains(&format!("INDEX audit_events_{index}_idx ")), "{index}:\n{shown}");
            }
        }
        if kind == rare {
            assert!(walks.iter().any(|walk| walk.contains("kind")), "the rare kind's index:\n{shown}");
        }
    }
    let cutoff = "2026-01-02T00:00:00Z".parse().expect("a time");
    let plan = log.explain(AuditStatement::Prune(cutoff), false).await.expect("explain").join("\n");
    eprintln!("prune\n{plan}");
    assert!(plan.contains("INDEX audit_events_at_idx (at<?)"), "{plan}");
    assert!(!plan.contains("SCAN audit_events"), "{plan}");
}
