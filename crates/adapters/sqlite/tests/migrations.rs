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
