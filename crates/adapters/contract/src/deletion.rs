//! Deleting users: with everything that is theirs, and never the last active admin.

use futures_util::future::{join, join_all};
use users_domain::{LoginIdentifier, Role, UserId};
use users_ports::{
    AuditKind, DeleteUserError, NewUser, RefreshTokenUse, SessionRepository, SuspendUserError, UserRepository,
};

use crate::fixtures::{
    admin_ids, audit, device, email, in_id_order, insert_ok, new_admin, new_session, new_user, now, seconds,
    signed_in_at, suspension, token, total, username,
};

pub async fn delete_removes_user_with_roles_and_sessions<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    // Given Ada, with a session whose refresh token was rotated, and Grace, signed in too,
    let t = now();
    let ada = insert_ok(&users, NewUser { username: Some(username("Ada")), ..new_user(1, "ada@example.com", t) }).await;
    let grace = insert_ok(&users, new_user(2, "grace@example.com", t)).await;
    let ada_session =
        sessions.create(new_session(ada.id, "ada-1", t, t + seconds(3600))).await.unwrap().expect("the user exists");
    let rotated = sessions
        .rotate_refresh_token(&token("ada-1"), &token("ada-2"), t, t + seconds(7200), &device(2))
        .await
        .unwrap();
    assert!(matches!(rotated, RefreshTokenUse::Rotated(_)));
    let grace_session = sessions
        .create(new_session(grace.id, "grace-1", t, t + seconds(3600)))
        .await
        .unwrap()
        .expect("the user exists");
    let grace = signed_in_at(grace, t);

    // when Ada is deleted,
    users.delete(ada.id, audit(AuditKind::UserDeleted, now())).await.expect("delete");

    // then she is found by nothing, and her sessions and every one of their refresh tokens are gone;
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), None);
    assert_eq!(users.find_by_object_id(ada.object_id).await.unwrap(), None);
    assert!(users.find_credentials(&LoginIdentifier::Email(email("ada@example.com"))).await.unwrap().is_none());
    assert!(users.find_credentials(&LoginIdentifier::Username(username("ada"))).await.unwrap().is_none());
    assert_eq!(users.find_signed_in(ada.id, ada_session, t).await.unwrap(), None);
    assert_eq!(sessions.find_by_refresh_token(&token("ada-1")).await.unwrap(), None);
    assert_eq!(sessions.find_by_refresh_token(&token("ada-2")).await.unwrap(), None);
    let gone = sessions
        .rotate_refresh_token(&token("ada-2"), &token("ada-3"), t, t + seconds(7200), &device(2))
        .await
        .unwrap();
    assert_eq!(gone, RefreshTokenUse::Unknown);

    // Grace is untouched;
    assert_eq!(users.find_by_id(grace.id).await.unwrap(), Some(grace.clone()));
    assert_eq!(users.find_signed_in(grace.id, grace_session, t).await.unwrap(), Some(grace));
    assert_eq!(sessions.find_by_refresh_token(&token("grace-1")).await.unwrap(), Some(grace_session));
    assert_eq!(total(&users).await, 1);

    // and Ada's email and username are free again, for a newcomer who inherits no role of hers.
    let newcomer = insert_ok(
        &users,
        NewUser { username: Some(username("ADA")), roles: vec![], ..new_user(3, "Ada@Example.com", t) },
    )
    .await;
    assert_eq!(newcomer.roles, vec![]);
    assert_ne!(newcomer.id, ada.id);
}

pub async fn delete_of_unknown_user_is_not_found<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    // Given no such user, whether the store is empty, holds an admin, or held the user a moment ago,
    // when it is deleted, then it is not found, and nothing else is deleted.
    let result = users.delete(UserId(4242), audit(AuditKind::UserDeleted, now())).await;
    assert!(matches!(result, Err(DeleteUserError::NotFound)), "no users at all: {result:?}");

    let admin = insert_ok(&users, new_admin(1, "admin@example.com", now())).await;
    let result = users.delete(UserId(admin.id.0 + 1000), audit(AuditKind::UserDeleted, now())).await;
    assert!(matches!(result, Err(DeleteUserError::NotFound)), "with an admin: {result:?}");

    let user = insert_ok(&users, new_user(2, "user@example.com", now())).await;
    users.delete(user.id, audit(AuditKind::UserDeleted, now())).await.expect("delete");
    let result = users.delete(user.id, audit(AuditKind::UserDeleted, now())).await;
    assert!(matches!(result, Err(DeleteUserError::NotFound)), "deleted twice: {result:?}");
    assert_eq!(users.find_by_id(admin.id).await.unwrap(), Some(admin));
}

