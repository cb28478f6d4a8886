//! Instances started together on a fresh database: their migrations must not collide.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use users_postgres::run_migrations;
use users_postgres::testing::TestDatabase;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(QueryableByName)]
struct Table {
    #[diesel(sql_type = Text)]
    name: String,
}

const INSTANCES: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_migrating_one_fresh_database_at_once_apply_each_migration_once() {
    let Some(db) = TestDatabase::create_unmigrated().await else { return };

    let runs = (0..INSTANCES).map(|_| run_migrations(db.url()));
    let results = futures_util::future::join_all(runs).await;

    let applied: Vec<Vec<String>> =
        results.into_iter().map(|result| result.expect("every instance migrates")).collect();
    let (appliers, others): (Vec<_>, Vec<_>) = applied.iter().partition(|names| !names.is_empty());
    assert_eq!(appliers.len(), 1, "exactly one instance applies the migrations: {applied:?}");
    assert!(others.iter().all(|names| names.is_empty()), "{applied:?}");
    assert!(appliers[0].iter().any(|name| name.starts_with("20261124000000")), "{applied:?}");

    let mut conn = db.connect().await;
    let recorded: Count = diesel::sql_query("SELECT count(*) AS count FROM __diesel_schema_migrations")
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(recorded.count, i64::try_from(appliers[0].len()).unwrap(), "each migration recorded once");
    let tables: Vec<Table> = diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    )
    .load(&mut conn)
    .await
    .unwrap();
    let tables: Vec<&str> = tables.iter().map(|table| table.name.as_str()).collect();
    for expected in ["refresh_tokens", "roles", "sessions", "user_roles", "users"] {
        assert!(tables.contains(&expected), "{expected} missing from {tables:?}");
    }
    assert_eq!(run_migrations(db.url()).await.unwrap(), Vec::<String>::new(), "nothing is left to apply");
}

#[derive(QueryableByName)]
struct Keyed {
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    email_key: Option<String>,
}

async fn has_index(conn: &mut diesel_async::AsyncPgConnection, name: &str) -> bool {
    let found: Count =
        diesel::sql_query(format!("SELECT count(*) AS count FROM pg_indexes WHERE indexname = '{name}'"))
            .get_result(conn)
            .await
            .unwrap();
    found.count > 0
}

