//! Faults a retry may cure are told apart from the rest: a statement the server cancels for outlasting
//! `statement_timeout`, and a database that refuses writes (a standby, a disk-full server set read-only), come back
//! as unavailable (503 with Retry-After to a client), not as a failure (500).

use std::time::Duration;

use chrono::Utc;
use diesel_async::SimpleAsyncConnection as _;
use users_domain::{Email, ObjectId, Role};
use users_ports::{InsertUserError, NewUser, PasswordHash, UserRepository};
use users_postgres::PgOptions;
use users_postgres::testing::TestDatabase;

fn new_user(email: &str) -> NewUser {
    NewUser {
        object_id: ObjectId::from_parts(1_750_000_000, [1, 2, 3, 4, 5], 1),
        username: None,
        email: Email::parse(email).unwrap(),
        password_hash: PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
        profile: Default::default(),
        roles: vec![Role::User],
        email_verified: false,
        verification: None,
        audit: vec![],
        created_at: Utc::now(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_statement_cancelled_by_statement_timeout_is_unavailable() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store_with(&PgOptions { statement_timeout: Duration::from_millis(200), ..PgOptions::default() });
    // Another session holds the table, so the insert waits for its lock until the server cancels it.
    let mut holder = db.connect().await;
    holder.batch_execute("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE").await.unwrap();

    let result = store.users().insert(new_user("ada@example.com")).await;

    match result {
        Err(InsertUserError::Unexpected(error)) => assert!(error.is_unavailable(), "{error}"),
        other => panic!("expected an unavailable store, got {other:?}"),
    }
    holder.batch_execute("ROLLBACK").await.unwrap();
    // A slow moment says nothing of the next request: the store stays ready.
    store.users().check_health().await.expect("a timeout is not remembered against readiness");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_process_killed_under_the_pool_costs_at_most_an_unavailable_answer_never_a_fault() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store_with(&PgOptions { max_connections: 1, ..PgOptions::default() });
    store.users().check_health().await.expect("the pool's one connection is open");
    let mut admin = db.connect().await;
    let name = db.url().rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
    // What an operator's pg_terminate_backend, or the server ending every backend after one crashed, does.
    admin
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid() AND application_name <> 'users-change-listener'"
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let result = store.users().insert(new_user("ada@example.com")).await;

    // The pool usually sees the connection died and opens another; if the query went out on it first, the client
    // is told to try again.
    match result {
        Ok(_) => {}
        Err(InsertUserError::Unexpected(error)) => assert!(error.is_unavailable(), "{error}"),
        Err(other) => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_that_refuses_writes_is_unavailable_and_says_so_when_asked_if_it_is_healthy() {
    let Some(db) = TestDatabase::create().await else { return };
    let mut admin = db.connect().await;
    let name = db.url().rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
    admin.batch_execute(&format!("ALTER DATABASE {name} SET default_transaction_read_only = on")).await.unwrap();
    let store = db.store();

    let result = store.users().insert(new_user("ada@example.com")).await;

    match result {
        Err(InsertUserError::Unexpected(error)) => assert!(error.is_unavailable(), "{error}"),
        other => panic!("expected an unavailable store, got {other:?}"),
    }
    // It still answers reads: what it refused is what tells.
    let health = store.users().check_health().await.expect_err("not healthy while it refuses writes");
    assert!(health.is_unavailable(), "{health}");
}
