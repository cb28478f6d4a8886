//! Instances started together on a new database file: their migrations must not collide. Each run has a connection
//! of its own, and SQLite locks a file for connections in one process as it does for connections in several.

use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
use users_sqlite::run_migrations;
use users_sqlite::testing::TestDatabase;

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
async fn instances_migrating_one_new_database_at_once_apply_each_migration_once() {
    let db = TestDatabase::create_unmigrated();

    let runs = (0..INSTANCES).map(|_| run_migrations(db.path()));
    let results = futures_util::future::join_all(runs).await;

    let applied: Vec<Vec<String>> =
        results.into_iter().map(|result| result.expect("every instance migrates")).collect();
    let (appliers, others): (Vec<_>, Vec<_>) = applied.iter().partition(|names| !names.is_empty());
    assert_eq!(appliers.len(), 1, "exactly one instance applies the migrations: {applied:?}");
    assert!(others.iter().all(|names| names.is_empty()), "{applied:?}");
    assert!(appliers[0].iter().any(|name| name.starts_with("20261124000000")), "{applied:?}");

    let mut conn = SqliteConnection::establish(db.path().to_str().unwrap()).unwrap();
    let recorded: Count =
        diesel::sql_query("SELECT count(*) AS count FROM __diesel_schema_migrations").get_result(&mut conn).unwrap();
    assert_eq!(recorded.count, i64::try_from(appliers[0].len()).unwrap(), "each migration recorded once");
    let tables: Vec<Table> =
        diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1").load(&mut conn).unwrap();
    let tables: Vec<&str> = tables.iter().map(|table| table.name.as_str()).collect();
    for expected in ["refresh_tokens", "roles", "sessions", "user_roles", "users"] {
        assert!(tables.contains(&expected), "{expected} missing from {tables:?}");
    }
    assert_eq!(run_migrations(db.path()).await.unwrap(), Vec::<String>::new(), "nothing is left to apply");
}

#[derive(QueryableByName)]
struct Keyed {
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    email_key: Option<String>,
}

fn index_names(conn: &mut SqliteConnection) -> Vec<String> {
    let indexes: Vec<Table> =
        diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY 1").load(conn).unwrap();
    indexes.into_iter().map(|index| index.name).collect()
}

