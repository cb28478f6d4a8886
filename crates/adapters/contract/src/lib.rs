//! The behaviour every store must show through the `UserRepository` and `SessionRepository` ports, written once and
//! run against each adapter. Nothing here knows which store it talks to: [`store_contract_tests!`] makes one test per
//! contract function, each creating a fresh, empty store and handing its repositories to the function.
//!
//! Timestamps are truncated to microseconds, the finest precision a store is expected to keep, so that what is read
//! back can be compared for equality with what was written.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use futures_util::future::join_all;
use users_domain::{
    ClientNetwork, Email, LockoutPolicy, LoginIdentifier, ObjectId, PersonName, Profile, ProfilePatch, ProfileUrl,
    Role, User, UserId, Username,
};
use users_ports::{
    AttemptOutcome, DeleteUserError, EndSessions, InsertUserError, LoginAttempt, LoginThrottle, NewSession, NewUser,
    PageRequest, PasswordHash, RefreshTokenHash, RefreshTokenUse, SessionId, SessionRepository, SessionState,
    UpdateUserError, UserRepository, UserUpdate,
};

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

/// The current time at the precision a store keeps.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub fn seconds(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

pub fn password_hash() -> PasswordHash {
    PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo")
}

pub fn other_password_hash() -> PasswordHash {
    PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0$b3RoZXJoYXNo")
}

/// A distinct ObjectId for every distinct `n`.
pub fn object_id(n: u32) -> ObjectId {
    ObjectId::from_parts(1_750_000_000, [0xa1, 0xb2, 0xc3, 0xd4, 0xe5], n)
}

pub fn email(raw: &str) -> Email {
    Email::parse(raw).expect("valid email")
}

pub fn username(raw: &str) -> Username {
    Username::parse(raw).expect("valid username")
}

pub fn person_name(raw: &str) -> PersonName {
    PersonName::parse(raw).expect("valid name")
}

pub fn url(raw: &str) -> ProfileUrl {
    ProfileUrl::parse(raw).expect("valid url")
}

pub fn token(raw: &str) -> RefreshTokenHash {
    RefreshTokenHash(raw.to_owned())
}

/// Every profile field set.
pub fn full_profile() -> Profile {
    Profile {
        first_name: Some(person_name("Ada")),
        last_name: Some(person_name("Lovelace")),
        website: Some(url("https://ada.example")),
        facebook: Some(url("https://facebook.com/ada")),
        instagram: Some(url("https://instagram.com/ada")),
        linkedin: Some(url("https://linkedin.com/in/ada")),
        x: Some(url("https://x.com/ada")),
        youtube: Some(url("https://youtube.com/@ada")),
    }
}

/// A plain user (role `user`, no username, empty profile) created at `created_at`.
pub fn new_user(n: u32, address: &str, created_at: DateTime<Utc>) -> NewUser {
    NewUser {
        object_id: object_id(n),
        username: None,
        email: email(address),
        password_hash: password_hash(),
        profile: Profile::default(),
        roles: vec![Role::User],
        created_at,
    }
}

pub fn new_admin(n: u32, address: &str, created_at: DateTime<Utc>) -> NewUser {
    NewUser { roles: vec![Role::Admin, Role::User], ..new_user(n, address, created_at) }
}

/// Replaces a user's roles and nothing else.
pub async fn set_roles<U: UserRepository>(
    users: &U,
    id: UserId,
    roles: &[Role],
    updated_at: DateTime<Utc>,
) -> Result<User, UpdateUserError> {
    users.update(id, UserUpdate { roles: Some(roles.to_vec()), ..touch(updated_at) }).await
}

/// An update that changes nothing but `updated_at`.
pub fn touch(updated_at: DateTime<Utc>) -> UserUpdate {
    UserUpdate {
        username: None,
        email: None,
        password_hash: None,
        profile: ProfilePatch::default(),
        roles: None,
        ends_sessions: None,
        updated_at,
    }
}

/// A session of a user whose password hash is [`password_hash`] (as [`new_user`] makes them).
pub fn new_session(user: UserId, hash: &str, created_at: DateTime<Utc>, expires_at: DateTime<Utc>) -> NewSession {
    NewSession {
        user_id: user,
        password_hash: password_hash(),
        refresh_token_hash: token(hash),
        created_at,
        expires_at,
    }
}

pub async fn insert_ok<U: UserRepository>(users: &U, user: NewUser) -> User {
    users.insert(user).await.expect("insert user")
}

async fn admin_ids<U: UserRepository>(users: &U) -> Vec<UserId> {
    let page = users.list(PageRequest { offset: 0, limit: 1000 }).await.expect("list users");
    page.items.into_iter().filter(User::is_admin).map(|user| user.id).collect()
}

async fn total<U: UserRepository>(users: &U) -> u64 {
    users.list(PageRequest { offset: 0, limit: 0 }).await.expect("list users").total
}

// ---------------------------------------------------------------------------------------------------------------
// Inserting and finding users
// ---------------------------------------------------------------------------------------------------------------

pub async fn insert_then_find_by_ids<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    let t = now();
    let inserted = insert_ok(
        &users,
        NewUser {
            username: Some(username("AdaL")),
            profile: full_profile(),
            // Given unsorted: the store returns roles sorted.
            roles: vec![Role::User, Role::Admin],
            ..new_user(1, "Ada@Example.com", t)
        },
    )
    .await;

    assert_eq!(inserted.object_id, object_id(1));
    assert_eq!(inserted.username, Some(username("AdaL")));
    assert_eq!(inserted.email.as_str(), "Ada@Example.com", "the email keeps the case it was given");
    assert_eq!(inserted.profile, full_profile());
    assert_eq!(inserted.roles, vec![Role::Admin, Role::User]);
    assert_eq!(inserted.created_at, t);
    assert_eq!(inserted.updated_at, t, "a new user was last updated when it was created");

    assert_eq!(users.find_by_id(inserted.id).await.unwrap(), Some(inserted.clone()));
    assert_eq!(users.find_by_object_id(object_id(1)).await.unwrap(), Some(inserted.clone()));

    let second = insert_ok(&users, new_user(2, "grace@example.com", t)).await;
    assert_ne!(second.id, inserted.id);
    assert_eq!(second.roles, vec![Role::User]);
    assert_eq!(second.profile, Profile::default());
    assert_eq!(second.username, None);
    assert_eq!(users.find_by_id(second.id).await.unwrap(), Some(second.clone()));
    assert_eq!(users.find_by_object_id(object_id(2)).await.unwrap(), Some(second));

    assert_eq!(users.find_by_id(UserId(inserted.id.0 + 1000)).await.unwrap(), None);
    assert_eq!(users.find_by_object_id(object_id(3)).await.unwrap(), None);
}

pub async fn insert_user_without_roles<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    let inserted = insert_ok(&users, NewUser { roles: vec![], ..new_user(1, "ada@example.com", now()) }).await;
    assert_eq!(inserted.roles, vec![]);
    assert_eq!(users.find_by_id(inserted.id).await.unwrap(), Some(inserted.clone()));
    let credentials =
        users.find_credentials(&LoginIdentifier::Email(email("ada@example.com"))).await.unwrap().expect("found");
    assert_eq!(credentials.user, inserted);
}

pub async fn insert_with_duplicate_roles_keeps_one_of_each<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    let t = now();
    let ada =
        insert_ok(&users, NewUser { roles: vec![Role::User, Role::User], ..new_user(1, "ada@example.com", t) }).await;
    assert_eq!(ada.roles, vec![Role::User]);
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(ada.clone()));

    let grace = insert_ok(
        &users,
        NewUser {
            roles: vec![Role::User, Role::Admin, Role::User, Role::Admin],
            ..new_user(2, "grace@example.com", t)
        },
    )
    .await;
    assert_eq!(grace.roles, vec![Role::Admin, Role::User]);
    assert_eq!(users.find_by_object_id(grace.object_id).await.unwrap(), Some(grace.clone()));
    let listed = users.list(PageRequest { offset: 0, limit: 10 }).await.unwrap();
    assert_eq!(listed.items, vec![ada, grace]);
}

pub async fn find_credentials_by_email_ignores_case<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    let t = now();
    let ada = insert_ok(
        &users,
        NewUser { username: Some(username("AdaL")), roles: vec![Role::Admin], ..new_user(1, "Ada@Example.com", t) },
    )
    .await;
    // Another user, without a username, who must never be found in Ada's place.
    insert_ok(&users, NewUser { password_hash: other_password_hash(), ..new_user(2, "grace@example.com", t) }).await;

    for login in ["Ada@Example.com", "ada@example.com", "ADA@EXAMPLE.COM"] {
        let found = users
            .find_credentials(&LoginIdentifier::Email(email(login)))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{login} finds Ada"));
        assert_eq!(found.user, ada, "{login}");
        assert_eq!(found.user.roles, vec![Role::Admin]);
        assert_eq!(found.password_hash, password_hash(), "{login}");
    }
    let grace = users.find_credentials(&LoginIdentifier::Email(email("Grace@example.com"))).await.unwrap().unwrap();
    assert_eq!(grace.user.email.as_str(), "grace@example.com");
    assert_eq!(grace.password_hash, other_password_hash());

    assert!(users.find_credentials(&LoginIdentifier::Email(email("nobody@example.com"))).await.unwrap().is_none());
    // The local part alone, or the address as a username, finds nothing.
    assert!(users.find_credentials(&LoginIdentifier::Username(username("ada"))).await.unwrap().is_none());
}