pub async fn last_admin_cannot_be_deleted<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    // Given a single admin,
    let t = now();
    let first = insert_ok(&users, new_admin(1, "first@example.com", t)).await;
    // when it is deleted, then that is refused and it stays.
    let result = users.delete(first.id, audit(AuditKind::UserDeleted, now())).await;
    assert!(matches!(result, Err(DeleteUserError::LastAdmin)), "the only admin: {result:?}");
    assert_eq!(users.find_by_id(first.id).await.unwrap(), Some(first.clone()));

    // Given a second admin and a plain user, one of the two admins may go, but then not the other;
    let second = insert_ok(&users, NewUser { roles: vec![Role::Admin], ..new_user(2, "second@example.com", t) }).await;
    let plain = insert_ok(&users, new_user(3, "plain@example.com", t)).await;

    users.delete(first.id, audit(AuditKind::UserDeleted, now())).await.expect("one of two admins can be deleted");
    assert_eq!(users.find_by_id(first.id).await.unwrap(), None);

    let result = users.delete(second.id, audit(AuditKind::UserDeleted, now())).await;
    assert!(matches!(result, Err(DeleteUserError::LastAdmin)), "now the last admin: {result:?}");
    assert_eq!(users.find_by_id(second.id).await.unwrap(), Some(second.clone()));

    // a plain user may always go.
    users
        .delete(plain.id, audit(AuditKind::UserDeleted, now()))
        .await
        .expect("a non-admin can be deleted while an admin remains");
    assert_eq!(admin_ids(&users).await, vec![second.id]);
}

pub async fn concurrent_deletion_of_the_two_admins_keeps_one<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    // Given two admins, round after round,
    let t = now();
    let mut survivor = insert_ok(&users, new_admin(1, "admin1@example.com", t)).await;
    for round in 2..=11u32 {
        let newcomer = insert_ok(&users, new_admin(round, &format!("admin{round}@example.com"), t)).await;
        let pair = [survivor.id, newcomer.id];
        // when both are deleted at once,
        let results = join_all(pair.map(|id| users.delete(id, audit(AuditKind::UserDeleted, now())))).await;
        // then one is deleted and the other refused as the last admin, and that one remains.
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

pub async fn the_only_active_admin_cannot_be_deleted_while_the_others_are_suspended<
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

    // a suspended admin may be deleted while an active one remains;
    users.delete(third.id, audit(AuditKind::UserDeleted, t + seconds(1))).await.expect("the first is active");

    // but the first, the only active admin, may not while the other's suspension lasts: a suspended admin counts for
    // nothing, whatever the number of admins;
    for at in [t + seconds(2), minute - seconds(1)] {
        let result = users.delete(first.id, audit(AuditKind::UserDeleted, at)).await;
        assert!(matches!(result, Err(DeleteUserError::LastAdmin)), "the other is suspended: {result:?}");
    }
    let first = users.find_by_id(first.id).await.unwrap().expect("still there");

    // once the suspension has run out (as of the deletion's time), the other counts as active again.
    users.delete(first.id, audit(AuditKind::UserDeleted, minute)).await.expect("the second's suspension lifted");
    assert_eq!(admin_ids(&users).await, vec![second.id]);
}

pub async fn concurrent_suspension_and_deletion_of_the_two_admins_keep_one_active<
    U: UserRepository,
    S: SessionRepository,
>(
    users: U,
    _sessions: S,
) {
    // Given an active admin, round after round,
    let t = now();
    let mut active = insert_ok(&users, new_admin(1, "admin1@example.com", t)).await;
    for round in 2..=11u32 {
        let newcomer = insert_ok(&users, new_admin(round, &format!("admin{round}@example.com"), t)).await;
        let at = t + seconds(i64::from(round));
        // when it is suspended while the newcomer is deleted, at once,
        let (suspended, deleted) = join(
            users.suspend(active.id, suspension(at, None, None), audit(AuditKind::UserSuspended, at)),
            users.delete(newcomer.id, audit(AuditKind::UserDeleted, at)),
        )
        .await;
        // then exactly one of the two is done, the other refused as taking the last active admin,
        match (&suspended, &deleted) {
            (Ok(_), Err(DeleteUserError::LastAdmin)) => active = newcomer,
            (Err(SuspendUserError::LastActiveAdmin), Ok(())) => {}
            other => panic!("round {round}: one of the two, and only one: {other:?}"),
        }
        // and one admin remains active, the one refused or spared.
        let page = users.list(&in_id_order(0, 100)).await.unwrap();
        let active_admins: Vec<UserId> =
            page.items.iter().filter(|user| user.is_admin() && !user.is_suspended(at)).map(|user| user.id).collect();
        assert_eq!(active_admins, vec![active.id], "round {round}");
    }
}
