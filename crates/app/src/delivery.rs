//! The delivery of queued mail: what is due is claimed from the outbox, handed to the transport and settled (sent,
//! tried again later with a growing wait, or given up after a day), on every instance at once.

use chrono::Duration;
use users_ports::{Clock, MailError, MailKind, MailOutbox, MailSender, OutboxDepth};

use crate::Unexpected;

/// When a message is tried again, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure; each further failure doubles it.
    pub first_wait: Duration,
    pub longest_wait: Duration,
    /// A message still undelivered this long after it was queued is given up (marked failed).
    pub give_up_after: Duration,
    /// How long a claimed message is hidden from other workers: a worker that dies while delivering leaves it to
    /// be claimed again after this. A pass sends only in the first half of its lease, and the second half is longer
    /// than one delivery may take (the SMTP transport gives up after 30 s), so no message is sent twice while its
    /// worker lives.
    pub lease: Duration,
    /// Messages claimed at once.
    pub batch: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first_wait: Duration::seconds(1),
            longest_wait: Duration::minutes(5),
            give_up_after: Duration::hours(24),
            lease: Duration::minutes(5),
            batch: 10,
        }
    }
}

impl RetryPolicy {
    /// The wait before the next try of a message that has failed `failures` times.
    pub fn wait_after(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        (self.first_wait * 2_i32.saturating_pow(doublings)).min(self.longest_wait)
    }
}

/// What one pass over the due messages did, for the metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryPass {
    /// Each message sent, with how long after it was queued.
    pub sent: Vec<(MailKind, Duration)>,
    pub retried: Vec<MailKind>,
    /// Given up: refused for good by the transport, or still failing after [`RetryPolicy::give_up_after`].
    pub failed: Vec<MailKind>,
    /// Whether the pass claimed a full batch, so more may be due at once.
    pub full: bool,
}

/// Delivers the outbox's messages through a transport.
#[derive(Debug)]
pub struct MailDelivery<O, S, C> {
    outbox: O,
    sender: S,
    clock: C,
    policy: RetryPolicy,
}

impl<O: MailOutbox, S: MailSender, C: Clock> MailDelivery<O, S, C> {
    pub fn new(outbox: O, sender: S, clock: C, policy: RetryPolicy) -> Self {
        Self { outbox, sender, clock, policy }
    }

    /// Claims the messages due now and tries each once, in the first half of their lease. A store fault stops the
    /// pass; what it had claimed and not settled is claimed again when its lease ends, as is what it had no time
    /// left to send (a slow transport).
    pub async fn deliver_due(&self) -> Result<DeliveryPass, Unexpected> {
        let claimed_at = self.clock.now();
        let lease_until = claimed_at + self.policy.lease;
        let send_until = claimed_at + self.policy.lease / 2;
        let claimed = self.outbox.claim_due(claimed_at, lease_until, self.policy.batch).await?;
        let mut pass = DeliveryPass { full: claimed.len() >= self.policy.batch as usize, ..DeliveryPass::default() };
        for queued in claimed {
            if self.clock.now() >= send_until {
                tracing::warn!(
                    mail = queued.id.0,
                    "mail transport slow: the rest of the batch waits for its lease to end"
                );
                break;
            }
            let kind = queued.mail.kind();
            let outcome = self.sender.send(&queued.mail).await;
            let now = self.clock.now();
            match outcome {
                Ok(()) => {
                    self.outbox.settle_sent(queued.id).await?;
                    pass.sent.push((kind, now - queued.queued_at));
                }
                Err(MailError::Rejected(cause)) => {
                    tracing::warn!(mail = queued.id.0, kind = kind.as_str(), %cause, "mail rejected for good: given up");
                    self.outbox.settle_failed(queued.id, now).await?;
                    pass.failed.push(kind);
                }
                Err(MailError::Unavailable(cause)) if now - queued.queued_at >= self.policy.give_up_after => {
                    tracing::warn!(mail = queued.id.0, kind = kind.as_str(), %cause, "mail undelivered for a day: given up");
                    self.outbox.settle_failed(queued.id, now).await?;
                    pass.failed.push(kind);
                }
                Err(MailError::Unavailable(cause)) => {
                    let wait = self.policy.wait_after(queued.attempts + 1);
                    tracing::info!(mail = queued.id.0, kind = kind.as_str(), %cause, retry_in_secs = wait.num_seconds(), "mail not delivered yet");
                    self.outbox.settle_retry(queued.id, now + wait).await?;
                    pass.retried.push(kind);
                }
            }
        }
        Ok(pass)
    }

    /// How many messages wait, and how many were given up.
    pub async fn depth(&self) -> Result<OutboxDepth, Unexpected> {
        Ok(self.outbox.depth().await?)
    }

    /// Delivers for as long as the returned future is polled: a pass, then `idle` unless the pass was full.
    /// `observe` sees each pass (or its fault) as it ends, with the outbox's depth after it.
    pub async fn run(
        &self,
        idle: Duration,
        mut observe: impl FnMut(&Result<DeliveryPass, Unexpected>, Option<OutboxDepth>),
    ) {
        loop {
            let pass = self.deliver_due().await;
            let depth = self.depth().await.ok();
            observe(&pass, depth);
            if !matches!(pass, Ok(DeliveryPass { full: true, .. })) {
                self.clock.sleep(idle).await;
            }
        }
    }
}