pub async fn find_credentials_by_username_ignores_case<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    let t = now();
    let ada =
        insert_ok(&users, NewUser { username: Some(username("AdaL")), ..new_user(1, "ada@example.com", t) }).await;
    let grace = insert_ok(
        &users,
        NewUser {
            username: Some(username("grace")),
            password_hash: other_password_hash(),
            ..new_user(2, "grace@example.com", t)
        },
    )
    .await;
    insert_ok(&users, new_user(3, "nameless@example.com", t)).await;

    for login in ["AdaL", "adal", "ADAL"] {
        let found = users
            .find_credentials(&LoginIdentifier::Username(username(login)))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{login} finds Ada"));
        assert_eq!(found.user, ada, "{login}");
        assert_eq!(found.password_hash, password_hash());
    }
    let found = users.find_credentials(&LoginIdentifier::Username(username("GRACE"))).await.unwrap().unwrap();
    assert_eq!(found.user, grace);
    assert_eq!(found.password_hash, other_password_hash());

    assert!(users.find_credentials(&LoginIdentifier::Username(username("nobody"))).await.unwrap().is_none());
    assert!(users.find_credentials(&LoginIdentifier::Username(username("Ada"))).await.unwrap().is_none());
}

pub async fn duplicate_email_differing_by_case_is_refused<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    for (n, duplicate) in [(2, "ada@example.com"), (3, "ADA@example.COM"), (4, "Ada@Example.com")] {
        let result =
            users.insert(NewUser { username: Some(username(&format!("other{n}"))), ..new_user(n, duplicate, t) }).await;
        assert!(matches!(result, Err(InsertUserError::DuplicateEmail)), "{duplicate}: {result:?}");
    }
    assert_eq!(total(&users).await, 1);
    let found = users.find_credentials(&LoginIdentifier::Email(email("ADA@EXAMPLE.COM"))).await.unwrap().unwrap();
    assert_eq!(found.user, ada);
}

/// Case beyond ASCII: SQL `lower()` on SQLite folds only `A`-`Z`, so `Ülrich` and `ülrich` were two accounts there
/// and one on PostgreSQL. Every store now compares the domain's key.
pub async fn emails_differing_by_non_ascii_case_are_one_account<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    let t = now();
    let ulrich = insert_ok(&users, new_user(1, "Ülrich.Çelik@example.com", t)).await;
    let grace = insert_ok(&users, new_user(2, "grace@example.com", t)).await;

    for (n, duplicate) in [(3, "ülrich.çelik@example.com"), (4, "ÜLRICH.ÇELIK@EXAMPLE.COM")] {
        let result = users.insert(new_user(n, duplicate, t)).await;
        assert!(matches!(result, Err(InsertUserError::DuplicateEmail)), "{duplicate}: {result:?}");
    }
    let taking_it = UserUpdate { email: Some(email("üLRICH.çELIK@example.com")), ..touch(t + seconds(1)) };
    let result = users.update(grace.id, taking_it).await;
    assert!(matches!(result, Err(UpdateUserError::DuplicateEmail)), "{result:?}");

    assert_eq!(total(&users).await, 2);
    let found = users.find_credentials(&LoginIdentifier::Email(email("ülrich.çelik@EXAMPLE.com"))).await.unwrap();
    assert_eq!(found.map(|found| found.user), Some(ulrich.clone()));
    // A change of case alone is the owner's to make, and the new case is what is shown.
    let recased = UserUpdate { email: Some(email("ülrich.çelik@example.com")), ..touch(t + seconds(2)) };
    let updated = users.update(ulrich.id, recased).await.expect("a case-only change of one's own email");
    assert_eq!(updated.email.as_str(), "ülrich.çelik@example.com");
    let found = users.find_credentials(&LoginIdentifier::Email(email("ÜLRICH.ÇELIK@example.com"))).await.unwrap();
    assert_eq!(found.map(|found| found.user.id), Some(ulrich.id));
}

pub async fn duplicate_username_differing_by_case_is_refused<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    let t = now();
    let ada = insert_ok(&users, NewUser { username: Some(username("Ada")), ..new_user(1, "ada@example.com", t) }).await;
    for (n, duplicate) in [(2, "Ada"), (3, "ada"), (4, "ADA")] {
        let result = users
            .insert(NewUser { username: Some(username(duplicate)), ..new_user(n, &format!("other{n}@example.com"), t) })
            .await;
        assert!(matches!(result, Err(InsertUserError::DuplicateUsername)), "{duplicate}: {result:?}");
    }
    assert_eq!(total(&users).await, 1);
    let found = users.find_credentials(&LoginIdentifier::Username(username("aDA"))).await.unwrap().unwrap();
    assert_eq!(found.user, ada);
    // The refused inserts left nothing behind: their emails are free.
    assert!(users.find_credentials(&LoginIdentifier::Email(email("other2@example.com"))).await.unwrap().is_none());
}

pub async fn users_without_username_coexist<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    let t = now();
    let mut inserted = Vec::new();
    for n in 1..=3 {
        inserted.push(insert_ok(&users, new_user(n, &format!("user{n}@example.com"), t)).await);
    }
    assert!(inserted.iter().all(|user| user.username.is_none()));
    let page = users.list(PageRequest { offset: 0, limit: 10 }).await.unwrap();
    assert_eq!(page.total, 3);
    assert_eq!(page.items, inserted);
}

pub async fn concurrent_inserts_of_one_email_admit_one<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    let t = now();
    // Open the store's connections first, so that the inserts below start together.
    for health in join_all((0..20).map(|_| users.check_health())).await {
        health.expect("healthy");
    }
    let cases = ["race@example.com", "Race@Example.com", "RACE@EXAMPLE.COM", "race@EXAMPLE.com"];
    let results = join_all((0..20u32).map(|n| {
        let users = &users;
        async move { users.insert(new_user(n + 1, cases[n as usize % cases.len()], t)).await }
    }))
    .await;

    let winners: Vec<&User> = results.iter().filter_map(|result| result.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one insert succeeds: {results:?}");
    let duplicates = results.iter().filter(|result| matches!(result, Err(InsertUserError::DuplicateEmail))).count();
    assert_eq!(duplicates, 19, "all others are told the email is taken: {results:?}");

    assert_eq!(total(&users).await, 1);
    let stored = users.find_credentials(&LoginIdentifier::Email(email("race@example.com"))).await.unwrap().unwrap();
    assert_eq!(&stored.user, winners[0]);
}

// ---------------------------------------------------------------------------------------------------------------
// Updating users
// ---------------------------------------------------------------------------------------------------------------

pub async fn partial_update_keeps_untouched_fields<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    let t = now();
    let ada = insert_ok(
        &users,
        NewUser {
            username: Some(username("AdaL")),
            profile: full_profile(),
            roles: vec![Role::Admin, Role::User],
            ..new_user(1, "ada@example.com", t)
        },
    )
    .await;

    let t2 = t + seconds(60);
    let update = UserUpdate {
        profile: ProfilePatch {
            first_name: Some(Some(person_name("Augusta"))),
            x: Some(Some(url("https://x.com/augusta"))),
            ..ProfilePatch::default()
        },
        ..touch(t2)
    };
    let updated = users.update(ada.id, update).await.expect("update");
    let expected = User {
        profile: Profile {
            first_name: Some(person_name("Augusta")),
            x: Some(url("https://x.com/augusta")),
            ..full_profile()
        },
        updated_at: t2,
        ..ada.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(updated.created_at, t, "created_at never moves");
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(expected.clone()));

    // Only the password hash.
    let t3 = t2 + seconds(60);
    let updated = users.update(ada.id, UserUpdate { password_hash: Some(other_password_hash()), ..touch(t3) }).await;
    let expected = User { updated_at: t3, ..expected };
    assert_eq!(updated.expect("update"), expected);
    let credentials = users.find_credentials(&LoginIdentifier::Email(email("ada@example.com"))).await.unwrap().unwrap();
    assert_eq!(credentials.password_hash, other_password_hash());
    assert_eq!(credentials.user, expected);

    // Nothing but the time.
    let t4 = t3 + seconds(60);
    let updated = users.update(ada.id, touch(t4)).await.expect("update");
    assert_eq!(updated, User { updated_at: t4, ..expected });
}

pub async fn update_clears_username_and_profile_fields<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    let t = now();
    let ada = insert_ok(
        &users,
        NewUser { username: Some(username("AdaL")), profile: full_profile(), ..new_user(1, "ada@example.com", t) },
    )
    .await;
    let update = UserUpdate {
        username: Some(None),
        profile: ProfilePatch {
            first_name: Some(None),
            last_name: Some(None),
            website: Some(None),
            facebook: Some(None),
            instagram: Some(None),
            linkedin: Some(None),
            x: Some(None),
            youtube: Some(None),
        },
        ..touch(t + seconds(1))
    };
    let updated = users.update(ada.id, update).await.expect("update");
    let expected = User { username: None, profile: Profile::default(), updated_at: t + seconds(1), ..ada };
    assert_eq!(updated, expected);
    assert_eq!(users.find_by_id(expected.id).await.unwrap(), Some(expected.clone()));
    assert!(users.find_credentials(&LoginIdentifier::Username(username("AdaL"))).await.unwrap().is_none());

    // The cleared username is free for someone else.
    let grace = users.insert(NewUser { username: Some(username("adal")), ..new_user(2, "grace@example.com", t) }).await;
    assert!(grace.is_ok(), "{grace:?}");
}

