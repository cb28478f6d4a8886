//! Mail wiring: the delivery worker over the store's outbox and the configured transport, and the metrics it
//! reports (described here, at zero from the first scrape).

use chrono::Duration;
use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use users_app::{DeliveryPass, MailDelivery, SystemClock, Unexpected};
use users_mail::Transport;
use users_ports::{MailKind, OutboxDepth};
use users_store::StoreOutbox;

/// The delivery of the store's outbox through the configured transport.
pub type Delivery = MailDelivery<StoreOutbox, Transport, SystemClock>;

/// How often each instance looks for due mail when the last look found less than a batch.
const LOOK_EVERY: Duration = Duration::seconds(1);

/// Describes the delivery metrics and starts every series at zero.
pub fn describe_metrics() {
    describe_gauge!("mail_outbox_queued", "Messages in the outbox waiting to be delivered (all instances' alike)");
    describe_gauge!("mail_outbox_failed", "Messages given up on: still in the outbox, marked failed");
    describe_counter!("mail_sent_total", "Messages the transport accepted, by kind");
    describe_counter!("mail_retries_total", "Deliveries that failed and will be tried again, by kind");
    describe_counter!("mail_failed_total", "Messages given up on, by kind: refused for good, or undelivered for a day");
    describe_counter!("mail_delivery_errors_total", "Delivery passes stopped by a store fault");
    describe_histogram!("mail_delivery_seconds", Unit::Seconds, "Time from a message's queueing to its acceptance");
    for kind in MailKind::ALL.map(MailKind::as_str) {
        counter!("mail_sent_total", "kind" => kind).absolute(0);
        counter!("mail_retries_total", "kind" => kind).absolute(0);
        counter!("mail_failed_total", "kind" => kind).absolute(0);
    }
    counter!("mail_delivery_errors_total").absolute(0);
    gauge!("mail_outbox_queued").set(0.0);
    gauge!("mail_outbox_failed").set(0.0);
}

/// Delivers the outbox's mail for as long as the future is polled (the server aborts it when it stops; a message
/// under way then is delivered again after its lease: delivery is at least once). A worker that panics is logged,
/// counted and started again, rather than leaving the instance silently without mail.
pub async fn deliver(delivery: Delivery) {
    let delivery = std::sync::Arc::new(delivery);
    loop {
        let worker = std::sync::Arc::clone(&delivery);
        let mut worker = Worker(tokio::spawn(async move { worker.run(LOOK_EVERY, record).await }));
        match (&mut worker.0).await {
            Err(failure) if failure.is_panic() => {
                counter!("mail_delivery_errors_total").increment(1);
                tracing::error!("the mail delivery worker panicked; starting it again in a second");
                tokio::time::sleep(LOOK_EVERY.to_std().unwrap_or_default()).await;
            }
            _ => return,
        }
    }
}

/// The running worker, stopped with whoever waits for it.
struct Worker(tokio::task::JoinHandle<()>);

impl Drop for Worker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn record(pass: &Result<DeliveryPass, Unexpected>, depth: Option<OutboxDepth>) {
    match pass {
        Ok(pass) => {
            for (kind, latency) in &pass.sent {
                counter!("mail_sent_total", "kind" => kind.as_str()).increment(1);
                let seconds = latency.to_std().map_or(0.0, |latency| latency.as_secs_f64());
                histogram!("mail_delivery_seconds").record(seconds);
            }
            for kind in &pass.retried {
                counter!("mail_retries_total", "kind" => kind.as_str()).increment(1);
            }
            for kind in &pass.failed {
                counter!("mail_failed_total", "kind" => kind.as_str()).increment(1);
            }
        }
        Err(error) => {
            counter!("mail_delivery_errors_total").increment(1);
            tracing::warn!(%error, "delivering mail failed; trying again shortly");
        }
    }
    if let Some(depth) = depth {
        gauge!("mail_outbox_queued").set(depth.queued as f64);
        gauge!("mail_outbox_failed").set(depth.failed as f64);
    }
}
