//! Refresh-token rotation: each token rotates once, a second use is told apart, and only a live session gets a
//! successor.

use futures_util::future::join_all;
use users_ports::{AuditKind, RefreshTokenUse, SessionRepository, SessionState, UserRepository};

use crate::fixtures::{audit, device, insert_ok, new_session, new_user, now, seconds, signed_in_at, token};

pub async fn refresh_token_rotates_once_then_is_replayed<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    // Given a session and its current refresh token,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let expires_at = t + seconds(30 * 24 * 3600);
    let session = sessions.create(new_session(ada.id, "ada-1", t, expires_at)).await.unwrap().expect("the user exists");
    let ada = signed_in_at(ada, t);
    let (used, successor) = (token("ada-1"), token("ada-2"));
    let phone = device(2);
    let rotate = |at| sessions.rotate_refresh_token(&used, &successor, at, at + seconds(3600), &phone);

    // when it is rotated, then it says how the session stood before,
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
    // and the session now runs from the rotation, its current token the successor.
    let state = SessionState {
        id: session,
        user_id: ada.id,
        authenticated_at: t,
        expires_at: t + seconds(3605),
        revoked: false,
    };
    assert_eq!(sessions.find_by_refresh_token(&token("ada-2")).await.unwrap(), Some(session));
    // When it is presented again, then it is a replay, dated by its first use, whatever the later ones,
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
    // and a successor derived otherwise (another instance's secret) is not the one this session was given.
    let elsewhere =
        sessions.rotate_refresh_token(&used, &token("ada-2-elsewhere"), t + seconds(8), t, &device(2)).await.unwrap();
    assert_eq!(
        elsewhere,
        RefreshTokenUse::Replayed { session: state, used_at: t + seconds(5), successor_issued: false }
    );
    assert_eq!(sessions.find_by_refresh_token(&token("ada-2-elsewhere")).await.unwrap(), None, "nothing added");

    // A token nobody has is unknown, and adds nothing; a used one still names its session.
    let unknown =
        sessions.rotate_refresh_token(&token("nope"), &token("nope-2"), t, t + seconds(60), &device(2)).await.unwrap();
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
    // Given a revoked session,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let expires_at = t + seconds(3600);
    let session = sessions.create(new_session(ada.id, "ada-1", t, expires_at)).await.unwrap().expect("the user exists");
    sessions.revoke(session, t + seconds(1), audit(AuditKind::UserSignedOut, t + seconds(1))).await.unwrap();
    // when its current refresh token is presented, then it says the session ended, and how it stood.
    let used = sessions
        .rotate_refresh_token(&token("ada-1"), &token("ada-2"), t + seconds(2), t + seconds(99), &device(2))
        .await;
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
    // Given a user and the store's connections open,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let expires_at = t + seconds(3600);
    // Open the store's connections first, so that the rotations below start together instead of one by one as
    // connections come up.
    let unknown = token("unknown");
    for found in join_all((0..10).map(|_| sessions.find_by_refresh_token(&unknown))).await {
        assert_eq!(found.unwrap(), None);
    }

    // round after round, given a new session,
    let phone = device(2);
    for round in 0..5 {
        let name = format!("ada-{round}");
        let hash = token(&name);
        let session =
            sessions.create(new_session(ada.id, &name, t, expires_at)).await.unwrap().expect("the user exists");
        // when ten rotations of its token race,
        let successor = token(&format!("{name}-next"));
        let rotations =
            (0..10).map(|_| sessions.rotate_refresh_token(&hash, &successor, t + seconds(1), t + seconds(99), &phone));
        let results = join_all(rotations).await;
        let results: Vec<RefreshTokenUse> = results.into_iter().map(|result| result.expect("rotate")).collect();
        // then exactly one rotates it,
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
        // and the others are replays that see the session as that rotation left it.
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
    // Given a session whose token was rotated a minute in,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let first_expiry = t + seconds(3600);
    let session =
        sessions.create(new_session(ada.id, "ada-1", t, first_expiry)).await.unwrap().expect("the user exists");
    let ada = signed_in_at(ada, t);
    let second_expiry = t + seconds(60 + 3600);
    let first = sessions
        .rotate_refresh_token(&token("ada-1"), &token("ada-2"), t + seconds(60), second_expiry, &device(2))
        .await;
    assert!(matches!(first.unwrap(), RefreshTokenUse::Rotated(_)));
    assert_eq!(sessions.find_by_refresh_token(&token("ada-2")).await.unwrap(), Some(session));

    // when its successor is rotated a minute later, then that is a rotation too, seeing the expiry the first one set;
    let third_expiry = t + seconds(120 + 3600);
    let rotated = sessions
        .rotate_refresh_token(&token("ada-2"), &token("ada-3"), t + seconds(120), third_expiry, &device(2))
        .await;
    let as_it_was =
        SessionState { id: session, user_id: ada.id, authenticated_at: t, expires_at: second_expiry, revoked: false };
    assert_eq!(rotated.unwrap(), RefreshTokenUse::Rotated(as_it_was));
    // either token presented again is a replay, dated by its own use.
    let state =
        SessionState { id: session, user_id: ada.id, authenticated_at: t, expires_at: third_expiry, revoked: false };
    assert_eq!(
        sessions.rotate_refresh_token(&token("ada-2"), &token("ada-3"), t + seconds(121), t, &device(2)).await.unwrap(),
        RefreshTokenUse::Replayed { session: state.clone(), used_at: t + seconds(120), successor_issued: true }
    );
    assert_eq!(
        sessions.rotate_refresh_token(&token("ada-1"), &token("ada-2"), t + seconds(122), t, &device(2)).await.unwrap(),
        RefreshTokenUse::Replayed { session: state, used_at: t + seconds(60), successor_issued: true }
    );

    // Past the first expiry the session lives on, until the last one.
    assert_eq!(users.find_signed_in(ada.id, session, first_expiry + seconds(1)).await.unwrap(), Some(ada.clone()));
    assert_eq!(users.find_signed_in(ada.id, session, third_expiry + seconds(1)).await.unwrap(), None);
}

