//! `CachedSessions` over a store (the in-memory one): signed-in users are answered from memory only while its change
//! feed proves itself, and every write through it forgets what that write may have changed.

use std::sync::Weak;
use std::time::{Duration, Instant};

use users_memory_store::MemoryStore;
use users_ports::{
    AuditKind, ChangeFeed, ChangeObserver, OneTimeTokenRepository, SessionId, SessionRepository, TokenIssue,
    TokenPurpose, UserRepository,
};
use users_store::CachedSessions;
use users_store_contract::{
    audit, email, insert_ok, mailed_token, new_session, new_user, now, one_time, other_password_hash, seconds,
    suspension, touch,
};

/// A feed that hears no change at all, and proves so every few milliseconds: whatever the cache then remembers stays
/// remembered until a write through the cache forgets it.
struct QuietFeed;

impl ChangeFeed for QuietFeed {
    async fn follow(self, observer: Weak<dyn ChangeObserver>) {
        while let Some(observer) = observer.upgrade() {
            observer.heard_everything_before(Instant::now());
            drop(observer);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

type Cached = CachedSessions<
    users_memory_store::MemoryUsers,
    users_memory_store::MemorySessions,
    users_memory_store::MemoryOneTimeTokens,
    users_memory_store::MemorySecondFactors,
>;

/// `memory`'s repositories behind a cache that allows a second of lag.
fn cached(memory: &MemoryStore) -> Cached {
    CachedSessions::new(
        memory.users(),
        memory.sessions(),
        memory.one_time_tokens(),
        memory.second_factors(),
        Duration::from_secs(1),
    )
}

/// A signed-in user in `memory`, behind a cache that follows a quiet feed (once it has proven itself).
async fn signed_in(memory: &MemoryStore) -> (Cached, users_domain::User, SessionId) {
    let cached = cached(memory);
    tokio::spawn(cached.follow(QuietFeed));
    while !cached.hears_changes() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let t = now();
    let ada = insert_ok(&cached, new_user(1, "ada@example.com", t)).await;
    let session = cached.create(new_session(ada.id, "ada-1", t, t + seconds(3600))).await.unwrap().unwrap();
    (cached, ada, session)
}

#[tokio::test]
async fn a_signed_in_user_is_answered_from_memory_while_the_feed_hears_nothing() {
    // Given a user read once through the cache
    let memory = MemoryStore::new();
    let (cached, ada, session) = signed_in(&memory).await;
    let remembered = cached.find_signed_in(ada.id, session, now()).await.unwrap();
    assert!(remembered.is_some());

    // When the session ends behind the cache's back, and the feed does not tell
    memory.sessions().revoke(session, now(), audit(AuditKind::UserSignedOut, now())).await.unwrap();

    // Then the cache still answers from memory: it remembers, as it should while the feed proves it heard all
    assert_eq!(cached.find_signed_in(ada.id, session, now()).await.unwrap(), remembered);
}

#[tokio::test]
async fn a_session_revoked_through_the_cache_is_forgotten_at_once() {
    // Given a user read once through the cache
    let memory = MemoryStore::new();
    let (cached, ada, session) = signed_in(&memory).await;
    assert!(cached.find_signed_in(ada.id, session, now()).await.unwrap().is_some());

    // When the session is revoked through the cache
    cached.revoke(session, now(), audit(AuditKind::UserSignedOut, now())).await.unwrap();

    // Then the next check finds no signed-in user
    assert_eq!(cached.find_signed_in(ada.id, session, now()).await.unwrap(), None);
}

#[tokio::test]
async fn every_write_that_changes_a_user_or_ends_their_sessions_is_forgotten_at_once() {
    let memory = MemoryStore::new();
    let (cached, ada, session) = signed_in(&memory).await;

    // Given the user remembered, when their email is changed through the cache, then the next check sees it
    assert!(cached.find_signed_in(ada.id, session, now()).await.unwrap().is_some());
    let mut update = touch(now() + seconds(1));
    update.email = Some(email("ada@example.org"));
    cached.update(ada.id, update).await.unwrap();
    let seen = cached.find_signed_in(ada.id, session, now()).await.unwrap().expect("still signed in");
    assert_eq!(seen.email, email("ada@example.org"));

    // Given the user remembered again, when all their sessions are ended through the cache, then none is answered
    assert!(cached.find_signed_in(ada.id, session, now()).await.unwrap().is_some());
    cached.revoke_all_of_user(ada.id, None, now(), audit(AuditKind::SessionRevoked, now())).await.unwrap();
    assert_eq!(cached.find_signed_in(ada.id, session, now()).await.unwrap(), None);
}

#[tokio::test]
async fn an_address_confirmed_through_the_cache_is_seen_verified_at_once() {
    // Given a user read once through the cache, with a verification token
    let memory = MemoryStore::new();
    let (cached, ada, session) = signed_in(&memory).await;
    let mailed = mailed_token("ada-verify", TokenPurpose::VerifyEmail, "ada@example.com", now(), seconds(3600));
    assert_eq!(cached.issue_token(ada.id, mailed, seconds(60), None).await.unwrap(), TokenIssue::Queued);
    assert!(!cached.find_signed_in(ada.id, session, now()).await.unwrap().expect("signed in").email_verified);

    // When the address is confirmed through the cache
    cached
        .confirm_email(&one_time("ada-verify"), now(), audit(AuditKind::EmailVerified, now()))
        .await
        .unwrap()
        .expect("confirmed");

    // Then the next check sees it verified
    assert!(cached.find_signed_in(ada.id, session, now()).await.unwrap().expect("signed in").email_verified);
}

#[tokio::test]
async fn a_password_reset_through_the_cache_ends_the_remembered_sessions_at_once() {
    // Given a user read once through the cache, with a reset token
    let memory = MemoryStore::new();
    let (cached, ada, session) = signed_in(&memory).await;
    let mailed = mailed_token("ada-reset", TokenPurpose::ResetPassword, "ada@example.com", now(), seconds(1800));
    assert_eq!(cached.issue_token(ada.id, mailed, seconds(60), None).await.unwrap(), TokenIssue::Queued);
    assert!(cached.find_signed_in(ada.id, session, now()).await.unwrap().is_some());

    // When the password is reset through the cache
    let notice = users_ports::Mail { to: email("ada@example.com"), content: users_ports::MailContent::PasswordChanged };
    cached
        .reset_password(
            &one_time("ada-reset"),
            other_password_hash(),
            &notice,
            now(),
            audit(AuditKind::PasswordReset, now()),
        )
        .await
        .unwrap()
        .expect("reset");

    // Then the session signs no one in
    assert_eq!(cached.find_signed_in(ada.id, session, now()).await.unwrap(), None);
}

#[tokio::test]
async fn a_session_ended_by_its_key_through_the_cache_is_forgotten_at_once() {
    // Given a user read once through the cache, through a session whose key the user knows
    let memory = MemoryStore::new();
    let (cached, ada, _session) = signed_in(&memory).await;
    let t = now();
    let named = new_session(ada.id, "ada-named", t, t + seconds(3600));
    let key = named.key.clone();
    let session = cached.create(named).await.unwrap().unwrap();
    assert!(cached.find_signed_in(ada.id, session, now()).await.unwrap().is_some());

    // When the user ends it by its key through the cache
    assert_eq!(
        cached.revoke_by_key(ada.id, &key, now(), audit(AuditKind::SessionRevoked, now())).await.unwrap(),
        Some(session)
    );

    // Then it signs no one in
    assert_eq!(cached.find_signed_in(ada.id, session, now()).await.unwrap(), None);
}

#[tokio::test]
async fn a_suspension_and_its_lifting_through_the_cache_are_seen_at_once() {
    // Given a user read once through the cache
    let memory = MemoryStore::new();
    let (cached, ada, session) = signed_in(&memory).await;
    assert!(cached.find_signed_in(ada.id, session, now()).await.unwrap().is_some());

    // When the user is suspended through the cache, then the session it ended signs no one in
    cached
        .suspend(ada.id, suspension(now(), None, Some("abuse")), audit(AuditKind::UserSuspended, now()))
        .await
        .unwrap();
    assert_eq!(cached.find_signed_in(ada.id, session, now()).await.unwrap(), None);

    // Given a suspension that has run out, and a session started since, read (with the suspension) through the cache
    let t = now();
    cached
        .suspend(ada.id, suspension(t, Some(t + seconds(1)), None), audit(AuditKind::UserSuspended, t))
        .await
        .unwrap();
    let later = cached.create(new_session(ada.id, "ada-2", t + seconds(2), t + seconds(3600))).await.unwrap().unwrap();
    let read = cached.find_signed_in(ada.id, later, t + seconds(3)).await.unwrap().expect("signed in");
    assert!(read.suspension.is_some());

    // When the suspension is lifted through the cache, then the next check sees it lifted
    cached.unsuspend(ada.id, t + seconds(3), audit(AuditKind::UserUnsuspended, t)).await.unwrap().expect("lifted");
    let read = cached.find_signed_in(ada.id, later, t + seconds(4)).await.unwrap().expect("signed in");
    assert_eq!(read.suspension, None);
}

#[tokio::test]
async fn a_deleted_user_is_forgotten_at_once() {
    // Given a user read once through the cache
    let memory = MemoryStore::new();
    let (cached, ada, session) = signed_in(&memory).await;
    assert!(cached.find_signed_in(ada.id, session, now()).await.unwrap().is_some());

    // When the user is deleted through the cache
    cached.delete(ada.id, audit(AuditKind::UserDeleted, now())).await.unwrap();

    // Then their token finds no one
    assert_eq!(cached.find_signed_in(ada.id, session, now()).await.unwrap(), None);
}

#[tokio::test]
async fn without_a_feed_nothing_is_answered_from_memory() {
    // Given a cache that follows no feed, and a user read once through it
    let memory = MemoryStore::new();
    let cached = cached(&memory);
    let t = now();
    let ada = insert_ok(&cached, new_user(1, "ada@example.com", t)).await;
    let session = cached.create(new_session(ada.id, "ada-1", t, t + seconds(3600))).await.unwrap().unwrap();
    assert!(cached.find_signed_in(ada.id, session, now()).await.unwrap().is_some());

    // When the session ends elsewhere
    memory.sessions().revoke(session, now(), audit(AuditKind::UserSignedOut, now())).await.unwrap();

    // Then the cache reads it again and finds it ended
    assert!(!cached.hears_changes());
    assert_eq!(cached.find_signed_in(ada.id, session, now()).await.unwrap(), None);
}

#[tokio::test]
async fn a_second_factor_confirmed_or_removed_through_the_cache_is_seen_at_once() {
    use users_ports::{RecoveryCodeHash, SealedSecret, SecondFactorRepository as _, TotpEnrolment, TotpRemoval};

    // Given a user read once through the cache, with a pending enrolment
    let memory = MemoryStore::new();
    let (cached, ada, session) = signed_in(&memory).await;
    let secret = SealedSecret("v1.test-key.sealed".to_owned());
    assert_eq!(cached.start_totp_enrolment(ada.id, secret.clone(), now()).await.unwrap(), TotpEnrolment::Started);
    assert!(!cached.find_signed_in(ada.id, session, now()).await.unwrap().expect("signed in").mfa_enabled);

    // When the factor is confirmed through the cache, then the next check sees it
    let code = users_domain::RecoveryCode::from_random([7; 10]);
    let codes = vec![RecoveryCodeHash::of(&code)];
    let step = users_domain::TotpStep::at(now());
    let enabled =
        cached.enable_totp(ada.id, &secret, step, None, codes, now(), audit(AuditKind::MfaEnabled, now())).await;
    assert!(enabled.unwrap());
    assert!(cached.find_signed_in(ada.id, session, now()).await.unwrap().expect("signed in").mfa_enabled);

    // When it is removed through the cache, then the next check sees it gone
    let removed = cached.remove_totp(ada.id, now(), audit(AuditKind::MfaDisabled, now())).await.unwrap();
    assert_eq!(removed, TotpRemoval::Enabled);
    assert!(!cached.find_signed_in(ada.id, session, now()).await.unwrap().expect("signed in").mfa_enabled);
}
