//! Roles, and the last admin: a user's roles are replaced only when given, and no change leaves the store without an
//! active admin.

use futures_util::future::join_all;
use users_domain::{LoginIdentifier, Profile, ProfilePatch, Role, User, UserId};
use users_ports::{AuditKind, NewUser, SessionRepository, UpdateUserError, UserRepository, UserUpdate};

use crate::fixtures::{
    admin_ids, audit, email, full_profile, in_id_order, insert_ok, new_admin, new_user, now, other_password_hash,
    password_hash, person_name, seconds, set_roles, suspension, touch, username,
};

pub async fn update_replaces_roles_only_when_given<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    // Given two admins and a plain user,
    let t = now();
    let admin = insert_ok(&users, new_admin(1, "admin@example.com", t)).await;
    let ada = insert_ok(&users, new_admin(2, "ada@example.com", t)).await;
    let plain = insert_ok(&users, new_user(3, "plain@example.com", t)).await;

    // when an update gives no roles, then everyone keeps theirs while the rest changes;
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

    // when an update gives roles, then they replace the old ones, together with the rest, and are read back;
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

    // and a later update without roles keeps the new ones.
    let kept = users.update(ada.id, touch(t + seconds(5))).await.expect("touch");
    assert_eq!(kept.roles, vec![Role::User]);
    assert_eq!(admin_ids(&users).await, vec![admin.id, plain.id]);
}

pub async fn set_roles_replaces_the_roles<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    // Given an admin and a plain user,
    let t = now();
    let admin = insert_ok(&users, new_admin(1, "admin@example.com", t)).await;
    let ada = insert_ok(&users, new_user(2, "ada@example.com", t)).await;

    // when the plain user is promoted, then it is an admin, read back as such;
    let promoted = set_roles(&users, ada.id, &[Role::User, Role::Admin], t + seconds(1)).await.expect("promote");
    let expected = User { roles: vec![Role::Admin, Role::User], updated_at: t + seconds(1), ..ada.clone() };
    assert_eq!(promoted, expected);
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(expected.clone()));

    // a role named twice is held once;
    let only_admin = set_roles(&users, ada.id, &[Role::Admin, Role::Admin], t + seconds(2)).await.expect("set");
    assert_eq!(only_admin.roles, vec![Role::Admin], "duplicates collapse");
    assert_eq!(only_admin.updated_at, t + seconds(2));

    // with another admin left, it may be demoted to a plain user, or to no role at all.
    let demoted = set_roles(&users, ada.id, &[Role::User], t + seconds(3)).await.expect("demote with another admin");
    assert_eq!(demoted, User { roles: vec![Role::User], updated_at: t + seconds(3), ..ada.clone() });

    let none = set_roles(&users, ada.id, &[], t + seconds(4)).await.expect("no roles");
    assert_eq!(none.roles, vec![]);
    assert_eq!(users.find_by_id(ada.id).await.unwrap().unwrap().roles, vec![]);
    let listed = users.list(&in_id_order(0, 10)).await.unwrap();
    assert_eq!(listed.items, vec![admin.clone(), none]);

    // The last admin may be given new roles that keep `admin`.
    let kept = set_roles(&users, admin.id, &[Role::Admin], t + seconds(5)).await.expect("admin stays admin");
    assert_eq!(kept.roles, vec![Role::Admin]);
}

pub async fn update_demoting_the_last_admin_changes_nothing<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    // Given the only admin, and a plain user,
    let t = now();
    let admin = insert_ok(
        &users,
        NewUser { profile: full_profile(), username: Some(username("root")), ..new_admin(1, "admin@example.com", t) },
    )
    .await;
    let plain = insert_ok(&users, new_user(2, "plain@example.com", t)).await;

    // when an update takes `admin` from the admin along with many other changes,
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

    // then it is refused, and nothing of it was applied: not the email, the username, the hash or the profile.
    assert_eq!(users.find_by_id(admin.id).await.unwrap(), Some(admin.clone()), "nothing was applied");
    assert!(users.find_credentials(&LoginIdentifier::Email(email("boss@example.com"))).await.unwrap().is_none());
    let credentials =
        users.find_credentials(&LoginIdentifier::Username(username("ROOT"))).await.unwrap().expect("still named root");
    assert_eq!(credentials.user, admin);
    assert_eq!(credentials.password_hash, password_hash(), "the password hash was not changed either");
    assert_eq!(users.find_by_id(plain.id).await.unwrap(), Some(plain));
    assert_eq!(admin_ids(&users).await, vec![admin.id]);

    // When the update keeps `admin` among the new roles, it is applied.
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

