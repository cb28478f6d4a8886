//! One-time tokens: each mailed with its message, usable once, until it expires, and only while its user has the
//! address it was made for; at most one mailed per user and purpose within the interval; a reset's effects all at once.

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::join_all;
use users_domain::{AttemptOutcome, LoginAttempt, LoginIdentifier, LoginThrottle, User, UserId};
use users_ports::{
    AuditKind, Mail, MailContent, MailKind, MailOutbox, MailedToken, NewUser, OneTimeTokenRepository, OutboxDepth,
    PasswordHash, SessionRepository, TokenIssue, TokenPurpose, UpdateUserError, UserRepository, UserUpdate,
};

use crate::fixtures::{
    LOCKOUT, attempt, audit, claim_all, email, insert_ok, mailed_token, network, new_session, new_user, now, one_time,
    other_password_hash, password_hash, seconds, signed_in_at, throttle_of, touch,
};

/// The shortest time between two mails of one purpose to one user.
const INTERVAL: TimeDelta = TimeDelta::seconds(60);

/// A verification token `text` for `address`, made at `at`, usable for a day.
fn verification(text: &str, address: &str, at: DateTime<Utc>) -> MailedToken {
    mailed_token(text, TokenPurpose::VerifyEmail, address, at, TimeDelta::hours(24))
}

/// A reset token `text` for `address`, made at `at`, usable for half an hour.
fn reset(text: &str, address: &str, at: DateTime<Utc>) -> MailedToken {
    mailed_token(text, TokenPurpose::ResetPassword, address, at, TimeDelta::minutes(30))
}

/// The notice a reset queues: Ada's address hears that her password changed.
fn changed_notice() -> Mail {
    Mail { to: email("ada@example.com"), content: MailContent::PasswordChanged }
}

/// The user the token `text` of `purpose` acts on at `at`.
async fn token_user<T: OneTimeTokenRepository>(
    tokens: &T,
    text: &str,
    purpose: TokenPurpose,
    at: DateTime<Utc>,
) -> Option<User> {
    tokens.find_token_user(&one_time(text), purpose, at).await.expect("find token user")
}

/// Opens the store's connections, so that the calls of a race start together rather than one by one as connections
/// come up.
async fn open_connections<T: OneTimeTokenRepository>(tokens: &T, at: DateTime<Utc>) {
    let none = one_time("none");
    for found in join_all((0..10).map(|_| tokens.find_token_user(&none, TokenPurpose::VerifyEmail, at))).await {
        assert_eq!(found.unwrap(), None);
    }
}

/// The password hash stored for the user with this email.
async fn password_of<U: UserRepository>(users: &U, address: &str) -> PasswordHash {
    let login = LoginIdentifier::Email(email(address));
    users.find_credentials(&login).await.expect("no fault").expect("found").password_hash
}

pub async fn a_verification_token_made_at_sign_up_finds_its_user_and_its_mail_is_queued<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    O: MailOutbox,
>(
    users: U,
    _sessions: S,
    tokens: T,
    outbox: O,
) {
    // Given a user who signed up with a verification token,
    let t = now();
    let mailed = verification("ada-verify", "ada@example.com", t);
    let ada =
        insert_ok(&users, NewUser { verification: Some(mailed.clone()), ..new_user(1, "ada@example.com", t) }).await;
    assert!(!ada.email_verified);

    // then the token finds her as a verification token, and again (finding uses nothing up);
    let verify = TokenPurpose::VerifyEmail;
    assert_eq!(token_user(&tokens, "ada-verify", verify, t + seconds(1)).await, Some(ada.clone()));
    assert_eq!(token_user(&tokens, "ada-verify", verify, t + seconds(2)).await, Some(ada.clone()));
    // not as a reset token, and no other token finds her;
    assert_eq!(token_user(&tokens, "ada-verify", TokenPurpose::ResetPassword, t + seconds(1)).await, None);
    assert_eq!(token_user(&tokens, "ada-other", verify, t + seconds(1)).await, None);
    // and the mail that carries it is queued as of the sign-up, due at once.
    assert_eq!(outbox.depth().await.unwrap(), OutboxDepth { queued: 1, failed: 0 });
    let claimed = claim_all(&outbox, t).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].mail, mailed.mail);
    assert_eq!(claimed[0].queued_at, t);
    assert_eq!(claimed[0].attempts, 0);

    // A sign-up without a token queues nothing.
    insert_ok(&users, new_user(2, "grace@example.com", t)).await;
    assert_eq!(outbox.depth().await.unwrap(), OutboxDepth { queued: 1, failed: 0 });
}

