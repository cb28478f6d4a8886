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
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_that_refuses_writes_is_unavailable_and_reads_go_on() {
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
    store.users().check_health().await.expect("reads still work");
}
