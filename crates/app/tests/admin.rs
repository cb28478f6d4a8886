//! Managing other users and provisioning an admin, against mocked ports.

mod support;

use std::cell::Cell;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use users_app::{
    ClearLockoutError, CreateUserError, DeleteUserError, ExistingAccount, GetUserError, ListRolesError, ListUsersError,
    ProvisionAdminError, ProvisionedAdmin, ReplaceUserError, UserRef, UserReplacement,
};
use users_domain::{LoginIdentifier, Password, Profile, ProfilePatch, Registration, Role, RoleSet, User, UserId};
use users_ports::{
    DeleteUserError as StoreDeleteError, InsertUserError, LoginThrottle, Page, PageRequest, PasswordHashError,
    StoredCredentials, UpdateUserError,
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

#[tokio::test]
async fn get_user_finds_the_user_by_numeric_id() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().withf(|id| *id == UserId(1)).times(1).returning(|_| Ok(Some(plain_user())));
    mocks.users.expect_find_by_object_id().never();

    let user = mocks.service().get_user(&administrator(), UserId(1)).await.unwrap();

    assert_eq!(user, plain_user());
}

#[tokio::test]
async fn get_user_by_object_id_does_not_look_up_numeric_ids() {
    let mut mocks = Mocks::new();
    let wanted = plain_user().object_id;
    mocks
        .users
        .expect_find_by_object_id()
        .withf(move |id| *id == wanted)
        .times(1)
        .returning(|_| Ok(Some(plain_user())));
    mocks.users.expect_find_by_id().never();

    let user = mocks.service().get_user(&administrator(), UserRef::ObjectId(wanted)).await.unwrap();

    assert_eq!(user, plain_user());
}

#[tokio::test]
async fn get_user_reports_an_unknown_numeric_id() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().withf(|id| *id == UserId(999)).times(1).returning(|_| Ok(None));
    mocks.users.expect_find_by_object_id().never();

    let error = mocks.service().get_user(&administrator(), UserRef::Id(UserId(999))).await.unwrap_err();

    assert!(matches!(error, GetUserError::NotFound), "{error:?}");
}