pub async fn update_changes_email_and_username<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    let t = now();
    let ada =
        insert_ok(&users, NewUser { username: Some(username("AdaL")), ..new_user(1, "ada@example.com", t) }).await;
    let update = UserUpdate {
        username: Some(Some(username("Countess"))),
        email: Some(email("Countess@Example.org")),
        ..touch(t + seconds(5))
    };
    let updated = users.update(ada.id, update).await.expect("update");
    let expected = User {
        username: Some(username("Countess")),
        email: email("Countess@Example.org"),
        updated_at: t + seconds(5),
        ..ada
    };
    assert_eq!(updated, expected);

    let by_email = users.find_credentials(&LoginIdentifier::Email(email("countess@example.org"))).await.unwrap();
    assert_eq!(by_email.map(|credentials| credentials.user), Some(expected.clone()));
    let by_username = users.find_credentials(&LoginIdentifier::Username(username("countess"))).await.unwrap();
    assert_eq!(by_username.map(|credentials| credentials.user), Some(expected.clone()));
    assert!(users.find_credentials(&LoginIdentifier::Email(email("ada@example.com"))).await.unwrap().is_none());
    assert!(users.find_credentials(&LoginIdentifier::Username(username("AdaL"))).await.unwrap().is_none());

    // Changing only the case of one's own email or username is not a clash with oneself.
    let update = UserUpdate {
        username: Some(Some(username("COUNTESS"))),
        email: Some(email("countess@example.org")),
        ..touch(t + seconds(6))
    };
    let updated = users.update(expected.id, update).await.expect("case-only change");
    assert_eq!(updated.email.as_str(), "countess@example.org");
    assert_eq!(updated.username, Some(username("COUNTESS")));
}

pub async fn update_to_a_taken_email_or_username_changes_nothing<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    let t = now();
    let ada = insert_ok(&users, NewUser { username: Some(username("Ada")), ..new_user(1, "ada@example.com", t) }).await;
    let grace = insert_ok(
        &users,
        NewUser { username: Some(username("Grace")), profile: full_profile(), ..new_user(2, "grace@example.com", t) },
    )
    .await;

    let result = users
        .update(
            grace.id,
            UserUpdate {
                email: Some(email("ADA@Example.com")),
                password_hash: Some(other_password_hash()),
                profile: ProfilePatch { first_name: Some(None), ..ProfilePatch::default() },
                ..touch(t + seconds(10))
            },
        )
        .await;
    assert!(matches!(result, Err(UpdateUserError::DuplicateEmail)), "{result:?}");

    let result = users
        .update(
            grace.id,
            UserUpdate {
                username: Some(Some(username("aDA"))),
                profile: ProfilePatch { last_name: Some(None), ..ProfilePatch::default() },
                ..touch(t + seconds(10))
            },
        )
        .await;
    assert!(matches!(result, Err(UpdateUserError::DuplicateUsername)), "{result:?}");

    assert_eq!(users.find_by_id(grace.id).await.unwrap(), Some(grace.clone()), "nothing of Grace changed");
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(ada), "nothing of Ada changed");
    let credentials =
        users.find_credentials(&LoginIdentifier::Email(email("grace@example.com"))).await.unwrap().unwrap();
    assert_eq!(credentials.password_hash, password_hash(), "the password hash was not changed either");
    assert_eq!(credentials.user, grace);
}

pub async fn update_with_roles_to_a_taken_email_changes_nothing<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    let t = now();
    let admin = insert_ok(&users, new_admin(1, "admin@example.com", t)).await;
    let ada = insert_ok(&users, new_user(2, "ada@example.com", t)).await;
    let grace = insert_ok(
        &users,
        NewUser {
            profile: full_profile(),
            roles: vec![Role::Admin, Role::User],
            ..new_user(3, "grace@example.com", t)
        },
    )
    .await;

    // Promoting Ada and demoting Grace (while another admin remains) are each allowed; with a taken email, neither
    // happens, nor does anything else of the update.
    for (user, roles, taken) in [
        (&ada, vec![Role::Admin, Role::User], "GRACE@example.com"),
        (&grace, vec![Role::User], "Ada@Example.COM"),
        (&grace, vec![], "admin@EXAMPLE.com"),
    ] {
        let result = users
            .update(
                user.id,
                UserUpdate {
                    email: Some(email(taken)),
                    profile: ProfilePatch {
                        first_name: Some(Some(person_name("Someone"))),
                        last_name: Some(Some(person_name("Else"))),
                        ..ProfilePatch::default()
                    },
                    roles: Some(roles.clone()),
                    ..touch(t + seconds(10))
                },
            )
            .await;
        assert!(matches!(result, Err(UpdateUserError::DuplicateEmail)), "{taken}, {roles:?}: {result:?}");
    }

    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(ada.clone()), "nothing of Ada changed");
    assert_eq!(users.find_by_id(grace.id).await.unwrap(), Some(grace.clone()), "nothing of Grace changed");
    assert_eq!(users.find_by_id(admin.id).await.unwrap(), Some(admin.clone()));
    assert_eq!(admin_ids(&users).await, vec![admin.id, grace.id]);
    let listed = users.list(PageRequest { offset: 0, limit: 10 }).await.unwrap();
    assert_eq!(listed.items, vec![admin, ada, grace]);
}

pub async fn update_demoting_the_last_admin_changes_nothing<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    let t = now();
    let admin = insert_ok(
        &users,
        NewUser { profile: full_profile(), username: Some(username("root")), ..new_admin(1, "admin@example.com", t) },
    )
    .await;
    let plain = insert_ok(&users, new_user(2, "plain@example.com", t)).await;

    for roles in [vec![Role::User], vec![]] {
        let result = users
            .update(
                admin.id,
                UserUpdate {
                    email: Some(email("boss@example.com")),
                    username: Some(None),
                    password_hash: Some(other_password_hash()),
                    profile: ProfilePatch {
                        first_name: Some(Some(person_name("Charles"))),
                        last_name: Some(Some(person_name("Babbage"))),
                        website: Some(None),
                        ..ProfilePatch::default()
                    },
                    roles: Some(roles.clone()),
                    ..touch(t + seconds(10))
                },
            )
            .await;
        assert!(matches!(result, Err(UpdateUserError::LastAdmin)), "{roles:?}: {result:?}");
    }

    assert_eq!(users.find_by_id(admin.id).await.unwrap(), Some(admin.clone()), "nothing was applied");
    assert!(users.find_credentials(&LoginIdentifier::Email(email("boss@example.com"))).await.unwrap().is_none());
    let credentials =
        users.find_credentials(&LoginIdentifier::Username(username("ROOT"))).await.unwrap().expect("still named root");
    assert_eq!(credentials.user, admin);
    assert_eq!(credentials.password_hash, password_hash(), "the password hash was not changed either");
    assert_eq!(users.find_by_id(plain.id).await.unwrap(), Some(plain));
    assert_eq!(admin_ids(&users).await, vec![admin.id]);

    // Changing the names alone, or keeping `admin` among the new roles, is fine.
    let renamed = users
        .update(
            admin.id,
            UserUpdate {
                profile: ProfilePatch {
                    first_name: Some(Some(person_name("Charles"))),
                    last_name: Some(Some(person_name("Babbage"))),
                    ..ProfilePatch::default()
                },
                roles: Some(vec![Role::Admin]),
                ..touch(t + seconds(20))
            },
        )
        .await
        .expect("the last admin stays admin");
    assert_eq!(renamed.roles, vec![Role::Admin]);
    assert_eq!(renamed.profile.first_name, Some(person_name("Charles")));
    assert_eq!(renamed.profile.last_name, Some(person_name("Babbage")));
    assert_eq!(renamed.updated_at, t + seconds(20));
}

pub async fn update_replaces_roles_only_when_given<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    let t = now();
    let admin = insert_ok(&users, new_admin(1, "admin@example.com", t)).await;
    let ada = insert_ok(&users, new_admin(2, "ada@example.com", t)).await;
    let plain = insert_ok(&users, new_user(3, "plain@example.com", t)).await;

    // Without roles, everyone keeps theirs while the rest changes.
    let renamed = users
        .update(
            ada.id,
            UserUpdate {
                email: Some(email("countess@example.com")),
                profile: ProfilePatch { first_name: Some(Some(person_name("Augusta"))), ..ProfilePatch::default() },
                ..touch(t + seconds(1))
            },
        )
        .await
        .expect("update without roles");
    let expected = User {
        email: email("countess@example.com"),
        profile: Profile { first_name: Some(person_name("Augusta")), ..Profile::default() },
        updated_at: t + seconds(1),
        ..ada.clone()
    };
    assert_eq!(renamed, expected);
    assert_eq!(renamed.roles, vec![Role::Admin, Role::User]);
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(expected.clone()));
    let untouched = users.update(plain.id, touch(t + seconds(2))).await.expect("touch");
    assert_eq!(untouched.roles, vec![Role::User]);

    // With roles, they replace the old ones, together with the rest, and come back.
    let demoted = users
        .update(
            ada.id,
            UserUpdate {
                profile: ProfilePatch { last_name: Some(Some(person_name("King"))), ..ProfilePatch::default() },
                roles: Some(vec![Role::User]),
                ..touch(t + seconds(3))
            },
        )
        .await
        .expect("demote while another admin remains");
    let expected = User {
        profile: Profile { last_name: Some(person_name("King")), ..expected.profile },
        roles: vec![Role::User],
        updated_at: t + seconds(3),
        ..expected
    };
    assert_eq!(demoted, expected);
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(expected.clone()));

    let promoted = users
        .update(plain.id, UserUpdate { roles: Some(vec![Role::User, Role::Admin]), ..touch(t + seconds(4)) })
        .await
        .expect("promote");
    assert_eq!(promoted.roles, vec![Role::Admin, Role::User]);
    assert_eq!(users.find_by_id(plain.id).await.unwrap(), Some(promoted.clone()));

    // And a later update without roles keeps the new ones.
    let kept = users.update(ada.id, touch(t + seconds(5))).await.expect("touch");
    assert_eq!(kept.roles, vec![Role::User]);
    assert_eq!(admin_ids(&users).await, vec![admin.id, plain.id]);
}