pub async fn a_revoked_session_gets_no_new_refresh_token<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    // Given a revoked session,
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    let expires_at = t + seconds(3600);
    let session = sessions.create(new_session(ada.id, "ada-1", t, expires_at)).await.unwrap().expect("created");
    sessions.revoke(session, t, audit(AuditKind::UserSignedOut, t)).await.expect("revoke");
    // when its token is presented, then the session ended, and no successor was stored.
    let used = sessions
        .rotate_refresh_token(&token("ada-1"), &token("ada-2"), t, t + seconds(7200), &device(2))
        .await
        .unwrap();
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

    // Given an expired session, when its token is presented, then the same: no successor, and the expiry stays.
    let later = sessions.create(new_session(ada.id, "ada-3", t, t + seconds(10))).await.unwrap().expect("created");
    let used = sessions
        .rotate_refresh_token(&token("ada-3"), &token("ada-4"), t + seconds(10), t + seconds(99), &device(2))
        .await;
    let expired =
        SessionState { id: later, user_id: ada.id, authenticated_at: t, expires_at: t + seconds(10), revoked: false };
    assert_eq!(used.unwrap(), RefreshTokenUse::SessionEnded(expired));
    assert_eq!(sessions.find_by_refresh_token(&token("ada-4")).await.unwrap(), None, "nothing was added");
    assert_eq!(users.find_signed_in(ada.id, later, t + seconds(11)).await.unwrap(), None, "not extended");

    // Given a session whose user was deleted, when its token is presented, then it is unknown: none is left.
    let grace = users.insert(new_user(2, "grace@example.com", t)).await.expect("insert");
    sessions.create(new_session(grace.id, "grace-1", t, t + seconds(3600))).await.unwrap().expect("created");
    users.delete(grace.id, audit(AuditKind::UserDeleted, now())).await.expect("delete");
    let gone = sessions
        .rotate_refresh_token(&token("grace-1"), &token("grace-2"), t, t + seconds(7200), &device(2))
        .await
        .unwrap();
    assert_eq!(gone, RefreshTokenUse::Unknown);
    assert_eq!(sessions.find_by_refresh_token(&token("grace-2")).await.unwrap(), None);
}