pub async fn confirming_an_email_verifies_it_and_uses_the_token_up<
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
    // Given a user with a verification token and a reset token,
    let t = now();
    let mailed = verification("ada-verify", "ada@example.com", t);
    let ada = insert_ok(&users, NewUser { verification: Some(mailed), ..new_user(1, "ada@example.com", t) }).await;
    let issued = tokens.issue_token(ada.id, reset("ada-reset", "ada@example.com", t), INTERVAL, None).await.unwrap();
    assert_eq!(issued, TokenIssue::Queued);

    // when the reset token, or a token nobody was given, is confirmed, then nothing happens;
    assert_eq!(
        tokens
            .confirm_email(&one_time("ada-reset"), t + seconds(1), audit(AuditKind::EmailVerified, t + seconds(1)))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        tokens
            .confirm_email(&one_time("nobody"), t + seconds(1), audit(AuditKind::EmailVerified, t + seconds(1)))
            .await
            .unwrap(),
        None
    );
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(ada.clone()));
    assert!(token_user(&tokens, "ada-reset", TokenPurpose::ResetPassword, t + seconds(1)).await.is_some());

    // when the verification token is confirmed, then she is verified as of then, however she is read;
    let confirmed = tokens
        .confirm_email(&one_time("ada-verify"), t + seconds(5), audit(AuditKind::EmailVerified, t + seconds(5)))
        .await
        .unwrap();
    let verified = User { email_verified: true, updated_at: t + seconds(5), ..ada.clone() };
    assert_eq!(confirmed, Some(verified.clone()));
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(verified.clone()));
    let login = LoginIdentifier::Email(email("ada@example.com"));
    assert_eq!(users.find_credentials(&login).await.unwrap().map(|found| found.user), Some(verified.clone()));

    // and the token is used up: it finds no one, and a second confirmation changes nothing.
    assert_eq!(token_user(&tokens, "ada-verify", TokenPurpose::VerifyEmail, t + seconds(6)).await, None);
    assert_eq!(
        tokens
            .confirm_email(&one_time("ada-verify"), t + seconds(7), audit(AuditKind::EmailVerified, t + seconds(7)))
            .await
            .unwrap(),
        None
    );
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(verified));
}

pub async fn an_expired_token_is_not_usable<
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
    // Given a user with a verification token and a reset token, each usable for ten minutes,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    for (text, purpose) in [("ada-verify", TokenPurpose::VerifyEmail), ("ada-reset", TokenPurpose::ResetPassword)] {
        let mailed = mailed_token(text, purpose, "ada@example.com", t, seconds(600));
        assert_eq!(tokens.issue_token(ada.id, mailed, INTERVAL, None).await.unwrap(), TokenIssue::Queued);
    }

    // then each is usable until the moment it expires,
    assert_eq!(token_user(&tokens, "ada-verify", TokenPurpose::VerifyEmail, t + seconds(599)).await, Some(ada.clone()));
    assert_eq!(
        token_user(&tokens, "ada-reset", TokenPurpose::ResetPassword, t + seconds(599)).await,
        Some(ada.clone())
    );
    // and from then on finds no one, confirms nothing and resets nothing.
    let expired = t + seconds(600);
    assert_eq!(token_user(&tokens, "ada-verify", TokenPurpose::VerifyEmail, expired).await, None);
    assert_eq!(token_user(&tokens, "ada-reset", TokenPurpose::ResetPassword, expired).await, None);
    assert_eq!(
        tokens.confirm_email(&one_time("ada-verify"), expired, audit(AuditKind::EmailVerified, expired)).await.unwrap(),
        None
    );
    let reset = tokens
        .reset_password(
            &one_time("ada-reset"),
            other_password_hash(),
            &changed_notice(),
            expired,
            audit(AuditKind::PasswordReset, expired),
        )
        .await
        .unwrap();
    assert_eq!(reset, None);
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(ada));
    assert_eq!(password_of(&users, "ada@example.com").await, password_hash());
}

