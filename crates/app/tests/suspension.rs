//! Suspension, against mocked ports: who may be suspended, what is stored, and what a suspended account can no
//! longer do (sign in, refresh, use an access token, be mailed or use a reset link).

mod support;

use chrono::Duration;
use users_app::{
    AuthenticateError, LoginError, RefreshError, ResetPasswordError, SendPasswordResetError, SignIn, SuspendUserError,
    SuspensionRequest, UnsuspendUserError,
};
use users_domain::{
    AttemptOutcome, LoginAttempt, LoginIdentifier, LoginThrottle, Suspension, SuspensionError, SuspensionReason, User,
    UserId,
};
use users_ports::{
    AccessClaims, OneTimeToken, RefreshToken, RefreshTokenUse, SessionState, StoredCredentials,
    SuspendUserError as StoreSuspendError,
};

use support::*;

fn reason(text: &str) -> SuspensionReason {
    SuspensionReason::parse(text).expect("a valid reason")
}

/// [`plain_user`], suspended an hour ago until `until` (`None`: until lifted).
fn suspended(until: Option<chrono::DateTime<chrono::Utc>>) -> User {
    let suspension = Suspension { since: now() - Duration::hours(1), until, reason: Some(reason("chargeback")) };
    User { suspension: Some(suspension), ..plain_user() }
}

fn stored_credentials(user: User) -> StoredCredentials {
    StoredCredentials { user, password_hash: stored_hash(), throttle: LoginThrottle::default() }
}

// ---------------------------------------------------------------------------------------------------------------
// suspending and lifting

#[tokio::test]
async fn an_admin_suspends_a_user_from_now_until_a_time_with_a_reason() {
    // Given a user the store suspends
    let mut mocks = Mocks::new();
    let until = now() + Duration::days(7);
    let expected = Suspension { since: now(), until: Some(until), reason: Some(reason("chargeback")) };
    let stored = User { suspension: Some(expected.clone()), ..plain_user() };
    mocks
        .users
        .expect_suspend()
        .withf(move |id, suspension, _| *id == UserId(1) && *suspension == expected)
        .times(1)
        .return_once(move |_, _, _| Ok(stored));

    // when an admin suspends them until next week, saying why,
    let request = SuspensionRequest { until: Some(until), reason: Some(reason("chargeback")) };
    let user = mocks.service().suspend_user(&administrator(), UserId(1), request).await.unwrap();

    // then the suspension starts now, as asked.
    assert!(user.is_suspended(now()));
    assert_eq!(user.suspension.unwrap().until, Some(until));
}

#[tokio::test]
async fn a_suspension_that_would_end_in_the_past_is_refused_before_the_store() {
    let mut mocks = Mocks::new();
    mocks.users.expect_suspend().never();

    let request = SuspensionRequest { until: Some(now() - Duration::seconds(1)), reason: None };
    let error = mocks.service().suspend_user(&administrator(), UserId(1), request).await.unwrap_err();

    assert!(matches!(error, SuspendUserError::InvalidEnd(SuspensionError::EndsInThePast)), "{error:?}");
}

#[tokio::test]
async fn an_admin_cannot_suspend_themselves() {
    let mut mocks = Mocks::new();
    mocks.users.expect_suspend().never();
    let own_id = administrator().current().user.id;

    let error = mocks.service().suspend_user(&administrator(), own_id, SuspensionRequest::default()).await.unwrap_err();

    assert!(matches!(error, SuspendUserError::Oneself), "{error:?}");
}

#[tokio::test]
async fn the_stores_refusals_of_a_suspension_are_told_apart() {
    for (refusal, expected) in [
        (StoreSuspendError::NotFound, "NotFound"),
        (StoreSuspendError::LastActiveAdmin, "LastActiveAdmin"),
        (StoreSuspendError::Unexpected(store_error()), "Unexpected"),
    ] {
        let mut mocks = Mocks::new();
        mocks.users.expect_suspend().times(1).return_once(move |_, _, _| Err(refusal));

        let error =
            mocks.service().suspend_user(&administrator(), UserId(7), SuspensionRequest::default()).await.unwrap_err();

        assert!(format!("{error:?}").starts_with(expected), "{error:?}");
    }
}

