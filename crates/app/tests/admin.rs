//! Managing other users and provisioning an admin, against mocked ports.

mod support;

use std::cell::Cell;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use chrono::Duration;
use users_app::{
    Administrator, ClearLockoutError, CreateUserError, DeleteUserError, ExistingAccount, FILTERED_COUNT_LIMIT,
    GetUserError, ListRolesError, ListUsersError, ProvisionAdminError, ProvisionedAdmin, ReplaceUserError, UserRef,
    UserReplacement,
};
use users_domain::{
    AccountStatus, Email, LoginIdentifier, LoginThrottle, Password, Profile, ProfilePatch, Registration, Role, RoleSet,
    Suspension, User, UserId,
};
use users_ports::{
    DeleteUserError as StoreDeleteError, InsertUserError, Page, PageRequest, PasswordHashError, StoredCredentials,
    Total, UpdateUserError, UserFilter, UserOrder, UserQuery, UserSortKey,
};

use support::*;

/// The store is asked once for the user with `user`'s ObjectId, and answers `user`.
fn expect_found_by_object_id(mocks: &mut Mocks, user: User) {
    let wanted = user.object_id;
    mocks.users.expect_find_by_object_id().withf(move |id| *id == wanted).times(1).return_once(move |_| Ok(Some(user)));
}

// ---------------------------------------------------------------------------------------------------------------
// list_users

#[tokio::test]
async fn list_users_asks_the_store_for_the_filtered_page_counted_up_to_the_limit_and_returns_it() {
    // Given a store whose page of admins at offset 20, by creation time, holds the admin, of at least 1,000
    let mut mocks = Mocks::new();
    let page = Page { items: vec![admin_user()], total: Total::AtLeast(FILTERED_COUNT_LIMIT) };
    let returned = page.clone();
    let filter = UserFilter { role: Some(Role::Admin), status: Some(AccountStatus::Active), ..UserFilter::default() };
    let order = UserOrder { key: UserSortKey::CreatedAt, descending: true };
    let expected = UserQuery {
        filter: filter.clone(),
        order,
        page: PageRequest { offset: 20, limit: 10 },
        count_limit: FILTERED_COUNT_LIMIT,
        now: now(),
    };
    mocks.users.expect_list().withf(move |query| *query == expected).times(1).return_once(move |_| Ok(returned));

    // When the admin asks for ten active admins from offset 20, newest first
    let listed =
        mocks.service().list_users(&administrator(), filter, order, PageRequest { offset: 20, limit: 10 }).await;

    // Then the store is asked for that page, judged at the clock's time, and the admin gets it as it is
    assert_eq!(listed.unwrap(), page);
}

#[tokio::test]
async fn list_users_shows_a_suspension_that_ran_out_as_over() {
    // Given a store whose page holds a user whose suspension ended an hour ago
    let mut mocks = Mocks::new();
    let mut lapsed = plain_user();
    lapsed.suspension =
        Some(Suspension { since: now() - Duration::days(1), until: Some(now() - Duration::hours(1)), reason: None });
    let returned = Page { items: vec![lapsed], total: Total::Exact(1) };
    mocks.users.expect_list().times(1).return_once(move |_| Ok(returned));

    // When the admin lists users
    let listed = mocks
        .service()
        .list_users(&administrator(), UserFilter::default(), UserOrder::default(), PageRequest { offset: 0, limit: 10 })
        .await
        .unwrap();

    // Then the user is shown active
    assert_eq!(listed.items[0].suspension, None);
}