pub async fn set_roles_refuses_to_demote_the_last_admin<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    // Given the only admin,
    let t = now();
    let first = insert_ok(&users, new_admin(1, "first@example.com", t)).await;
    // when its roles are replaced by ones without `admin`, then that is refused and nothing changes.
    for roles in [&[Role::User][..], &[]] {
        let result = set_roles(&users, first.id, roles, t + seconds(1)).await;
        assert!(matches!(result, Err(UpdateUserError::LastAdmin)), "{roles:?}: {result:?}");
    }
    assert_eq!(users.find_by_id(first.id).await.unwrap(), Some(first.clone()), "roles and updated_at unchanged");

    // Given a second admin, the first may be demoted, and then the second may not.
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
    // Given two admins, round after round,
    let t = now();
    let first = insert_ok(&users, new_admin(1, "first@example.com", t)).await;
    let second = insert_ok(&users, new_admin(2, "second@example.com", t)).await;
    for round in 0..10 {
        let pair = [first.id, second.id];
        // when both are demoted at once,
        let results = join_all(pair.map(|id| set_roles(&users, id, &[Role::User], t))).await;
        // then one demotion is refused, and one admin remains.
        let refused = results.iter().filter(|result| matches!(result, Err(UpdateUserError::LastAdmin))).count();
        assert_eq!(refused, 1, "round {round}: one demotion refused: {results:?}");
        assert_eq!(admin_ids(&users).await.len(), 1, "round {round}: exactly one admin remains");
        for id in pair {
            set_roles(&users, id, &[Role::Admin, Role::User], t).await.expect("promote again");
        }
    }
}

pub async fn set_roles_of_unknown_user_is_not_found<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    // Given no such user, in an empty store or beside an admin, when its roles are replaced, then it is not found,
    // whatever the roles, and the admin is untouched.
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

pub async fn list_roles_returns_the_known_roles<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    // Given a fresh store, then it knows the fixed roles, and users do not add any.
    assert_eq!(users.list_roles().await.unwrap(), vec![Role::Admin, Role::User], "in a fresh store");
    insert_ok(&users, new_admin(1, "admin@example.com", now())).await;
    assert_eq!(users.list_roles().await.unwrap(), vec![Role::Admin, Role::User], "users do not add roles");
}

pub async fn demoting_the_only_active_admin_changes_nothing_while_the_others_are_suspended<
    U: UserRepository,
    S: SessionRepository,
>(
    users: U,
    _sessions: S,
) {
    // Given three admins, the second suspended for a minute and the third until lifted,
    let t = now();
    let first = insert_ok(&users, new_admin(1, "first@example.com", t)).await;
    let second = insert_ok(&users, new_admin(2, "second@example.com", t)).await;
    let third = insert_ok(&users, new_admin(3, "third@example.com", t)).await;
    let minute = t + seconds(60);
    users
        .suspend(second.id, suspension(t, Some(minute), None), audit(AuditKind::UserSuspended, t))
        .await
        .expect("the first is active");
    users.suspend(third.id, suspension(t, None, None), audit(AuditKind::UserSuspended, t)).await.expect("likewise");

    // a suspended admin may be demoted while an active one remains;
    set_roles(&users, third.id, &[Role::User], t + seconds(1)).await.expect("the first is active");

    // but the first, the only active admin, may not while the other's suspension lasts, and nothing of the update is
    // applied;
    let first = users.find_by_id(first.id).await.unwrap().expect("there");
    for at in [t + seconds(2), minute - seconds(1)] {
        let demotion =
            UserUpdate { email: Some(email("demoted@example.com")), roles: Some(vec![Role::User]), ..touch(at) };
        let result = users.update(first.id, demotion).await;
        assert!(matches!(result, Err(UpdateUserError::LastAdmin)), "the other is suspended: {result:?}");
        assert_eq!(users.find_by_id(first.id).await.unwrap(), Some(first.clone()));
    }

    // once the suspension has run out (as of the update's time), the other counts as active again.
    set_roles(&users, first.id, &[Role::User], minute).await.expect("the second's suspension lifted");
    assert_eq!(admin_ids(&users).await, vec![second.id]);
}
