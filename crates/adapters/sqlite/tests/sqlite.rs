//! The store contract (`users-store-contract`) run against SQLite, each test in a database file of its own.

use users_sqlite::testing::TestDatabase;
use users_store::{StoreAuditLog, StoreOneTimeTokens, StoreOutbox, StoreSecondFactors, StoreSessions, StoreUsers};

type Repositories =
    (StoreUsers, StoreSessions, StoreOneTimeTokens, StoreSecondFactors, StoreOutbox, StoreAuditLog, TestDatabase);

async fn fresh_store() -> Option<Repositories> {
    let db = TestDatabase::create().await;
    let store = db.store();
    Some((
        store.users(),
        store.sessions(),
        store.one_time_tokens(),
        store.second_factors(),
        store.outbox(),
        store.audit_log(),
        db,
    ))
}

users_store_contract::store_contract_tests!(fresh_store);

/// Reads have connections of their own beside the single writer: a write stuck waiting for the database's write
/// lock (held here by another connection, as another process would) holds up the writer, not the reads.
#[tokio::test]
async fn reads_are_answered_while_the_writer_waits_for_the_write_lock() {
    use diesel::Connection as _;
    use diesel::connection::SimpleConnection as _;
    use std::time::Duration;
    use users_ports::UserRepository as _;
    use users_store_contract::{insert_ok, new_user, now, touch};

    let db = TestDatabase::create().await;
    let store = db.store();
    let users = store.users();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", now())).await;
    // Another connection takes the write lock and keeps it for a while.
    let path = db.path().to_str().unwrap().to_owned();
    let (locked, lock_taken) = tokio::sync::oneshot::channel();
    let holder = std::thread::spawn(move || {
        let mut other = diesel::SqliteConnection::establish(&path).unwrap();
        other.batch_execute("BEGIN IMMEDIATE").unwrap();
        locked.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(1_500));
        other.batch_execute("COMMIT").unwrap();
    });
    lock_taken.await.unwrap();

    // Given a write waiting for the lock on the writer connection,
    let writing = tokio::spawn({
        let users = users.clone();
        async move { users.update(ada.id, touch(now())).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // when the user is read, then the read answers at once, not after the write.
    let read = tokio::time::timeout(Duration::from_millis(500), users.find_by_id(ada.id)).await;
    assert_eq!(read.expect("answered while the writer waits").unwrap().map(|user| user.id), Some(ada.id));
    assert!(!writing.is_finished(), "the write was still waiting for the lock");
    // And the write goes through once the lock is let go.
    writing.await.unwrap().expect("the write, once the lock was free");
    holder.join().unwrap();
}
