//! An event that cannot be written fails its change: on PostgreSQL, with a trigger refusing every insert into
//! `audit_events`, as a full disk, a lost privilege or a broken constraint would.

use diesel_async::SimpleAsyncConnection as _;
use users_postgres::testing::TestDatabase;

#[tokio::test(flavor = "multi_thread")]
async fn a_change_whose_event_is_refused_fails_and_changes_nothing() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    let mut admin = db.connect().await;
    let refuse_events = async move {
        admin
            .batch_execute(
                "CREATE FUNCTION refuse_audit_events() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN RAISE EXCEPTION 'audit events refused'; END $$; \
                 CREATE TRIGGER refuse_audit_events BEFORE INSERT ON audit_events \
                 FOR EACH ROW EXECUTE FUNCTION refuse_audit_events();",
            )
            .await
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