pub async fn a_token_for_an_address_the_user_no_longer_has_does_nothing<
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
    // Given a user with a verification token and a reset token for her address,
    let t = now();
    let mailed = verification("ada-verify", "ada@example.com", t);
    let ada = insert_ok(&users, NewUser { verification: Some(mailed), ..new_user(1, "ada@example.com", t) }).await;
    let issued = tokens.issue_token(ada.id, reset("ada-reset", "ada@example.com", t), INTERVAL, None).await.unwrap();
    assert_eq!(issued, TokenIssue::Queued);

    // when her address is written in another case, then it is the same address: the tokens still find her;
    let recased = UserUpdate { email: Some(email("Ada@Example.com")), ..touch(t + seconds(1)) };
    let recased = users.update(ada.id, recased).await.expect("update");
    assert_eq!(token_user(&tokens, "ada-verify", TokenPurpose::VerifyEmail, t + seconds(2)).await, Some(recased));

    // when her address changes, then neither token finds her, confirms it or resets her password;
    let moved = UserUpdate { email: Some(email("ada@elsewhere.example")), ..touch(t + seconds(3)) };
    let moved = users.update(ada.id, moved).await.expect("update");
    assert_eq!(token_user(&tokens, "ada-verify", TokenPurpose::VerifyEmail, t + seconds(4)).await, None);
    assert_eq!(token_user(&tokens, "ada-reset", TokenPurpose::ResetPassword, t + seconds(4)).await, None);
    assert_eq!(
        tokens
            .confirm_email(&one_time("ada-verify"), t + seconds(5), audit(AuditKind::EmailVerified, t + seconds(5)))
            .await
            .unwrap(),
        None
    );
    let reset = tokens
        .reset_password(
            &one_time("ada-reset"),
            other_password_hash(),
            &changed_notice(),
            t + seconds(5),
            audit(AuditKind::PasswordReset, t + seconds(5)),
        )
        .await;
    assert_eq!(reset.unwrap(), None);
    // and she is as the change left her: unverified, with her password.
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(moved));
    assert_eq!(password_of(&users, "ada@elsewhere.example").await, password_hash());
}

pub async fn a_token_is_issued_only_for_the_users_address<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    O: MailOutbox,
>(
    users: U,
    _sessions: S,
    tokens: T,
    outbox: O,
) {
    // Given a user,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;

    // when a token is asked for an address she does not have, or for a user who does not exist, then none is issued
    // and nothing is queued;
    let elsewhere = tokens.issue_token(ada.id, verification("x", "grace@example.com", t), INTERVAL, None).await;
    assert_eq!(elsewhere.unwrap(), TokenIssue::NotIssued);
    let nobody = UserId(ada.id.0 + 1000);
    let missing = tokens.issue_token(nobody, verification("y", "ada@example.com", t), INTERVAL, None).await;
    assert_eq!(missing.unwrap(), TokenIssue::NotIssued);
    assert_eq!(token_user(&tokens, "x", TokenPurpose::VerifyEmail, t).await, None);
    assert_eq!(outbox.depth().await.unwrap(), OutboxDepth::default());

    // when one is asked for her address in another case, then it is issued: it is the same address.
    let recased = tokens.issue_token(ada.id, verification("z", "ADA@example.com", t), INTERVAL, None).await;
    assert_eq!(recased.unwrap(), TokenIssue::Queued);
    assert_eq!(token_user(&tokens, "z", TokenPurpose::VerifyEmail, t).await, Some(ada));
}