pub async fn update_of_unknown_user_is_not_found<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    let ada = insert_ok(&users, new_user(1, "ada@example.com", now())).await;
    let unknown = UserId(ada.id.0 + 1000);
    let result = users.update(unknown, UserUpdate { email: Some(email("x@example.com")), ..touch(now()) }).await;
    assert!(matches!(result, Err(UpdateUserError::NotFound)), "{result:?}");
    let result = users.update(unknown, touch(now())).await;
    assert!(matches!(result, Err(UpdateUserError::NotFound)), "{result:?}");
    assert_eq!(total(&users).await, 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Deleting users
// ---------------------------------------------------------------------------------------------------------------

pub async fn delete_removes_user_with_roles_and_sessions<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    let t = now();
    let ada = insert_ok(&users, NewUser { username: Some(username("Ada")), ..new_user(1, "ada@example.com", t) }).await;
    let grace = insert_ok(&users, new_user(2, "grace@example.com", t)).await;
    let ada_session =
        sessions.create(new_session(ada.id, "ada-1", t, t + seconds(3600))).await.unwrap().expect("the user exists");
    let rotated = sessions.rotate_refresh_token(&token("ada-1"), &token("ada-2"), t, t + seconds(7200)).await.unwrap();
    assert!(matches!(rotated, RefreshTokenUse::Rotated(_)));
    let grace_session = sessions
        .create(new_session(grace.id, "grace-1", t, t + seconds(3600)))
        .await
        .unwrap()
        .expect("the user exists");

    users.delete(ada.id).await.expect("delete");

    assert_eq!(users.find_by_id(ada.id).await.unwrap(), None);
    assert_eq!(users.find_by_object_id(ada.object_id).await.unwrap(), None);
    assert!(users.find_credentials(&LoginIdentifier::Email(email("ada@example.com"))).await.unwrap().is_none());
    assert!(users.find_credentials(&LoginIdentifier::Username(username("ada"))).await.unwrap().is_none());
    assert_eq!(users.find_signed_in(ada.id, ada_session, t).await.unwrap(), None);
    assert_eq!(sessions.find_by_refresh_token(&token("ada-1")).await.unwrap(), None);
    assert_eq!(sessions.find_by_refresh_token(&token("ada-2")).await.unwrap(), None);
    let gone = sessions.rotate_refresh_token(&token("ada-2"), &token("ada-3"), t, t + seconds(7200)).await.unwrap();
    assert_eq!(gone, RefreshTokenUse::Unknown);

    // Grace is untouched.
    assert_eq!(users.find_by_id(grace.id).await.unwrap(), Some(grace.clone()));
    assert_eq!(users.find_signed_in(grace.id, grace_session, t).await.unwrap(), Some(grace));
    assert_eq!(sessions.find_by_refresh_token(&token("grace-1")).await.unwrap(), Some(grace_session));
    assert_eq!(total(&users).await, 1);

    // The email and username are free again, and the newcomer inherits no role of Ada's.
    let newcomer = insert_ok(
        &users,
        NewUser { username: Some(username("ADA")), roles: vec![], ..new_user(3, "Ada@Example.com", t) },
    )
    .await;
    assert_eq!(newcomer.roles, vec![]);
    assert_ne!(newcomer.id, ada.id);
}

pub async fn delete_of_unknown_user_is_not_found<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    let result = users.delete(UserId(4242)).await;
    assert!(matches!(result, Err(DeleteUserError::NotFound)), "no users at all: {result:?}");

    let admin = insert_ok(&users, new_admin(1, "admin@example.com", now())).await;
    let result = users.delete(UserId(admin.id.0 + 1000)).await;
    assert!(matches!(result, Err(DeleteUserError::NotFound)), "with an admin: {result:?}");

    let user = insert_ok(&users, new_user(2, "user@example.com", now())).await;
    users.delete(user.id).await.expect("delete");
    let result = users.delete(user.id).await;
    assert!(matches!(result, Err(DeleteUserError::NotFound)), "deleted twice: {result:?}");
    assert_eq!(users.find_by_id(admin.id).await.unwrap(), Some(admin));
}

pub async fn last_admin_cannot_be_deleted<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    let t = now();
    let first = insert_ok(&users, new_admin(1, "first@example.com", t)).await;
    let result = users.delete(first.id).await;
    assert!(matches!(result, Err(DeleteUserError::LastAdmin)), "the only admin: {result:?}");
    assert_eq!(users.find_by_id(first.id).await.unwrap(), Some(first.clone()));

    let second = insert_ok(&users, NewUser { roles: vec![Role::Admin], ..new_user(2, "second@example.com", t) }).await;
    let plain = insert_ok(&users, new_user(3, "plain@example.com", t)).await;

    users.delete(first.id).await.expect("one of two admins can be deleted");
    assert_eq!(users.find_by_id(first.id).await.unwrap(), None);

    let result = users.delete(second.id).await;
    assert!(matches!(result, Err(DeleteUserError::LastAdmin)), "now the last admin: {result:?}");
    assert_eq!(users.find_by_id(second.id).await.unwrap(), Some(second.clone()));

    users.delete(plain.id).await.expect("a non-admin can be deleted while an admin remains");
    assert_eq!(admin_ids(&users).await, vec![second.id]);
}

pub async fn concurrent_deletion_of_the_two_admins_keeps_one<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    let t = now();
    let mut survivor = insert_ok(&users, new_admin(1, "admin1@example.com", t)).await;
    for round in 2..=11u32 {
        let newcomer = insert_ok(&users, new_admin(round, &format!("admin{round}@example.com"), t)).await;
        let pair = [survivor.id, newcomer.id];
        let results = join_all(pair.map(|id| users.delete(id))).await;
        let deleted: Vec<UserId> =
            pair.iter().zip(&results).filter(|(_, result)| result.is_ok()).map(|(id, _)| *id).collect();
        let refused = results.iter().filter(|result| matches!(result, Err(DeleteUserError::LastAdmin))).count();
        assert_eq!((deleted.len(), refused), (1, 1), "round {round}: one deleted, one refused: {results:?}");

        let remaining = admin_ids(&users).await;
        assert_eq!(remaining.len(), 1, "round {round}: exactly one admin remains");
        assert!(!deleted.contains(&remaining[0]), "round {round}: the remaining admin is the refused one");
        survivor = users.find_by_id(remaining[0]).await.unwrap().expect("the survivor exists");
    }
    assert_eq!(total(&users).await, 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------------------------------------------

pub async fn set_roles_replaces_the_roles<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    let t = now();
    let admin = insert_ok(&users, new_admin(1, "admin@example.com", t)).await;
    let ada = insert_ok(&users, new_user(2, "ada@example.com", t)).await;

    let promoted = set_roles(&users, ada.id, &[Role::User, Role::Admin], t + seconds(1)).await.expect("promote");
    let expected = User { roles: vec![Role::Admin, Role::User], updated_at: t + seconds(1), ..ada.clone() };
    assert_eq!(promoted, expected);
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(expected.clone()));

    let only_admin = set_roles(&users, ada.id, &[Role::Admin, Role::Admin], t + seconds(2)).await.expect("set");
    assert_eq!(only_admin.roles, vec![Role::Admin], "duplicates collapse");
    assert_eq!(only_admin.updated_at, t + seconds(2));

    let demoted = set_roles(&users, ada.id, &[Role::User], t + seconds(3)).await.expect("demote with another admin");
    assert_eq!(demoted, User { roles: vec![Role::User], updated_at: t + seconds(3), ..ada.clone() });

    let none = set_roles(&users, ada.id, &[], t + seconds(4)).await.expect("no roles");
    assert_eq!(none.roles, vec![]);
    assert_eq!(users.find_by_id(ada.id).await.unwrap().unwrap().roles, vec![]);
    let listed = users.list(PageRequest { offset: 0, limit: 10 }).await.unwrap();
    assert_eq!(listed.items, vec![admin.clone(), none]);

    // The last admin keeping `admin` among new roles is fine.
    let kept = set_roles(&users, admin.id, &[Role::Admin], t + seconds(5)).await.expect("admin stays admin");
    assert_eq!(kept.roles, vec![Role::Admin]);
}

pub async fn set_roles_refuses_to_demote_the_last_admin<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    let t = now();
    let first = insert_ok(&users, new_admin(1, "first@example.com", t)).await;
    for roles in [&[Role::User][..], &[]] {
        let result = set_roles(&users, first.id, roles, t + seconds(1)).await;
        assert!(matches!(result, Err(UpdateUserError::LastAdmin)), "{roles:?}: {result:?}");
    }
    assert_eq!(users.find_by_id(first.id).await.unwrap(), Some(first.clone()), "roles and updated_at unchanged");

    let second = insert_ok(&users, new_user(2, "second@example.com", t)).await;
    set_roles(&users, second.id, &[Role::Admin], t + seconds(2)).await.expect("promote");
    let first_demoted = set_roles(&users, first.id, &[Role::User], t + seconds(3)).await.expect("two admins");
    assert_eq!(first_demoted.roles, vec![Role::User]);

    let result = set_roles(&users, second.id, &[Role::User], t + seconds(4)).await;
    assert!(matches!(result, Err(UpdateUserError::LastAdmin)), "{result:?}");
    let second_now = users.find_by_id(second.id).await.unwrap().unwrap();
    assert_eq!(second_now.roles, vec![Role::Admin]);
    assert_eq!(second_now.updated_at, t + seconds(2));
    assert_eq!(admin_ids(&users).await, vec![second.id]);
}

