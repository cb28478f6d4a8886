//! The store contract (`contract/mod.rs`) run against PostgreSQL, each test in a fresh database of its own, so
//! they run in parallel.
//!
//! The server is found through `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`); without one
//! the tests are skipped, except under `CI=true`, where that is a failure.

mod contract;

use users_postgres::testing::TestDatabase;

#[tokio::test(flavor = "multi_thread")]
async fn insert_then_find_by_ids() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::insert_then_find_by_ids(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn insert_user_without_roles() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::insert_user_without_roles(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn insert_with_duplicate_roles_keeps_one_of_each() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::insert_with_duplicate_roles_keeps_one_of_each(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn find_credentials_by_email_ignores_case() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::find_credentials_by_email_ignores_case(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn find_credentials_by_username_ignores_case() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::find_credentials_by_username_ignores_case(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_email_differing_by_case_is_refused() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::duplicate_email_differing_by_case_is_refused(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_username_differing_by_case_is_refused() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::duplicate_username_differing_by_case_is_refused(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn users_without_username_coexist() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::users_without_username_coexist(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_inserts_of_one_email_admit_one() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::concurrent_inserts_of_one_email_admit_one(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn partial_update_keeps_untouched_fields() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::partial_update_keeps_untouched_fields(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn update_clears_username_and_profile_fields() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::update_clears_username_and_profile_fields(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn update_changes_email_and_username() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::update_changes_email_and_username(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn update_to_a_taken_email_or_username_changes_nothing() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::update_to_a_taken_email_or_username_changes_nothing(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn update_with_roles_to_a_taken_email_changes_nothing() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::update_with_roles_to_a_taken_email_changes_nothing(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn update_demoting_the_last_admin_changes_nothing() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::update_demoting_the_last_admin_changes_nothing(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn update_replaces_roles_only_when_given() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::update_replaces_roles_only_when_given(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn update_of_unknown_user_is_not_found() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::update_of_unknown_user_is_not_found(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_removes_user_with_roles_and_sessions() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::delete_removes_user_with_roles_and_sessions(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_of_unknown_user_is_not_found() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::delete_of_unknown_user_is_not_found(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn last_admin_cannot_be_deleted() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::last_admin_cannot_be_deleted(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_deletion_of_the_two_admins_keeps_one() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::concurrent_deletion_of_the_two_admins_keeps_one(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn set_roles_replaces_the_roles() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::set_roles_replaces_the_roles(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn set_roles_refuses_to_demote_the_last_admin() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::set_roles_refuses_to_demote_the_last_admin(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_demotion_of_the_two_admins_keeps_one() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::concurrent_demotion_of_the_two_admins_keeps_one(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn set_roles_of_unknown_user_is_not_found() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::set_roles_of_unknown_user_is_not_found(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn list_roles_returns_the_known_roles() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::list_roles_returns_the_known_roles(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn list_pages_in_id_order() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::list_pages_in_id_order(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_in_until_revoked() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::signed_in_until_revoked(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_session_is_not_signed_in() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::expired_session_is_not_signed_in(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn session_of_another_user_is_not_signed_in() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::session_of_another_user_is_not_signed_in(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_token_is_fresh_once_then_replayed() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::refresh_token_is_fresh_once_then_replayed(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_token_of_revoked_session_says_revoked() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::refresh_token_of_revoked_session_says_revoked(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_consumes_of_one_token_give_one_fresh() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::concurrent_consumes_of_one_token_give_one_fresh(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn added_refresh_token_is_fresh_and_moves_expiry() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::added_refresh_token_is_fresh_and_moves_expiry(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn revoke_all_of_user_keeps_the_given_session() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::revoke_all_of_user_keeps_the_given_session(store.users(), store.sessions()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn check_health_is_ok() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = db.store();
    contract::check_health_is_ok(store.users(), store.sessions()).await;
}