pub async fn a_second_token_within_the_interval_is_too_soon<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    O: MailOutbox,
>(
    users: U,
    _sessions: S,
    tokens: T,
    outbox: O,
) {
    // Given a user who was just mailed a verification token,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let first = tokens.issue_token(ada.id, verification("first", "ada@example.com", t), INTERVAL, None).await;
    assert_eq!(first.unwrap(), TokenIssue::Queued);

    // when another is asked for within the interval, then it is too soon, and nothing is written;
    let second =
        tokens.issue_token(ada.id, verification("second", "ada@example.com", t + seconds(59)), INTERVAL, None).await;
    assert_eq!(second.unwrap(), TokenIssue::TooSoon);
    assert_eq!(token_user(&tokens, "second", TokenPurpose::VerifyEmail, t + seconds(59)).await, None);
    assert_eq!(outbox.depth().await.unwrap(), OutboxDepth { queued: 1, failed: 0 });

    // a token of the other purpose has an interval of its own;
    let reset = tokens.issue_token(ada.id, reset("reset", "ada@example.com", t + seconds(30)), INTERVAL, None).await;
    assert_eq!(reset.unwrap(), TokenIssue::Queued);

    // once the interval has passed, then a token is issued again, and the first one still works.
    let third =
        tokens.issue_token(ada.id, verification("third", "ada@example.com", t + seconds(60)), INTERVAL, None).await;
    assert_eq!(third.unwrap(), TokenIssue::Queued);
    assert_eq!(token_user(&tokens, "third", TokenPurpose::VerifyEmail, t + seconds(61)).await, Some(ada.clone()));
    assert_eq!(token_user(&tokens, "first", TokenPurpose::VerifyEmail, t + seconds(61)).await, Some(ada));
    assert_eq!(outbox.depth().await.unwrap(), OutboxDepth { queued: 3, failed: 0 });
}

pub async fn concurrent_requests_for_a_token_queue_one_mail<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    O: MailOutbox,
>(
    users: U,
    _sessions: S,
    tokens: T,
    outbox: O,
) {
    // Given a user and the store's connections open (so that the requests below start together),
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    open_connections(&tokens, t).await;

    // when ten requests for a reset token race,
    let requests: Vec<MailedToken> = (0..10).map(|n| reset(&format!("ada-{n}"), "ada@example.com", t)).collect();
    let issued = join_all(requests.into_iter().map(|mailed| tokens.issue_token(ada.id, mailed, INTERVAL, None))).await;
    let issued: Vec<TokenIssue> = issued.into_iter().map(Result::unwrap).collect();

    // then one is queued and the others are too soon;
    assert_eq!(issued.iter().filter(|issue| **issue == TokenIssue::Queued).count(), 1, "{issued:?}");
    assert_eq!(issued.iter().filter(|issue| **issue == TokenIssue::TooSoon).count(), 9, "{issued:?}");
    // only its token works, and one mail waits.
    let mut working = 0;
    for n in 0..10 {
        working +=
            usize::from(token_user(&tokens, &format!("ada-{n}"), TokenPurpose::ResetPassword, t).await.is_some());
    }
    assert_eq!(working, 1);
    assert_eq!(outbox.depth().await.unwrap(), OutboxDepth { queued: 1, failed: 0 });
}

