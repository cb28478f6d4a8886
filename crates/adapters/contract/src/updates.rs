//! Updating a user: what is given changes, what is not stays, and an update that fails changes nothing.

use users_domain::{LoginIdentifier, Profile, ProfilePatch, Role, User, UserId};
use users_ports::{NewUser, SessionRepository, UpdateUserError, UserRepository, UserUpdate};

use crate::fixtures::{
    admin_ids, email, full_profile, in_id_order, insert_ok, new_admin, new_user, now, other_password_hash,
    password_hash, person_name, seconds, total, touch, url, username,
};

pub async fn partial_update_keeps_untouched_fields<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    // Given a user with every field set,
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

    // when two of its profile fields are changed, then only they and the time of the update change;
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

    // when only the password hash is changed, then the user reads the same but for the time, and the new hash is
    // stored;
    let t3 = t2 + seconds(60);
    let updated = users.update(ada.id, UserUpdate { password_hash: Some(other_password_hash()), ..touch(t3) }).await;
    let expected = User { updated_at: t3, ..expected };
    assert_eq!(updated.expect("update"), expected);
    let credentials = users.find_credentials(&LoginIdentifier::Email(email("ada@example.com"))).await.unwrap().unwrap();
    assert_eq!(credentials.password_hash, other_password_hash());
    assert_eq!(credentials.user, expected);

    // when nothing is changed, then only the time of the update moves.
    let t4 = t3 + seconds(60);
    let updated = users.update(ada.id, touch(t4)).await.expect("update");
    assert_eq!(updated, User { updated_at: t4, ..expected });
}

pub async fn update_clears_username_and_profile_fields<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    // Given a user with a username and every profile field set,
    let t = now();
    let ada = insert_ok(
        &users,
        NewUser { username: Some(username("AdaL")), profile: full_profile(), ..new_user(1, "ada@example.com", t) },
    )
    .await;
    // when they are all cleared,
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
    // then the user reads without them, and is no longer found by the old username,
    let expected = User { username: None, profile: Profile::default(), updated_at: t + seconds(1), ..ada };
    assert_eq!(updated, expected);
    assert_eq!(users.find_by_id(expected.id).await.unwrap(), Some(expected.clone()));
    assert!(users.find_credentials(&LoginIdentifier::Username(username("AdaL"))).await.unwrap().is_none());

    // which is free for someone else.
    let grace = users.insert(NewUser { username: Some(username("adal")), ..new_user(2, "grace@example.com", t) }).await;
    assert!(grace.is_ok(), "{grace:?}");
}

pub async fn update_changes_email_and_username<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    // Given a user with an email and a username,
    let t = now();
    let ada =
        insert_ok(&users, NewUser { username: Some(username("AdaL")), ..new_user(1, "ada@example.com", t) }).await;
    // when both are changed,
    let update = UserUpdate {
        username: Some(Some(username("Countess"))),
        email: Some(email("Countess@Example.org")),
        ..touch(t + seconds(5))
    };
    let updated = users.update(ada.id, update).await.expect("update");
    // then the user reads with the new ones, is found by them in any case, and no longer by the old.
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

    // When only the case of them changes, that is no clash with oneself: the new case is stored.
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
    // Given Ada and Grace,
    let t = now();
    let ada = insert_ok(&users, NewUser { username: Some(username("Ada")), ..new_user(1, "ada@example.com", t) }).await;
    let grace = insert_ok(
        &users,
        NewUser { username: Some(username("Grace")), profile: full_profile(), ..new_user(2, "grace@example.com", t) },
    )
    .await;

    // when Grace's update takes Ada's email, or her username, in another case, along with other changes,
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

    // then both are refused, and nothing of either update was applied, not even Grace's new password hash.
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
    // Given an admin, a plain user Ada, and Grace, another admin,
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

    // when Ada is promoted or Grace demoted (each allowed, since another admin remains) by an update that also
    // takes a taken email,
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

    // then it is refused as a duplicate email, and neither the roles nor anything else of it was applied.
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(ada.clone()), "nothing of Ada changed");
    assert_eq!(users.find_by_id(grace.id).await.unwrap(), Some(grace.clone()), "nothing of Grace changed");
    assert_eq!(users.find_by_id(admin.id).await.unwrap(), Some(admin.clone()));
    assert_eq!(admin_ids(&users).await, vec![admin.id, grace.id]);
    let listed = users.list(&in_id_order(0, 10)).await.unwrap();
    assert_eq!(listed.items, vec![admin, ada, grace]);
}

pub async fn update_of_unknown_user_is_not_found<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    // Given one user, when someone else is updated, then they are not found, and no user appears.
    let ada = insert_ok(&users, new_user(1, "ada@example.com", now())).await;
    let unknown = UserId(ada.id.0 + 1000);
    let result = users.update(unknown, UserUpdate { email: Some(email("x@example.com")), ..touch(now()) }).await;
    assert!(matches!(result, Err(UpdateUserError::NotFound)), "{result:?}");
    let result = users.update(unknown, touch(now())).await;
    assert!(matches!(result, Err(UpdateUserError::NotFound)), "{result:?}");
    assert_eq!(total(&users).await, 1);
}