/// A database as the version before the email key left it, with two accounts whose emails differ only in non-ASCII
/// case (as SQLite allowed, or a PostgreSQL whose `lower()` folds ASCII only under the C locale).
async fn rewind_to_before_the_email_key(conn: &mut diesel_async::AsyncPgConnection) {
    use diesel_async::SimpleAsyncConnection as _;
    conn.batch_execute(
        "DROP INDEX users_email_key_key; ALTER TABLE users ALTER COLUMN email_key DROP NOT NULL; \
         INSERT INTO users (object_id, email, password_hash, created_at, updated_at) VALUES \
         ('000000000000000000000001', 'Ülrich@example.com', 'x', now(), now()), \
         ('000000000000000000000002', 'ada@example.com', 'x', now(), now()), \
         ('000000000000000000000003', 'ülrich@example.com', 'x', now(), now());",
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn accounts_whose_emails_differ_only_in_case_are_reported_and_stop_the_migration() {
    let Some(db) = TestDatabase::create().await else { return };
    let mut conn = db.connect().await;
    rewind_to_before_the_email_key(&mut conn).await;

    let error = run_migrations(db.url()).await.unwrap_err().to_string();

    assert!(error.contains("the accounts by users.id: [1, 3]"), "{error}");
    assert!(!error.contains("lrich@"), "no address is printed: {error}");
    assert!(!has_index(&mut conn, "users_email_key_key").await, "nothing was made unique");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_email_key_migration_fills_every_key_once_the_conflicts_are_resolved() {
    let Some(db) = TestDatabase::create().await else { return };
    let mut conn = db.connect().await;
    rewind_to_before_the_email_key(&mut conn).await;
    run_migrations(db.url()).await.unwrap_err();
    diesel::sql_query("UPDATE users SET email = 'ulrich@example.com' WHERE id = 3").execute(&mut conn).await.unwrap();

    run_migrations(db.url()).await.expect("the conflict is resolved");

    let keyed: Vec<Keyed> =
        diesel::sql_query("SELECT email, email_key FROM users ORDER BY id").load(&mut conn).await.unwrap();
    let keys: Vec<(&str, Option<&str>)> =
        keyed.iter().map(|row| (row.email.as_str(), row.email_key.as_deref())).collect();
    assert_eq!(
        keys,
        [
            ("Ülrich@example.com", Some("ülrich@example.com")),
            ("ada@example.com", Some("ada@example.com")),
            ("ulrich@example.com", Some("ulrich@example.com")),
        ]
    );
    assert!(has_index(&mut conn, "users_email_key_key").await);
    assert!(!has_index(&mut conn, "users_email_lower_key").await);
    let keyless = diesel::sql_query(
        "INSERT INTO users (object_id, email, password_hash, created_at, updated_at) \
         VALUES ('000000000000000000000004', 'grace@example.com', 'x', now(), now())",
    )
    .execute(&mut conn)
    .await;
    assert!(keyless.is_err(), "the key is NOT NULL");
}

#[derive(QueryableByName)]
struct Verified {
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    email_verified: bool,
}

/// What undoes the email verification migration.
const UNDO_EMAIL_VERIFICATION: &str =
    include_str!("../../../../migrations/postgres/2026-12-04-000000_email_verification/down.sql");

#[tokio::test(flavor = "multi_thread")]
async fn the_admins_of_a_database_migrated_to_email_verification_count_as_verified() {
    use diesel_async::SimpleAsyncConnection as _;
    // Given a database as the version before email verification left it, with an admin and a plain user,
    let Some(db) = TestDatabase::create().await else { return };
    let mut conn = db.connect().await;
    conn.batch_execute(&format!(
        "{UNDO_EMAIL_VERIFICATION} DELETE FROM __diesel_schema_migrations WHERE version = '20261204000000'; \
         INSERT INTO users (object_id, email, email_key, password_hash, created_at, updated_at) VALUES \
         ('000000000000000000000001', 'admin@example.com', 'admin@example.com', 'x', now(), now()), \
         ('000000000000000000000002', 'user@example.com', 'user@example.com', 'x', now(), now()); \
         INSERT INTO user_roles (user_id, role_id) SELECT id, 1 FROM users WHERE email = 'admin@example.com'; \
         INSERT INTO user_roles (user_id, role_id) SELECT id, 2 FROM users;"
    ))
    .await
    .unwrap();

    // when it is migrated,
    let applied = run_migrations(db.url()).await.expect("migrated");

    // then the admin counts as verified (an operator vouched for the address), and the other user does not.
    assert!(applied.iter().all(|name| name.starts_with("20261204000000")) && applied.len() == 1, "{applied:?}");
    let users: Vec<Verified> =
        diesel::sql_query("SELECT email, email_verified FROM users ORDER BY id").load(&mut conn).await.unwrap();
    let users: Vec<(&str, bool)> = users.iter().map(|user| (user.email.as_str(), user.email_verified)).collect();
    assert_eq!(users, [("admin@example.com", true), ("user@example.com", false)]);
}

#[derive(QueryableByName)]
struct MigratedSession {
    #[diesel(sql_type = Text)]
    public_id: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    last_used_at_is_created_at: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    no_device: bool,
}

/// What undoes the migration that named sessions and added suspensions.
const UNDO_SESSIONS_AND_SUSPENSION: &str =
    include_str!("../../../../migrations/postgres/2026-12-05-000000_sessions_and_suspension/down.sql");

const SESSIONS_AS_MIGRATED: &str = "SELECT public_id, last_used_at = created_at AS last_used_at_is_created_at, \
     ip IS NULL AND user_agent IS NULL AS no_device FROM sessions ORDER BY id";

#[tokio::test(flavor = "multi_thread")]
async fn sessions_started_before_they_had_names_get_one_each_and_were_last_used_when_they_began() {
    use diesel_async::SimpleAsyncConnection as _;
    // Given a database as the version before named sessions left it, with three sessions begun at different times,
    let Some(db) = TestDatabase::create().await else { return };
    let mut conn = db.connect().await;
    conn.batch_execute(&format!(
        "{UNDO_SESSIONS_AND_SUSPENSION} DELETE FROM __diesel_schema_migrations WHERE version = '20261205000000'; \
         INSERT INTO users (object_id, email, email_key, password_hash, created_at, updated_at) VALUES \
         ('000000000000000000000001', 'ada@example.com', 'ada@example.com', 'x', now(), now()); \
         INSERT INTO sessions (user_id, created_at, expires_at) \
         SELECT id, now() - make_interval(hours => n), now() + interval '1 day' FROM users, generate_series(1, 3) AS n;"
    ))
    .await
    .unwrap();

    // when it is migrated,
    let applied = run_migrations(db.url()).await.expect("migrated");

    // then each session has a name of its own, 32 lowercase hex digits, was last used when it began, and no device
    // is known for it.
    assert!(applied.len() == 1 && applied[0].starts_with("20261205000000"), "{applied:?}");
    let sessions: Vec<MigratedSession> = diesel::sql_query(SESSIONS_AS_MIGRATED).load(&mut conn).await.unwrap();
    assert_eq!(sessions.len(), 3);
    for session in &sessions {
        assert!(users_ports::SessionKey::parse(&session.public_id).is_some(), "{}", session.public_id);
        assert!(session.last_used_at_is_created_at && session.no_device);
    }
    let mut names: Vec<&str> = sessions.iter().map(|session| session.public_id.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 3, "each its own: {names:?}");
    assert!(has_index(&mut conn, "sessions_public_id_key").await);

    // A sign-in of the previous version, still running beside the new one, writes neither: its session gets them too.
    conn.batch_execute(
        "INSERT INTO sessions (user_id, created_at, expires_at) SELECT id, now(), now() + interval '1 day' FROM users",
    )
    .await
    .expect("the previous version's insert");
    let sessions: Vec<MigratedSession> = diesel::sql_query(SESSIONS_AS_MIGRATED).load(&mut conn).await.unwrap();
    let newest = sessions.last().expect("four sessions");
    assert!(users_ports::SessionKey::parse(&newest.public_id).is_some(), "{}", newest.public_id);
    assert!(newest.last_used_at_is_created_at, "a sign-in commits within its transaction's now()");
}