#[tokio::test]
async fn lifting_a_suspension_returns_the_user_active() {
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_unsuspend()
        .withf(|id, at, _| *id == UserId(1) && *at == now())
        .times(1)
        .returning(|_, _, _| Ok(Some(plain_user())));

    let user = mocks.service().unsuspend_user(&administrator(), UserId(1)).await.unwrap();

    assert!(!user.is_suspended(now()));
}

#[tokio::test]
async fn lifting_the_suspension_of_an_unknown_user_is_not_found() {
    let mut mocks = Mocks::new();
    mocks.users.expect_unsuspend().times(1).returning(|_, _, _| Ok(None));

    let error = mocks.service().unsuspend_user(&administrator(), UserId(404)).await.unwrap_err();

    assert!(matches!(error, UnsuspendUserError::NotFound), "{error:?}");
}

#[tokio::test]
async fn a_suspension_that_has_run_out_is_not_shown() {
    // Given a user whose suspension ended a minute ago
    let mut mocks = Mocks::new();
    let lapsed = suspended(Some(now() - Duration::minutes(1)));
    mocks.users.expect_find_by_id().times(1).return_once(move |_| Ok(Some(lapsed)));

    // when an admin looks them up, then they are active.
    let user = mocks.service().get_user(&administrator(), UserId(1)).await.unwrap();
    assert_eq!(user.suspension, None);
}

// ---------------------------------------------------------------------------------------------------------------
// what a suspended account can no longer do

/// Mocks for a sign-in of user 1, the account as `user`, whose password is checked once and found `right` or not.
fn signing_in(user: User, right: bool) -> Mocks {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).return_once(move |_| Ok(Some(stored_credentials(user))));
    expect_attempt(&mut mocks, LoginAttempt::Allowed);
    mocks.hasher.expect_verify().times(1).returning(move |_, _| Ok(right));
    let outcome = if right { AttemptOutcome::Verified } else { AttemptOutcome::Refused };
    expect_finished(&mut mocks, outcome, None);
    mocks
}

fn sign_in_with(typed: &str) -> SignIn {
    SignIn::Credentials { login: LoginIdentifier::Email(email("user1@example.com")), password: password(typed) }
}

#[tokio::test]
async fn a_suspended_account_with_the_right_password_is_told_it_is_suspended_and_gets_no_session() {
    let mut mocks = signing_in(suspended(None), true);
    mocks.sessions.expect_create().never();

    let error = mocks
        .service()
        .login(sign_in_with("correct horse battery"), &network(), &device())
        .await
        .password_alone()
        .unwrap_err();

    assert!(matches!(error, LoginError::AccountSuspended), "{error:?}");
}

#[tokio::test]
async fn an_account_suspended_while_its_password_was_checked_is_told_it_is_suspended() {
    // Given an active account that an admin suspends while its right password is being checked: the store starts
    // no session for it
    let mut mocks = signing_in(plain_user(), true);
    mocks.expect_new_refresh_token("rt-new");
    mocks.sessions.expect_create().times(1).returning(|_| Ok(None));
    mocks.users.expect_find_by_id().times(1).return_once(|_| Ok(Some(suspended(None))));
    mocks.tokens.expect_issue_access_token().never();

    // When the client signs in
    let error = mocks
        .service()
        .login(sign_in_with("correct horse battery"), &network(), &device())
        .await
        .password_alone()
        .unwrap_err();

    // Then it is told what it would be told a moment later, not that its password was wrong
    assert!(matches!(error, LoginError::AccountSuspended), "{error:?}");
}