pub async fn a_new_reset_token_voids_the_older_ones<
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
    // Given a user with a reset token and a verification token,
    let t = now();
    let mailed = verification("ada-verify", "ada@example.com", t);
    let ada = insert_ok(&users, NewUser { verification: Some(mailed), ..new_user(1, "ada@example.com", t) }).await;
    let old = tokens.issue_token(ada.id, reset("old", "ada@example.com", t), INTERVAL, None).await;
    assert_eq!(old.unwrap(), TokenIssue::Queued);

    // when a newer reset token is issued,
    let new = tokens.issue_token(ada.id, reset("new", "ada@example.com", t + seconds(61)), INTERVAL, None).await;
    assert_eq!(new.unwrap(), TokenIssue::Queued);

    // then the older one no longer finds her nor resets anything, the newer one does, and the verification token
    // is left as it was.
    let at = t + seconds(62);
    assert_eq!(token_user(&tokens, "old", TokenPurpose::ResetPassword, at).await, None);
    assert_eq!(
        tokens
            .reset_password(
                &one_time("old"),
                other_password_hash(),
                &changed_notice(),
                at,
                audit(AuditKind::PasswordReset, at)
            )
            .await
            .unwrap(),
        None
    );
    assert_eq!(password_of(&users, "ada@example.com").await, password_hash());
    assert_eq!(token_user(&tokens, "new", TokenPurpose::ResetPassword, at).await, Some(ada.clone()));
    assert_eq!(token_user(&tokens, "ada-verify", TokenPurpose::VerifyEmail, at).await, Some(ada));
}

pub async fn a_new_password_or_address_voids_the_links_mailed_before<
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
    // Given a user with a verification link and a reset link,
    let t = now();
    let mailed = verification("ada-verify", "ada@example.com", t);
    let ada = insert_ok(&users, NewUser { verification: Some(mailed), ..new_user(1, "ada@example.com", t) }).await;
    let issued = tokens.issue_token(ada.id, reset("ada-reset", "ada@example.com", t), INTERVAL, None).await;
    assert_eq!(issued.unwrap(), TokenIssue::Queued);

    // when her password changes,
    let new_password = UserUpdate { password_hash: Some(other_password_hash()), ..touch(t + seconds(1)) };
    users.update(ada.id, new_password).await.expect("new password");

    // then neither link works any more,
    let at = t + seconds(2);
    assert_eq!(token_user(&tokens, "ada-reset", TokenPurpose::ResetPassword, at).await, None);
    assert_eq!(token_user(&tokens, "ada-verify", TokenPurpose::VerifyEmail, at).await, None);

    // and a link mailed before a change of address stays dead when the address comes back.
    let later = t + seconds(120);
    let issued = tokens.issue_token(ada.id, reset("second-reset", "ada@example.com", later), INTERVAL, None).await;
    assert_eq!(issued.unwrap(), TokenIssue::Queued);
    for (address, at) in [("ada@example.org", later + seconds(1)), ("ada@example.com", later + seconds(2))] {
        users.update(ada.id, UserUpdate { email: Some(email(address)), ..touch(at) }).await.expect("new address");
    }
    assert_eq!(token_user(&tokens, "second-reset", TokenPurpose::ResetPassword, later + seconds(3)).await, None);
}

