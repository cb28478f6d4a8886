//! Sessions: who is signed in, until when, and what ends a session (sign-out, a new password, a deletion, the purge).

use users_domain::{Role, UserId};
use users_ports::{
    EndSessions, NewSession, NewUser, SessionId, SessionRepository, UpdateUserError, UserRepository, UserUpdate,
};

use crate::fixtures::{
    email, full_profile, insert_ok, new_session, new_user, now, other_password_hash, seconds, token, touch,
};

pub async fn signed_in_until_revoked<U: UserRepository, S: SessionRepository>(users: U, sessions: S) {
    // Given a user with two sessions,
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

    // then the user is signed in through either;
    assert_eq!(users.find_signed_in(ada.id, session, t + seconds(10)).await.unwrap(), Some(ada.clone()));

    // when one is revoked, then that one no longer signs anyone in, and the other still does.
    sessions.revoke(session, t + seconds(20)).await.unwrap();
    assert_eq!(users.find_signed_in(ada.id, session, t + seconds(30)).await.unwrap(), None);
    assert_eq!(
        users.find_signed_in(ada.id, other, t + seconds(30)).await.unwrap(),
        Some(ada.clone()),
        "only the revoked session ends"
    );
    // Revoking it again is harmless, and its refresh token still names it.
    sessions.revoke(session, t + seconds(40)).await.unwrap();
    assert_eq!(users.find_signed_in(ada.id, session, t + seconds(50)).await.unwrap(), None);
    assert_eq!(sessions.find_by_refresh_token(&token("ada-1")).await.unwrap(), Some(session));
}

pub async fn expired_session_is_not_signed_in<U: UserRepository, S: SessionRepository>(users: U, sessions: S) {
    // Given a user with a session that expired a second ago,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let expired = sessions
        .create(new_session(ada.id, "old", t - seconds(7200), t - seconds(1)))
        .await
        .unwrap()
        .expect("the user exists");
    // then it signs no one in;
    assert_eq!(users.find_signed_in(ada.id, expired, t).await.unwrap(), None);

    // a live session does, until the moment it expires.
    let live =
        sessions.create(new_session(ada.id, "new", t, t + seconds(3600))).await.unwrap().expect("the user exists");
    assert_eq!(users.find_signed_in(ada.id, live, t).await.unwrap(), Some(ada.clone()));
    assert_eq!(users.find_signed_in(ada.id, live, t + seconds(3599)).await.unwrap(), Some(ada.clone()));
    assert_eq!(users.find_signed_in(ada.id, live, t + seconds(3601)).await.unwrap(), None);
    // The check is against the `now` given, not the store's clock.
    assert_eq!(users.find_signed_in(ada.id, expired, t - seconds(60)).await.unwrap(), Some(ada));
}

pub async fn session_of_another_user_is_not_signed_in<U: UserRepository, S: SessionRepository>(users: U, sessions: S) {
    // Given Ada's session,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let grace = insert_ok(&users, new_user(2, "grace@example.com", t)).await;
    let ada_session =
        sessions.create(new_session(ada.id, "ada-1", t, t + seconds(3600))).await.unwrap().expect("the user exists");

    // then it signs in neither another user, nor an unknown one; nor does a session nobody has sign Ada in.
    assert_eq!(users.find_signed_in(grace.id, ada_session, t).await.unwrap(), None);
    assert_eq!(users.find_signed_in(UserId(ada.id.0 + 1000), ada_session, t).await.unwrap(), None);
    assert_eq!(users.find_signed_in(ada.id, SessionId(ada_session.0 + 1000), t).await.unwrap(), None);
    assert_eq!(users.find_signed_in(ada.id, ada_session, t).await.unwrap(), Some(ada));
}

pub async fn revoke_all_of_user_keeps_the_given_session<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    // Given Ada with three sessions and Grace with one,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let grace = insert_ok(&users, new_user(2, "grace@example.com", t)).await;
    let later = t + seconds(3600);
    let s1 = sessions.create(new_session(ada.id, "ada-1", t, later)).await.unwrap().expect("the user exists");
    let s2 = sessions.create(new_session(ada.id, "ada-2", t, later)).await.unwrap().expect("the user exists");
    let s3 = sessions.create(new_session(ada.id, "ada-3", t, later)).await.unwrap().expect("the user exists");
    let g1 = sessions.create(new_session(grace.id, "grace-1", t, later)).await.unwrap().expect("the user exists");

    // when Ada's sessions but one are ended, then only that one and Grace's live on;
    sessions.revoke_all_of_user(ada.id, Some(s1), t + seconds(1)).await.unwrap();
    let check = t + seconds(2);
    assert_eq!(users.find_signed_in(ada.id, s1, check).await.unwrap(), Some(ada.clone()), "the kept session");
    assert_eq!(users.find_signed_in(ada.id, s2, check).await.unwrap(), None);
    assert_eq!(users.find_signed_in(ada.id, s3, check).await.unwrap(), None);
    assert_eq!(users.find_signed_in(grace.id, g1, check).await.unwrap(), Some(grace.clone()), "another user's");

    // when all of Ada's are ended, then none of hers lives on, and Grace's does.
    sessions.revoke_all_of_user(ada.id, None, t + seconds(3)).await.unwrap();
    let check = t + seconds(4);
    assert_eq!(users.find_signed_in(ada.id, s1, check).await.unwrap(), None);
    assert_eq!(users.find_signed_in(grace.id, g1, check).await.unwrap(), Some(grace.clone()));

    // Keeping a session of someone else's protects nothing of Ada's and ends nothing of theirs.
    let s4 = sessions.create(new_session(ada.id, "ada-4", t, later)).await.unwrap().expect("the user exists");
    sessions.revoke_all_of_user(ada.id, Some(g1), t + seconds(5)).await.unwrap();
    assert_eq!(users.find_signed_in(ada.id, s4, t + seconds(6)).await.unwrap(), None);
    assert_eq!(users.find_signed_in(grace.id, g1, t + seconds(6)).await.unwrap(), Some(grace));
}

