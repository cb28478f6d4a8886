//! Sessions: who is signed in, until when, and what ends a session (sign-out, a new password, a deletion, the purge,
//! its owner naming it); the live ones as their owner is shown them.

use chrono::{DateTime, Utc};
use users_domain::{ClientDetails, LoginIdentifier, Role, UserAgent, UserId};
use users_ports::{
    AuditKind, EndSessions, NewSession, NewUser, RefreshTokenUse, SessionId, SessionKey, SessionRecord,
    SessionRepository, UpdateUserError, UserRepository, UserUpdate,
};

use crate::fixtures::{
    audit, device, email, full_profile, insert_ok, new_session, new_user, now, other_password_hash, password_hash,
    seconds, signed_in_at, token, touch,
};

/// Starts `session`, and returns it as its owner's list should show it while nothing has used it since.
async fn started<S: SessionRepository>(sessions: &S, session: NewSession) -> SessionRecord {
    let id = sessions.create(session.clone()).await.unwrap().expect("the user exists");
    SessionRecord {
        id,
        key: session.key,
        created_at: session.created_at,
        last_used_at: session.created_at,
        expires_at: session.expires_at,
        client: session.client,
    }
}

/// What `list_live` answers, as (id, last use) pairs: the order and what moved, at a glance.
async fn listed<S: SessionRepository>(
    sessions: &S,
    user: UserId,
    at: DateTime<Utc>,
) -> Vec<(SessionId, DateTime<Utc>)> {
    let live = sessions.list_live(user, at).await.expect("list");
    live.into_iter().map(|record| (record.id, record.last_used_at)).collect()
}

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
    let ada = signed_in_at(ada, t);
    assert_ne!(session, other);
    assert_eq!(sessions.find_by_refresh_token(&token("ada-1")).await.unwrap(), Some(session));

    // then the user is signed in through either;
    assert_eq!(users.find_signed_in(ada.id, session, t + seconds(10)).await.unwrap(), Some(ada.clone()));

    // when one is revoked, then that one no longer signs anyone in, and the other still does.
    sessions.revoke(session, t + seconds(20), audit(AuditKind::UserSignedOut, t + seconds(20))).await.unwrap();
    assert_eq!(users.find_signed_in(ada.id, session, t + seconds(30)).await.unwrap(), None);
    assert_eq!(
        users.find_signed_in(ada.id, other, t + seconds(30)).await.unwrap(),
        Some(ada.clone()),
        "only the revoked session ends"
    );
    // Revoking it again is harmless, and its refresh token still names it.
    sessions.revoke(session, t + seconds(40), audit(AuditKind::UserSignedOut, t + seconds(40))).await.unwrap();
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
    let ada = signed_in_at(ada, t);
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
    let ada = signed_in_at(ada, t);

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
    let ada = signed_in_at(ada, t);
    let grace = signed_in_at(grace, t);

    // when Ada's sessions but one are ended, then only that one and Grace's live on;
    sessions
        .revoke_all_of_user(ada.id, Some(s1), t + seconds(1), audit(AuditKind::SessionRevoked, t + seconds(1)))
        .await
        .unwrap();
    let check = t + seconds(2);
    assert_eq!(users.find_signed_in(ada.id, s1, check).await.unwrap(), Some(ada.clone()), "the kept session");
    assert_eq!(users.find_signed_in(ada.id, s2, check).await.unwrap(), None);
    assert_eq!(users.find_signed_in(ada.id, s3, check).await.unwrap(), None);
    assert_eq!(users.find_signed_in(grace.id, g1, check).await.unwrap(), Some(grace.clone()), "another user's");

    // when all of Ada's are ended, then none of hers lives on, and Grace's does.
    sessions
        .revoke_all_of_user(ada.id, None, t + seconds(3), audit(AuditKind::SessionRevoked, t + seconds(3)))
        .await
        .unwrap();
    let check = t + seconds(4);
    assert_eq!(users.find_signed_in(ada.id, s1, check).await.unwrap(), None);
    assert_eq!(users.find_signed_in(grace.id, g1, check).await.unwrap(), Some(grace.clone()));

    // Keeping a session of someone else's protects nothing of Ada's and ends nothing of theirs.
    let s4 = sessions.create(new_session(ada.id, "ada-4", t, later)).await.unwrap().expect("the user exists");
    sessions
        .revoke_all_of_user(ada.id, Some(g1), t + seconds(5), audit(AuditKind::SessionRevoked, t + seconds(5)))
        .await
        .unwrap();
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
    users.delete(ada.id, audit(AuditKind::UserDeleted, now())).await.expect("delete");
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
    sessions.revoke(ended, t + seconds(20), audit(AuditKind::UserSignedOut, t + seconds(20))).await.unwrap();
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