pub async fn an_address_is_sent_one_verification_or_notice_per_interval_whatever_the_changes<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    O: MailOutbox,
>(
    users: U,
    _sessions: S,
    _tokens: T,
    outbox: O,
) {
    // Given an account whose sign-up verification went out long ago,
    let t = now();
    let mailed = verification("ada-verify", "ada@example.com", t);
    let ada = insert_ok(&users, NewUser { verification: Some(mailed), ..new_user(1, "ada@example.com", t) }).await;
    for sent in claim_all(&outbox, t).await {
        outbox.settle_sent(sent.id).await.expect("sent");
    }
    let change_to = |address: &str, token: &str, at: DateTime<Utc>, from: &str| UserUpdate {
        email: Some(email(address)),
        email_verified: Some(false),
        verification: Some(verification(token, address, at)),
        notices: vec![Mail { to: email(from), content: MailContent::EmailChanged { new_email: email(address) } }],
        ..touch(at)
    };

    // when it moves to a victim's address, back, and to the victim's again, all within a minute,
    let later = t + seconds(600);
    let hops = [
        ("victim@example.com", "hop-1", "ada@example.com"),
        ("ada@example.com", "hop-2", "victim@example.com"),
        ("victim@example.com", "hop-3", "ada@example.com"),
    ];
    for (step, (address, token, from)) in hops.into_iter().enumerate() {
        let at = later + seconds(i64::try_from(step).unwrap() * 10);
        users.update(ada.id, change_to(address, token, at, from)).await.expect("change of address");
    }

    // then the victim got one verification and nothing more (no notice of the move back, no second verification),
    // and Ada's address the first notice and a verification when she came back, but no notice after it: each address
    // at most one of these mails within the interval.
    let claimed = claim_all(&outbox, later + seconds(30)).await;
    let sent: Vec<(String, MailKind)> =
        claimed.iter().map(|queued| (queued.mail.to.to_string(), queued.mail.kind())).collect();
    let expected = [
        ("victim@example.com".to_owned(), MailKind::VerifyEmail),
        ("ada@example.com".to_owned(), MailKind::EmailChanged),
        ("ada@example.com".to_owned(), MailKind::VerifyEmail),
    ];
    assert_eq!(sent, expected);
    for queued in claimed {
        outbox.settle_sent(queued.id).await.expect("sent");
    }
    // And a minute after, the victim's address may be sent a verification again.
    let again = later + seconds(100);
    users.update(ada.id, change_to("ada@example.com", "hop-4", again, "victim@example.com")).await.unwrap();
    users
        .update(ada.id, change_to("victim@example.com", "hop-5", again + seconds(1), "ada@example.com"))
        .await
        .unwrap();
    let claimed = claim_all(&outbox, again + seconds(2)).await;
    assert!(claimed.iter().any(|queued| queued.mail.to == email("victim@example.com")), "{claimed:?}");
}

pub async fn a_password_reset_replaces_the_password_ends_sessions_clears_the_lockout_and_verifies<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    O: MailOutbox,
>(
    users: U,
    sessions: S,
    tokens: T,
    outbox: O,
) {
    // Given an unverified user signed in twice, whose account a network has been locked out of,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let first = sessions.create(new_session(ada.id, "ada-1", t, t + seconds(3600))).await.unwrap().expect("created");
    let second = sessions.create(new_session(ada.id, "ada-2", t, t + seconds(3600))).await.unwrap().expect("created");
    let ada = signed_in_at(ada, t);
    let attacker = network("203.0.113.9");
    for _ in 0..LOCKOUT.threshold {
        attempt(&users, ada.id, &attacker, AttemptOutcome::Refused, t).await;
    }
    let locked = users.begin_login_attempt(ada.id, &attacker, t + seconds(1), &LOCKOUT).await.unwrap();
    assert!(matches!(locked, LoginAttempt::Locked { .. }), "{locked:?}");
    assert_ne!(throttle_of(&users, "ada@example.com").await, LoginThrottle::default());
    // (read once, so that a store that remembers signed-in users remembers these)
    assert!(users.find_signed_in(ada.id, first, t + seconds(1)).await.unwrap().is_some());
    assert!(users.find_signed_in(ada.id, second, t + seconds(1)).await.unwrap().is_some());
    // and a reset token.
    let issued = tokens.issue_token(ada.id, reset("ada-reset", "ada@example.com", t), INTERVAL, None).await.unwrap();
    assert_eq!(issued, TokenIssue::Queued);

    // When she resets her password with it,
    let at = t + seconds(10);
    let reset = tokens
        .reset_password(
            &one_time("ada-reset"),
            other_password_hash(),
            &changed_notice(),
            at,
            audit(AuditKind::PasswordReset, at),
        )
        .await
        .unwrap();

    // then she is herself, her address verified (the mail reached it) as of the reset;
    let expected = User { email_verified: true, updated_at: at, ..ada.clone() };
    assert_eq!(reset, Some(expected.clone()));
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(expected.clone()));
    // the new password is hers, and no failure or lock is left of the account;
    let credentials = users.find_credentials(&LoginIdentifier::Email(email("ada@example.com"))).await.unwrap();
    let credentials = credentials.expect("found");
    assert_eq!(credentials.password_hash, other_password_hash());
    assert_eq!(credentials.throttle, LoginThrottle::default());
    // none of her sessions signs her in any more;
    assert_eq!(users.find_signed_in(ada.id, first, at).await.unwrap(), None);
    assert_eq!(users.find_signed_in(ada.id, second, at).await.unwrap(), None);
    // the network is no longer locked out; and the notice of the change is queued with it.
    assert_eq!(users.begin_login_attempt(ada.id, &attacker, at, &LOCKOUT).await.unwrap(), LoginAttempt::Allowed);
    let queued = claim_all(&outbox, at).await;
    assert_eq!(queued.last().map(|queued| &queued.mail), Some(&changed_notice()), "{queued:?}");

    // When the token is used again, then nothing happens: the password stays the new one.
    let again = tokens
        .reset_password(
            &one_time("ada-reset"),
            password_hash(),
            &changed_notice(),
            at + seconds(1),
            audit(AuditKind::PasswordReset, at + seconds(1)),
        )
        .await
        .unwrap();
    assert_eq!(again, None);
    assert_eq!(password_of(&users, "ada@example.com").await, other_password_hash());
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(expected));
}