pub async fn a_session_is_not_started_once_the_checked_password_changed<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    // Given a user whose password changed,
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    let change = UserUpdate { password_hash: Some(other_password_hash()), ..touch(t + seconds(1)) };
    users.update(ada.id, change).await.expect("change the password");
    // when a sign-in that checked the old hash starts its session, then none is started;
    let created = sessions.create(new_session(ada.id, "ada-1", t, t + seconds(3600))).await.expect("no fault");
    assert_eq!(created, None);
    assert_eq!(sessions.find_by_refresh_token(&token("ada-1")).await.unwrap(), None);
    // with the hash the user has now, one is.
    let current =
        NewSession { password_hash: other_password_hash(), ..new_session(ada.id, "ada-2", t, t + seconds(9)) };
    assert!(sessions.create(current).await.unwrap().is_some());
}

pub async fn a_password_change_ends_the_other_sessions_with_it<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    // Given Ada signed in twice and Grace once,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let grace = insert_ok(&users, new_user(2, "grace@example.com", t)).await;
    let later = t + seconds(3600);
    let here = sessions.create(new_session(ada.id, "ada-1", t, later)).await.unwrap().expect("created");
    let elsewhere = sessions.create(new_session(ada.id, "ada-2", t, later)).await.unwrap().expect("created");
    let hers = sessions.create(new_session(grace.id, "grace-1", t, later)).await.unwrap().expect("created");
    // when Ada changes her password in one of her sessions, ending the others with it,
    let change = UserUpdate {
        password_hash: Some(other_password_hash()),
        ends_sessions: Some(EndSessions::AllBut(here)),
        ..touch(t + seconds(1))
    };
    users.update(ada.id, change).await.expect("change the password");
    // then her other session is over, while that one and Grace's live on.
    let check = t + seconds(2);
    assert!(users.find_signed_in(ada.id, here, check).await.unwrap().is_some(), "the session that changed it");
    assert_eq!(users.find_signed_in(ada.id, elsewhere, check).await.unwrap(), None);
    assert!(users.find_signed_in(grace.id, hers, check).await.unwrap().is_some(), "another user's");

    // When an update that would end them all fails, it ends nothing; when it succeeds, it ends them all.
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

pub async fn a_session_for_a_deleted_user_is_not_created<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    // Given a user deleted while signing in,
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    users.delete(ada.id).await.expect("delete");
    // when the sign-in starts its session, then none is started, and its refresh token is unknown.
    let created = sessions.create(new_session(ada.id, "ada-1", t, t + seconds(3600))).await.expect("no fault");
    assert_eq!(created, None);
    assert_eq!(sessions.find_by_refresh_token(&token("ada-1")).await.unwrap(), None);
}

pub async fn ended_and_expired_sessions_are_purged<U: UserRepository, S: SessionRepository>(users: U, sessions: S) {
    // Given a live session, a revoked one and an expired one,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let live = sessions.create(new_session(ada.id, "live", t, t + seconds(3600))).await.unwrap().expect("created");
    let ended = sessions.create(new_session(ada.id, "ended", t, t + seconds(3600))).await.unwrap().expect("created");
    sessions.create(new_session(ada.id, "expired", t, t + seconds(10))).await.unwrap().expect("created");
    sessions.revoke(ended, t + seconds(20)).await.unwrap();
    // when sessions that ended before they did are purged, then none is;
    assert_eq!(sessions.purge_ended(t + seconds(5)).await.unwrap(), 0);
    // when those that ended before now are, then the revoked and expired go, with their refresh tokens,
    // and the live one stays.
    assert_eq!(sessions.purge_ended(t + seconds(30)).await.unwrap(), 2);
    for gone in ["ended", "expired"] {
        assert_eq!(sessions.find_by_refresh_token(&token(gone)).await.unwrap(), None, "{gone}'s tokens went too");
    }
    assert_eq!(sessions.find_by_refresh_token(&token("live")).await.unwrap(), Some(live));
    assert!(users.find_signed_in(ada.id, live, t + seconds(31)).await.unwrap().is_some());
}
