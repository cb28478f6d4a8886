//! The trigger-kept number of users that a page of the list reports as its total (PostgreSQL only), against the
//! table's own count, whoever adds or removes users.

use diesel::sql_types::BigInt;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use users_ports::{AuditKind, UserRepository};
use users_postgres::testing::TestDatabase;
use users_store_contract::{audit, in_id_order, insert_ok, new_user, now};

#[tokio::test]
async fn the_total_follows_every_insert_and_delete_wherever_they_come_from() {
    let Some(db) = TestDatabase::create().await else { return };
    let users = db.store().users();
    let mut conn = db.connect().await;
    let counted = async |conn: &mut _| -> i64 {
        diesel::select(diesel::dsl::sql::<BigInt>("(SELECT count(*) FROM users)")).get_result(conn).await.unwrap()
    };
    let total = async || users.list(&in_id_order(0, 1)).await.unwrap().total.count();
    assert_eq!(total().await, 0);

    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    insert_ok(&users, new_user(2, "grace@example.com", t)).await;
    insert_ok(&users, new_user(3, "edsger@example.com", t)).await;
    users.delete(ada.id, audit(AuditKind::UserDeleted, now())).await.unwrap();
    assert_eq!(total().await, 2);

    conn.batch_execute(
        "INSERT INTO users (object_id, email, email_key, password_hash, created_at, updated_at) \
         SELECT lpad(to_hex(i), 24, '0'), 'bulk' || i || '@example.com', 'bulk' || i || '@example.com', 'x', now(), now() \
         FROM generate_series(1, 5) AS i",
    )
    .await
    .unwrap();
    assert_eq!(total().await, 7);
    conn.batch_execute("DELETE FROM users WHERE email LIKE 'bulk%' AND email <> 'bulk1@example.com'").await.unwrap();
    assert_eq!(total().await, 3);
    assert_eq!(counted(&mut conn).await, 3);

    // A rolled-back insert counts nothing.
    conn.batch_execute(
        "BEGIN; INSERT INTO users (object_id, email, email_key, password_hash, created_at, updated_at) \
         VALUES ('ffffffffffffffffffffffff', 'gone@example.com', 'gone@example.com', 'x', now(), now()); ROLLBACK;",
    )
    .await
    .unwrap();
    assert_eq!(total().await, 3);
}