#[tokio::test]
async fn a_suspended_account_with_a_wrong_password_gets_the_same_answer_as_anyone() {
    let mut mocks = signing_in(suspended(None), false);
    mocks.sessions.expect_create().never();

    let error = mocks
        .service()
        .login(sign_in_with("wrong password!"), &network(), &device())
        .await
        .password_alone()
        .unwrap_err();

    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn a_session_refreshed_while_its_user_is_suspended_is_refused() {
    // Given a session that started as the suspension was written (the suspension ended the others)
    let mut mocks = Mocks::new();
    mocks.expect_successor("rt-old", "rt-new");
    let session = SessionState {
        id: SESSION,
        user_id: UserId(1),
        authenticated_at: now() - Duration::minutes(1),
        expires_at: now() + Duration::days(30),
        revoked: false,
    };
    mocks
        .sessions
        .expect_rotate_refresh_token()
        .times(1)
        .return_once(move |_, _, _, _, _| Ok(RefreshTokenUse::Rotated(session)));
    mocks.users.expect_find_by_id().times(1).returning(|_| Ok(Some(suspended(None))));
    mocks.tokens.expect_issue_access_token().never();

    let error = mocks.service().refresh(&RefreshToken::new("rt-old"), &device()).await.unwrap_err();

    assert!(matches!(error, RefreshError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn an_access_token_of_a_suspended_user_no_longer_works() {
    let mut mocks = Mocks::new();
    mocks.tokens.expect_verify_access_token().times(1).returning(|_, _| {
        Ok(AccessClaims {
            user_id: UserId(1),
            object_id: plain_user().object_id,
            session_id: SESSION,
            roles: plain_user().roles,
            authenticated_at: Some(now() - Duration::minutes(3)),
            issued_at: now() - Duration::minutes(3),
            expires_at: now() + Duration::minutes(12),
        })
    });
    mocks.users.expect_find_signed_in().times(1).returning(|_, _, _| Ok(Some(suspended(None))));

    let error = mocks.service().authenticate("signed.access.token", &device()).await.unwrap_err();

    assert!(matches!(error, AuthenticateError::SessionEnded), "{error:?}");
}

#[tokio::test]
async fn a_suspended_account_is_mailed_no_reset_link_and_the_answer_is_the_same() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_credentials().times(1).returning(|_| Ok(Some(stored_credentials(suspended(None)))));
    mocks.one_time_tokens.expect_issue_token().never();
    mocks.expect_sleeps(1);

    mocks
        .service()
        .request_password_reset(email("user1@example.com"), &device())
        .await
        .expect("the same answer as anyone's");
}

#[tokio::test]
async fn an_account_whose_suspension_ran_out_is_mailed_a_reset_link_again() {
    let mut mocks = Mocks::new();
    let lapsed = suspended(Some(now() - Duration::seconds(1)));
    mocks.users.expect_find_credentials().times(1).return_once(move |_| Ok(Some(stored_credentials(lapsed))));
    mocks.one_time_tokens.expect_issue_token().times(1).returning(|_, _, _, _| Ok(users_ports::TokenIssue::Queued));
    mocks.expect_sleeps(1);

    mocks.service().request_password_reset(email("user1@example.com"), &device()).await.unwrap();
}

#[tokio::test]
async fn an_admin_cannot_send_a_suspended_account_a_reset_link() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_id().times(1).returning(|_| Ok(Some(suspended(None))));
    mocks.one_time_tokens.expect_issue_token().never();

    let error = mocks.service().send_password_reset(&administrator(), UserId(1)).await.unwrap_err();

    assert!(matches!(error, SendPasswordResetError::AccountSuspended), "{error:?}");
}

#[tokio::test]
async fn a_reset_link_of_a_suspended_account_sets_no_password() {
    let mut mocks = Mocks::new();
    mocks.one_time_tokens.expect_find_token_user().times(1).returning(|_, _, _| Ok(Some(suspended(None))));
    mocks.hasher.expect_hash().never();
    mocks.one_time_tokens.expect_reset_password().never();

    let outcome = mocks.service().reset_password(&OneTimeToken::new("t"), password("a new good one"), &device()).await;

    assert!(matches!(outcome, Err(ResetPasswordError::AccountSuspended)), "{outcome:?}");
}

#[tokio::test]
async fn an_account_whose_suspension_ran_out_signs_in_again() {
    let mut mocks = signing_in(suspended(Some(now() - Duration::seconds(1))), true);
    mocks.expect_new_refresh_token("rt-new");
    mocks.sessions.expect_create().times(1).returning(|_| Ok(Some(SESSION)));
    mocks.tokens.expect_issue_access_token().times(1).returning(|_, at| {
        Ok(users_ports::AccessToken { token: "signed.access.token".into(), expires_at: at + Duration::minutes(15) })
    });

    let signed_in =
        mocks.service().login(sign_in_with("correct horse battery"), &network(), &device()).await.password_alone();

    assert!(signed_in.is_ok(), "{signed_in:?}");
}
