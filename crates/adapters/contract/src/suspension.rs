//! Suspensions: an account stopped by an admin, read back wherever the user is, with every session it had ended and
//! every password-reset link it was mailed voided at once; never the last admin who could lift it.

use chrono::TimeDelta;
use futures_util::future::join_all;
use users_domain::{LoginIdentifier, User, UserId};
use users_ports::{
    AuditKind, MailOutbox, NewUser, OneTimeTokenRepository, RefreshTokenUse, SessionRepository, SuspendUserError,
    TokenIssue, TokenPurpose, UserRepository,
};

use crate::fixtures::{
    audit, device, email, in_id_order, insert_ok, mailed_token, new_admin, new_session, new_user, now, one_time,
    seconds, signed_in_at, suspension, token,
};

pub async fn a_suspension_is_read_back_wherever_the_user_is_read<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    O: MailOutbox,
>(
    users: U,
    sessions: S,
    _tokens: T,
    _outbox: O,
) {
    // Given Ada,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    assert_eq!(ada.suspension, None);

    // when she is suspended for a day, with a reason, then she is as of the suspension, however she is read;
    let day =
        suspension(t + seconds(1), Some(t + seconds(86_400)), Some("Spam, reported three times.\nSee ticket 12."));
    let suspended = users.suspend(ada.id, day.clone(), audit(AuditKind::UserSuspended, now())).await.expect("suspend");
    let expected = User { suspension: Some(day), updated_at: t + seconds(1), ..ada.clone() };
    assert_eq!(suspended, expected);
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(expected.clone()));
    assert_eq!(users.find_by_object_id(ada.object_id).await.unwrap(), Some(expected.clone()));
    let login = LoginIdentifier::Email(email("ada@example.com"));
    assert_eq!(users.find_credentials(&login).await.unwrap().map(|found| found.user), Some(expected.clone()));
    let listed = users.list(&in_id_order(0, 10)).await.unwrap().items;
    assert_eq!(listed, vec![expected]);
    // and no session starts for her meanwhile.
    let session = sessions.create(new_session(ada.id, "ada-1", t + seconds(2), t + seconds(3600))).await.unwrap();
    assert_eq!(session, None);

    // When she is suspended again, until lifted and without a reason, then that replaces the first.
    let open_ended = suspension(t + seconds(4), None, None);
    let replaced =
        users.suspend(ada.id, open_ended.clone(), audit(AuditKind::UserSuspended, now())).await.expect("suspend again");
    assert_eq!(replaced, User { suspension: Some(open_ended), updated_at: t + seconds(4), ..ada });
    assert_eq!(users.find_by_id(replaced.id).await.unwrap(), Some(replaced));
}

pub async fn a_suspension_ends_every_session_of_the_user<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    O: MailOutbox,
>(
    users: U,
    sessions: S,
    _tokens: T,
    _outbox: O,
) {
    // Given Ada signed in twice (one session refreshed since) and Grace once,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let grace = insert_ok(&users, new_user(2, "grace@example.com", t)).await;
    let later = t + seconds(3600);
    let first = sessions.create(new_session(ada.id, "ada-1", t, later)).await.unwrap().expect("created");
    let second = sessions.create(new_session(ada.id, "ada-2", t, later)).await.unwrap().expect("created");
    let used =
        sessions.rotate_refresh_token(&token("ada-2"), &token("ada-2b"), t + seconds(1), later, &device(2)).await;
    assert!(matches!(used.unwrap(), RefreshTokenUse::Rotated(_)));
    let hers = sessions.create(new_session(grace.id, "grace-1", t, later)).await.unwrap().expect("created");
    let ada = signed_in_at(ada, t);
    let grace = signed_in_at(grace, t);

    // when Ada is suspended,
    users
        .suspend(ada.id, suspension(t + seconds(10), None, Some("abuse")), audit(AuditKind::UserSuspended, now()))
        .await
        .expect("suspend");

    // then neither of her sessions signs her in, lists, or gets a new refresh token: each ended then;
    for session in [first, second] {
        assert_eq!(users.find_signed_in(ada.id, session, t + seconds(11)).await.unwrap(), None);
    }
    assert_eq!(sessions.list_live(ada.id, t + seconds(11)).await.unwrap(), vec![]);
    for (current, next) in [("ada-1", "ada-1b"), ("ada-2b", "ada-2c")] {
        let (current, next) = (token(current), token(next));
        let used = sessions.rotate_refresh_token(&current, &next, t + seconds(12), later, &device(1)).await.unwrap();
        assert!(matches!(used, RefreshTokenUse::SessionEnded(ref session) if session.revoked), "{current:?}: {used:?}");
    }
    // and Grace is still signed in.
    assert_eq!(users.find_signed_in(grace.id, hers, t + seconds(13)).await.unwrap(), Some(grace));
}

