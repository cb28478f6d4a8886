//! The delivery of queued mail, against a mocked outbox and transport: what is claimed, and how each message is
//! settled after the transport's answer.

mod support;

use chrono::{DateTime, Duration, Utc};
use users_app::{DeliveryPass, MailDelivery, RetryPolicy};
use users_ports::{
    Mail, MailContent, MailError, MailId, MailKind, MockClock, MockMailOutbox, MockMailSender, QueuedMail, StoreError,
};

use support::*;

type Delivery = MailDelivery<MockMailOutbox, MockMailSender, MockClock>;

fn delivery(outbox: MockMailOutbox, sender: MockMailSender) -> Delivery {
    MailDelivery::new(outbox, sender, fixed_clock(), RetryPolicy::default())
}

/// A notice queued at `queued_at` and tried `attempts` times before.
fn queued(id: i64, queued_at: DateTime<Utc>, attempts: u32) -> QueuedMail {
    let content = MailContent::EmailChanged { new_email: email("new@example.com") };
    QueuedMail { id: MailId(id), mail: Mail { to: email("old@example.com"), content }, queued_at, attempts }
}

/// An outbox that hands out `mails` once, claimed at [`now`] for the default lease and batch.
fn outbox_with(mails: Vec<QueuedMail>) -> MockMailOutbox {
    let mut outbox = MockMailOutbox::new();
    outbox
        .expect_claim_due()
        .withf(|at, lease_until, limit| *at == now() && *lease_until == now() + Duration::minutes(5) && *limit == 10)
        .times(1)
        .returning(move |_, _, _| Ok(mails.clone()));
    outbox
}

fn transport_answering(answer: fn() -> Result<(), MailError>) -> MockMailSender {
    let mut sender = MockMailSender::new();
    sender.expect_send().times(1).returning(move |_| answer());
    sender
}

#[tokio::test]
async fn a_message_the_transport_accepts_leaves_the_outbox() {
    // Given a message queued ten seconds ago and a transport that takes it
    let mut outbox = outbox_with(vec![queued(1, now() - Duration::seconds(10), 0)]);
    outbox.expect_settle_sent().withf(|id| *id == MailId(1)).times(1).returning(|_| Ok(()));

    // when a pass runs,
    let pass = delivery(outbox, transport_answering(|| Ok(()))).deliver_due().await.unwrap();

    // then it was sent, ten seconds after it was queued.
    assert_eq!(
        pass,
        DeliveryPass { sent: vec![(MailKind::EmailChanged, Duration::seconds(10))], ..DeliveryPass::default() }
    );
}

#[tokio::test]
async fn a_message_the_transport_cannot_take_now_is_tried_again_a_second_later_the_first_time() {
    let mut outbox = outbox_with(vec![queued(1, now() - Duration::seconds(1), 0)]);
    outbox
        .expect_settle_retry()
        .withf(|id, at| *id == MailId(1) && *at == now() + Duration::seconds(1))
        .times(1)
        .returning(|_, _| Ok(()));
    let sender = transport_answering(|| Err(MailError::Unavailable("connection refused".into())));

    let pass = delivery(outbox, sender).deliver_due().await.unwrap();

    assert_eq!(pass.retried, vec![MailKind::EmailChanged]);
}

#[tokio::test]
async fn each_failure_doubles_the_wait_up_to_five_minutes() {
    let policy = RetryPolicy::default();
    let waits: Vec<i64> = (1..=12).map(|failures| policy.wait_after(failures).num_seconds()).collect();
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
    assert_eq!(policy.wait_after(u32::MAX), Duration::minutes(5));
}

#[tokio::test]
async fn a_message_tried_four_times_before_waits_sixteen_seconds() {
    let mut outbox = outbox_with(vec![queued(3, now() - Duration::minutes(1), 4)]);
    outbox.expect_settle_retry().withf(|_, at| *at == now() + Duration::seconds(16)).times(1).returning(|_, _| Ok(()));
    let sender = transport_answering(|| Err(MailError::Unavailable("timeout".into())));

    delivery(outbox, sender).deliver_due().await.unwrap();
}

#[tokio::test]
async fn a_message_still_undelivered_after_a_day_is_given_up() {
    let mut outbox = outbox_with(vec![queued(1, now() - Duration::hours(24), 300)]);
    outbox.expect_settle_retry().never();
    outbox.expect_settle_failed().withf(|id, at| *id == MailId(1) && *at == now()).times(1).returning(|_, _| Ok(()));
    let sender = transport_answering(|| Err(MailError::Unavailable("connection refused".into())));

    let pass = delivery(outbox, sender).deliver_due().await.unwrap();

    assert_eq!(pass.failed, vec![MailKind::EmailChanged]);
}

#[tokio::test]
async fn a_message_refused_for_good_is_given_up_at_once() {
    let mut outbox = outbox_with(vec![queued(1, now(), 0)]);
    outbox.expect_settle_failed().times(1).returning(|_, _| Ok(()));
    outbox.expect_settle_retry().never();
    let sender = transport_answering(|| Err(MailError::Rejected("550 no such mailbox".into())));

    let pass = delivery(outbox, sender).deliver_due().await.unwrap();

    assert_eq!(pass.failed, vec![MailKind::EmailChanged]);
}

#[tokio::test]
async fn a_full_batch_says_more_may_be_due() {
    let mails = (1..=10).map(|id| queued(id, now(), 0)).collect();
    let mut outbox = outbox_with(mails);
    outbox.expect_settle_sent().times(10).returning(|_| Ok(()));
    let mut sender = MockMailSender::new();
    sender.expect_send().times(10).returning(|_| Ok(()));

    let pass = delivery(outbox, sender).deliver_due().await.unwrap();

    assert!(pass.full);
    assert_eq!(pass.sent.len(), 10);
}

#[tokio::test]
async fn a_store_fault_while_claiming_fails_the_pass_and_sends_nothing() {
    let mut outbox = MockMailOutbox::new();
    outbox.expect_claim_due().times(1).returning(|_, _, _| Err(StoreError::unavailable("connection refused")));
    let mut sender = MockMailSender::new();
    sender.expect_send().never();

    let pass = delivery(outbox, sender).deliver_due().await;

    assert!(pass.is_err_and(|error| error.is_unavailable()));
}

#[tokio::test]
async fn a_transport_too_slow_for_the_lease_leaves_the_rest_of_the_batch_to_it() {
    // Given two claimed messages, and a transport that took three of the lease's five minutes over the first,
    let mut outbox = outbox_with(vec![queued(1, now(), 0), queued(2, now(), 0)]);
    outbox.expect_settle_sent().withf(|id| *id == MailId(1)).times(1).returning(|_| Ok(()));
    let mut sender = MockMailSender::new();
    sender.expect_send().times(1).returning(|_| Ok(()));
    let mut clock = MockClock::new();
    let times = std::sync::Mutex::new(vec![now() + Duration::minutes(3), now() + Duration::minutes(3), now(), now()]);
    clock.expect_now().returning(move || times.lock().unwrap().pop().expect("a reading"));

    // when the pass runs,
    let pass = MailDelivery::new(outbox, sender, clock, RetryPolicy::default()).deliver_due().await.unwrap();

    // then the second is not sent: another worker may claim it once the lease ends, and would send it again.
    assert_eq!(pass.sent.len(), 1);
}
