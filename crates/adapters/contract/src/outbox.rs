//! The mail outbox: mail is claimed oldest first, hidden from other claims until its lease ends, and settled as sent
//! (gone), to be retried (due again later) or failed (kept, never claimed again).

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::join_all;
use users_domain::UserId;
use users_ports::{
    Mail, MailContent, MailId, MailOutbox, NewUser, OneTimeTokenRepository, OutboxDepth, QueuedMail, SessionRepository,
    TokenIssue, TokenPurpose, UserRepository, UserUpdate,
};

use crate::fixtures::{claim_all, email, insert_ok, mailed_token, new_user, now, seconds, touch};

/// A message of the test kind to the `n`th address.
fn test_mail(n: usize) -> Mail {
    Mail { to: email(&format!("user{n}@example.com")), content: MailContent::Test }
}

/// Queues `mails` with an update of `user` at `at`, as a change that causes messages does (with no interval between
/// mails to one address: the outbox, not that rule, is under test here).
async fn queue<U: UserRepository>(users: &U, user: UserId, mails: Vec<Mail>, at: DateTime<Utc>) {
    let update = UserUpdate { notices: mails, mail_interval: TimeDelta::zero(), ..touch(at) };
    users.update(user, update).await.expect("update");
}

/// The ids of claimed mail, in the order claimed.
fn ids(claimed: &[QueuedMail]) -> Vec<MailId> {
    claimed.iter().map(|queued| queued.id).collect()
}

pub async fn mail_reads_back_as_it_was_queued<
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
    // Given a mail of every kind, queued one after the other,
    let t = now();
    let verify = mailed_token("ada-verify", TokenPurpose::VerifyEmail, "ada@example.com", t, TimeDelta::hours(24));
    let ada =
        insert_ok(&users, NewUser { verification: Some(verify.clone()), ..new_user(1, "ada@example.com", t) }).await;
    let reset = mailed_token("ada-reset", TokenPurpose::ResetPassword, "ada@example.com", t, TimeDelta::minutes(30));
    let issued = tokens.issue_token(ada.id, reset.clone(), seconds(60), None).await.unwrap();
    assert_eq!(issued, TokenIssue::Queued);
    let changed = Mail {
        to: email("ada@example.com"),
        content: MailContent::EmailChanged { new_email: email("ada@new.example") },
    };
    queue(&users, ada.id, vec![changed.clone(), test_mail(1)], t + seconds(1)).await;

    // when they are claimed, then each reads back as it was queued, in the order it was queued, never tried before.
    let claimed = claim_all(&outbox, t + seconds(1)).await;
    let mails: Vec<&Mail> = claimed.iter().map(|queued| &queued.mail).collect();
    assert_eq!(mails, [&verify.mail, &reset.mail, &changed, &test_mail(1)]);
    let queued_at: Vec<DateTime<Utc>> = claimed.iter().map(|queued| queued.queued_at).collect();
    assert_eq!(queued_at, [t, t, t + seconds(1), t + seconds(1)]);
    assert!(claimed.iter().all(|queued| queued.attempts == 0));
    assert!(ids(&claimed).windows(2).all(|pair| pair[0].0 < pair[1].0), "claimed in id order");
}

pub async fn the_oldest_due_mail_is_claimed_first_up_to_the_limit<
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
    // Given five mails due now, and one queued to be due in a minute,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    queue(&users, ada.id, (0..5).map(test_mail).collect(), t).await;
    queue(&users, ada.id, vec![test_mail(5)], t + seconds(60)).await;
    let lease = t + seconds(600);

    // when two are claimed at a time, then they come oldest first, each once,
    let first = outbox.claim_due(t, lease, 2).await.unwrap();
    let second = outbox.claim_due(t, lease, 2).await.unwrap();
    let third = outbox.claim_due(t, lease, 2).await.unwrap();
    let mails = |claimed: &[QueuedMail]| claimed.iter().map(|queued| queued.mail.clone()).collect::<Vec<_>>();
    assert_eq!(mails(&first), [test_mail(0), test_mail(1)]);
    assert_eq!(mails(&second), [test_mail(2), test_mail(3)]);
    // and the one not yet due is left for later.
    assert_eq!(mails(&third), [test_mail(4)]);
    assert_eq!(outbox.claim_due(t + seconds(59), lease, 2).await.unwrap(), []);
    assert_eq!(mails(&outbox.claim_due(t + seconds(60), lease, 2).await.unwrap()), [test_mail(5)]);
    assert_eq!(outbox.depth().await.unwrap(), OutboxDepth { queued: 6, failed: 0 }, "claimed mail is still queued");
}