#[tokio::test]
async fn list_users_turns_a_store_failure_into_unexpected() {
    // Given a store that fails to list
    let mut mocks = Mocks::new();
    mocks.users.expect_list().times(1).returning(|_| Err(store_error()));

    // When the admin asks for a page
    let error = mocks
        .service()
        .list_users(&administrator(), UserFilter::default(), UserOrder::default(), PageRequest { offset: 0, limit: 10 })
        .await
        .unwrap_err();

    // Then the fault is unexpected, and keeps the store's reason
    assert!(matches!(error, ListUsersError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

// ---------------------------------------------------------------------------------------------------------------
// get_user

#[test]
fn user_ids_and_object_ids_name_users_their_own_way() {
    assert_eq!(UserRef::from(UserId(3)), UserRef::Id(UserId(3)));
    assert_eq!(UserRef::from(object_id(3)), UserRef::ObjectId(object_id(3)));
}

#[tokio::test]
async fn get_user_finds_the_user_by_object_id() {
    // Given a user the store knows by its ObjectId
    let mut mocks = Mocks::new();
    expect_found_by_object_id(&mut mocks, plain_user());

    // When the admin asks for that ObjectId
    let user = mocks.service().get_user(&administrator(), plain_user().object_id).await.unwrap();

    // Then the admin gets the user
    assert_eq!(user, plain_user());
}

#[tokio::test]
async fn get_user_by_object_id_does_not_look_up_numeric_ids() {
    // Given a user the store knows by its ObjectId
    let mut mocks = Mocks::new();
    expect_found_by_object_id(&mut mocks, plain_user());
    mocks.users.expect_find_by_id().never();

    // When the admin asks for it, named as an ObjectId
    let user = mocks.service().get_user(&administrator(), UserRef::ObjectId(plain_user().object_id)).await.unwrap();

    // Then it is found by that ObjectId alone
    assert_eq!(user, plain_user());
}

#[tokio::test]
async fn get_user_reports_an_unknown_id() {
    // Given an ObjectId no user has
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_object_id().times(1).returning(|_| Ok(None));

    // When the admin asks for it
    let error = mocks.service().get_user(&administrator(), object_id(999)).await.unwrap_err();

    // Then the admin is told there is no such user
    assert!(matches!(error, GetUserError::NotFound), "{error:?}");
}

#[tokio::test]
async fn get_user_turns_a_store_failure_into_unexpected() {
    // Given a store that fails to look up an ObjectId
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_object_id().times(1).returning(|_| Err(store_error()));

    // When the admin asks for a user by its ObjectId
    let error = mocks.service().get_user(&administrator(), object_id(1)).await.unwrap_err();

    // Then the fault is unexpected
    assert!(matches!(error, GetUserError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn get_user_finds_the_user_by_numeric_id() {
    // Given a user the store knows by its numeric id
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().withf(|id| *id == UserId(1)).times(1).returning(|_| Ok(Some(plain_user())));
    mocks.users.expect_find_by_object_id().never();

    // When the admin asks for that id
    let user = mocks.service().get_user(&administrator(), UserId(1)).await.unwrap();

    // Then it is found by that id alone, and the admin gets it
    assert_eq!(user, plain_user());
}

#[tokio::test]
async fn get_user_reports_an_unknown_numeric_id() {
    // Given a numeric id no user has
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().withf(|id| *id == UserId(999)).times(1).returning(|_| Ok(None));
    mocks.users.expect_find_by_object_id().never();

    // When the admin asks for it
    let error = mocks.service().get_user(&administrator(), UserRef::Id(UserId(999))).await.unwrap_err();

    // Then the admin is told there is no such user
    assert!(matches!(error, GetUserError::NotFound), "{error:?}");
}

#[tokio::test]
async fn get_user_by_numeric_id_turns_a_store_failure_into_unexpected() {
    // Given a store that fails to look up a numeric id
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().times(1).returning(|_| Err(store_error()));
    mocks.users.expect_find_by_object_id().never();

    // When the admin asks for a user by its numeric id
    let error = mocks.service().get_user(&administrator(), UserId(1)).await.unwrap_err();

    // Then the fault is unexpected, and keeps the store's reason
    assert!(matches!(error, GetUserError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

// ---------------------------------------------------------------------------------------------------------------
// delete_user

/// A user the admin deletes: numeric id 5.
fn victim() -> User {
    user(5, &[Role::User])
}

/// The store finds [`victim`] by its ObjectId, and its delete of id 5 is asked once and answers `outcome`.
fn store_finding_the_victim_and_deleting_with(outcome: fn() -> Result<(), StoreDeleteError>) -> Mocks {
    let mut mocks = store_deleting_with(outcome);
    expect_found_by_object_id(&mut mocks, victim());
    mocks
}

/// The store's delete of id 5 is asked once, without a look-up first, and answers `outcome`.
fn store_deleting_with(outcome: fn() -> Result<(), StoreDeleteError>) -> Mocks {
    let mut mocks = Mocks::new();
    mocks.users.expect_delete().withf(|id, _| *id == UserId(5)).times(1).returning(move |_, _| outcome());
    mocks
}

/// Neither id is looked up.
fn expect_no_look_up(mocks: &mut Mocks) {
    mocks.users.expect_find_by_object_id().never();
    mocks.users.expect_find_by_id().never();
}

#[tokio::test]
async fn delete_user_deletes_the_user_by_its_numeric_id() {
    // Given a user the store finds by its ObjectId, then deletes
    let mocks = store_finding_the_victim_and_deleting_with(|| Ok(()));

    // When the admin deletes that ObjectId
    let deleted = mocks.service().delete_user(&administrator(), victim().object_id).await;

    // Then the store deletes the numeric id it found
    deleted.unwrap();
}

#[tokio::test]
async fn delete_user_reports_an_unknown_id_and_deletes_nothing() {
    // Given an ObjectId no user has
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_object_id().times(1).returning(|_| Ok(None));
    mocks.users.expect_delete().never();

    // When the admin deletes it
    let error = mocks.service().delete_user(&administrator(), object_id(999)).await.unwrap_err();

    // Then the admin is told there is no such user, and nothing is deleted
    assert!(matches!(error, DeleteUserError::NotFound), "{error:?}");
}

#[tokio::test]
async fn delete_user_reports_a_user_deleted_meanwhile() {
    // Given a user deleted by someone else between its look-up and its delete
    let mocks = store_finding_the_victim_and_deleting_with(|| Err(StoreDeleteError::NotFound));

    // When the admin deletes it
    let error = mocks.service().delete_user(&administrator(), victim().object_id).await.unwrap_err();

    // Then the admin is told there is no such user
    assert!(matches!(error, DeleteUserError::NotFound), "{error:?}");
}

#[tokio::test]
async fn delete_user_refuses_to_delete_the_last_admin() {
    // Given a store that refuses to delete the last admin
    let mocks = store_finding_the_victim_and_deleting_with(|| Err(StoreDeleteError::LastAdmin));

    // When the admin deletes that user
    let error = mocks.service().delete_user(&administrator(), victim().object_id).await.unwrap_err();

    // Then the refusal is passed on
    assert!(matches!(error, DeleteUserError::LastAdmin), "{error:?}");
}

#[tokio::test]
async fn delete_user_turns_a_store_failure_into_unexpected() {
    // Given a store that fails the delete
    let mocks = store_finding_the_victim_and_deleting_with(|| Err(StoreDeleteError::Unexpected(store_error())));

    // When the admin deletes a user
    let error = mocks.service().delete_user(&administrator(), victim().object_id).await.unwrap_err();

    // Then the fault is unexpected
    assert!(matches!(error, DeleteUserError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn delete_user_with_a_failing_look_up_is_unexpected() {
    // Given a store that fails to look up an ObjectId
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_object_id().times(1).returning(|_| Err(store_error()));
    mocks.users.expect_delete().never();

    // When the admin deletes a user by its ObjectId
    let error = mocks.service().delete_user(&administrator(), object_id(5)).await.unwrap_err();

    // Then the fault is unexpected, and nothing is deleted
    assert!(matches!(error, DeleteUserError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn delete_user_by_numeric_id_deletes_without_a_look_up() {
    // Given a store that deletes id 5
    let mut mocks = store_deleting_with(|| Ok(()));
    expect_no_look_up(&mut mocks);

    // When the admin deletes that numeric id
    let deleted = mocks.service().delete_user(&administrator(), victim().id).await;

    // Then the store is asked to delete it directly
    deleted.unwrap();
}

#[tokio::test]
async fn delete_user_by_numeric_id_reports_an_unknown_id() {
    // Given a numeric id no user has
    let mut mocks = store_deleting_with(|| Err(StoreDeleteError::NotFound));
    expect_no_look_up(&mut mocks);

    // When the admin deletes it
    let error = mocks.service().delete_user(&administrator(), victim().id).await.unwrap_err();

    // Then the admin is told there is no such user
    assert!(matches!(error, DeleteUserError::NotFound), "{error:?}");
}

#[tokio::test]
async fn delete_user_by_numeric_id_refuses_to_delete_the_last_admin() {
    // Given a store that refuses to delete the last admin
    let mut mocks = store_deleting_with(|| Err(StoreDeleteError::LastAdmin));
    expect_no_look_up(&mut mocks);

    // When the admin deletes that user's numeric id
    let error = mocks.service().delete_user(&administrator(), victim().id).await.unwrap_err();

    // Then the refusal is passed on
    assert!(matches!(error, DeleteUserError::LastAdmin), "{error:?}");
}

#[tokio::test]
async fn delete_user_by_numeric_id_turns_a_store_failure_into_unexpected() {
    // Given a store that fails the delete
    let mut mocks = store_deleting_with(|| Err(StoreDeleteError::Unexpected(store_error())));
    expect_no_look_up(&mut mocks);

    // When the admin deletes a numeric id
    let error = mocks.service().delete_user(&administrator(), victim().id).await.unwrap_err();

    // Then the fault is unexpected, and keeps the store's reason
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

/// The newcomer's password is hashed, then the store refuses its insert with `error`.
fn store_refusing_the_newcomer(error: fn() -> InsertUserError) -> Mocks {
    let mut mocks = Mocks::new();
    expect_newcomer_hashed(&mut mocks);
    mocks.users.expect_insert().times(1).returning(move |_| Err(error()));
    mocks
}

/// The hasher answers `error` when asked to hash a new password, and nothing is inserted.
fn hasher_failing_with(error: fn() -> PasswordHashError) -> Mocks {
    let mut mocks = Mocks::new();
    mocks.hasher.expect_hash().times(1).returning(move |_| Err(error()));
    mocks.users.expect_insert().never();
    mocks
}

#[tokio::test]
async fn create_user_without_roles_makes_a_plain_user() {
    // Given a request that names no roles
    let mut mocks = Mocks::new();
    expect_newcomer_hashed(&mut mocks);
    expect_newcomer_inserted(&mut mocks, vec![Role::User]);

    // When the admin creates the account
    let user = mocks.service().create_user(&administrator(), newcomer(), None, false).await.unwrap();

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
    let user = mocks.service().create_user(&administrator(), newcomer(), Some(roles), false).await.unwrap();

    // Then the store is given those roles (the store is asked nothing about roles: they are the domain's)
    assert_eq!(user.roles, [Role::Admin, Role::User]);
    assert!(user.is_admin());
}

#[tokio::test]
async fn create_user_gives_every_user_a_fresh_object_id() {
    // Given a store that records the ObjectId of each user it is given
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

    // When the admin creates two accounts at the same instant
    let first = service.create_user(&administrator(), newcomer(), None, false).await.unwrap();
    let second = service
        .create_user(&administrator(), Registration { email: email("other@example.com"), ..newcomer() }, None, false)
        .await
        .unwrap();

    // Then each is given its own new ObjectId, made now
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
    // Given an email another account holds
    let mocks = store_refusing_the_newcomer(|| InsertUserError::DuplicateEmail);

    // When the admin creates an account with it
    let error = mocks.service().create_user(&administrator(), newcomer(), None, false).await.unwrap_err();

    // Then the admin is told the email is taken
    assert!(matches!(error, CreateUserError::EmailTaken), "{error:?}");
}

#[tokio::test]
async fn create_user_reports_a_taken_username() {
    // Given a username another account holds
    let mocks = store_refusing_the_newcomer(|| InsertUserError::DuplicateUsername);

    // When the admin creates an account with it
    let error = mocks.service().create_user(&administrator(), newcomer(), None, false).await.unwrap_err();

    // Then the admin is told the username is taken
    assert!(matches!(error, CreateUserError::UsernameTaken), "{error:?}");
}

#[tokio::test]
async fn create_user_turns_a_failed_insert_into_unexpected() {
    // Given a store that fails the insert
    let mocks = store_refusing_the_newcomer(|| InsertUserError::Unexpected(store_error()));

    // When the admin creates an account
    let error = mocks.service().create_user(&administrator(), newcomer(), None, false).await.unwrap_err();

    // Then the fault is unexpected, and keeps the store's reason
    assert!(matches!(error, CreateUserError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

#[tokio::test]
async fn create_user_turns_a_hasher_failure_into_unexpected_and_stores_nothing() {
    // Given a hasher that fails
    let mocks = hasher_failing_with(|| PasswordHashError::Unexpected("out of memory".into()));

    // When the admin creates an account
    let error = mocks.service().create_user(&administrator(), newcomer(), None, false).await.unwrap_err();

    // Then the fault is unexpected, and nothing is stored
    assert!(matches!(error, CreateUserError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn create_user_while_the_hashers_are_busy_is_busy_and_stores_nothing() {
    // Given hashers too busy to hash the password
    let mocks = hasher_failing_with(|| PasswordHashError::Busy);

    // When the admin creates an account
    let error = mocks.service().create_user(&administrator(), newcomer(), None, false).await.unwrap_err();

    // Then the admin is told the service is busy, and nothing is stored
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
    // The user as stored before: the address it has decides whether the replacement brings a new one.
    mocks.users.expect_find_by_id().withf(|id| *id == UserId(5)).times(1).returning(|_| Ok(Some(victim())));
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

/// A store whose update of [`victim`] by [`replacement`] without roles answers `outcome`.
fn store_replacing_with(outcome: Result<User, UpdateUserError>) -> Mocks {
    let mut mocks = Mocks::new();
    expect_replaced(&mut mocks, None, outcome);
    mocks
}

#[tokio::test]
async fn replace_user_without_roles_keeps_the_roles() {
    // Given a replacement that names no roles
    let mocks = store_replacing_with(Ok(replaced(&[Role::User])));

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

#[tokio::test]
async fn replace_user_reports_a_user_deleted_meanwhile_as_unknown() {
    // Given a user deleted between its look-up and its update
    let mocks = store_replacing_with(Err(UpdateUserError::NotFound));

    // When the admin replaces that user
    let error = mocks.service().replace_user(&administrator(), UserId(5), replacement(None)).await.unwrap_err();

    // Then the admin is told there is no such user
    assert!(matches!(error, ReplaceUserError::NotFound), "{error:?}");
}

#[tokio::test]
async fn replace_user_reports_a_taken_email() {
    // Given a new email another account holds
    let mocks = store_replacing_with(Err(UpdateUserError::DuplicateEmail));

    // When the admin gives it to the user
    let error = mocks.service().replace_user(&administrator(), UserId(5), replacement(None)).await.unwrap_err();

    // Then the admin is told the email is taken
    assert!(matches!(error, ReplaceUserError::EmailTaken), "{error:?}");
}

#[tokio::test]
async fn replace_user_refuses_to_demote_the_last_admin() {
    // Given a store that refuses to take the admin role from the last admin
    let mut mocks = Mocks::new();
    expect_replaced(&mut mocks, Some(vec![Role::User]), Err(UpdateUserError::LastAdmin));
    let demotion = replacement(Some(role_set(&[Role::User])));

    // When the admin leaves that user only the `user` role
    let error = mocks.service().replace_user(&administrator(), UserId(5), demotion).await.unwrap_err();

    // Then the refusal is passed on
    assert!(matches!(error, ReplaceUserError::LastAdmin), "{error:?}");
}

#[tokio::test]
async fn replace_user_passes_on_a_last_admin_refusal_whatever_the_update() {
    // Given a store that refuses an update that names no roles as one that would leave no admin
    let mocks = store_replacing_with(Err(UpdateUserError::LastAdmin));

    // When the admin replaces the user
    let error = mocks.service().replace_user(&administrator(), UserId(5), replacement(None)).await.unwrap_err();

    // Then the refusal is passed on all the same
    assert!(matches!(error, ReplaceUserError::LastAdmin), "{error:?}");
}

#[tokio::test]
async fn replace_user_turns_a_store_failure_into_unexpected() {
    // Given a store that fails the update
    let mocks = store_replacing_with(Err(UpdateUserError::Unexpected(store_error())));

    // When the admin replaces a user
    let error = mocks.service().replace_user(&administrator(), UserId(5), replacement(None)).await.unwrap_err();

    // Then the fault is unexpected, and keeps the store's reason
    assert!(matches!(error, ReplaceUserError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

#[tokio::test]
async fn replace_user_treats_a_username_clash_as_unexpected() {
    // Given a store that reports a clash on the username, which a replacement never changes
    let mocks = store_replacing_with(Err(UpdateUserError::DuplicateUsername));

    // When the admin replaces a user
    let error = mocks.service().replace_user(&administrator(), UserId(5), replacement(None)).await.unwrap_err();

    // Then the store is at fault: the error is unexpected
    assert!(matches!(error, ReplaceUserError::Unexpected(_)), "{error:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// clear_lockout

#[tokio::test]
async fn clear_lockout_forgets_the_failed_sign_ins_of_the_user() {
    // Given a user whose failed sign-ins the store holds
    let mut mocks = Mocks::new();
    mocks.users.expect_clear_lockout().withf(|id, _| *id == UserId(5)).times(1).returning(|_, _| Ok(true));

    // When the admin clears that user's lockout
    let cleared = mocks.service().clear_lockout(&administrator(), UserId(5)).await;

    // Then the store forgets them
    cleared.unwrap();
}

#[tokio::test]
async fn clear_lockout_of_an_unknown_user_is_not_found() {
    // Given a numeric id no user has
    let mut mocks = Mocks::new();
    mocks.users.expect_clear_lockout().withf(|id, _| *id == UserId(999)).times(1).returning(|_, _| Ok(false));

    // When the admin clears its lockout
    let error = mocks.service().clear_lockout(&administrator(), UserId(999)).await.unwrap_err();

    // Then the admin is told there is no such user
    assert!(matches!(error, ClearLockoutError::NotFound), "{error:?}");
}

#[tokio::test]
async fn clear_lockout_turns_a_store_failure_into_unexpected() {
    // Given a store that fails to clear the lockout
    let mut mocks = Mocks::new();
    mocks.users.expect_clear_lockout().times(1).returning(|_, _| Err(store_error()));

    // When the admin clears a user's lockout
    let error = mocks.service().clear_lockout(&administrator(), UserId(5)).await.unwrap_err();

    // Then the fault is unexpected, and keeps the store's reason
    assert!(matches!(error, ClearLockoutError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

// ---------------------------------------------------------------------------------------------------------------
// list_roles

#[tokio::test]
async fn list_roles_returns_the_roles_of_the_store() {
    // Given a store that knows both roles
    let mut mocks = Mocks::new();
    mocks.users.expect_list_roles().times(1).returning(|| Ok(vec![Role::Admin, Role::User]));

    // When the admin lists the roles
    let roles = mocks.service().list_roles(&administrator()).await.unwrap();

    // Then the admin gets both
    assert_eq!(roles, [Role::Admin, Role::User]);
}

#[tokio::test]
async fn list_roles_returns_only_what_the_store_knows() {
    // Given a store that knows only the `user` role
    let mut mocks = Mocks::new();
    mocks.users.expect_list_roles().times(1).returning(|| Ok(vec![Role::User]));

    // When the admin lists the roles
    let roles = mocks.service().list_roles(&administrator()).await.unwrap();

    // Then the admin gets that one alone, not every role the domain has
    assert_eq!(roles, [Role::User]);
}

#[tokio::test]
async fn list_roles_turns_a_store_failure_into_unexpected() {
    // Given a store that fails to list the roles
    let mut mocks = Mocks::new();
    mocks.users.expect_list_roles().times(1).returning(|| Err(store_error()));

    // When the admin lists the roles
    let error = mocks.service().list_roles(&administrator()).await.unwrap_err();

    // Then the fault is unexpected, and keeps the store's reason
    assert!(matches!(error, ListRolesError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

// ---------------------------------------------------------------------------------------------------------------
// provision_admin

const OPERATOR: &str = "root@example.com";
const OPERATOR_PASSWORD: &str = "operator password";

/// The store is asked once for the credentials behind the operator's email, and answers `found`.
fn expect_looked_up(mocks: &mut Mocks, found: Option<StoredCredentials>) {
    mocks
        .users
        .expect_find_credentials()
        .withf(|login| *login == LoginIdentifier::Email(email(OPERATOR)))
        .times(1)
        .return_once(move |_| Ok(found));
}

/// The account with id 3 and `roles` behind the operator's email.
fn existing(roles: &[Role]) -> Option<StoredCredentials> {
    Some(StoredCredentials { user: user(3, roles), password_hash: stored_hash(), throttle: LoginThrottle::default() })
}

/// The hasher is asked once to hash [`OPERATOR_PASSWORD`], and answers [`new_hash`].
fn expect_operator_password_hashed(mocks: &mut Mocks) {
    mocks.hasher.expect_hash().withf(|p| p.expose() == OPERATOR_PASSWORD).times(1).returning(|_| Ok(new_hash()));
}

/// Neither an account is inserted nor one updated, nor a password hashed.
fn expect_nothing_stored(mocks: &mut Mocks) {
    mocks.users.expect_update().never();
    mocks.users.expect_insert().never();
    mocks.hasher.expect_hash().never();
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
        // Given an email no account has
        let mut mocks = Mocks::new();
        expect_looked_up(&mut mocks, None);
        expect_operator_password_hashed(&mut mocks);
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

        // When the operator provisions it, promotion allowed or not
        let (outcome, asked) = provision(mocks, existing).await;

        // Then the password is asked for, and an admin made with it
        let ProvisionedAdmin::Created(user) = outcome.unwrap() else { panic!("expected Created ({existing:?})") };
        assert_eq!(user.id, UserId(1));
        assert_eq!(user.email, email(OPERATOR));
        assert!(user.is_admin());
        assert!(asked, "the new account's password was asked for");
    }
}

#[tokio::test]
async fn provision_admin_without_promotion_refuses_an_email_someone_registered_and_changes_nothing() {
    for roles in [&[Role::User][..], &[Role::Admin, Role::User]] {
        // Given an email someone registered, admin or not
        let mut mocks = Mocks::new();
        expect_looked_up(&mut mocks, existing(roles));
        expect_nothing_stored(&mut mocks);

        // When the operator provisions it without allowing promotion
        let (outcome, asked) = provision(mocks, ExistingAccount::Refuse).await;

        // Then it fails and says why, without asking a password or changing anything
        let error = outcome.unwrap_err();
        assert!(matches!(error, ProvisionAdminError::ExistingAccount), "{error:?}");
        assert_eq!(error.to_string(), "an account with this email already exists");
        assert!(!asked, "no password is asked for an account that will not be made");
    }
}

#[tokio::test]
async fn provision_admin_promotes_an_existing_user_when_allowed_keeping_their_password_without_asking_one() {
    // Given an email a plain user registered
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, existing(&[Role::User]));
    expect_promoted(&mut mocks);
    mocks.hasher.expect_hash().never();
    mocks.users.expect_insert().never();

    // When the operator provisions it, promotion allowed
    let (outcome, asked) = provision(mocks, ExistingAccount::Promote).await;

    // Then that user gains the admin role and nothing else changes, without a password asked for
    let ProvisionedAdmin::Promoted(user) = outcome.unwrap() else { panic!("expected Promoted") };
    assert_eq!(user.id, UserId(3));
    assert!(user.is_admin());
    assert!(!asked, "promoting asks for no password");
}

#[tokio::test]
async fn provision_admin_leaves_an_admin_as_it_is_when_promotion_is_allowed() {
    // Given an email an admin registered
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, existing(&[Role::Admin, Role::User]));
    expect_nothing_stored(&mut mocks);

    // When the operator provisions it, promotion allowed
    let (outcome, asked) = provision(mocks, ExistingAccount::Promote).await;

    // Then the operator is told it is an admin already, and nothing changes
    let ProvisionedAdmin::AlreadyAdmin(admin) = outcome.unwrap() else { panic!("expected AlreadyAdmin") };
    assert_eq!(admin, user(3, &[Role::Admin, Role::User]));
    assert!(!asked);
}

#[tokio::test]
async fn provision_admin_reports_a_user_vanishing_before_promotion() {
    // Given a plain user deleted between its look-up and its promotion
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, existing(&[Role::User]));
    mocks.users.expect_update().times(1).returning(|_, _| Err(UpdateUserError::NotFound));
    mocks.users.expect_insert().never();

    // When the operator provisions its email, promotion allowed
    let error = provision(mocks, ExistingAccount::Promote).await.0.unwrap_err();

    // Then the fault is unexpected and says the user was not found, and no account is made instead
    assert!(matches!(error, ProvisionAdminError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains("not found"), "{error}");
}

#[tokio::test]
async fn provision_admin_turns_a_failed_promotion_into_unexpected() {
    // Given a store that fails the promotion
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, existing(&[Role::User]));
    mocks.users.expect_update().times(1).returning(|_, _| Err(UpdateUserError::Unexpected(store_error())));

    // When the operator provisions a plain user's email, promotion allowed
    let error = provision(mocks, ExistingAccount::Promote).await.0.unwrap_err();

    // Then the fault is unexpected, and keeps the store's reason
    assert!(matches!(error, ProvisionAdminError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains(STORE_FAILURE), "{error}");
}

#[tokio::test]
async fn provision_admin_refuses_an_email_registered_after_its_look_up_and_promotes_nobody() {
    for existing in [ExistingAccount::Refuse, ExistingAccount::Promote] {
        // Given an email no account had when looked up, registered before the admin is inserted
        let mut mocks = Mocks::new();
        expect_looked_up(&mut mocks, None);
        expect_operator_password_hashed(&mut mocks);
        mocks.users.expect_insert().times(1).returning(|_| Err(InsertUserError::DuplicateEmail));
        mocks.users.expect_update().never();

        // When the operator provisions it, promotion allowed or not
        let error = provision(mocks, existing).await.0.unwrap_err();

        // Then it fails as for an existing account, and the newcomer is not promoted
        assert!(matches!(error, ProvisionAdminError::ExistingAccount), "{existing:?}: {error:?}");
    }
}

#[tokio::test]
async fn provision_admin_without_a_password_reports_why_and_stores_nothing() {
    // Given an email no account has, and no password to be had
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, None);
    mocks.hasher.expect_hash().never();
    mocks.users.expect_insert().never();
    let none_given = async || Err::<Password, _>("no password on standard input");

    // When the operator provisions it
    let error =
        mocks.service().provision_admin(email(OPERATOR), ExistingAccount::Refuse, none_given).await.unwrap_err();

    // Then it fails with the reason there is no password, and nothing is stored
    assert!(matches!(error, ProvisionAdminError::NoPassword(_)), "{error:?}");
    assert_eq!(error.to_string(), "no password on standard input");
}

#[tokio::test]
async fn provision_admin_refuses_a_password_made_of_the_email_and_stores_nothing() {
    // Given an email no account has, and a password made of it
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, None);
    mocks.hasher.expect_hash().never();
    mocks.users.expect_insert().never();
    let personal = async || Ok::<_, Infallible>(password("root password"));

    // When the operator provisions it
    let error = mocks.service().provision_admin(email(OPERATOR), ExistingAccount::Refuse, personal).await.unwrap_err();

    // Then the password is refused as weak, before it is hashed or anything stored
    assert!(matches!(error, ProvisionAdminError::WeakPassword(_)), "{error:?}");
}

#[tokio::test]
async fn provision_admin_turns_a_failed_insert_into_unexpected() {
    // Given an email no account has, and a store that fails the insert
    let mut mocks = Mocks::new();
    expect_looked_up(&mut mocks, None);
    expect_operator_password_hashed(&mut mocks);
    mocks.users.expect_insert().times(1).returning(|_| Err(InsertUserError::Unexpected(store_error())));

    // When the operator provisions it
    let error = provision(mocks, ExistingAccount::Refuse).await.0.unwrap_err();

    // Then the fault is unexpected
    assert!(matches!(error, ProvisionAdminError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn provision_admin_turns_a_hasher_failure_into_unexpected_and_stores_nothing() {
    // Given an email no account has, and a hasher that fails
    let mut mocks = hasher_failing_with(|| PasswordHashError::Unexpected("out of memory".into()));
    expect_looked_up(&mut mocks, None);

    // When the operator provisions it
    let error = provision(mocks, ExistingAccount::Refuse).await.0.unwrap_err();

    // Then the fault is unexpected, and nothing is stored
    assert!(matches!(error, ProvisionAdminError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn provision_admin_takes_busy_hashers_for_a_fault() {
    // Given an email no account has, and hashers too busy to hash the password
    let mut mocks = hasher_failing_with(|| PasswordHashError::Busy);
    expect_looked_up(&mut mocks, None);

    // When the operator provisions it
    let error = provision(mocks, ExistingAccount::Refuse).await.0.unwrap_err();

    // Then the fault is unexpected, not a request to wait: run from the command line, nothing else competes for the
    // hashers
    assert!(matches!(error, ProvisionAdminError::Unexpected(_)), "{error:?}");
    assert!(error.to_string().contains("busy"), "{error}");
}

#[tokio::test]
async fn provision_admin_with_a_failing_look_up_is_unexpected_and_asks_nothing() {
    // Given a store that fails to look the email up
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Err(store_error()));
    expect_nothing_stored(&mut mocks);

    // When the operator provisions it, promotion allowed
    let (outcome, asked) = provision(mocks, ExistingAccount::Promote).await;

    // Then the fault is unexpected, no password is asked for and nothing changes
    assert!(matches!(outcome, Err(ProvisionAdminError::Unexpected(_))), "{outcome:?}");
    assert!(!asked);
}

// ---------------------------------------------------------------------------------------------------------------
// an admin's own account, through the admin routes

/// The admin, signed in `minutes` ago.
fn admin_signed_in_minutes_ago(minutes: i64) -> Administrator {
    signed_in_at(admin_user(), Some(now() - Duration::minutes(minutes))).into_admin().expect("an admin")
}

/// New names for the admin, and `email`.
fn own_replacement(email: Email) -> UserReplacement {
    UserReplacement { first_name: person_name("Ada"), last_name: person_name("Admin"), email, roles: None }
}

/// The store is asked once to update the admin, and answers the admin with `email`.
fn expect_own_update(mocks: &mut Mocks, email: Email) {
    mocks.users.expect_find_by_id().times(1).returning(|_| Ok(Some(admin_user())));
    let stored = User { email, ..admin_user() };
    mocks.users.expect_update().times(1).return_once(move |_, _| Ok(stored));
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
async fn an_admin_whose_sign_in_is_old_may_still_rename_themselves() {
    // Given an admin whose session signed in ten minutes ago
    let mut mocks = Mocks::new();
    let own = admin_user();
    expect_own_update(&mut mocks, own.email.clone());
    // The same address in other letters is no new address.
    let renaming = own_replacement(email(&own.email.as_str().to_uppercase()));

    // When it gives itself new names, keeping its email
    let replaced = mocks.service().replace_user(&admin_signed_in_minutes_ago(10), own.id, renaming).await;

    // Then the names are stored without a fresh sign-in
    assert!(replaced.is_ok(), "signed in 10 min ago, same email: {replaced:?}");
}

#[tokio::test]
async fn an_admin_signed_in_a_minute_ago_may_change_their_own_email() {
    // Given an admin whose session signed in a minute ago
    let mut mocks = Mocks::new();
    let own = admin_user();
    expect_own_update(&mut mocks, email("admin-new@example.com"));

    // When it replaces its own account with another email
    let replacement = own_replacement(email("admin-new@example.com"));
    let replaced = mocks.service().replace_user(&admin_signed_in_minutes_ago(1), own.id, replacement).await;

    // Then the new email is stored
    assert!(replaced.is_ok(), "signed in 1 min ago, new email: {replaced:?}");
}

#[tokio::test]
async fn an_admin_whose_sign_in_is_old_cannot_delete_their_own_account_through_the_admin_routes() {
    // Given an admin whose session signed in ten minutes ago
    let mut mocks = Mocks::new();
    mocks.users.expect_delete().never();

    // When it deletes its own numeric id
    let error = mocks.service().delete_user(&admin_signed_in_minutes_ago(10), admin_user().id).await.unwrap_err();

    // Then nothing is deleted and the answer asks for a fresh sign-in
    assert!(matches!(error, DeleteUserError::ReauthenticationRequired), "{error:?}");
}

#[tokio::test]
async fn an_admin_whose_sign_in_is_old_cannot_delete_their_own_account_by_its_object_id_either() {
    // Given an admin whose session signed in ten minutes ago, found by its ObjectId
    let mut mocks = Mocks::new();
    expect_found_by_object_id(&mut mocks, admin_user());
    mocks.users.expect_delete().never();

    // When it deletes its own ObjectId
    let own = admin_user().object_id;
    let error = mocks.service().delete_user(&admin_signed_in_minutes_ago(10), own).await.unwrap_err();

    // Then, once the id is known, nothing is deleted and the answer asks for a fresh sign-in
    assert!(matches!(error, DeleteUserError::ReauthenticationRequired), "{error:?}");
}

#[tokio::test]
async fn an_admin_whose_sign_in_is_old_may_still_delete_someone_else() {
    // Given an admin whose session signed in ten minutes ago
    let mut mocks = Mocks::new();
    mocks.users.expect_delete().withf(|id, _| *id == UserId(5)).times(1).returning(|_, _| Ok(()));

    // When it deletes another user
    let deleted = mocks.service().delete_user(&admin_signed_in_minutes_ago(10), UserId(5)).await;

    // Then that user is deleted without a fresh sign-in
    deleted.unwrap();
}