pub async fn concurrent_demotion_of_the_two_admins_keeps_one<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    let t = now();
    let first = insert_ok(&users, new_admin(1, "first@example.com", t)).await;
    let second = insert_ok(&users, new_admin(2, "second@example.com", t)).await;
    for round in 0..10 {
        let pair = [first.id, second.id];
        let results = join_all(pair.map(|id| set_roles(&users, id, &[Role::User], t))).await;
        let refused = results.iter().filter(|result| matches!(result, Err(UpdateUserError::LastAdmin))).count();
        assert_eq!(refused, 1, "round {round}: one demotion refused: {results:?}");
        assert_eq!(admin_ids(&users).await.len(), 1, "round {round}: exactly one admin remains");
        for id in pair {
            set_roles(&users, id, &[Role::Admin, Role::User], t).await.expect("promote again");
        }
    }
}

pub async fn set_roles_of_unknown_user_is_not_found<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    for roles in [&[Role::User][..], &[Role::Admin], &[]] {
        let result = set_roles(&users, UserId(4242), roles, now()).await;
        assert!(matches!(result, Err(UpdateUserError::NotFound)), "no users, {roles:?}: {result:?}");
    }
    let admin = insert_ok(&users, new_admin(1, "admin@example.com", now())).await;
    for roles in [&[Role::User][..], &[Role::Admin], &[]] {
        let result = set_roles(&users, UserId(admin.id.0 + 1000), roles, now()).await;
        assert!(matches!(result, Err(UpdateUserError::NotFound)), "{roles:?}: {result:?}");
    }
    assert_eq!(users.find_by_id(admin.id).await.unwrap(), Some(admin));
}

// ---------------------------------------------------------------------------------------------------------------
// Listing
// ---------------------------------------------------------------------------------------------------------------

pub async fn list_roles_returns_the_known_roles<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    assert_eq!(users.list_roles().await.unwrap(), vec![Role::Admin, Role::User], "in a fresh store");
    insert_ok(&users, new_admin(1, "admin@example.com", now())).await;
    assert_eq!(users.list_roles().await.unwrap(), vec![Role::Admin, Role::User], "users do not add roles");
}

pub async fn list_pages_in_id_order<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    let empty = users.list(PageRequest { offset: 0, limit: 10 }).await.unwrap();
    assert_eq!((empty.items, empty.total), (vec![], 0));

    let t = now();
    let mut inserted = Vec::new();
    for n in 1..=5u32 {
        let user = if n == 3 {
            new_admin(n, &format!("user{n}@example.com"), t + seconds(n.into()))
        } else {
            new_user(n, &format!("user{n}@example.com"), t + seconds(n.into()))
        };
        inserted.push(insert_ok(&users, user).await);
    }
    assert!(inserted.windows(2).all(|pair| pair[0].id < pair[1].id), "ids grow with insertion");

    let all = users.list(PageRequest { offset: 0, limit: 10 }).await.unwrap();
    assert_eq!(all.total, 5);
    assert_eq!(all.items, inserted, "every user, with roles, in id order");

    let slice = users.list(PageRequest { offset: 1, limit: 2 }).await.unwrap();
    assert_eq!(slice.total, 5);
    assert_eq!(slice.items, inserted[1..3]);

    let tail = users.list(PageRequest { offset: 3, limit: 10 }).await.unwrap();
    assert_eq!((tail.items.as_slice(), tail.total), (&inserted[3..], 5));

    for offset in [5, 6, 1000, u64::MAX] {
        let past = users.list(PageRequest { offset, limit: 10 }).await.unwrap();
        assert_eq!((past.items, past.total), (vec![], 5), "offset {offset}");
    }

    let none = users.list(PageRequest { offset: 0, limit: 0 }).await.unwrap();
    assert_eq!((none.items, none.total), (vec![], 5));

    // After a deletion the order and the count follow.
    users.delete(inserted[1].id).await.unwrap();
    let page = users.list(PageRequest { offset: 1, limit: 2 }).await.unwrap();
    assert_eq!(page.total, 4);
    assert_eq!(page.items, vec![inserted[2].clone(), inserted[3].clone()]);
}

// ---------------------------------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------------------------------

pub async fn signed_in_until_revoked<U: UserRepository, S: SessionRepository>(users: U, sessions: S) {
    let t = now();
    let ada = insert_ok(
        &users,
        NewUser { roles: vec![Role::Admin, Role::User], profile: full_profile(), ..new_user(1, "ada@example.com", t) },
    )
    .await;
    let session =
        sessions.create(new_session(ada.id, "ada-1", t, t + seconds(3600))).await.unwrap().expect("the user exists");
    let other =
        sessions.create(new_session(ada.id, "ada-2", t, t + seconds(3600))).await.unwrap().expect("the user exists");
    assert_ne!(session, other);
    assert_eq!(sessions.find_by_refresh_token(&token("ada-1")).await.unwrap(), Some(session));

    assert_eq!(users.find_signed_in(ada.id, session, t + seconds(10)).await.unwrap(), Some(ada.clone()));

    sessions.revoke(session, t + seconds(20)).await.unwrap();
    assert_eq!(users.find_signed_in(ada.id, session, t + seconds(30)).await.unwrap(), None);
    assert_eq!(
        users.find_signed_in(ada.id, other, t + seconds(30)).await.unwrap(),
        Some(ada.clone()),
        "only the revoked session ends"
    );
    // Revoking again is harmless, and the refresh token still names its session.
    sessions.revoke(session, t + seconds(40)).await.unwrap();
    assert_eq!(users.find_signed_in(ada.id, session, t + seconds(50)).await.unwrap(), None);
    assert_eq!(sessions.find_by_refresh_token(&token("ada-1")).await.unwrap(), Some(session));
}

pub async fn expired_session_is_not_signed_in<U: UserRepository, S: SessionRepository>(users: U, sessions: S) {
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let expired = sessions
        .create(new_session(ada.id, "old", t - seconds(7200), t - seconds(1)))
        .await
        .unwrap()
        .expect("the user exists");
    assert_eq!(users.find_signed_in(ada.id, expired, t).await.unwrap(), None);

    let live =
        sessions.create(new_session(ada.id, "new", t, t + seconds(3600))).await.unwrap().expect("the user exists");
    assert_eq!(users.find_signed_in(ada.id, live, t).await.unwrap(), Some(ada.clone()));
    assert_eq!(users.find_signed_in(ada.id, live, t + seconds(3599)).await.unwrap(), Some(ada.clone()));
    assert_eq!(users.find_signed_in(ada.id, live, t + seconds(3601)).await.unwrap(), None);
    // The check is against the `now` given, not the store's clock.
    assert_eq!(users.find_signed_in(ada.id, expired, t - seconds(60)).await.unwrap(), Some(ada));
}

pub async fn session_of_another_user_is_not_signed_in<U: UserRepository, S: SessionRepository>(users: U, sessions: S) {
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let grace = insert_ok(&users, new_user(2, "grace@example.com", t)).await;
    let ada_session =
        sessions.create(new_session(ada.id, "ada-1", t, t + seconds(3600))).await.unwrap().expect("the user exists");

    assert_eq!(users.find_signed_in(grace.id, ada_session, t).await.unwrap(), None);
    assert_eq!(users.find_signed_in(UserId(ada.id.0 + 1000), ada_session, t).await.unwrap(), None);
    assert_eq!(users.find_signed_in(ada.id, SessionId(ada_session.0 + 1000), t).await.unwrap(), None);
    assert_eq!(users.find_signed_in(ada.id, ada_session, t).await.unwrap(), Some(ada));
}

pub async fn refresh_token_rotates_once_then_is_replayed<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let expires_at = t + seconds(30 * 24 * 3600);
    let session = sessions.create(new_session(ada.id, "ada-1", t, expires_at)).await.unwrap().expect("the user exists");
    let (used, successor) = (token("ada-1"), token("ada-2"));
    let rotate = |at| sessions.rotate_refresh_token(&used, &successor, at, at + seconds(3600));

    let first = rotate(t + seconds(5)).await.unwrap();
    assert_eq!(
        first,
        RefreshTokenUse::Rotated(SessionState {
            id: session,
            user_id: ada.id,
            authenticated_at: t,
            expires_at,
            revoked: false
        }),
        "the session as it was"
    );
    // The session now runs from the rotation, and its current token is the successor.
    let state = SessionState {
        id: session,
        user_id: ada.id,
        authenticated_at: t,
        expires_at: t + seconds(3605),
        revoked: false,
    };
    assert_eq!(sessions.find_by_refresh_token(&token("ada-2")).await.unwrap(), Some(session));
    let second = rotate(t + seconds(6)).await.unwrap();
    assert_eq!(
        second,
        RefreshTokenUse::Replayed { session: state.clone(), used_at: t + seconds(5), successor_issued: true }
    );
    let third = rotate(t + seconds(7)).await.unwrap();
    assert_eq!(
        third,
        RefreshTokenUse::Replayed { session: state.clone(), used_at: t + seconds(5), successor_issued: true },
        "the first use counts"
    );
    // A successor derived otherwise (another instance's secret) is not the one this session was given.
    let elsewhere = sessions.rotate_refresh_token(&used, &token("ada-2-elsewhere"), t + seconds(8), t).await.unwrap();
    assert_eq!(
        elsewhere,
        RefreshTokenUse::Replayed { session: state, used_at: t + seconds(5), successor_issued: false }
    );
    assert_eq!(sessions.find_by_refresh_token(&token("ada-2-elsewhere")).await.unwrap(), None, "nothing added");

    let unknown = sessions.rotate_refresh_token(&token("nope"), &token("nope-2"), t, t + seconds(60)).await.unwrap();
    assert_eq!(unknown, RefreshTokenUse::Unknown);
    assert_eq!(sessions.find_by_refresh_token(&token("nope-2")).await.unwrap(), None);
    assert_eq!(sessions.find_by_refresh_token(&token("ada-1")).await.unwrap(), Some(session), "a used token too");
    // Rotating does not end the session.
    assert_eq!(users.find_signed_in(ada.id, session, t + seconds(8)).await.unwrap(), Some(ada));
}