pub async fn a_suspension_voids_the_unused_reset_links_but_not_the_verification<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    O: MailOutbox,
>(
    users: U,
    _sessions: S,
    tokens: T,
    _outbox: O,
) {
    // Given Ada, mailed a verification link at sign-up and a reset link since,
    let t = now();
    let verify = mailed_token("ada-verify", TokenPurpose::VerifyEmail, "ada@example.com", t, TimeDelta::hours(24));
    let ada = insert_ok(&users, NewUser { verification: Some(verify), ..new_user(1, "ada@example.com", t) }).await;
    let reset = mailed_token("ada-reset", TokenPurpose::ResetPassword, "ada@example.com", t, TimeDelta::minutes(30));
    assert_eq!(tokens.issue_token(ada.id, reset, seconds(60), None).await.unwrap(), TokenIssue::Queued);

    // when she is suspended,
    let suspended = users
        .suspend(ada.id, suspension(t + seconds(1), None, None), audit(AuditKind::UserSuspended, now()))
        .await
        .expect("suspend");

    // then the reset link finds no one and resets nothing: the password cannot be changed past the suspension;
    let at = t + seconds(2);
    let reset_link = one_time("ada-reset");
    assert_eq!(tokens.find_token_user(&reset_link, TokenPurpose::ResetPassword, at).await.unwrap(), None);
    let notice = users_ports::Mail { to: email("ada@example.com"), content: users_ports::MailContent::PasswordChanged };
    let reset = tokens
        .reset_password(
            &reset_link,
            crate::fixtures::other_password_hash(),
            &notice,
            at,
            audit(AuditKind::PasswordReset, at),
        )
        .await;
    assert_eq!(reset.unwrap(), None);
    // while the verification link still proves the address, which the suspension is not about.
    let verify_link = one_time("ada-verify");
    let found = tokens.find_token_user(&verify_link, TokenPurpose::VerifyEmail, at).await.unwrap();
    assert_eq!(found, Some(suspended));
}

pub async fn the_only_active_admin_cannot_be_suspended<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    O: MailOutbox,
>(
    users: U,
    sessions: S,
    _tokens: T,
    _outbox: O,
) {
    // Given a single admin, signed in, and a plain user,
    let t = now();
    let first = insert_ok(&users, new_admin(1, "first@example.com", t)).await;
    let session = sessions.create(new_session(first.id, "first-1", t, t + seconds(3600))).await.unwrap();
    let first = signed_in_at(first, t);
    let session = session.expect("created");
    let plain = insert_ok(&users, new_user(2, "plain@example.com", t)).await;

    // when the admin is suspended, then that is refused and changes nothing: no one would be left to lift it;
    let result =
        users.suspend(first.id, suspension(t + seconds(1), None, None), audit(AuditKind::UserSuspended, now())).await;
    assert!(matches!(result, Err(SuspendUserError::LastActiveAdmin)), "the only admin: {result:?}");
    assert_eq!(users.find_by_id(first.id).await.unwrap(), Some(first.clone()));
    assert!(users.find_signed_in(first.id, session, t + seconds(2)).await.unwrap().is_some(), "still signed in");
    // a plain user may be suspended all the same.
    users
        .suspend(plain.id, suspension(t + seconds(1), None, None), audit(AuditKind::UserSuspended, now()))
        .await
        .expect("a plain user");

    // Given a second admin, the first may be suspended (for a minute), but then not the second:
    let second = insert_ok(&users, new_admin(3, "second@example.com", t)).await;
    let minute = t + seconds(60);
    users
        .suspend(first.id, suspension(t + seconds(2), Some(minute), None), audit(AuditKind::UserSuspended, now()))
        .await
        .expect("one of two admins");
    let result =
        users.suspend(second.id, suspension(t + seconds(3), None, None), audit(AuditKind::UserSuspended, now())).await;
    assert!(matches!(result, Err(SuspendUserError::LastActiveAdmin)), "the other is suspended: {result:?}");
    assert_eq!(users.find_by_id(second.id).await.unwrap().and_then(|user| user.suspension), None);
    // until the first one's suspension has run out, from which moment it counts as active again.
    let result = users
        .suspend(second.id, suspension(minute - seconds(1), None, None), audit(AuditKind::UserSuspended, now()))
        .await;
    assert!(matches!(result, Err(SuspendUserError::LastActiveAdmin)), "a second before it lifts: {result:?}");
    users
        .suspend(second.id, suspension(minute, None, None), audit(AuditKind::UserSuspended, now()))
        .await
        .expect("the first one's suspension lifted");

    // Then the first, active again, may not be suspended anew: the second is not.
    let result = users
        .suspend(first.id, suspension(minute + seconds(1), None, None), audit(AuditKind::UserSuspended, now()))
        .await;
    assert!(matches!(result, Err(SuspendUserError::LastActiveAdmin)), "the second is suspended now: {result:?}");
}