#[tokio::test]
async fn get_user_by_numeric_id_turns_a_store_failure_into_unexpected() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().times(1).returning(|_| Err(store_error()));
    mocks.users.expect_find_by_object_id().never();

    let error = mocks.service().get_user(&administrator(), UserId(1)).await.unwrap_err();

    assert!(matches!(error, GetUserError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

#[test]
fn user_ids_and_object_ids_name_users_their_own_way() {
    assert_eq!(UserRef::from(UserId(3)), UserRef::Id(UserId(3)));
    assert_eq!(UserRef::from(object_id(3)), UserRef::ObjectId(object_id(3)));
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

/// Runs `delete_user` on [`victim`], named by its numeric id, against a store whose delete answers `outcome`: the
/// store is asked to delete that id directly, without a look-up.
async fn delete_by_id_answered(outcome: fn() -> Result<(), StoreDeleteError>) -> Result<(), DeleteUserError> {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_object_id().never();
    mocks.users.expect_find_by_id().never();
    mocks.users.expect_delete().withf(|id| *id == UserId(5)).times(1).returning(move |_| outcome());
    mocks.service().delete_user(&administrator(), victim().id).await
}

#[tokio::test]
async fn delete_user_by_numeric_id_deletes_without_a_look_up() {
    delete_by_id_answered(|| Ok(())).await.unwrap();
}

#[tokio::test]
async fn delete_user_by_numeric_id_reports_an_unknown_id() {
    let error = delete_by_id_answered(|| Err(StoreDeleteError::NotFound)).await.unwrap_err();
    assert!(matches!(error, DeleteUserError::NotFound), "{error:?}");
}

#[tokio::test]
async fn delete_user_by_numeric_id_refuses_to_delete_the_last_admin() {
    let error = delete_by_id_answered(|| Err(StoreDeleteError::LastAdmin)).await.unwrap_err();
    assert!(matches!(error, DeleteUserError::LastAdmin), "{error:?}");
}

#[tokio::test]
async fn delete_user_by_numeric_id_turns_a_store_failure_into_unexpected() {
    let error = delete_by_id_answered(|| Err(StoreDeleteError::Unexpected(store_error()))).await.unwrap_err();
    assert!(matches!(error, DeleteUserError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

// ---------------------------------------------------------------------------------------------------------------
// create_user

const NEWCOMER_PASSWORD: &str = "a newcomer's password";

/// What an admin fills in for a new account.
fn newcomer() -> Registration {
    Registration {
        username: Some(username("grace")),
        email: email("grace@example.com"),
        password: password(NEWCOMER_PASSWORD),
        first_name: Some(person_name("Grace")),
        last_name: Some(person_name("Hopper")),
    }
}

/// `roles` as a request gives them (the HTTP layer parses role ids into them).
fn role_set(roles: &[Role]) -> RoleSet {
    RoleSet::from_ids(&roles.iter().map(|role| role.id()).collect::<Vec<_>>()).expect("known roles")
}

fn expect_newcomer_hashed(mocks: &mut Mocks) {
    mocks.hasher.expect_hash().withf(|p| p.expose() == NEWCOMER_PASSWORD).times(1).returning(|_| Ok(new_hash()));
}

/// Expects exactly one insert of [`newcomer`] with `roles`, and stores it with id 9.
fn expect_newcomer_inserted(mocks: &mut Mocks, roles: Vec<Role>) {
    mocks
        .users
        .expect_insert()
        .withf(move |new| {
            new.username == Some(username("grace"))
                && new.email == email("grace@example.com")
                && new.password_hash == new_hash()
                && new.profile
                    == Profile {
                        first_name: Some(person_name("Grace")),
                        last_name: Some(person_name("Hopper")),
                        ..Profile::default()
                    }
                && new.roles == roles
                && new.created_at == now()
                && object_id_seconds(new.object_id) == now_seconds()
        })
        .times(1)
        .returning(|new| Ok(stored(new, 9)));
}

#[tokio::test]
async fn create_user_without_roles_makes_a_plain_user() {
    // Given a request that names no roles
    let mut mocks = Mocks::new();
    expect_newcomer_hashed(&mut mocks);
    expect_newcomer_inserted(&mut mocks, vec![Role::User]);

    // When the admin creates the account
    let user = mocks.service().create_user(&administrator(), newcomer(), None).await.unwrap();

    // Then it is stored with the `user` role and the details given
    assert_eq!(user.id, UserId(9));
    assert_eq!(user.roles, [Role::User]);
    assert_eq!(user.email, email("grace@example.com"));
    assert_eq!(user.username, Some(username("grace")));
    assert_eq!(user.profile.first_name, Some(person_name("Grace")));
    assert_eq!(user.profile.last_name, Some(person_name("Hopper")));
    assert_eq!(user.created_at, now());
    assert_eq!(object_id_seconds(user.object_id), now_seconds());
}

#[tokio::test]
async fn create_user_with_roles_gives_exactly_those_roles() {
    // Given a request for an admin who is also a user
    let mut mocks = Mocks::new();
    expect_newcomer_hashed(&mut mocks);
    expect_newcomer_inserted(&mut mocks, vec![Role::Admin, Role::User]);
    let roles = role_set(&[Role::Admin, Role::User]);

    // When the admin creates the account
    let user = mocks.service().create_user(&administrator(), newcomer(), Some(roles)).await.unwrap();

    // Then the store is given those roles (the store is asked nothing about roles: they are the domain's)
    assert_eq!(user.roles, [Role::Admin, Role::User]);
    assert!(user.is_admin());
}

#[tokio::test]
async fn create_user_gives_every_user_a_fresh_object_id() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().times(2).returning(|_| Ok(new_hash()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let mut next_id = 9;
    mocks.users.expect_insert().times(2).returning(move |new| {
        record.lock().unwrap().push(new.object_id);
        next_id += 1;
        Ok(stored(new, next_id))
    });
    let service = mocks.service();

    let first = service.create_user(&administrator(), newcomer(), None).await.unwrap();
    let second = service
        .create_user(&administrator(), Registration { email: email("other@example.com"), ..newcomer() }, None)
        .await
        .unwrap();

    assert_ne!(first.object_id, second.object_id);
    assert_eq!(*seen.lock().unwrap(), [first.object_id, second.object_id], "the ids the store was given");
    for id in [first.object_id, second.object_id] {
        assert_eq!(object_id_seconds(id), now_seconds(), "{id} is made now");
        assert!(
            [plain_user(), admin_user(), victim()].iter().all(|user| user.object_id != id),
            "{id} is not an existing user's"
        );
    }
}

#[tokio::test]
async fn create_user_reports_a_taken_email() {
    let mut mocks = Mocks::new();
    expect_newcomer_hashed(&mut mocks);
    mocks.users.expect_insert().times(1).returning(|_| Err(InsertUserError::DuplicateEmail));

    let error = mocks.service().create_user(&administrator(), newcomer(), None).await.unwrap_err();

    assert!(matches!(error, CreateUserError::EmailTaken), "{error:?}");
}

#[tokio::test]
async fn create_user_reports_a_taken_username() {
    let mut mocks = Mocks::new();
    expect_newcomer_hashed(&mut mocks);
    mocks.users.expect_insert().times(1).returning(|_| Err(InsertUserError::DuplicateUsername));

    let error = mocks.service().create_user(&administrator(), newcomer(), None).await.unwrap_err();

    assert!(matches!(error, CreateUserError::UsernameTaken), "{error:?}");
}

#[tokio::test]
async fn create_user_turns_a_failed_insert_into_unexpected() {
    let mut mocks = Mocks::new();
    expect_newcomer_hashed(&mut mocks);
    mocks.users.expect_insert().times(1).returning(|_| Err(InsertUserError::Unexpected(store_error())));

    let error = mocks.service().create_user(&administrator(), newcomer(), None).await.unwrap_err();

    assert!(matches!(error, CreateUserError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

#[tokio::test]
async fn create_user_turns_a_hasher_failure_into_unexpected_and_stores_nothing() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().times(1).returning(|_| Err(PasswordHashError::Unexpected("out of memory".into())));
    mocks.users.expect_insert().never();

    let error = mocks.service().create_user(&administrator(), newcomer(), None).await.unwrap_err();

    assert!(matches!(error, CreateUserError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn create_user_while_the_hashers_are_busy_is_busy_and_stores_nothing() {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().times(1).returning(|_| Err(PasswordHashError::Busy));
    mocks.users.expect_insert().never();

    let error = mocks.service().create_user(&administrator(), newcomer(), None).await.unwrap_err();

    assert!(matches!(error, CreateUserError::Busy), "{error:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// replace_user

/// New names and email for [`victim`], and `roles`.
fn replacement(roles: Option<RoleSet>) -> UserReplacement {
    UserReplacement {
        first_name: person_name("Grace"),
        last_name: person_name("Hopper"),
        email: email("grace@example.com"),
        roles,
    }
}

/// [`victim`] after [`replacement`] with `roles`.
fn replaced(roles: &[Role]) -> User {
    User {
        email: email("grace@example.com"),
        profile: Profile {
            first_name: Some(person_name("Grace")),
            last_name: Some(person_name("Hopper")),
            ..Profile::default()
        },
        roles: roles.to_vec(),
        updated_at: now(),
        ..victim()
    }
}

/// Expects exactly one update of [`victim`] with the names and email of [`replacement`], `roles`, and nothing else.
fn expect_replaced(mocks: &mut Mocks, roles: Option<Vec<Role>>, outcome: Result<User, UpdateUserError>) {
    mocks
        .users
        .expect_update()
        .withf(move |id, update| {
            *id == UserId(5)
                && update.email == Some(email("grace@example.com"))
                && update.profile
                    == ProfilePatch {
                        first_name: Some(Some(person_name("Grace"))),
                        last_name: Some(Some(person_name("Hopper"))),
                        ..ProfilePatch::default()
                    }
                && update.username.is_none()
                && update.password_hash.is_none()
                && update.roles == roles
                && update.ends_sessions.is_none()
                && update.updated_at == now()
        })
        .times(1)
        .return_once(move |_, _| outcome);
}

#[tokio::test]
async fn replace_user_without_roles_keeps_the_roles() {
    // Given a replacement that names no roles
    let mut mocks = Mocks::new();
    expect_replaced(&mut mocks, None, Ok(replaced(&[Role::User])));

    // When the admin replaces the user
    let user = mocks.service().replace_user(&administrator(), UserId(5), replacement(None)).await.unwrap();

    // Then the update leaves the roles as they are
    assert_eq!(user, replaced(&[Role::User]));
}

#[tokio::test]
async fn replace_user_with_roles_replaces_the_roles_in_the_same_update() {
    // Given a replacement that makes the user an admin too
    let mut mocks = Mocks::new();
    expect_replaced(&mut mocks, Some(vec![Role::Admin, Role::User]), Ok(replaced(&[Role::Admin, Role::User])));
    let promotion = replacement(Some(role_set(&[Role::User, Role::Admin])));

    // When the admin replaces the user
    let user = mocks.service().replace_user(&administrator(), UserId(5), promotion).await.unwrap();

    // Then names, email and roles change in one update
    assert_eq!(user, replaced(&[Role::Admin, Role::User]));
}

#[tokio::test]
async fn replace_user_can_take_a_role_away() {
    // Given a replacement that leaves only the `user` role
    let mut mocks = Mocks::new();
    expect_replaced(&mut mocks, Some(vec![Role::User]), Ok(replaced(&[Role::User])));
    let demotion = replacement(Some(role_set(&[Role::User])));

    // When the admin replaces the user
    let user = mocks.service().replace_user(&administrator(), UserId(5), demotion).await.unwrap();

    // Then the other role is gone
    assert_eq!(user.roles, [Role::User]);
}

/// Runs `replace_user` on [`victim`] without role ids against a store whose update answers `outcome`.
async fn replace_answered(outcome: Result<User, UpdateUserError>) -> Result<User, ReplaceUserError> {
    let mut mocks = Mocks::new();
    expect_replaced(&mut mocks, None, outcome);
    mocks.service().replace_user(&administrator(), UserId(5), replacement(None)).await
}

#[tokio::test]
async fn replace_user_reports_an_unknown_user() {
    let error = replace_answered(Err(UpdateUserError::NotFound)).await.unwrap_err();
    assert!(matches!(error, ReplaceUserError::NotFound), "{error:?}");
}

#[tokio::test]
async fn replace_user_reports_a_taken_email() {
    let error = replace_answered(Err(UpdateUserError::DuplicateEmail)).await.unwrap_err();
    assert!(matches!(error, ReplaceUserError::EmailTaken), "{error:?}");
}

#[tokio::test]
async fn replace_user_refuses_to_demote_the_last_admin() {
    // Given a store that refuses to take the admin role from the last admin
    let mut mocks = Mocks::new();
    expect_replaced(&mut mocks, Some(vec![Role::User]), Err(UpdateUserError::LastAdmin));

    // When the admin leaves that user only the `user` role
    let demotion = replacement(Some(role_set(&[Role::User])));
    let error = mocks.service().replace_user(&administrator(), UserId(5), demotion).await.unwrap_err();

    // Then the refusal is passed on
    assert!(matches!(error, ReplaceUserError::LastAdmin), "{error:?}");
}

#[tokio::test]
async fn replace_user_passes_on_a_last_admin_refusal_whatever_the_update() {
    let error = replace_answered(Err(UpdateUserError::LastAdmin)).await.unwrap_err();
    assert!(matches!(error, ReplaceUserError::LastAdmin), "{error:?}");
}

#[tokio::test]
async fn replace_user_turns_a_store_failure_into_unexpected() {
    let error = replace_answered(Err(UpdateUserError::Unexpected(store_error()))).await.unwrap_err();
    assert!(matches!(error, ReplaceUserError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

#[tokio::test]
async fn replace_user_treats_a_username_clash_as_unexpected() {
    // A replacement never changes the username, so a store reporting a clash on it is at fault.
    let error = replace_answered(Err(UpdateUserError::DuplicateUsername)).await.unwrap_err();
    assert!(matches!(error, ReplaceUserError::Unexpected(_)), "{error:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// clear_lockout

#[tokio::test]
async fn clear_lockout_forgets_the_failed_sign_ins_of_the_user() {
    let mut mocks = Mocks::new();
    mocks.users.expect_clear_lockout().withf(|id| *id == UserId(5)).times(1).returning(|_| Ok(true));

    mocks.service().clear_lockout(&administrator(), UserId(5)).await.unwrap();
}

#[tokio::test]
async fn clear_lockout_of_an_unknown_user_is_not_found() {
    let mut mocks = Mocks::new();
    mocks.users.expect_clear_lockout().withf(|id| *id == UserId(999)).times(1).returning(|_| Ok(false));

    let error = mocks.service().clear_lockout(&administrator(), UserId(999)).await.unwrap_err();

    assert!(matches!(error, ClearLockoutError::NotFound), "{error:?}");
}

#[tokio::test]
async fn clear_lockout_turns_a_store_failure_into_unexpected() {
    let mut mocks = Mocks::new();
    mocks.users.expect_clear_lockout().times(1).returning(|_| Err(store_error()));

    let error = mocks.service().clear_lockout(&administrator(), UserId(5)).await.unwrap_err();

    assert!(matches!(error, ClearLockoutError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

// ---------------------------------------------------------------------------------------------------------------
// list_roles

#[tokio::test]
async fn list_roles_returns_the_roles_of_the_store() {
    let mut mocks = Mocks::new();
    mocks.users.expect_list_roles().times(1).returning(|| Ok(vec![Role::Admin, Role::User]));

    let roles = mocks.service().list_roles(&administrator()).await.unwrap();

    assert_eq!(roles, [Role::Admin, Role::User]);
}

#[tokio::test]
async fn list_roles_returns_only_what_the_store_knows() {
    let mut mocks = Mocks::new();
    mocks.users.expect_list_roles().times(1).returning(|| Ok(vec![Role::User]));

    let roles = mocks.service().list_roles(&administrator()).await.unwrap();

    assert_eq!(roles, [Role::User]);
}

#[tokio::test]
async fn list_roles_turns_a_store_failure_into_unexpected() {
    let mut mocks = Mocks::new();
    mocks.users.expect_list_roles().times(1).returning(|| Err(store_error()));

    let error = mocks.service().list_roles(&administrator()).await.unwrap_err();

    assert!(matches!(error, ListRolesError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
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
    Some(StoredCredentials { user: user(3, roles), password_hash: stored_hash(), throttle: LoginThrottle::default() })
}

/// Provisions the operator's email, answering `OPERATOR_PASSWORD` if asked for a password; also says whether it was.
async fn provision(mocks: Mocks, existing: ExistingAccount) -> (Result<ProvisionedAdmin, ProvisionAdminError>, bool) {
    let asked = Cell::new(false);
    let typed = async || {
        asked.set(true);
        Ok::<_, Infallible>(password(OPERATOR_PASSWORD))
    };
    let outcome = mocks.service().provision_admin(email(OPERATOR), existing, typed).await;
    (outcome, asked.get())
}

fn expect_promoted(mocks: &mut Mocks) {
    mocks
        .users
        .expect_update()
        .withf(|id, update| {
            let mut sorted = update.roles.clone().unwrap_or_default();
            sorted.sort();
            *id == UserId(3)
                && sorted == [Role::Admin, Role::User]
                && update.updated_at == now()
                && update.email.is_none()
                && update.password_hash.is_none()
                && update.username.is_none()
                && update.profile == ProfilePatch::default()
                && update.ends_sessions.is_none()
        })
        .times(1)
        .returning(|_, _| Ok(user(3, &[Role::Admin, Role::User])));
}

#[tokio::test]
async fn provision_admin_creates_an_admin_for_an_unknown_email_with_the_password_asked_for() {
    for existing in [ExistingAccount::Refuse, ExistingAccount::Promote] {
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
        mocks.users.expect_update().never();

        let (outcome, asked) = provision(mocks, existing).await;

        let ProvisionedAdmin::Created(user) = outcome.unwrap() else { panic!("expected Created ({existing:?})") };
        assert_eq!(user.id, UserId(1));
        assert_eq!(user.email, email(OPERATOR));
        assert!(user.is_admin());
        assert!(asked, "the new account's password was asked for");
    }
}

#[tokio::test]
async fn given_an_email_someone_registered_when_provisioning_without_promotion_then_it_fails_and_changes_nothing() {
    for roles in [&[Role::User][..], &[Role::Admin, Role::User]] {
        let mut mocks = Mocks::new();
        expect_looked_up(&mut mocks, existing(roles));
        mocks.users.expect_update().never();
        mocks.users.expect_insert().never();
        mocks.hasher.expect_hash().never();

        let (outcome, asked) = provision(mocks, ExistingAccount::Refuse).await;

        let error = outcome.unwrap_err();
        assert!(matches!(error, ProvisionAdminError::ExistingAccount), "{error:?}");
        assert_eq!(error.to_string(), "an account with this email already exists");
        assert!(!asked, "no password is asked for an account that will not be made");
    }
}

#[tokio::test]
async fn provision_admin_promotes_an_existing_user_when_allowed_keeping_their_password_without_asking_one() {
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, existing(&[Role::User]));
    expect_promoted(&mut mocks);
    mocks.hasher.expect_hash().never();
    mocks.users.expect_insert().never();

    let (outcome, asked) = provision(mocks, ExistingAccount::Promote).await;

    let ProvisionedAdmin::Promoted(user) = outcome.unwrap() else { panic!("expected Promoted") };
    assert_eq!(user.id, UserId(3));
    assert!(user.is_admin());
    assert!(!asked, "promoting asks for no password");
}

#[tokio::test]
async fn provision_admin_leaves_an_admin_as_it_is_when_promotion_is_allowed() {
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, existing(&[Role::Admin, Role::User]));
    mocks.users.expect_update().never();
    mocks.hasher.expect_hash().never();
    mocks.users.expect_insert().never();

    let (outcome, asked) = provision(mocks, ExistingAccount::Promote).await;

    let ProvisionedAdmin::AlreadyAdmin(admin) = outcome.unwrap() else { panic!("expected AlreadyAdmin") };
    assert_eq!(admin, user(3, &[Role::Admin, Role::User]));
    assert!(!asked);
}

#[tokio::test]
async fn provision_admin_reports_a_user_vanishing_before_promotion() {
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, existing(&[Role::User]));
    mocks.users.expect_update().times(1).returning(|_, _| Err(UpdateUserError::NotFound));
    mocks.users.expect_insert().never();

    let error = provision(mocks, ExistingAccount::Promote).await.0.unwrap_err();

    assert!(matches!(error, ProvisionAdminError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains("not found"), "{error}");
}

#[tokio::test]
async fn provision_admin_turns_a_failed_promotion_into_unexpected() {
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, existing(&[Role::User]));
    mocks.users.expect_update().times(1).returning(|_, _| Err(UpdateUserError::Unexpected(store_error())));

    let error = provision(mocks, ExistingAccount::Promote).await.0.unwrap_err();

    assert!(matches!(error, ProvisionAdminError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

#[tokio::test]
async fn given_an_email_registered_after_the_look_up_when_inserting_the_admin_then_it_fails_and_promotes_nobody() {
    for existing in [ExistingAccount::Refuse, ExistingAccount::Promote] {
        let mut mocks = Mocks::new();
        expect_looked_up(&mut mocks, None);
        mocks.hasher.expect_hash().times(1).returning(|_| Ok(new_hash()));
        mocks.users.expect_insert().times(1).returning(|_| Err(InsertUserError::DuplicateEmail));
        mocks.users.expect_update().never();

        let error = provision(mocks, existing).await.0.unwrap_err();

        assert!(matches!(error, ProvisionAdminError::ExistingAccount), "{existing:?}: {error:?}");
    }
}

#[tokio::test]
async fn provision_admin_without_a_password_reports_why_and_stores_nothing() {
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, None);
    mocks.hasher.expect_hash().never();
    mocks.users.expect_insert().never();

    let none_given = async || Err::<Password, _>("no password on standard input");
    let error =
        mocks.service().provision_admin(email(OPERATOR), ExistingAccount::Refuse, none_given).await.unwrap_err();

    assert!(matches!(error, ProvisionAdminError::NoPassword(_)), "{error:?}");
    assert_eq!(error.to_string(), "no password on standard input");
}

#[tokio::test]
async fn provision_admin_refuses_a_password_made_of_the_email_and_stores_nothing() {
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, None);
    mocks.hasher.expect_hash().never();
    mocks.users.expect_insert().never();

    let personal = async || Ok::<_, Infallible>(password("root password"));
    let error = mocks.service().provision_admin(email(OPERATOR), ExistingAccount::Refuse, personal).await.unwrap_err();

    assert!(matches!(error, ProvisionAdminError::WeakPassword(_)), "{error:?}");
}

#[tokio::test]
async fn provision_admin_turns_a_failed_insert_into_unexpected() {
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, None);
    mocks.hasher.expect_hash().times(1).returning(|_| Ok(new_hash()));
    mocks.users.expect_insert().times(1).returning(|_| Err(InsertUserError::Unexpected(store_error())));

    let error = provision(mocks, ExistingAccount::Refuse).await.0.unwrap_err();

    assert!(matches!(error, ProvisionAdminError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn provision_admin_turns_a_hasher_failure_into_unexpected_and_stores_nothing() {
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, None);
    mocks.hasher.expect_hash().times(1).returning(|_| Err(PasswordHashError::Unexpected("out of memory".into())));
    mocks.users.expect_insert().never();

    let error = provision(mocks, ExistingAccount::Refuse).await.0.unwrap_err();

    assert!(matches!(error, ProvisionAdminError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn provision_admin_takes_busy_hashers_for_a_fault() {
    // Run from the command line, nothing else competes for the hashers.
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, None);
    mocks.hasher.expect_hash().times(1).returning(|_| Err(PasswordHashError::Busy));
    mocks.users.expect_insert().never();

    let (outcome, _) = provision(mocks, ExistingAccount::Refuse).await;
    let error = outcome.unwrap_err();

    assert!(matches!(error, ProvisionAdminError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains("busy"), "{error}");
}

#[tokio::test]
async fn provision_admin_with_a_failing_look_up_is_unexpected_and_asks_nothing() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Err(store_error()));
    mocks.hasher.expect_hash().never();
    mocks.users.expect_insert().never();
    mocks.users.expect_update().never();

    let (outcome, asked) = provision(mocks, ExistingAccount::Promote).await;

    assert!(matches!(outcome, Err(ProvisionAdminError::Unexpected(_))), "{outcome:?}");
    assert!(!asked);
}

/// The admin, signed in `minutes` ago.
fn admin_signed_in_minutes_ago(minutes: i64) -> users_app::Administrator {
    signed_in_at(admin_user(), Some(now() - chrono::Duration::minutes(minutes))).into_admin().expect("an admin")
}

#[tokio::test]
async fn an_admin_whose_sign_in_is_old_cannot_change_their_own_email_through_the_admin_routes() {
    // Given an admin whose session signed in ten minutes ago (a token taken from a log, say)
    let mut mocks = Mocks::new();
    mocks.users.expect_update().never();
    let own = admin_user();
    let takeover = UserReplacement {
        first_name: person_name("Mallory"),
        last_name: person_name("Evil"),
        email: email("mallory@example.com"),
        roles: None,
    };

    // When it replaces its own account with another email
    let error = mocks.service().replace_user(&admin_signed_in_minutes_ago(10), own.id, takeover).await.unwrap_err();

    // Then nothing is stored and the answer asks for a fresh sign-in
    assert!(matches!(error, ReplaceUserError::ReauthenticationRequired), "{error:?}");
}

#[tokio::test]
async fn an_admin_may_rename_themselves_without_a_recent_sign_in_and_change_their_email_with_one() {
    for (minutes, new_email) in [(10, false), (1, true)] {
        let own = admin_user();
        let email_after = if new_email { email("admin-new@example.com") } else { own.email.clone() };
        let mut mocks = Mocks::new();
        let stored = User { email: email_after.clone(), ..own.clone() };
        mocks.users.expect_update().times(1).return_once(move |_, _| Ok(stored));
        let replacement = UserReplacement {
            first_name: person_name("Ada"),
            last_name: person_name("Admin"),
            // The same address in other letters is no new address.
            email: if new_email { email_after } else { email(&own.email.as_str().to_uppercase()) },
            roles: None,
        };

        let replaced = mocks.service().replace_user(&admin_signed_in_minutes_ago(minutes), own.id, replacement).await;

        assert!(replaced.is_ok(), "signed in {minutes} min ago, new email: {new_email}: {replaced:?}");
    }
}

#[tokio::test]
async fn an_admin_whose_sign_in_is_old_cannot_delete_their_own_account_through_the_admin_routes() {
    let mut mocks = Mocks::new();
    mocks.users.expect_delete().never();
    let own = admin_user();
    let error = mocks.service().delete_user(&admin_signed_in_minutes_ago(10), own.id).await.unwrap_err();
    assert!(matches!(error, DeleteUserError::ReauthenticationRequired), "{error:?}");

    // By ObjectId the same, once the id is known.
    let mut mocks = Mocks::new();
    let found = own.clone();
    mocks.users.expect_find_by_object_id().times(1).return_once(move |_| Ok(Some(found)));
    mocks.users.expect_delete().never();
    let error = mocks.service().delete_user(&admin_signed_in_minutes_ago(10), own.object_id).await.unwrap_err();
    assert!(matches!(error, DeleteUserError::ReauthenticationRequired), "{error:?}");

    // Deleting someone else needs no fresh sign-in.
    let mut mocks = Mocks::new();
    mocks.users.expect_delete().withf(|id| *id == UserId(5)).times(1).returning(|_| Ok(()));
    mocks.service().delete_user(&admin_signed_in_minutes_ago(10), UserId(5)).await.unwrap();
}
