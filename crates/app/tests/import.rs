//! Bringing users over from another system, against mocked ports: what is stored for each account, and when one is
//! skipped or refused.

mod support;

use users_app::{ImportUserError, Imported, ImportedUser, LoginError, SignIn};
use users_domain::{AttemptOutcome, LoginAttempt, LoginIdentifier, Role};
use users_ports::{AuditActor, AuditKind, InsertUserError, PasswordHash, PasswordHashError, StoredCredentials};

use support::*;

/// Another system's bcrypt hash, as an import file carries it.
fn foreign_hash() -> PasswordHash {
    PasswordHash::new("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW")
}

fn grace(password_hash: Option<PasswordHash>) -> ImportedUser {
    ImportedUser {
        email: email("grace@example.com"),
        username: Some(username("grace")),
        first_name: Some(person_name("Grace")),
        last_name: Some(person_name("Hopper")),
        roles: vec![],
        email_verified: true,
        password_hash,
    }
}

#[tokio::test]
async fn an_account_with_a_hash_the_hasher_can_check_is_created_with_that_hash_and_recorded_as_imported() {
    // Given a hasher that can check the account's hash
    let mut mocks = Mocks::new();
    mocks.hasher.expect_check_hash().withf(|hash| *hash == foreign_hash()).times(1).returning(|_| Ok(()));
    mocks
        .users
        .expect_insert()
        .withf(|new| {
            let [imported] = new.audit.as_slice() else { return false };
            new.email == email("grace@example.com")
                && new.username == Some(username("grace"))
                && new.profile.first_name == Some(person_name("Grace"))
                && new.profile.last_name == Some(person_name("Hopper"))
                && new.password_hash == foreign_hash()
                && new.roles == [Role::User]
                && new.email_verified
                && new.verification.is_none()
                && new.created_at == now()
                && imported.kind == AuditKind::UserImported
                && imported.actor == AuditActor::Nobody
                && imported.details["email"] == "grace@example.com"
                && imported.details["with_password"] == true
                && !imported.details.values().any(|value| value.to_string().contains("$2b$"))
        })
        .times(1)
        .returning(|new| Ok(stored(new, 7)));

    // When the account is imported
    let imported = mocks.service().import_user(grace(Some(foreign_hash()))).await.unwrap();

    // Then it is created, with the other system's hash kept for its first sign-in, the `user` role and no mail
    let Imported::Created(user) = imported else { panic!("{imported:?}") };
    assert_eq!((user.id.0, user.roles.as_slice()), (7, [Role::User].as_slice()));
}

#[tokio::test]
async fn an_account_whose_hash_the_hasher_cannot_check_is_refused_and_nothing_is_stored() {
    // Given a hash the hasher does not know
    let mut mocks = Mocks::new();
    mocks.hasher.expect_check_hash().times(1).returning(|_| Err(PasswordHashError::MalformedHash));
    mocks.users.expect_insert().never();

    // When the account is imported
    let refused = mocks.service().import_user(grace(Some(PasswordHash::new("$md5$salt$hash")))).await.unwrap_err();

    // Then it is refused, saying which forms are accepted, and the hash itself is not repeated
    assert!(matches!(refused, ImportUserError::UnsupportedHash), "{refused:?}");
    assert!(refused.to_string().contains("bcrypt") && !refused.to_string().contains("$md5$"), "{refused}");
}

#[tokio::test]
async fn an_account_without_a_hash_gets_no_password_and_its_roles_as_given() {
    // Given an admin account brought over without a hash
    let mut mocks = Mocks::new();
    mocks.hasher.expect_check_hash().never();
    mocks
        .users
        .expect_insert()
        .withf(|new| {
            new.password_hash.is_unusable()
                && new.roles == [Role::Admin, Role::User]
                && new.audit[0].details["with_password"] == false
        })
        .times(1)
        .returning(|new| Ok(stored(new, 8)));

    // When it is imported
    let account = ImportedUser { roles: vec![Role::Admin, Role::User], ..grace(None) };
    let imported = mocks.service().import_user(account).await.unwrap();

    // Then it is created with a hash no password matches
    assert!(matches!(imported, Imported::Created(_)), "{imported:?}");
}

#[tokio::test]
async fn an_address_that_already_has_an_account_is_skipped_and_a_taken_username_refused() {
    // Given a store where the address, then the username, is taken
    let mut mocks = Mocks::new();
    mocks.hasher.expect_check_hash().returning(|_| Ok(()));
    let mut answers = vec![InsertUserError::DuplicateUsername, InsertUserError::DuplicateEmail].into_iter();
    mocks.users.expect_insert().times(2).returning(move |_| Err(answers.next_back().expect("two answers")));
    // (a taken username is looked into: the address may be taken too, and the store named the username first)
    mocks.users.expect_find_credentials().times(1).returning(|_| Ok(None));
    let service = mocks.service();

    // When the account is imported twice
    let first = service.import_user(grace(Some(foreign_hash()))).await;
    let second = service.import_user(grace(Some(foreign_hash()))).await;

    // Then the first is left as the store has it (an import run again skips what it brought), the second refused
    assert!(matches!(first, Ok(Imported::AlreadyThere)), "{first:?}");
    assert!(matches!(second, Err(ImportUserError::UsernameTaken)), "{second:?}");
}

#[tokio::test]
async fn an_account_whose_address_and_username_are_both_taken_is_skipped() {
    // Given a store that names the username when both are taken, and has the address
    let mut mocks = Mocks::new();
    mocks.users.expect_insert().times(1).returning(|_| Err(InsertUserError::DuplicateUsername));
    mocks
        .users
        .expect_find_credentials()
        .withf(|login| *login == LoginIdentifier::Email(email("grace@example.com")))
        .times(1)
        .returning(|_| Ok(Some(credentials())));

    // When the account is imported again
    let again = mocks.service().import_user(grace(None)).await;

    // Then it is skipped, as an address already here is
    assert!(matches!(again, Ok(Imported::AlreadyThere)), "{again:?}");
}

#[tokio::test]
async fn a_store_failure_is_unexpected() {
    let mut mocks = Mocks::new();
    mocks.users.expect_insert().times(1).returning(|_| Err(InsertUserError::Unexpected(store_error())));
    let failed = mocks.service().import_user(grace(None)).await;
    assert!(matches!(failed, Err(ImportUserError::Unexpected(_))), "{failed:?}");
}

#[tokio::test]
async fn signing_in_to_an_account_without_a_password_is_refused_like_a_wrong_password_and_counted() {
    // Given an account imported without a hash
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_find_credentials()
        .times(1)
        .returning(|_| Ok(Some(StoredCredentials { password_hash: PasswordHash::unusable(), ..credentials() })));
    expect_attempt(&mut mocks, LoginAttempt::Allowed);
    expect_finished(&mut mocks, AttemptOutcome::Refused, None);
    // the time of a check is spent, but no hasher is asked to check that hash;
    mocks.hasher.expect_verify().never();
    mocks.hasher.expect_verify_dummy().times(1).returning(|_| Ok(()));
    mocks.sessions.expect_create().never();

    // When someone signs in to it with any password
    let sign_in = SignIn::Credentials {
        login: LoginIdentifier::Email(email("user1@example.com")),
        password: password("whatever it was"),
    };
    let refused = mocks.service().login(sign_in, &network(), &device()).await.password_alone().unwrap_err();

    // Then it is the plain refusal of a wrong password, counted as one
    assert!(matches!(refused, LoginError::InvalidCredentials), "{refused:?}");
}