pub async fn concurrent_suspensions_of_the_two_admins_keep_one_active<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    O: MailOutbox,
>(
    users: U,
    _sessions: S,
    _tokens: T,
    _outbox: O,
) {
    // Given an active admin, round after round,
    let t = now();
    let mut active = insert_ok(&users, new_admin(1, "admin1@example.com", t)).await;
    for round in 2..=11u32 {
        // and a second one beside it,
        let newcomer = insert_ok(&users, new_admin(round, &format!("admin{round}@example.com"), t)).await;
        let pair = [active.id, newcomer.id];
        // when both are suspended at once,
        let at = t + seconds(i64::from(round));
        let results = join_all(
            pair.map(|id| users.suspend(id, suspension(at, None, None), audit(AuditKind::UserSuspended, now()))),
        )
        .await;
        // then one is suspended and the other refused as the last active admin, and that one stays active.
        let suspended: Vec<UserId> =
            pair.iter().zip(&results).filter(|(_, result)| result.is_ok()).map(|(id, _)| *id).collect();
        let refused: Vec<UserId> = pair
            .iter()
            .zip(&results)
            .filter(|(_, result)| matches!(result, Err(SuspendUserError::LastActiveAdmin)))
            .map(|(id, _)| *id)
            .collect();
        assert_eq!((suspended.len(), refused.len()), (1, 1), "round {round}: one suspended, one refused: {results:?}");
        active = users.find_by_id(refused[0]).await.unwrap().expect("the refused admin exists");
        assert_eq!(active.suspension, None, "round {round}: the refused admin is not suspended");
    }
}

pub async fn suspending_or_lifting_an_unknown_user_finds_no_one<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    O: MailOutbox,
>(
    users: U,
    _sessions: S,
    _tokens: T,
    _outbox: O,
) {
    // Given no such user, whether the store is empty or holds an admin,
    let t = now();
    let result = users.suspend(UserId(4242), suspension(t, None, None), audit(AuditKind::UserSuspended, now())).await;
    assert!(matches!(result, Err(SuspendUserError::NotFound)), "no users at all: {result:?}");
    assert_eq!(users.unsuspend(UserId(4242), t, audit(AuditKind::UserUnsuspended, t)).await.unwrap(), None);

    let admin = insert_ok(&users, new_admin(1, "admin@example.com", t)).await;
    let unknown = UserId(admin.id.0 + 1000);
    // when it is suspended or lifted, then it is not found, and the admin is untouched.
    let result =
        users.suspend(unknown, suspension(t + seconds(1), None, None), audit(AuditKind::UserSuspended, now())).await;
    assert!(matches!(result, Err(SuspendUserError::NotFound)), "with an admin: {result:?}");
    assert_eq!(
        users.unsuspend(unknown, t + seconds(1), audit(AuditKind::UserUnsuspended, t + seconds(1))).await.unwrap(),
        None
    );
    assert_eq!(users.find_by_id(admin.id).await.unwrap(), Some(admin));
}

pub async fn lifting_a_suspension_clears_it_and_ends_nothing_more<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    O: MailOutbox,
>(
    users: U,
    sessions: S,
    _tokens: T,
    _outbox: O,
) {
    // Given Ada, suspended with her session ended,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let ended = sessions.create(new_session(ada.id, "ada-1", t, t + seconds(3600))).await.unwrap().expect("created");
    let ada = signed_in_at(ada, t);
    users
        .suspend(
            ada.id,
            suspension(t + seconds(1), Some(t + seconds(600)), Some("cooling off")),
            audit(AuditKind::UserSuspended, now()),
        )
        .await
        .unwrap();

    // when her suspension is lifted, then she is no longer suspended, as of then, however she is read;
    let lifted =
        users.unsuspend(ada.id, t + seconds(5), audit(AuditKind::UserUnsuspended, t + seconds(5))).await.unwrap();
    let expected = User { updated_at: t + seconds(5), ..ada.clone() };
    assert_eq!(lifted, Some(expected.clone()));
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(expected.clone()));
    // and the session the suspension ended stays ended, while she may sign in again.
    assert_eq!(users.find_signed_in(ada.id, ended, t + seconds(6)).await.unwrap(), None);
    let again = sessions.create(new_session(ada.id, "ada-2", t + seconds(6), t + seconds(3600))).await.unwrap();
    let signed_in_again = signed_in_at(expected, t + seconds(6));
    assert_eq!(
        users.find_signed_in(ada.id, again.expect("created"), t + seconds(7)).await.unwrap(),
        Some(signed_in_again.clone())
    );

    // Lifting what is not suspended changes nothing, not even the time of the update.
    let again =
        users.unsuspend(ada.id, t + seconds(8), audit(AuditKind::UserUnsuspended, t + seconds(8))).await.unwrap();
    assert_eq!(again, Some(signed_in_again));
}

pub async fn a_sign_in_checked_before_a_suspension_starts_no_session<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    O: MailOutbox,
>(
    users: U,
    sessions: S,
    _tokens: T,
    _outbox: O,
) {
    // Given Ada, suspended until an hour from now while her password was being checked,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let until = t + seconds(3600);
    users.suspend(ada.id, suspension(t, Some(until), None), audit(AuditKind::UserSuspended, t)).await.expect("suspend");

    // when the sign-in goes on to start its session, then none starts;
    let later = t + seconds(7200);
    let refused = sessions.create(new_session(ada.id, "ada-1", t + seconds(1), later)).await.unwrap();
    assert_eq!(refused, None);
    // once the suspension has run out, a sign-in starts one again.
    let after = sessions.create(new_session(ada.id, "ada-2", until, later)).await.unwrap();
    assert!(after.is_some());
}