pub async fn concurrent_resets_with_one_token_succeed_once<
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
    // Given a user with a reset token, and the store's connections open,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    let issued = tokens.issue_token(ada.id, reset("ada-reset", "ada@example.com", t), INTERVAL, None).await.unwrap();
    assert_eq!(issued, TokenIssue::Queued);
    open_connections(&tokens, t).await;

    // when ten resets with the token race, each with a password of its own,
    let hashes: Vec<PasswordHash> =
        (0..10).map(|n| PasswordHash::new(format!("{}{n}", other_password_hash().as_str()))).collect();
    let (token, notice) = (one_time("ada-reset"), changed_notice());
    let resets = join_all(hashes.iter().map(|hash| {
        tokens.reset_password(
            &token,
            hash.clone(),
            &notice,
            t + seconds(1),
            audit(AuditKind::PasswordReset, t + seconds(1)),
        )
    }))
    .await;
    let resets: Vec<Option<User>> = resets.into_iter().map(Result::unwrap).collect();

    // then exactly one succeeds, and its password is the one stored.
    let winners: Vec<usize> = resets.iter().enumerate().filter_map(|(n, reset)| reset.is_some().then_some(n)).collect();
    assert_eq!(winners.len(), 1, "{resets:?}");
    assert_eq!(password_of(&users, "ada@example.com").await, hashes[winners[0]]);
}

pub async fn an_email_change_queues_a_verification_and_a_notice_with_the_update<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    O: MailOutbox,
>(
    users: U,
    _sessions: S,
    tokens: T,
    outbox: O,
) {
    // Given a verified user,
    let t = now();
    let ada = insert_ok(&users, NewUser { email_verified: true, ..new_user(1, "ada@example.com", t) }).await;

    // when her address changes, unverified, with a verification for the new address and a notice to the old one,
    let at = t + seconds(1);
    let mailed = verification("ada-new", "ada@new.example", at);
    let notice = Mail {
        to: email("ada@example.com"),
        content: MailContent::EmailChanged { new_email: email("ada@new.example") },
    };
    let change = UserUpdate {
        email: Some(email("ada@new.example")),
        email_verified: Some(false),
        verification: Some(mailed.clone()),
        notices: vec![notice.clone()],
        ..touch(at)
    };
    let changed = users.update(ada.id, change).await.expect("update");
    assert_eq!(changed.email, email("ada@new.example"));
    assert!(!changed.email_verified);

    // then both mails are queued with it, as of the update;
    let claimed = claim_all(&outbox, at).await;
    let mut mails: Vec<&Mail> = claimed.iter().map(|queued| &queued.mail).collect();
    mails.sort_by_key(|mail| mail.kind().as_str());
    assert_eq!(mails, [&notice, &mailed.mail]);
    assert!(claimed.iter().all(|queued| queued.queued_at == at));
    // and the new address's token finds her, and verifies it.
    assert_eq!(token_user(&tokens, "ada-new", TokenPurpose::VerifyEmail, at).await, Some(changed.clone()));
    let confirmed = tokens
        .confirm_email(&one_time("ada-new"), at + seconds(1), audit(AuditKind::EmailVerified, at + seconds(1)))
        .await
        .unwrap();
    assert_eq!(confirmed, Some(User { email_verified: true, updated_at: at + seconds(1), ..changed }));

    // When an update with mail fails (the address is taken), then it queues nothing and stores no token.
    let grace = insert_ok(&users, new_user(2, "grace@example.com", t)).await;
    let taken = UserUpdate {
        email: Some(email("ADA@new.example")),
        verification: Some(verification("grace-new", "ADA@new.example", at)),
        notices: vec![Mail { to: email("grace@example.com"), content: MailContent::Test }],
        ..touch(at)
    };
    assert!(matches!(users.update(grace.id, taken).await, Err(UpdateUserError::DuplicateEmail)));
    assert_eq!(outbox.depth().await.unwrap(), OutboxDepth { queued: 2, failed: 0 }, "only the first two");
    assert_eq!(token_user(&tokens, "grace-new", TokenPurpose::VerifyEmail, at).await, None);
}