pub async fn refresh_token_of_revoked_session_says_the_session_ended<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let expires_at = t + seconds(3600);
    let session = sessions.create(new_session(ada.id, "ada-1", t, expires_at)).await.unwrap().expect("the user exists");
    sessions.revoke(session, t + seconds(1)).await.unwrap();
    let used = sessions.rotate_refresh_token(&token("ada-1"), &token("ada-2"), t + seconds(2), t + seconds(99)).await;
    let used = used.unwrap();
    assert_eq!(
        used,
        RefreshTokenUse::SessionEnded(SessionState {
            id: session,
            user_id: ada.id,
            authenticated_at: t,
            expires_at,
            revoked: true
        })
    );
}

pub async fn concurrent_rotations_of_one_token_rotate_it_once<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let expires_at = t + seconds(3600);
    // Open the store's connections first, so that the rotations below start together instead of one by one as
    // connections come up.
    let unknown = token("unknown");
    for found in join_all((0..10).map(|_| sessions.find_by_refresh_token(&unknown))).await {
        assert_eq!(found.unwrap(), None);
    }

    for round in 0..5 {
        let name = format!("ada-{round}");
        let hash = token(&name);
        let session =
            sessions.create(new_session(ada.id, &name, t, expires_at)).await.unwrap().expect("the user exists");
        let successor = token(&format!("{name}-next"));
        let rotations =
            (0..10).map(|_| sessions.rotate_refresh_token(&hash, &successor, t + seconds(1), t + seconds(99)));
        let results = join_all(rotations).await;
        let results: Vec<RefreshTokenUse> = results.into_iter().map(|result| result.expect("rotate")).collect();
        let fresh: Vec<&RefreshTokenUse> =
            results.iter().filter(|result| matches!(result, RefreshTokenUse::Rotated(_))).collect();
        assert_eq!(
            fresh,
            vec![&RefreshTokenUse::Rotated(SessionState {
                id: session,
                user_id: ada.id,
                authenticated_at: t,
                expires_at,
                revoked: false
            })],
            "round {round}: exactly one Rotated: {results:?}"
        );
        // The others see the session as the one rotation left it.
        let state = SessionState {
            id: session,
            user_id: ada.id,
            authenticated_at: t,
            expires_at: t + seconds(99),
            revoked: false,
        };
        let replayed = RefreshTokenUse::Replayed { session: state, used_at: t + seconds(1), successor_issued: true };
        let replayed = results.iter().filter(|result| **result == replayed).count();
        assert_eq!(replayed, 9, "round {round}: {results:?}");
    }
}

pub async fn a_rotation_moves_the_expiry_and_its_successor_rotates_next<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let first_expiry = t + seconds(3600);
    let session =
        sessions.create(new_session(ada.id, "ada-1", t, first_expiry)).await.unwrap().expect("the user exists");
    let second_expiry = t + seconds(60 + 3600);
    let first = sessions.rotate_refresh_token(&token("ada-1"), &token("ada-2"), t + seconds(60), second_expiry).await;
    assert!(matches!(first.unwrap(), RefreshTokenUse::Rotated(_)));
    assert_eq!(sessions.find_by_refresh_token(&token("ada-2")).await.unwrap(), Some(session));

    let third_expiry = t + seconds(120 + 3600);
    let rotated = sessions.rotate_refresh_token(&token("ada-2"), &token("ada-3"), t + seconds(120), third_expiry).await;
    let as_it_was =
        SessionState { id: session, user_id: ada.id, authenticated_at: t, expires_at: second_expiry, revoked: false };
    assert_eq!(rotated.unwrap(), RefreshTokenUse::Rotated(as_it_was));
    let state =
        SessionState { id: session, user_id: ada.id, authenticated_at: t, expires_at: third_expiry, revoked: false };
    assert_eq!(
        sessions.rotate_refresh_token(&token("ada-2"), &token("ada-3"), t + seconds(121), t).await.unwrap(),
        RefreshTokenUse::Replayed { session: state.clone(), used_at: t + seconds(120), successor_issued: true }
    );
    assert_eq!(
        sessions.rotate_refresh_token(&token("ada-1"), &token("ada-2"), t + seconds(122), t).await.unwrap(),
        RefreshTokenUse::Replayed { session: state, used_at: t + seconds(60), successor_issued: true }
    );

    // Past the first expiry the session lives on, until the last one.
    assert_eq!(users.find_signed_in(ada.id, session, first_expiry + seconds(1)).await.unwrap(), Some(ada.clone()));
    assert_eq!(users.find_signed_in(ada.id, session, third_expiry + seconds(1)).await.unwrap(), None);
}

pub async fn revoke_all_of_user_keeps_the_given_session<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let grace = insert_ok(&users, new_user(2, "grace@example.com", t)).await;
    let later = t + seconds(3600);
    let s1 = sessions.create(new_session(ada.id, "ada-1", t, later)).await.unwrap().expect("the user exists");
    let s2 = sessions.create(new_session(ada.id, "ada-2", t, later)).await.unwrap().expect("the user exists");
    let s3 = sessions.create(new_session(ada.id, "ada-3", t, later)).await.unwrap().expect("the user exists");
    let g1 = sessions.create(new_session(grace.id, "grace-1", t, later)).await.unwrap().expect("the user exists");

    sessions.revoke_all_of_user(ada.id, Some(s1), t + seconds(1)).await.unwrap();
    let check = t + seconds(2);
    assert_eq!(users.find_signed_in(ada.id, s1, check).await.unwrap(), Some(ada.clone()), "the kept session");
    assert_eq!(users.find_signed_in(ada.id, s2, check).await.unwrap(), None);
    assert_eq!(users.find_signed_in(ada.id, s3, check).await.unwrap(), None);
    assert_eq!(users.find_signed_in(grace.id, g1, check).await.unwrap(), Some(grace.clone()), "another user's");

    sessions.revoke_all_of_user(ada.id, None, t + seconds(3)).await.unwrap();
    let check = t + seconds(4);
    assert_eq!(users.find_signed_in(ada.id, s1, check).await.unwrap(), None);
    assert_eq!(users.find_signed_in(grace.id, g1, check).await.unwrap(), Some(grace.clone()));

    // Keeping a session of someone else protects nothing of Ada's and ends nothing of theirs.
    let s4 = sessions.create(new_session(ada.id, "ada-4", t, later)).await.unwrap().expect("the user exists");
    sessions.revoke_all_of_user(ada.id, Some(g1), t + seconds(5)).await.unwrap();
    assert_eq!(users.find_signed_in(ada.id, s4, t + seconds(6)).await.unwrap(), None);
    assert_eq!(users.find_signed_in(grace.id, g1, t + seconds(6)).await.unwrap(), Some(grace));
}

pub async fn check_health_is_ok<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    users.check_health().await.expect("a fresh store is healthy");
}

pub async fn a_session_for_a_deleted_user_is_not_created<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    users.delete(ada.id).await.expect("delete");
    let created = sessions.create(new_session(ada.id, "ada-1", t, t + seconds(3600))).await.expect("no fault");
    assert_eq!(created, None);
    assert_eq!(sessions.find_by_refresh_token(&token("ada-1")).await.unwrap(), None);
}

pub async fn a_revoked_session_gets_no_new_refresh_token<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    let expires_at = t + seconds(3600);
    let session = sessions.create(new_session(ada.id, "ada-1", t, expires_at)).await.unwrap().expect("created");
    sessions.revoke(session, t).await.expect("revoke");
    let used = sessions.rotate_refresh_token(&token("ada-1"), &token("ada-2"), t, t + seconds(7200)).await.unwrap();
    assert_eq!(
        used,
        RefreshTokenUse::SessionEnded(SessionState {
            id: session,
            user_id: ada.id,
            authenticated_at: t,
            expires_at,
            revoked: true
        })
    );
    assert_eq!(sessions.find_by_refresh_token(&token("ada-2")).await.unwrap(), None, "nothing was added");

    // Nor does an expired one, whose expiry stays where it was.
    let later = sessions.create(new_session(ada.id, "ada-3", t, t + seconds(10))).await.unwrap().expect("created");
    let used = sessions.rotate_refresh_token(&token("ada-3"), &token("ada-4"), t + seconds(10), t + seconds(99)).await;
    let expired =
        SessionState { id: later, user_id: ada.id, authenticated_at: t, expires_at: t + seconds(10), revoked: false };
    assert_eq!(used.unwrap(), RefreshTokenUse::SessionEnded(expired));
    assert_eq!(sessions.find_by_refresh_token(&token("ada-4")).await.unwrap(), None, "nothing was added");
    assert_eq!(users.find_signed_in(ada.id, later, t + seconds(11)).await.unwrap(), None, "not extended");

    // A session whose user is gone has no tokens left to rotate.
    let grace = users.insert(new_user(2, "grace@example.com", t)).await.expect("insert");
    sessions.create(new_session(grace.id, "grace-1", t, t + seconds(3600))).await.unwrap().expect("created");
    users.delete(grace.id).await.expect("delete");
    let gone = sessions.rotate_refresh_token(&token("grace-1"), &token("grace-2"), t, t + seconds(7200)).await.unwrap();
    assert_eq!(gone, RefreshTokenUse::Unknown);
    assert_eq!(sessions.find_by_refresh_token(&token("grace-2")).await.unwrap(), None);
}

