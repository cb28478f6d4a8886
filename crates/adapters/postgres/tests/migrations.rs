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
