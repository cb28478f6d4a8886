//! Inserting users and finding them again, by id, by public id, and by the email or username they sign in with.

use users_domain::{LoginIdentifier, Profile, Role, UserId};
use users_ports::{NewUser, SessionRepository, UserRepository, UserUpdate};

use crate::fixtures::{
    email, full_profile, in_id_order, insert_ok, new_user, now, object_id, other_password_hash, password_hash, seconds,
    touch, username,
};

pub async fn insert_then_find_by_ids<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    // Given a user inserted with every field set, and its roles out of order,
    let t = now();
    let inserted = insert_ok(
        &users,
        NewUser {
            username: Some(username("AdaL")),
            profile: full_profile(),
            roles: vec![Role::User, Role::Admin],
            ..new_user(1, "Ada@Example.com", t)
        },
    )
    .await;

    // then the store answers with what it was given, roles sorted, last updated when created,
    assert_eq!(inserted.object_id, object_id(1));
    assert_eq!(inserted.username, Some(username("AdaL")));
    assert_eq!(inserted.email.as_str(), "Ada@Example.com", "the email keeps the case it was given");
    assert_eq!(inserted.profile, full_profile());
    assert_eq!(inserted.roles, vec![Role::Admin, Role::User]);
    assert_eq!(inserted.created_at, t);
    assert_eq!(inserted.updated_at, t, "a new user was last updated when it was created");

    // and finds it again by its id and by its public id.
    assert_eq!(users.find_by_id(inserted.id).await.unwrap(), Some(inserted.clone()));
    assert_eq!(users.find_by_object_id(object_id(1)).await.unwrap(), Some(inserted.clone()));

    // When a plain user is inserted beside it, it has an id of its own, no username and an empty profile.
    let second = insert_ok(&users, new_user(2, "grace@example.com", t)).await;
    assert_ne!(second.id, inserted.id);
    assert_eq!(second.roles, vec![Role::User]);
    assert_eq!(second.profile, Profile::default());
    assert_eq!(second.username, None);
    assert_eq!(users.find_by_id(second.id).await.unwrap(), Some(second.clone()));
    assert_eq!(users.find_by_object_id(object_id(2)).await.unwrap(), Some(second));

    // Ids that nobody has find nobody.
    assert_eq!(users.find_by_id(UserId(inserted.id.0 + 1000)).await.unwrap(), None);
    assert_eq!(users.find_by_object_id(object_id(3)).await.unwrap(), None);
}

pub async fn insert_user_without_roles<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    // Given a user inserted without a role,
    let inserted = insert_ok(&users, NewUser { roles: vec![], ..new_user(1, "ada@example.com", now()) }).await;
    // then it has none, wherever it is read from.
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
    // Given users inserted with a role named more than once,
    let t = now();
    let ada =
        insert_ok(&users, NewUser { roles: vec![Role::User, Role::User], ..new_user(1, "ada@example.com", t) }).await;
    // then each holds it once, however it is read.
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
    let listed = users.list(&in_id_order(0, 10)).await.unwrap();
    assert_eq!(listed.items, vec![ada, grace]);
}

pub async fn users_without_username_coexist<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    // Given several users inserted without a username,
    let t = now();
    let mut inserted = Vec::new();
    for n in 1..=3 {
        inserted.push(insert_ok(&users, new_user(n, &format!("user{n}@example.com"), t)).await);
    }
    // then none clashes with another: all are stored.
    assert!(inserted.iter().all(|user| user.username.is_none()));
    let page = users.list(&in_id_order(0, 10)).await.unwrap();
    assert_eq!(page.total, users_ports::Total::Exact(3));
    assert_eq!(page.items, inserted);
}

pub async fn find_credentials_by_email_ignores_case<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    // Given Ada, with an email in mixed case and a username,
    let t = now();
    let ada = insert_ok(
        &users,
        NewUser { username: Some(username("AdaL")), roles: vec![Role::Admin], ..new_user(1, "Ada@Example.com", t) },
    )
    .await;
    // and another user, without a username, who must never be found in Ada's place,
    insert_ok(&users, NewUser { password_hash: other_password_hash(), ..new_user(2, "grace@example.com", t) }).await;

    // when her credentials are asked for by her email in any case, then they are hers;
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
    // the other user's email finds the other user and their own hash;
    let grace = users.find_credentials(&LoginIdentifier::Email(email("Grace@example.com"))).await.unwrap().unwrap();
    assert_eq!(grace.user.email.as_str(), "grace@example.com");
    assert_eq!(grace.password_hash, other_password_hash());

    // an address nobody has finds nothing.
    assert!(users.find_credentials(&LoginIdentifier::Email(email("nobody@example.com"))).await.unwrap().is_none());
    // The local part alone, or the address as a username, finds nothing.
    assert!(users.find_credentials(&LoginIdentifier::Username(username("ada"))).await.unwrap().is_none());
}

pub async fn find_credentials_by_username_ignores_case<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    // Given users with usernames in mixed and lower case, and one without a username,
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

    // when credentials are asked for by a username in any case, then they are its owner's;
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

    // a username nobody has, or a part of one, finds nothing.
    assert!(users.find_credentials(&LoginIdentifier::Username(username("nobody"))).await.unwrap().is_none());
    assert!(users.find_credentials(&LoginIdentifier::Username(username("Ada"))).await.unwrap().is_none());
}

pub async fn email_verified_is_stored_and_changed_only_when_given<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    // Given a user inserted verified (an admin vouched for the address) and one inserted unverified,
    let t = now();
    let ada = insert_ok(&users, NewUser { email_verified: true, ..new_user(1, "ada@example.com", t) }).await;
    let grace = insert_ok(&users, new_user(2, "grace@example.com", t)).await;
    // then each reads back as inserted, however it is read;
    assert!(ada.email_verified);
    assert!(!grace.email_verified);
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(ada.clone()));
    assert_eq!(users.find_by_object_id(grace.object_id).await.unwrap(), Some(grace.clone()));
    let listed = users.list(&in_id_order(0, 10)).await.unwrap();
    assert_eq!(listed.items, vec![ada.clone(), grace.clone()]);
    let credentials =
        users.find_credentials(&LoginIdentifier::Email(email("ada@example.com"))).await.unwrap().expect("found");
    assert_eq!(credentials.user, ada);

    // when an update leaves it out, then it stays;
    let kept = users.update(ada.id, touch(t + seconds(1))).await.expect("update");
    assert!(kept.email_verified);
    // when an update sets it, then it changes, and reads back changed.
    let unverified = UserUpdate { email_verified: Some(false), ..touch(t + seconds(2)) };
    let unverified = users.update(ada.id, unverified).await.expect("update");
    assert!(!unverified.email_verified);
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(unverified));
    let verified = UserUpdate { email_verified: Some(true), ..touch(t + seconds(3)) };
    let verified = users.update(grace.id, verified).await.expect("update");
    assert!(verified.email_verified);
    assert_eq!(users.find_by_id(grace.id).await.unwrap(), Some(verified));
}

pub async fn check_health_is_ok<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    // Given a fresh store, when its health is checked, then it is well.
    users.check_health().await.expect("a fresh store is healthy");
}