async fn throttle_of<U: UserRepository>(users: &U, address: &str) -> LoginThrottle {
    let login = LoginIdentifier::Email(email(address));
    users.find_credentials(&login).await.expect("no fault").expect("found").throttle
}

fn network(address: &str) -> ClientNetwork {
    ClientNetwork::of(address.parse().expect("an IP address"))
}

const LOCKOUT: LockoutPolicy =
    LockoutPolicy { threshold: 3, backstop: 5, first_wait: TimeDelta::seconds(60), max_wait: TimeDelta::seconds(600) };

/// One whole attempt: begun, and finished with `outcome` if it was allowed.
async fn attempt<U: UserRepository>(
    users: &U,
    id: UserId,
    from: &ClientNetwork,
    outcome: AttemptOutcome,
    at: DateTime<Utc>,
) -> LoginAttempt {
    let begun = users.begin_login_attempt(id, from, at, &LOCKOUT).await.expect("begin");
    if begun == LoginAttempt::Allowed {
        users.finish_login_attempt(id, from, outcome, at, &LOCKOUT).await.expect("finish");
    }
    begun
}

pub async fn concurrent_attempts_from_a_network_are_held_to_its_threshold<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    let attacker = network("203.0.113.9");

    // Ten at once: three may check their password (had they all failed, the threshold is reached); the others wait.
    let results = join_all((0..10).map(|_| users.begin_login_attempt(ada.id, &attacker, t, &LOCKOUT))).await;
    let results: Vec<LoginAttempt> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(results.iter().filter(|result| **result == LoginAttempt::Allowed).count(), 3, "{results:?}");
    assert_eq!(results.iter().filter(|result| **result == LoginAttempt::Busy).count(), 7, "{results:?}");

    // Those three fail: the third failure locks this network out of the account for a minute.
    for finished in 1..=3 {
        let lock = users.finish_login_attempt(ada.id, &attacker, AttemptOutcome::Refused, t, &LOCKOUT).await.unwrap();
        assert_eq!(lock, (finished == 3).then_some(t + seconds(60)), "after failure {finished}");
    }
    let refused = users.begin_login_attempt(ada.id, &attacker, t + seconds(1), &LOCKOUT).await.unwrap();
    assert_eq!(refused, LoginAttempt::Locked { until: t + seconds(60) });

    // The owner, from another network, is not held by the attacker's lock.
    let owner = network("198.51.100.7");
    assert_eq!(attempt(&users, ada.id, &owner, AttemptOutcome::Verified, t + seconds(2)).await, LoginAttempt::Allowed);
    let still = users.begin_login_attempt(ada.id, &attacker, t + seconds(3), &LOCKOUT).await.unwrap();
    assert_eq!(still, LoginAttempt::Locked { until: t + seconds(60) }, "another network's success lifts nothing");
}

pub async fn concurrent_correct_sign_ins_never_lock<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    let home = network("198.51.100.7");
    // Wave after wave of attempts that all succeed: the room fills and empties, and no lock is ever written.
    for wave in 0..4 {
        let begun = join_all((0..5).map(|_| users.begin_login_attempt(ada.id, &home, t, &LOCKOUT))).await;
        let allowed = begun.into_iter().map(Result::unwrap).filter(|result| *result == LoginAttempt::Allowed).count();
        assert_eq!(allowed, 3, "wave {wave}");
        for _ in 0..allowed {
            let lock = users.finish_login_attempt(ada.id, &home, AttemptOutcome::Verified, t, &LOCKOUT).await.unwrap();
            assert_eq!(lock, None);
        }
    }
    assert_eq!(throttle_of(&users, "ada@example.com").await, LoginThrottle::default());
    assert_eq!(attempt(&users, ada.id, &home, AttemptOutcome::Verified, t).await, LoginAttempt::Allowed);
}

pub async fn a_network_lock_doubles_up_to_its_cap_and_a_success_resets_it<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    let attacker = network("2001:db8:1:2::9");
    for _ in 0..3 {
        assert_eq!(attempt(&users, ada.id, &attacker, AttemptOutcome::Refused, t).await, LoginAttempt::Allowed);
    }
    let mut lock_ends = t + seconds(60);
    // Once a lock has passed, one attempt at a time is let through; each failure locks for twice as long, up to
    // the cap: 120, 240, 480, then 600 s each time.
    for wait in [120, 240, 480, 600, 600] {
        let at = lock_ends + seconds(1);
        let begun = users.begin_login_attempt(ada.id, &attacker, at, &LOCKOUT).await.unwrap();
        assert_eq!(begun, LoginAttempt::Allowed);
        let second = users.begin_login_attempt(ada.id, &attacker, at, &LOCKOUT).await.unwrap();
        assert_eq!(second, LoginAttempt::Busy, "one at a time after a lock");
        let lock = users.finish_login_attempt(ada.id, &attacker, AttemptOutcome::Refused, at, &LOCKOUT).await.unwrap();
        lock_ends = at + seconds(wait);
        assert_eq!(lock, Some(lock_ends));
    }
    // Another address in the same /64 is the same network.
    let neighbour = network("2001:db8:1:2::abcd");
    assert_eq!(
        users.begin_login_attempt(ada.id, &neighbour, lock_ends - seconds(1), &LOCKOUT).await.unwrap(),
        LoginAttempt::Locked { until: lock_ends }
    );
    // A success once the lock has passed starts the count again: three more failures before the next lock.
    let at = lock_ends + seconds(1);
    assert_eq!(attempt(&users, ada.id, &attacker, AttemptOutcome::Verified, at).await, LoginAttempt::Allowed);
    for _ in 0..2 {
        assert_eq!(attempt(&users, ada.id, &attacker, AttemptOutcome::Refused, at).await, LoginAttempt::Allowed);
    }
    assert_eq!(attempt(&users, ada.id, &attacker, AttemptOutcome::Abandoned, at).await, LoginAttempt::Allowed);
    assert_eq!(attempt(&users, ada.id, &attacker, AttemptOutcome::Refused, at).await, LoginAttempt::Allowed);
    assert_eq!(
        users.begin_login_attempt(ada.id, &attacker, at, &LOCKOUT).await.unwrap(),
        LoginAttempt::Locked { until: at + seconds(60) },
        "an abandoned attempt counted for nothing"
    );
    let unknown = users.begin_login_attempt(UserId(ada.id.0 + 1000), &attacker, t, &LOCKOUT).await.unwrap();
    assert_eq!(unknown, LoginAttempt::Allowed, "unknown users count nothing");
}

pub async fn failures_spread_over_networks_reach_the_backstop<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    // Two failures from each of several networks: none reaches its own threshold of 3, but the fifth overall
    // reaches the account's backstop of 5 and locks the account from everywhere.
    let networks: Vec<ClientNetwork> = (1..=3).map(|n| network(&format!("203.0.{n}.9"))).collect();
    let mut failures = 0;
    'guessing: for from in &networks {
        for _ in 0..2 {
            assert_eq!(attempt(&users, ada.id, from, AttemptOutcome::Refused, t).await, LoginAttempt::Allowed);
            failures += 1;
            if failures == 5 {
                break 'guessing;
            }
        }
    }
    let locked = LoginThrottle { failed_logins: 5, locked_until: Some(t + seconds(60)) };
    assert_eq!(throttle_of(&users, "ada@example.com").await, locked);
    let elsewhere = users.begin_login_attempt(ada.id, &network("198.51.100.7"), t, &LOCKOUT).await.unwrap();
    assert_eq!(elsewhere, LoginAttempt::Locked { until: t + seconds(60) });

    // An admin clears every lock and count; an unknown user is not found.
    assert!(users.clear_lockout(ada.id).await.unwrap());
    assert_eq!(throttle_of(&users, "ada@example.com").await, LoginThrottle::default());
    for from in &networks {
        assert_eq!(attempt(&users, ada.id, from, AttemptOutcome::Refused, t).await, LoginAttempt::Allowed);
    }
    assert!(!users.clear_lockout(UserId(ada.id.0 + 1000)).await.unwrap());
}

pub async fn attempts_lost_in_a_crash_give_their_room_back_and_count_for_nothing<
    U: UserRepository,
    S: SessionRepository,
>(
    users: U,
    _sessions: S,
) {
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    let from = network("203.0.113.9");
    // Three attempts begin and are never finished (the process died, or their clients hung up): the room is full.
    for _ in 0..3 {
        assert_eq!(users.begin_login_attempt(ada.id, &from, t, &LOCKOUT).await.unwrap(), LoginAttempt::Allowed);
    }
    assert_eq!(users.begin_login_attempt(ada.id, &from, t + seconds(5), &LOCKOUT).await.unwrap(), LoginAttempt::Busy);
    // Others coming and going meanwhile do not keep the lost ones alive.
    let finished = t + seconds(10);
    users.finish_login_attempt(ada.id, &from, AttemptOutcome::Verified, finished, &LOCKOUT).await.unwrap();
    assert_eq!(attempt(&users, ada.id, &from, AttemptOutcome::Verified, finished).await, LoginAttempt::Allowed);
    // Fifteen seconds on, the room is whole again, and nothing was counted against the account.
    let later = t + seconds(16);
    for _ in 0..3 {
        assert_eq!(users.begin_login_attempt(ada.id, &from, later, &LOCKOUT).await.unwrap(), LoginAttempt::Allowed);
    }
    assert_eq!(throttle_of(&users, "ada@example.com").await, LoginThrottle::default());
}

pub async fn concurrent_attempts_from_many_networks_are_held_to_the_backstop<
    U: UserRepository,
    S: SessionRepository,