pub async fn used_and_expired_tokens_are_purged<
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
    // Given a token used a second after it was made, one that expired after five seconds, and one still live,
    let t = now();
    let mailed = verification("used", "ada@example.com", t);
    let ada = insert_ok(&users, NewUser { verification: Some(mailed), ..new_user(1, "ada@example.com", t) }).await;
    assert!(
        tokens
            .confirm_email(&one_time("used"), t + seconds(1), audit(AuditKind::EmailVerified, t + seconds(1)))
            .await
            .unwrap()
            .is_some()
    );
    let short = mailed_token("expired", TokenPurpose::ResetPassword, "ada@example.com", t, seconds(5));
    assert_eq!(tokens.issue_token(ada.id, short, INTERVAL, None).await.unwrap(), TokenIssue::Queued);
    let live = verification("live", "ada@example.com", t + seconds(100));
    assert_eq!(tokens.issue_token(ada.id, live, INTERVAL, None).await.unwrap(), TokenIssue::Queued);

    // when tokens used or expired before ten seconds in are purged, then the first two go,
    assert_eq!(tokens.purge_tokens(t + seconds(10)).await.unwrap(), 2);
    // and the live one still works; purging again finds nothing more.
    let live_user = token_user(&tokens, "live", TokenPurpose::VerifyEmail, t + seconds(101)).await;
    assert_eq!(live_user.map(|user| user.id), Some(ada.id));
    assert_eq!(tokens.purge_tokens(t + seconds(10)).await.unwrap(), 0);
}

pub async fn deleting_a_user_deletes_its_tokens_but_not_its_mail<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    O: MailOutbox,
>(
    users: U,
    _sessions: S,
    tokens: T,
    outbox: O,
) {
    // Given a user who signed up with a verification token, and another user,
    let t = now();
    let mailed = verification("ada-verify", "ada@example.com", t);
    let ada =
        insert_ok(&users, NewUser { verification: Some(mailed.clone()), ..new_user(1, "ada@example.com", t) }).await;
    insert_ok(&users, new_user(2, "grace@example.com", t)).await;

    // when she is deleted,
    users.delete(ada.id, audit(AuditKind::UserDeleted, now())).await.expect("delete");

    // then her token is gone with her (even a purge of everything finds nothing to purge),
    assert_eq!(token_user(&tokens, "ada-verify", TokenPurpose::VerifyEmail, t).await, None);
    assert_eq!(tokens.purge_tokens(t + TimeDelta::days(3650)).await.unwrap(), 0);
    // but the mail queued for her is still delivered.
    let claimed = claim_all(&outbox, t).await;
    assert_eq!(claimed.iter().map(|queued| &queued.mail).collect::<Vec<_>>(), [&mailed.mail]);
}
