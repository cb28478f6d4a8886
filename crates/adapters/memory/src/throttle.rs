//! The sign-in counts of one account from one network, and the room they leave for another attempt.

use chrono::{DateTime, Duration, Utc};

/// Attempts under way without a pause for this long were lost (a crash, a request dropped when its client hung up):
/// their room is given back, and they count as nothing. The same wait as the SQL stores'.
const LOST_ATTEMPTS_AFTER: Duration = Duration::seconds(15);

#[derive(Clone, Copy, Debug)]
pub(crate) struct NetworkThrottle {
    pub(crate) failures: u32,
    in_flight: u32,
    in_flight_since: Option<DateTime<Utc>>,
    pub(crate) locked_until: Option<DateTime<Utc>>,
    /// When it last failed or tried: idle counts are purged by it.
    pub(crate) updated_at: DateTime<Utc>,
}

impl NetworkThrottle {
    pub(crate) fn fresh(now: DateTime<Utc>) -> Self {
        Self { failures: 0, in_flight: 0, in_flight_since: None, locked_until: None, updated_at: now }
    }

    pub(crate) fn locked_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.locked_until.filter(|until| *until > now)
    }

    /// Attempts under way, not counting those lost long ago.
    pub(crate) fn live_in_flight(&self, now: DateTime<Utc>) -> u32 {
        let lost = self.in_flight_since.is_some_and(|since| since + LOST_ATTEMPTS_AFTER <= now);
        if lost { 0 } else { self.in_flight }
    }

    pub(crate) fn start_attempt(&mut self, now: DateTime<Utc>) {
        if self.live_in_flight(now) == 0 {
            self.in_flight = 0;
            self.in_flight_since = Some(now);
        }
        self.in_flight += 1;
        self.updated_at = now;
    }

    pub(crate) fn end_attempt(&mut self, now: DateTime<Utc>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0 {
            self.in_flight_since = None;
        }
        self.updated_at = now;
    }
}

/// Whether `in_flight` checks under way leave room for another before `failures` in a row reach `threshold`: as many
/// may run at once as failures are left, so that even if they all fail no more are checked than the threshold
/// allows; one at a time once a lock has run out.
pub(crate) fn room_for_another(threshold: u32, failures: u32, in_flight: u32) -> bool {
    in_flight < threshold.saturating_sub(failures).max(1)
}
