//! Managing other users and provisioning an admin, against mocked ports.

mod support;

use users_app::{DeleteUserError, GetUserError, ListUsersError, ProvisionAdminError, ProvisionedAdmin};
use users_domain::{LoginIdentifier, Profile, Role, User, UserId};
use users_ports::{
    DeleteUserError as StoreDeleteError, InsertUserError, Page, PageRequest, PasswordHashError, SetRolesError,
    StoredCredentials,
};

use support::*;

// ---------------------------------------------------------------------------------------------------------------
// list_users

#[tokio::test]
async fn list_users_returns_the_page_of_the_store() {
    let mut mocks = Mocks::new();
    let page = Page { items: vec![admin_user(), plain_user()], total: 42 };
    let returned = page.clone();
    mocks
        .users
        .expect_list()
        .withf(|request| *request == PageRequest { offset: 20, limit: 10 })
        .times(1)
        .return_once(move |_| Ok(returned));

    let listed = mocks.service().list_users(&administrator(), PageRequest { offset: 20, limit: 10 }).await.unwrap();

    assert_eq!(listed, page);
}

#[tokio::test]
async fn list_users_turns_a_store_failure_into_unexpected() {
    let mut mocks = Mocks::new();
    mocks.users.expect_list().times(1).returning(|_| Err(store_error()));

    let error = mocks.service().list_users(&administrator(), PageRequest { offset: 0, limit: 10 }).await.unwrap_err();

    assert!(matches!(error, ListUsersError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

// ---------------------------------------------------------------------------------------------------------------
// get_user

#[tokio::test]
async fn get_user_finds_the_user_by_object_id() {
    let mut mocks = Mocks::new();
    let wanted = plain_user().object_id;
    mocks
        .users
        .expect_find_by_object_id()
        .withf(move |id| *id == wanted)
        .times(1)
        .returning(|_| Ok(Some(plain_user())));

    let user = mocks.service().get_user(&administrator(), wanted).await.unwrap();

    assert_eq!(user, plain_user());
}

#[tokio::test]
async fn get_user_reports_an_unknown_id() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_object_id().times(1).returning(|_| Ok(None));

    let error = mocks.service().get_user(&administrator(), object_id(999)).await.unwrap_err();

    assert!(matches!(error, GetUserError::NotFound), "{error:?}");
}

#[tokio::test]
async fn get_user_turns_a_store_failure_into_unexpected() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_object_id().times(1).returning(|_| Err(store_error()));

    let error = mocks.service().get_user(&administrator(), object_id(1)).await.unwrap_err();

    assert!(matches!(error, GetUserError::Unexpected(_)), "{error:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// delete_user

/// A user the admin deletes: numeric id 5, found by its ObjectId.
fn victim() -> User {
    user(5, &[Role::User])
}

/// Runs `delete_user` on [`victim`], found by its ObjectId, against a store whose delete answers `outcome`.
async fn delete_answered(outcome: fn() -> Result<(), StoreDeleteError>) -> Result<(), DeleteUserError> {
    let mut mocks = Mocks::new();
    let wanted = victim().object_id;
    mocks.users.expect_find_by_object_id().withf(move |id| *id == wanted).times(1).returning(|_| Ok(Some(victim())));
    mocks.users.expect_delete().withf(|id| *id == UserId(5)).times(1).returning(move |_| outcome());
    mocks.service().delete_user(&administrator(), wanted).await
}

#[tokio::test]
async fn delete_user_deletes_the_user_by_its_numeric_id() {
    delete_answered(|| Ok(())).await.unwrap();
}

#[tokio::test]
async fn delete_user_reports_an_unknown_id_and_deletes_nothing() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_object_id().times(1).returning(|_| Ok(None));
    mocks.users.expect_delete().never();

    let error = mocks.service().delete_user(&administrator(), object_id(999)).await.unwrap_err();

    assert!(matches!(error, DeleteUserError::NotFound), "{error:?}");
}

#[tokio::test]
async fn delete_user_reports_a_user_deleted_meanwhile() {
    let error = delete_answered(|| Err(StoreDeleteError::NotFound)).await.unwrap_err();
    assert!(matches!(error, DeleteUserError::NotFound), "{error:?}");
}

#[tokio::test]
async fn delete_user_refuses_to_delete_the_last_admin() {
    let error = delete_answered(|| Err(StoreDeleteError::LastAdmin)).await.unwrap_err();
    assert!(matches!(error, DeleteUserError::LastAdmin), "{error:?}");
}

#[tokio::test]
async fn delete_user_turns_a_store_failure_into_unexpected() {
    let error = delete_answered(|| Err(StoreDeleteError::Unexpected(store_error()))).await.unwrap_err();
    assert!(matches!(error, DeleteUserError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn delete_user_with_a_failing_look_up_is_unexpected() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_object_id().times(1).returning(|_| Err(store_error()));
    mocks.users.expect_delete().never();

    let error = mocks.service().delete_user(&administrator(), object_id(5)).await.unwrap_err();

    assert!(matches!(error, DeleteUserError::Unexpected(_)), "{error:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// provision_admin

const OPERATOR: &str = "root@example.com";
const OPERATOR_PASSWORD: &str = "operator password";

fn expect_looked_up(mocks: &mut Mocks, found: Option<StoredCredentials>) {
    mocks
        .users
        .expect_find_credentials()
        .withf(|login| *login == LoginIdentifier::Email(email(OPERATOR)))
        .times(1)
        .return_once(move |_| Ok(found));
}

fn existing(roles: &[Role]) -> Option<StoredCredentials> {
    Some(StoredCredentials { user: user(3, roles), password_hash: stored_hash() })
}

async fn provision(mocks: Mocks) -> Result<ProvisionedAdmin, ProvisionAdminError> {
    mocks.service().provision_admin(email(OPERATOR), password(OPERATOR_PASSWORD)).await
}

#[tokio::test]
async fn provision_admin_creates_an_admin_for_an_unknown_email() {
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, None);
    mocks.hasher.expect_hash().withf(|p| p.expose() == OPERATOR_PASSWORD).times(1).returning(|_| Ok(new_hash()));
    mocks
        .users
        .expect_insert()
        .withf(|new| {
            new.email == email(OPERATOR)
                && new.username.is_none()
                && new.password_hash == new_hash()
                && new.profile == Profile::default()
                && new.roles == [Role::Admin, Role::User]
                && new.created_at == now()
                && object_id_seconds(new.object_id) == now_seconds()
        })
        .times(1)
        .returning(|new| Ok(stored(new, 1)));
    mocks.users.expect_set_roles().never();

    let outcome = provision(mocks).await.unwrap();

    let ProvisionedAdmin::Created(user) = outcome else { panic!("expected Created, got {outcome:?}") };
    assert_eq!(user.id, UserId(1));
    assert_eq!(user.email, email(OPERATOR));
    assert!(user.is_admin());
}

#[tokio::test]
async fn provision_admin_promotes_an_existing_user_and_keeps_their_password() {
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, existing(&[Role::User]));
    mocks
        .users
        .expect_set_roles()
        .withf(|id, roles, at| {
            let mut sorted = roles.to_vec();
            sorted.sort();
            *id == UserId(3) && sorted == [Role::Admin, Role::User] && *at == now()
        })
        .times(1)
        .returning(|_, _, _| Ok(user(3, &[Role::Admin, Role::User])));
    mocks.hasher.expect_hash().never();
    mocks.users.expect_insert().never();

    let outcome = provision(mocks).await.unwrap();

    let ProvisionedAdmin::Promoted(user) = outcome else { panic!("expected Promoted, got {outcome:?}") };
    assert_eq!(user.id, UserId(3));
    assert!(user.is_admin());
}

#[tokio::test]
async fn provision_admin_leaves_an_admin_as_it_is() {
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, existing(&[Role::Admin, Role::User]));
    mocks.users.expect_set_roles().never();
    mocks.hasher.expect_hash().never();
    mocks.users.expect_insert().never();

    let outcome = provision(mocks).await.unwrap();

    let ProvisionedAdmin::AlreadyAdmin(admin) = outcome else { panic!("expected AlreadyAdmin, got {outcome:?}") };
    assert_eq!(admin, user(3, &[Role::Admin, Role::User]));
}

#[tokio::test]
async fn provision_admin_reports_a_user_vanishing_before_promotion() {
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, existing(&[Role::User]));
    mocks.users.expect_set_roles().times(1).returning(|_, _, _| Err(SetRolesError::NotFound));
    mocks.users.expect_insert().never();

    let error = provision(mocks).await.unwrap_err();

    assert!(matches!(error, ProvisionAdminError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains("not found"), "{error}");
}

#[tokio::test]
async fn provision_admin_turns_a_failed_promotion_into_unexpected() {
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, existing(&[Role::User]));
    mocks.users.expect_set_roles().times(1).returning(|_, _, _| Err(SetRolesError::Unexpected(store_error())));

    let error = provision(mocks).await.unwrap_err();

    assert!(matches!(error, ProvisionAdminError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

#[tokio::test]
async fn provision_admin_reports_an_email_registered_meanwhile() {
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, None);
    mocks.hasher.expect_hash().times(1).returning(|_| Ok(new_hash()));
    mocks.users.expect_insert().times(1).returning(|_| Err(InsertUserError::DuplicateEmail));

    let error = provision(mocks).await.unwrap_err();

    assert!(matches!(error, ProvisionAdminError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains("email is already taken"), "{error}");
}

#[tokio::test]
async fn provision_admin_turns_a_failed_insert_into_unexpected() {
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, None);
    mocks.hasher.expect_hash().times(1).returning(|_| Ok(new_hash()));
    mocks.users.expect_insert().times(1).returning(|_| Err(InsertUserError::Unexpected(store_error())));

    let error = provision(mocks).await.unwrap_err();

    assert!(matches!(error, ProvisionAdminError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn provision_admin_turns_a_hasher_failure_into_unexpected_and_stores_nothing() {
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, None);
    mocks.hasher.expect_hash().times(1).returning(|_| Err(PasswordHashError::Unexpected("out of memory".into())));
    mocks.users.expect_insert().never();

    let error = provision(mocks).await.unwrap_err();

    assert!(matches!(error, ProvisionAdminError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn provision_admin_with_a_failing_look_up_is_unexpected() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Err(store_error()));
    mocks.hasher.expect_hash().never();
    mocks.users.expect_insert().never();
    mocks.users.expect_set_roles().never();

    let error = provision(mocks).await.unwrap_err();

    assert!(matches!(error, ProvisionAdminError::Unexpected(_)), "{error:?}");
}