pub async fn claimed_mail_is_hidden_until_its_lease_ends<
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
    // Given a mail claimed with a lease of a minute,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    queue(&users, ada.id, vec![test_mail(1)], t).await;
    let claimed = outbox.claim_due(t, t + seconds(60), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempts, 0);

    // then no other claim gets it while the lease lasts;
    assert_eq!(outbox.claim_due(t + seconds(59), t + seconds(120), 10).await.unwrap(), []);
    // when the lease ends unsettled (its worker died between claim and send), then it is claimed again, the try
    // that was lost counted.
    let again = outbox.claim_due(t + seconds(60), t + seconds(120), 10).await.unwrap();
    assert_eq!(ids(&again), ids(&claimed));
    assert_eq!(again[0].mail, claimed[0].mail);
    assert_eq!(again[0].queued_at, t);
    assert_eq!(again[0].attempts, 1);
}

pub async fn sent_mail_leaves_the_outbox<
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
    // Given two claimed mails,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    queue(&users, ada.id, vec![test_mail(1), test_mail(2)], t).await;
    let claimed = claim_all(&outbox, t).await;
    assert_eq!(claimed.len(), 2);

    // when the first is settled as sent, then it is gone: not counted, not claimed again;
    outbox.settle_sent(claimed[0].id).await.unwrap();
    assert_eq!(outbox.depth().await.unwrap(), OutboxDepth { queued: 1, failed: 0 });
    let later = claim_all(&outbox, t + seconds(60)).await;
    assert_eq!(ids(&later), [claimed[1].id]);
    // settling it again is harmless.
    outbox.settle_sent(claimed[0].id).await.unwrap();
    outbox.settle_sent(claimed[1].id).await.unwrap();
    assert_eq!(outbox.depth().await.unwrap(), OutboxDepth::default());
}

pub async fn retried_mail_is_due_again_at_its_next_attempt<
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
    // Given a claimed mail whose delivery failed, to be retried in five minutes,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    queue(&users, ada.id, vec![test_mail(1)], t).await;
    let claimed = claim_all(&outbox, t).await;
    outbox.settle_retry(claimed[0].id, t + seconds(300)).await.unwrap();

    // then it is not claimed before then, even once its lease is over;
    assert_eq!(claim_all(&outbox, t + seconds(60)).await, []);
    assert_eq!(claim_all(&outbox, t + seconds(299)).await, []);
    // and at that time it is, as the second try.
    let retried = claim_all(&outbox, t + seconds(300)).await;
    assert_eq!(ids(&retried), ids(&claimed));
    assert_eq!(retried[0].attempts, 1);
    assert_eq!(outbox.depth().await.unwrap(), OutboxDepth { queued: 1, failed: 0 });
}

pub async fn failed_mail_is_never_claimed_again_and_is_counted<
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
    // Given two claimed mails,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    queue(&users, ada.id, vec![test_mail(1), test_mail(2)], t).await;
    let claimed = claim_all(&outbox, t).await;

    // when the first is given up on, then it is counted as failed, the other as queued;
    outbox.settle_failed(claimed[0].id, t + seconds(1)).await.unwrap();
    assert_eq!(outbox.depth().await.unwrap(), OutboxDepth { queued: 1, failed: 1 });
    // and it is never claimed again, even if told to retry: only the other one is.
    outbox.settle_retry(claimed[0].id, t + seconds(2)).await.unwrap();
    let far = t + TimeDelta::days(30);
    assert_eq!(ids(&claim_all(&outbox, far).await), [claimed[1].id]);
    assert_eq!(claim_all(&outbox, far + TimeDelta::days(30)).await.len(), 1);
    assert_eq!(outbox.depth().await.unwrap(), OutboxDepth { queued: 1, failed: 1 });
}

pub async fn concurrent_claims_get_disjoint_mail<
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
    // Given twenty mails due, and the store's connections open,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    queue(&users, ada.id, (0..20).map(test_mail).collect(), t).await;
    for depth in join_all((0..10).map(|_| outbox.depth())).await {
        assert_eq!(depth.unwrap().queued, 20);
    }

    // when four workers claim five each at once,
    let claims = join_all((0..4).map(|_| outbox.claim_due(t, t + seconds(60), 5))).await;
    let claims: Vec<Vec<QueuedMail>> = claims.into_iter().map(Result::unwrap).collect();

    // then each gets five, and no mail is given to two of them.
    assert!(claims.iter().all(|claimed| claimed.len() == 5), "{:?}", claims.iter().map(Vec::len).collect::<Vec<_>>());
    let distinct: HashSet<MailId> = claims.iter().flat_map(|claimed| ids(claimed)).collect();
    assert_eq!(distinct.len(), 20);
}