pub async fn live_sessions_are_listed_most_recently_used_first<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    // Given Ada signed in from four devices at different times (one over IPv6, one telling nothing of itself, two at the
    // same moment), with a session she signed out of, one that expired and one expiring at the moment she looks,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let grace = insert_ok(&users, new_user(2, "grace@example.com", t)).await;
    let later = t + seconds(3600);
    let laptop = started(&sessions, new_session(ada.id, "ada-1", t, later)).await;
    let ipv6 =
        ClientDetails { ip: Some("2001:db8::42".parse().unwrap()), user_agent: UserAgent::from_header("curl/8.5.0") };
    let phone =
        started(&sessions, NewSession { client: ipv6, ..new_session(ada.id, "ada-2", t + seconds(1), later) }).await;
    let unknown =
        NewSession { client: ClientDetails::default(), ..new_session(ada.id, "ada-3", t + seconds(2), later) };
    let unknown = started(&sessions, unknown).await;
    let tablet = started(&sessions, new_session(ada.id, "ada-4", t + seconds(2), later)).await;
    let signed_out = started(&sessions, new_session(ada.id, "ada-5", t + seconds(3), later)).await;
    sessions.revoke(signed_out.id, t + seconds(4), audit(AuditKind::UserSignedOut, t + seconds(4))).await.unwrap();
    started(&sessions, new_session(ada.id, "ada-6", t - seconds(7200), t - seconds(1))).await;
    started(&sessions, new_session(ada.id, "ada-7", t + seconds(3), t + seconds(10))).await;
    // and Grace signed in too,
    let hers = started(&sessions, new_session(grace.id, "grace-1", t + seconds(5), later)).await;

    // when Ada's live sessions are listed, then they come as they were started, the latest used first (of two used
    // at the same moment, the later started), and neither ended, expired nor Grace's are among them.
    let live = sessions.list_live(ada.id, t + seconds(10)).await.unwrap();
    assert_eq!(live, vec![tablet.clone(), unknown, phone, laptop.clone()]);
    assert_eq!(sessions.list_live(grace.id, t + seconds(10)).await.unwrap(), vec![hers]);
    // A session is listed until the moment it expires.
    assert_eq!(listed(&sessions, ada.id, t + seconds(9)).await.len(), 5, "ada-7 still lives");
    // Someone with no session, or no one, has none listed.
    let someone = insert_ok(&users, new_user(3, "someone@example.com", t)).await;
    assert_eq!(sessions.list_live(someone.id, t).await.unwrap(), vec![]);
    assert_eq!(sessions.list_live(UserId(ada.id.0 + 1000), t).await.unwrap(), vec![]);
    assert_ne!(tablet.key, laptop.key, "each session has a key of its own");
}

pub async fn a_rotation_moves_the_last_use_and_the_device<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    // Given Ada signed in on her laptop, then on her phone,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let laptop = started(&sessions, new_session(ada.id, "laptop-1", t, t + seconds(3600))).await;
    let phone = started(&sessions, new_session(ada.id, "phone-1", t + seconds(10), t + seconds(3600))).await;
    assert_eq!(listed(&sessions, ada.id, t + seconds(20)).await, [(phone.id, t + seconds(10)), (laptop.id, t)]);

    // when the laptop's session is refreshed from another network and browser,
    let used = sessions
        .rotate_refresh_token(&token("laptop-1"), &token("laptop-2"), t + seconds(60), t + seconds(7200), &device(9))
        .await
        .unwrap();
    assert!(matches!(used, RefreshTokenUse::Rotated(_)), "{used:?}");

    // then it was last used then, from there, until its new expiry, and it comes first; when it began stays.
    let refreshed = SessionRecord {
        last_used_at: t + seconds(60),
        expires_at: t + seconds(7200),
        client: device(9),
        ..laptop.clone()
    };
    let live = sessions.list_live(ada.id, t + seconds(61)).await.unwrap();
    assert_eq!(live, vec![refreshed.clone(), phone]);

    // When its used token is replayed from elsewhere, nothing of the session moves.
    let replayed = sessions
        .rotate_refresh_token(&token("laptop-1"), &token("laptop-2"), t + seconds(90), t + seconds(9000), &device(7))
        .await
        .unwrap();
    assert!(matches!(replayed, RefreshTokenUse::Replayed { .. }), "{replayed:?}");
    assert_eq!(sessions.list_live(ada.id, t + seconds(91)).await.unwrap()[0], refreshed);

    // When it is refreshed by a client that tells nothing of itself, the device it shows is unknown, not the last one.
    let anonymous = ClientDetails::default();
    let used = sessions
        .rotate_refresh_token(&token("laptop-2"), &token("laptop-3"), t + seconds(120), t + seconds(7200), &anonymous)
        .await
        .unwrap();
    assert!(matches!(used, RefreshTokenUse::Rotated(_)), "{used:?}");
    let live = sessions.list_live(ada.id, t + seconds(121)).await.unwrap();
    assert_eq!((live[0].id, live[0].last_used_at, &live[0].client), (laptop.id, t + seconds(120), &anonymous));
}