/// A database as the version before the email key left it: SQLite's `lower()` folds only ASCII, so `Ülrich@` and
/// `ülrich@` could be two accounts.
fn rewind_to_lower_case_index(conn: &mut SqliteConnection) {
    use diesel::connection::SimpleConnection as _;
    conn.batch_execute(
        "DROP INDEX users_email_key_key; CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email)); \
         INSERT INTO users (object_id, email, password_hash, created_at, updated_at) VALUES \
         ('000000000000000000000001', 'Ülrich@example.com', 'x', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'), \
         ('000000000000000000000002', 'ada@example.com', 'x', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'), \
         ('000000000000000000000003', 'ülrich@example.com', 'x', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');",
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn accounts_whose_emails_differ_only_in_non_ascii_case_are_reported_and_stop_the_migration() {
    let db = TestDatabase::create().await;
    let mut conn = SqliteConnection::establish(db.path().to_str().unwrap()).unwrap();
    rewind_to_lower_case_index(&mut conn);

    let error = run_migrations(db.path()).await.unwrap_err().to_string();

    assert!(error.contains("the accounts by users.id: [1, 3]"), "{error}");
    assert!(!error.contains("lrich@"), "no address is printed: {error}");
    assert!(!index_names(&mut conn).contains(&"users_email_key_key".to_owned()), "nothing was made unique");
    assert!(index_names(&mut conn).contains(&"users_email_lower_key".to_owned()));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_email_key_migration_fills_every_key_once_the_conflicts_are_resolved() {
    let db = TestDatabase::create().await;
    let mut conn = SqliteConnection::establish(db.path().to_str().unwrap()).unwrap();
    rewind_to_lower_case_index(&mut conn);
    run_migrations(db.path()).await.unwrap_err();
    diesel::sql_query("UPDATE users SET email = 'ulrich@example.com' WHERE id = 3").execute(&mut conn).unwrap();

    run_migrations(db.path()).await.expect("the conflict is resolved");

    let keyed: Vec<Keyed> =
        diesel::sql_query("SELECT email, email_key FROM users ORDER BY id").load(&mut conn).unwrap();
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
    let indexes = index_names(&mut conn);
    assert!(indexes.contains(&"users_email_key_key".to_owned()), "{indexes:?}");
    assert!(!indexes.contains(&"users_email_lower_key".to_owned()), "{indexes:?}");
    let clash = diesel::sql_query(
        "INSERT INTO users (object_id, email, email_key, password_hash, created_at, updated_at) VALUES \
         ('000000000000000000000004', 'ÜLRICH@example.com', 'ülrich@example.com', 'x', '2026-01-01', '2026-01-01')",
    )
    .execute(&mut conn);
    assert!(clash.is_err(), "the key is unique");
}

#[derive(QueryableByName)]
struct Verified {
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    email_verified: bool,
}

/// What undoes the finding-users migration, whose indexes name columns the earlier migrations add: undone first.
const UNDO_FINDING_USERS: &str = concat!(
    include_str!("../../../../migrations/sqlite/2026-12-07-000000_finding_users/down.sql"),
    " DELETE FROM __diesel_schema_migrations WHERE version = '20261207000000';"
);

/// Whether `applied` is the migration `version` and, after it, the finding-users one undone before it.
fn applied_again(applied: &[String], version: &str) -> bool {
    applied.len() == 2 && applied[0].starts_with(version) && applied[1].starts_with("20261207000000")
}

/// What undoes the email verification migration.
const UNDO_EMAIL_VERIFICATION: &str =
    include_str!("../../../../migrations/sqlite/2026-12-04-000000_email_verification/down.sql");

#[tokio::test(flavor = "multi_thread")]
async fn the_admins_of_a_database_migrated_to_email_verification_count_as_verified() {
    use diesel::connection::SimpleConnection as _;
    // Given a database as the version before email verification left it, with an admin and a plain user,
    let db = TestDatabase::create().await;
    let mut conn = SqliteConnection::establish(db.path().to_str().unwrap()).unwrap();
    conn.batch_execute(&format!(
        "{UNDO_FINDING_USERS} {UNDO_EMAIL_VERIFICATION} DELETE FROM __diesel_schema_migrations WHERE version = '20261204000000'; \
         INSERT INTO users (object_id, email, email_key, password_hash, created_at, updated_at) VALUES \
         ('000000000000000000000001', 'admin@example.com', 'admin@example.com', 'x', '2026-01-01', '2026-01-01'), \
         ('000000000000000000000002', 'user@example.com', 'user@example.com', 'x', '2026-01-01', '2026-01-01'); \
         INSERT INTO user_roles (user_id, role_id) SELECT id, 1 FROM users WHERE email = 'admin@example.com'; \
         INSERT INTO user_roles (user_id, role_id) SELECT id, 2 FROM users;"
    ))
    .unwrap();

    // when it is migrated,
    let applied = run_migrations(db.path()).await.expect("migrated");

    // then the admin counts as verified (an operator vouched for the address), and the other user does not.
    assert!(applied_again(&applied, "20261204000000"), "{applied:?}");
    let users: Vec<Verified> =
        diesel::sql_query("SELECT email, email_verified FROM users ORDER BY id").load(&mut conn).unwrap();
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
    include_str!("../../../../migrations/sqlite/2026-12-05-000000_sessions_and_suspension/down.sql");

const SESSIONS_AS_MIGRATED: &str = "SELECT public_id, last_used_at = created_at AS last_used_at_is_created_at, \
     ip IS NULL AND user_agent IS NULL AS no_device FROM sessions ORDER BY id";

#[tokio::test(flavor = "multi_thread")]
async fn sessions_started_before_they_had_names_get_one_each_and_were_last_used_when_they_began() {
    use diesel::connection::SimpleConnection as _;
    // Given a database as the version before named sessions left it, with three sessions begun at different times,
    let db = TestDatabase::create().await;
    let mut conn = SqliteConnection::establish(db.path().to_str().unwrap()).unwrap();
    conn.batch_execute(&format!(
        "{UNDO_FINDING_USERS} {UNDO_SESSIONS_AND_SUSPENSION} DELETE FROM __diesel_schema_migrations WHERE version = '20261205000000'; \
         INSERT INTO users (object_id, email, email_key, password_hash, created_at, updated_at) VALUES \
         ('000000000000000000000001', 'ada@example.com', 'ada@example.com', 'x', '2026-01-01', '2026-01-01'); \
         INSERT INTO sessions (user_id, created_at, expires_at) VALUES \
         (1, '2026-01-01 10:00:00+00:00', '2027-01-01 00:00:00+00:00'), \
         (1, '2026-01-01 11:00:00+00:00', '2027-01-01 00:00:00+00:00'), \
         (1, '2026-01-01 12:00:00.5+00:00', '2027-01-01 00:00:00+00:00');"
    ))
    .unwrap();

    // when it is migrated,
    let applied = run_migrations(db.path()).await.expect("migrated");

    // then each session has a name of its own, 32 lowercase hex digits, was last used when it began, and no device
    // is known for it.
    assert!(applied_again(&applied, "20261205000000"), "{applied:?}");
    let sessions: Vec<MigratedSession> = diesel::sql_query(SESSIONS_AS_MIGRATED).load(&mut conn).unwrap();
    assert_eq!(sessions.len(), 3);
    for session in &sessions {
        assert!(users_ports::SessionKey::parse(&session.public_id).is_some(), "{}", session.public_id);
        assert!(session.last_used_at_is_created_at && session.no_device);
    }
    let mut names: Vec<&str> = sessions.iter().map(|session| session.public_id.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 3, "each its own: {names:?}");
    assert!(index_names(&mut conn).contains(&"sessions_public_id_key".to_owned()));

    // A sign-in of the previous version, sharing the file, writes neither: its session gets them too.
    for _ in 0..2 {
        conn.batch_execute(
            "INSERT INTO sessions (user_id, created_at, expires_at) \
             VALUES (1, '2026-01-02 00:00:00+00:00', '2027-01-01 00:00:00+00:00')",
        )
        .expect("the previous version's insert");
    }
    let sessions: Vec<MigratedSession> = diesel::sql_query(SESSIONS_AS_MIGRATED).load(&mut conn).unwrap();
    for newer in &sessions[3..] {
        assert!(users_ports::SessionKey::parse(&newer.public_id).is_some(), "{}", newer.public_id);
        assert!(newer.last_used_at_is_created_at);
    }
}

/// What undoes the second factor's migration.
const UNDO_SECOND_FACTOR: &str = concat!(
    include_str!("../../../../migrations/sqlite/2026-12-08-000000_second_factor/down.sql"),
    " DELETE FROM __diesel_schema_migrations WHERE version = '20261208000000';"
);

#[derive(QueryableByName)]
struct StoredToken {
    #[diesel(sql_type = Text)]
    token_hash: String,
    #[diesel(sql_type = Text)]
    purpose: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    used_at: Option<String>,
}

#[tokio::test(flavor = "multi_thread")]
async fn the_second_factor_migration_keeps_every_token_while_it_makes_their_table_again() {
    use diesel::connection::SimpleConnection as _;
    // Given a database as the version before second factors left it, with a user and two tokens, one used,
    let db = TestDatabase::create().await;
    let mut conn = SqliteConnection::establish(db.path().to_str().unwrap()).unwrap();
    conn.batch_execute(&format!(
        "{UNDO_SECOND_FACTOR} \
         INSERT INTO users (object_id, email, email_key, password_hash, created_at, updated_at) VALUES \
         ('000000000000000000000001', 'ada@example.com', 'ada@example.com', 'x', '2026-01-01', '2026-01-01'); \
         INSERT INTO one_time_tokens (token_hash, user_id, purpose, email_key, created_at, expires_at, used_at) VALUES \
         ('verify', 1, 'verify_email', 'ada@example.com', '2026-01-01', '2026-01-02', NULL), \
         ('reset', 1, 'reset_password', 'ada@example.com', '2026-01-01', '2026-01-02', '2026-01-01');"
    ))
    .unwrap();
    let refused = conn.batch_execute(
        "INSERT INTO one_time_tokens (token_hash, user_id, purpose, email_key, created_at, expires_at) \
         VALUES ('sign-in', 1, 'mfa_sign_in', 'ada@example.com', '2026-01-01', '2026-01-02')",
    );
    assert!(refused.is_err(), "the version before knows no sign-in waiting for a code");

    // when it is migrated,
    let applied = run_migrations(db.path()).await.expect("migrated");

    // then the tokens are as they were, their indexes are there again, a sign-in may wait for a code, and the user
    // has no second factor.
    assert!(applied.len() == 1 && applied[0].starts_with("20261208000000"), "{applied:?}");
    let tokens: Vec<StoredToken> =
        diesel::sql_query("SELECT token_hash, purpose, used_at FROM one_time_tokens ORDER BY token_hash")
            .load(&mut conn)
            .unwrap();
    let tokens: Vec<(&str, &str, Option<&str>)> = tokens
        .iter()
        .map(|token| (token.token_hash.as_str(), token.purpose.as_str(), token.used_at.as_deref()))
        .collect();
    assert_eq!(tokens, [("reset", "reset_password", Some("2026-01-01")), ("verify", "verify_email", None)]);
    let indexes = index_names(&mut conn);
    for index in ["one_time_tokens_email_key_idx", "one_time_tokens_user_purpose_idx"] {
        assert!(indexes.contains(&index.to_owned()), "{index} missing from {indexes:?}");
    }
    conn.batch_execute(
        "INSERT INTO one_time_tokens (token_hash, user_id, purpose, email_key, created_at, expires_at) \
         VALUES ('sign-in', 1, 'mfa_sign_in', 'ada@example.com', '2026-01-01', '2026-01-02')",
    )
    .expect("a sign-in's token");
    let with_factor: Count =
        diesel::sql_query("SELECT count(*) AS count FROM users WHERE mfa_enabled").get_result(&mut conn).unwrap();
    assert_eq!(with_factor.count, 0);
    // The tokens still go with their user.
    conn.batch_execute("PRAGMA foreign_keys = ON; DELETE FROM users").unwrap();
    let left: Count = diesel::sql_query("SELECT count(*) AS count FROM one_time_tokens").get_result(&mut conn).unwrap();
    assert_eq!(left.count, 0);
}