>(
    users: U,
    _sessions: S,
) {
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    let networks: Vec<ClientNetwork> = (1..=4).map(|n| network(&format!("203.0.{n}.9"))).collect();
    // Twelve at once, three from each of four networks: each network has room for three, the account for five.
    let repository = &users;
    let begins = networks
        .iter()
        .flat_map(|from| (0..3).map(move |_| from))
        .map(|from| async move { (from, repository.begin_login_attempt(ada.id, from, t, &LOCKOUT).await.unwrap()) });
    let results = join_all(begins).await;
    let allowed: Vec<&ClientNetwork> =
        results.iter().filter(|(_, result)| *result == LoginAttempt::Allowed).map(|(from, _)| *from).collect();
    assert_eq!(allowed.len(), 5, "{results:?}");
    // They all fail: the fifth failure locks the account from everywhere, and nothing more was checked.
    for from in allowed {
        users.finish_login_attempt(ada.id, from, AttemptOutcome::Refused, t, &LOCKOUT).await.unwrap();
    }
    assert_eq!(throttle_of(&users, "ada@example.com").await.failed_logins, 5);
    let elsewhere = users.begin_login_attempt(ada.id, &network("198.51.100.7"), t, &LOCKOUT).await.unwrap();
    assert_eq!(elsewhere, LoginAttempt::Locked { until: t + seconds(60) });
}

pub async fn idle_sign_in_counts_are_purged<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    let (idle, locked, recent) = (network("203.0.113.9"), network("203.0.114.9"), network("203.0.115.9"));
    attempt(&users, ada.id, &idle, AttemptOutcome::Refused, t).await;
    for _ in 0..3 {
        attempt(&users, ada.id, &locked, AttemptOutcome::Refused, t + seconds(100)).await;
    }
    // A success (which also starts the account's own count again, so the backstop plays no part below).
    attempt(&users, ada.id, &recent, AttemptOutcome::Verified, t + seconds(200)).await;
    // Idle since before t + 150: the first; the second is locked until t + 160, so it stays.
    assert_eq!(users.purge_login_throttles(t + seconds(150)).await.unwrap(), 1);
    // The purged network starts again from nothing: three failures before a lock, as if new.
    for _ in 0..2 {
        attempt(&users, ada.id, &idle, AttemptOutcome::Refused, t + seconds(300)).await;
    }
    assert_eq!(
        users.begin_login_attempt(ada.id, &idle, t + seconds(300), &LOCKOUT).await.unwrap(),
        LoginAttempt::Allowed
    );
    assert_eq!(users.purge_login_throttles(t + seconds(250)).await.unwrap(), 2, "the locked one, after its lock");
}

pub async fn a_session_is_not_started_once_the_checked_password_changed<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    let change = UserUpdate { password_hash: Some(other_password_hash()), ..touch(t + seconds(1)) };
    users.update(ada.id, change).await.expect("change the password");
    // A sign-in that checked the old hash comes too late.
    let created = sessions.create(new_session(ada.id, "ada-1", t, t + seconds(3600))).await.expect("no fault");
    assert_eq!(created, None);
    assert_eq!(sessions.find_by_refresh_token(&token("ada-1")).await.unwrap(), None);
    // With the hash it has now, it starts.
    let current =
        NewSession { password_hash: other_password_hash(), ..new_session(ada.id, "ada-2", t, t + seconds(9)) };
    assert!(sessions.create(current).await.unwrap().is_some());
}

pub async fn a_password_change_ends_the_other_sessions_with_it<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let grace = insert_ok(&users, new_user(2, "grace@example.com", t)).await;
    let later = t + seconds(3600);
    let here = sessions.create(new_session(ada.id, "ada-1", t, later)).await.unwrap().expect("created");
    let elsewhere = sessions.create(new_session(ada.id, "ada-2", t, later)).await.unwrap().expect("created");
    let hers = sessions.create(new_session(grace.id, "grace-1", t, later)).await.unwrap().expect("created");
    let change = UserUpdate {
        password_hash: Some(other_password_hash()),
        ends_sessions: Some(EndSessions::AllBut(here)),
        ..touch(t + seconds(1))
    };
    users.update(ada.id, change).await.expect("change the password");
    let check = t + seconds(2);
    assert!(users.find_signed_in(ada.id, here, check).await.unwrap().is_some(), "the session that changed it");
    assert_eq!(users.find_signed_in(ada.id, elsewhere, check).await.unwrap(), None);
    assert!(users.find_signed_in(grace.id, hers, check).await.unwrap().is_some(), "another user's");

    // An update that fails ends nothing.
    insert_ok(&users, new_user(3, "taken@example.com", t)).await;
    let failing = UserUpdate {
        email: Some(email("taken@example.com")),
        ends_sessions: Some(EndSessions::All),
        ..touch(t + seconds(3))
    };
    assert!(matches!(users.update(ada.id, failing).await, Err(UpdateUserError::DuplicateEmail)));
    assert!(users.find_signed_in(ada.id, here, check).await.unwrap().is_some());
    let all = UserUpdate { ends_sessions: Some(EndSessions::All), ..touch(t + seconds(4)) };
    users.update(ada.id, all).await.expect("end them all");
    assert_eq!(users.find_signed_in(ada.id, here, check).await.unwrap(), None);
}

pub async fn ended_and_expired_sessions_are_purged<U: UserRepository, S: SessionRepository>(users: U, sessions: S) {
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let live = sessions.create(new_session(ada.id, "live", t, t + seconds(3600))).await.unwrap().expect("created");
    let ended = sessions.create(new_session(ada.id, "ended", t, t + seconds(3600))).await.unwrap().expect("created");
    sessions.create(new_session(ada.id, "expired", t, t + seconds(10))).await.unwrap().expect("created");
    sessions.revoke(ended, t + seconds(20)).await.unwrap();
    // Nothing ended before t + 5.
    assert_eq!(sessions.purge_ended(t + seconds(5)).await.unwrap(), 0);
    assert_eq!(sessions.purge_ended(t + seconds(30)).await.unwrap(), 2);
    for gone in ["ended", "expired"] {
        assert_eq!(sessions.find_by_refresh_token(&token(gone)).await.unwrap(), None, "{gone}'s tokens went too");
    }
    assert_eq!(sessions.find_by_refresh_token(&token("live")).await.unwrap(), Some(live));
    assert!(users.find_signed_in(ada.id, live, t + seconds(31)).await.unwrap().is_some());
}

/// Declares one `#[tokio::test]` per contract function. `$setup` is an async function returning
/// `Option<(users, sessions, guard)>` for a fresh, empty store (`None` skips the test, when the store is unavailable
/// outside CI); the guard is kept alive until the test ends, so it can drop the store afterwards.
#[macro_export]
macro_rules! store_contract_tests {
    ($setup:path) => {
        $crate::store_contract_tests!(@each $setup;
            insert_then_find_by_ids,
            insert_user_without_roles,
            insert_with_duplicate_roles_keeps_one_of_each,
            find_credentials_by_email_ignores_case,
            find_credentials_by_username_ignores_case,
            duplicate_email_differing_by_case_is_refused,
            emails_differing_by_non_ascii_case_are_one_account,
            duplicate_username_differing_by_case_is_refused,
            users_without_username_coexist,
            concurrent_inserts_of_one_email_admit_one,
            partial_update_keeps_untouched_fields,
            update_clears_username_and_profile_fields,
            update_changes_email_and_username,
            update_to_a_taken_email_or_username_changes_nothing,
            update_with_roles_to_a_taken_email_changes_nothing,
            update_demoting_the_last_admin_changes_nothing,
            update_replaces_roles_only_when_given,
            update_of_unknown_user_is_not_found,
            delete_removes_user_with_roles_and_sessions,
            delete_of_unknown_user_is_not_found,
            last_admin_cannot_be_deleted,
            concurrent_deletion_of_the_two_admins_keeps_one,
            set_roles_replaces_the_roles,
            set_roles_refuses_to_demote_the_last_admin,
            concurrent_demotion_of_the_two_admins_keeps_one,
            set_roles_of_unknown_user_is_not_found,
            list_roles_returns_the_known_roles,
            list_pages_in_id_order,
            signed_in_until_revoked,
            expired_session_is_not_signed_in,
            session_of_another_user_is_not_signed_in,
            refresh_token_rotates_once_then_is_replayed,
            refresh_token_of_revoked_session_says_the_session_ended,
            concurrent_rotations_of_one_token_rotate_it_once,
            a_rotation_moves_the_expiry_and_its_successor_rotates_next,
            revoke_all_of_user_keeps_the_given_session,
            check_health_is_ok,
            concurrent_attempts_from_a_network_are_held_to_its_threshold,
            concurrent_correct_sign_ins_never_lock,
            a_network_lock_doubles_up_to_its_cap_and_a_success_resets_it,
            failures_spread_over_networks_reach_the_backstop,
            attempts_lost_in_a_crash_give_their_room_back_and_count_for_nothing,
            concurrent_attempts_from_many_networks_are_held_to_the_backstop,
            idle_sign_in_counts_are_purged,
            a_session_is_not_started_once_the_checked_password_changed,
            a_password_change_ends_the_other_sessions_with_it,
            ended_and_expired_sessions_are_purged,
            a_session_for_a_deleted_user_is_not_created,
            a_revoked_session_gets_no_new_refresh_token,
        );
    };
    (@each $setup:path; $($name:ident,)+) => {$(
        #[tokio::test(flavor = "multi_thread")]
        async fn $name() {
            let Some((users, sessions, _guard)) = $setup().await else { return };
            $crate::$name(users, sessions).await;
        }
    )+};
}