pub async fn a_session_is_ended_by_its_key_only_for_its_owner<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    // Given Ada signed in twice and Grace once,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let grace = insert_ok(&users, new_user(2, "grace@example.com", t)).await;
    let later = t + seconds(3600);
    let first = started(&sessions, new_session(ada.id, "ada-1", t, later)).await;
    let second = started(&sessions, new_session(ada.id, "ada-2", t, later)).await;
    let hers = started(&sessions, new_session(grace.id, "grace-1", t, later)).await;
    let ada = signed_in_at(ada, t);
    let grace = signed_in_at(grace, t);

    // when Ada ends her first session by its key, then it is the one ended: it signs no one in, is no longer listed,
    // and its refresh token says it ended; her other session goes on.
    assert_eq!(
        sessions
            .revoke_by_key(ada.id, &first.key, t + seconds(1), audit(AuditKind::SessionRevoked, t + seconds(1)))
            .await
            .unwrap(),
        Some(first.id)
    );
    assert_eq!(users.find_signed_in(ada.id, first.id, t + seconds(2)).await.unwrap(), None);
    assert_eq!(listed(&sessions, ada.id, t + seconds(2)).await, [(second.id, t)]);
    let used = sessions
        .rotate_refresh_token(&token("ada-1"), &token("ada-1-next"), t + seconds(2), later, &device(1))
        .await
        .unwrap();
    assert!(matches!(used, RefreshTokenUse::SessionEnded(ref session) if session.revoked), "{used:?}");
    assert!(users.find_signed_in(ada.id, second.id, t + seconds(2)).await.unwrap().is_some());
    // Ending it again ends nothing.
    assert_eq!(
        sessions
            .revoke_by_key(ada.id, &first.key, t + seconds(3), audit(AuditKind::SessionRevoked, t + seconds(3)))
            .await
            .unwrap(),
        None
    );

    // When Ada names Grace's session, or Grace Ada's, then no session is ended: to them it is no such session.
    assert_eq!(
        sessions
            .revoke_by_key(ada.id, &hers.key, t + seconds(4), audit(AuditKind::SessionRevoked, t + seconds(4)))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        sessions
            .revoke_by_key(grace.id, &second.key, t + seconds(4), audit(AuditKind::SessionRevoked, t + seconds(4)))
            .await
            .unwrap(),
        None
    );
    assert_eq!(users.find_signed_in(grace.id, hers.id, t + seconds(5)).await.unwrap(), Some(grace.clone()));
    assert!(users.find_signed_in(ada.id, second.id, t + seconds(5)).await.unwrap().is_some());
    assert_eq!(listed(&sessions, grace.id, t + seconds(5)).await, [(hers.id, t)]);

    // A key nobody has, and the key of a session that expired, end nothing either.
    let nobodys = SessionKey::generate().unwrap();
    assert_eq!(
        sessions
            .revoke_by_key(ada.id, &nobodys, t + seconds(6), audit(AuditKind::SessionRevoked, t + seconds(6)))
            .await
            .unwrap(),
        None
    );
    let brief = started(&sessions, new_session(ada.id, "ada-3", t, t + seconds(7))).await;
    assert_eq!(
        sessions
            .revoke_by_key(ada.id, &brief.key, t + seconds(7), audit(AuditKind::SessionRevoked, t + seconds(7)))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        sessions
            .revoke_by_key(ada.id, &second.key, t + seconds(8), audit(AuditKind::SessionRevoked, t + seconds(8)))
            .await
            .unwrap(),
        Some(second.id)
    );
}

pub async fn a_started_session_is_the_last_sign_in_and_may_replace_the_password_hash<
    U: UserRepository,
    S: SessionRepository,
>(
    users: U,
    sessions: S,
) {
    // Given a user who never signed in,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    assert_eq!(ada.last_sign_in_at, None);
    // when a session starts, then it is the user's last sign-in, and the password hash stays;
    sessions.create(new_session(ada.id, "ada-1", t + seconds(5), t + seconds(3600))).await.unwrap().expect("created");
    let found = users.find_by_id(ada.id).await.unwrap().expect("found");
    assert_eq!(found.last_sign_in_at, Some(t + seconds(5)));
    let ada_login = LoginIdentifier::Email(ada.email.clone());
    assert_eq!(users.find_credentials(&ada_login).await.unwrap().expect("found").password_hash, password_hash());
    // when a session whose check replaces the hash starts, then the user has the new hash, and the later sign-in;
    let rehashed = NewSession {
        rehashed_password: Some(other_password_hash()),
        ..new_session(ada.id, "ada-2", t + seconds(9), t + seconds(3600))
    };
    sessions.create(rehashed).await.unwrap().expect("created");
    let credentials = users.find_credentials(&ada_login).await.unwrap().expect("found");
    assert_eq!(credentials.password_hash, other_password_hash());
    assert_eq!(credentials.user.last_sign_in_at, Some(t + seconds(9)));
    // and a session refused (its checked hash is gone) changes neither.
    let stale = NewSession {
        rehashed_password: Some(password_hash()),
        ..new_session(ada.id, "ada-3", t + seconds(20), t + seconds(3600))
    };
    assert_eq!(sessions.create(stale).await.unwrap(), None);
    let credentials = users.find_credentials(&ada_login).await.unwrap().expect("found");
    assert_eq!(
        (credentials.password_hash, credentials.user.last_sign_in_at),
        (other_password_hash(), Some(t + seconds(9)))
    );
}
