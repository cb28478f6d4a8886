//! The lockout rules: `LockoutPolicy` (how many failed sign-ins in a row lock an account, and for how long), the
//! counts it reads (`LoginThrottle` per account, `NetworkThrottle` per account and client network), and how an
//! attempt starts and ends (`begin_attempt`, `finish_attempt`). A store applies them inside its own transaction, so
//! that concurrent attempts, from this instance or another, each see the counts the previous one left.

use chrono::{DateTime, Duration, Utc};

/// After `threshold` failed sign-ins in a row from one client network, an account refuses sign-ins from that
/// network for `first_wait`, doubling with each further failure up to `max_wait`; after `backstop` failures in a
/// row from all networks together, it refuses them from everywhere, on the same scale. A successful sign-in starts
/// its network's count, and the account's, again.
///
/// The store applies it (`UserRepository::begin_login_attempt` and `finish_login_attempt` take it), because only
/// the store can count failures atomically across instances; the rule itself is the service's, and lives here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub threshold: u32,
    pub backstop: u32,
    pub first_wait: Duration,
    pub max_wait: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self { threshold: 10, backstop: 100, first_wait: Duration::minutes(1), max_wait: Duration::minutes(15) }
    }
}

impl LockoutPolicy {
    /// How long the account refuses sign-ins from a network after its `failures`-th failure in a row there.
    pub fn wait_after(&self, failures: u32) -> Option<Duration> {
        self.wait_beyond(failures, self.threshold)
    }

    /// How long the account refuses sign-ins from everywhere after its `failures`-th failure in a row overall.
    pub fn backstop_wait_after(&self, failures: u32) -> Option<Duration> {
        self.wait_beyond(failures, self.backstop)
    }

    fn wait_beyond(&self, failures: u32, threshold: u32) -> Option<Duration> {
        let beyond = failures.checked_sub(threshold)?;
        let factor = 2i32.checked_pow(beyond.min(30)).unwrap_or(i32::MAX);
        let wait = self.first_wait.checked_mul(factor).unwrap_or(self.max_wait);
        Some(wait.min(self.max_wait))
    }
}

/// Consecutive failed sign-ins of an account from every network together (the backstop against guessing spread
/// over many networks), and until when the account refuses sign-ins from anywhere.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoginThrottle {
    pub failed_logins: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

/// What a sign-in attempt may do, decided before its password is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginAttempt {
    /// The password may be checked. The attempt is counted as under way until it is finished (one never finished,
    /// lost in a crash or with its request, gives its room back after a while and counts for nothing).
    Allowed,
    /// The account refuses sign-ins from this network (or from everywhere) until then; nothing was counted.
    Locked { until: DateTime<Utc> },
    /// Attempts under way and failures in a row together reach the threshold (the network's, or the backstop over
    /// every network): had they all failed, this one must not be checked. Nothing was counted; ask again once some
    /// have finished.
    Busy,
}

/// How a sign-in attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The password was right: the network's and the account's failures are forgotten.
    Verified,
    /// The password was wrong: one more failure in a row, for the network and for the account.
    Refused,
    /// The password was never checked (the hashers were busy, or failed): it counts as nothing.
    Abandoned,
    /// The password was right, but the account asks for a second factor still to come: nothing is forgotten (else a
    /// guesser who has the password would clear the count of wrong codes with each sign-in), nothing counted.
    AwaitingSecondFactor,
}

/// Attempts under way without a pause for this long were lost (a crash, a request dropped when its client hung up):
/// checking a password takes milliseconds, or a second or so at the back of a full hashing queue. Their room is
/// given back, and they count as nothing: whatever their password, no answer reached anyone.
const LOST_ATTEMPTS_AFTER: Duration = Duration::seconds(15);

/// The sign-in counts of one account from one client network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkThrottle {
    /// Failed sign-ins in a row.
    pub failures: u32,
    /// Attempts under way (allowed, not yet finished), and since when there have been some without a pause.
    pub in_flight: u32,
    pub in_flight_since: Option<DateTime<Utc>>,
    /// Until when sign-ins from this network are refused.
    pub locked_until: Option<DateTime<Utc>>,
    /// When an attempt last started or ended: idle counts are purged by it.
    pub updated_at: DateTime<Utc>,
}

impl NetworkThrottle {
    /// The counts of a network that has not tried yet.
    pub fn fresh(now: DateTime<Utc>) -> Self {
        Self { failures: 0, in_flight: 0, in_flight_since: None, locked_until: None, updated_at: now }
    }

    /// Attempts under way, not counting those lost long ago.
    pub fn live_in_flight(&self, now: DateTime<Utc>) -> u32 {
        let lost = self.in_flight_since.is_some_and(|since| since + LOST_ATTEMPTS_AFTER <= now);
        if lost { 0 } else { self.in_flight }
    }

    fn start_attempt(&mut self, now: DateTime<Utc>) {
        if self.live_in_flight(now) == 0 {
            self.in_flight = 0;
            self.in_flight_since = Some(now);
        }
        self.in_flight += 1;
        self.updated_at = now;
    }

    fn end_attempt(&mut self, now: DateTime<Utc>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0 {
            self.in_flight_since = None;
        }
        self.updated_at = now;
    }
}

/// What [`LockoutPolicy::finish_attempt`] leaves to store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FinishedAttempt {
    /// The network's counts, always written back.
    pub network: NetworkThrottle,
    /// The account's counts, when they changed.
    pub account: Option<LoginThrottle>,
    /// The lock this attempt set (only a refusal sets one), for the caller's answer.
    pub locked_until: Option<DateTime<Utc>>,
}

/// Whether `in_flight` checks under way leave room for another before `failures` in a row reach `threshold`: as many
/// may run at once as failures are left, so that even if they all fail no more are checked than the threshold
/// allows; one at a time once a lock has run out.
fn room_for_another(threshold: u32, failures: u32, in_flight: u32) -> bool {
    in_flight < threshold.saturating_sub(failures).max(1)
}

impl LockoutPolicy {
    /// Decides whether a sign-in attempt from a network may have its password checked: `account` is the account's
    /// counts, `network` this network's (none if it never tried), `everywhere` every network's of the account (this
    /// one's among them), for the backstop. When allowed, also the network's counts with the attempt under way, to
    /// be stored; otherwise nothing is counted.
    pub fn begin_attempt(
        &self,
        account: LoginThrottle,
        network: Option<NetworkThrottle>,
        everywhere: impl IntoIterator<Item = NetworkThrottle>,
        now: DateTime<Utc>,
    ) -> (LoginAttempt, Option<NetworkThrottle>) {
        if let Some(until) = account.locked_until.filter(|until| *until > now) {
            return (LoginAttempt::Locked { until }, None);
        }
        let mut network = network.unwrap_or_else(|| NetworkThrottle::fresh(now));
        if let Some(until) = network.locked_until.filter(|until| *until > now) {
            return (LoginAttempt::Locked { until }, None);
        }
        // The backstop is held the same way, over the attempts under way from every network.
        let account_in_flight: u32 = everywhere.into_iter().map(|throttle| throttle.live_in_flight(now)).sum();
        if !room_for_another(self.threshold, network.failures, network.live_in_flight(now))
            || !room_for_another(self.backstop, account.failed_logins, account_in_flight)
        {
            return (LoginAttempt::Busy, None);
        }
        network.start_attempt(now);
        (LoginAttempt::Allowed, Some(network))
    }

    /// Ends an attempt that [`LockoutPolicy::begin_attempt`] allowed: a verified password forgets the network's and
    /// the account's failures, a refused one counts one more for both and locks either once its threshold is
    /// reached, an abandoned one or one awaiting a second factor counts nothing. `network` is none when an admin
    /// cleared the counts meanwhile: the attempt then starts them again.
    pub fn finish_attempt(
        &self,
        account: LoginThrottle,
        network: Option<NetworkThrottle>,
        outcome: AttemptOutcome,
        now: DateTime<Utc>,
    ) -> FinishedAttempt {
        let mut network = network.unwrap_or_else(|| NetworkThrottle::fresh(now));
        network.end_attempt(now);
        match outcome {
            AttemptOutcome::Abandoned | AttemptOutcome::AwaitingSecondFactor => {
                FinishedAttempt { network, account: None, locked_until: None }
            }
            AttemptOutcome::Verified => {
                network.failures = 0;
                network.locked_until = None;
                let cleared = (account != LoginThrottle::default()).then_some(LoginThrottle::default());
                FinishedAttempt { network, account: cleared, locked_until: None }
            }
            AttemptOutcome::Refused => {
                network.failures = network.failures.saturating_add(1);
                network.locked_until = self.wait_after(network.failures).map(|wait| now + wait);
                let failed_logins = account.failed_logins.saturating_add(1);
                let locked_until = self.backstop_wait_after(failed_logins).map(|wait| now + wait);
                let account = LoginThrottle { failed_logins, locked_until };
                // A concurrent refusal may have locked the network meanwhile; this one reports its own lock.
                FinishedAttempt {
                    network,
                    account: Some(account),
                    locked_until: network.locked_until.max(locked_until),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).unwrap()
    }

    fn policy(threshold: u32, backstop: u32) -> LockoutPolicy {
        LockoutPolicy { threshold, backstop, ..LockoutPolicy::default() }
    }

    #[test]
    fn as_many_checks_may_run_at_once_as_failures_are_left_before_the_lock() {
        // Given a network with 8 failures of 10 allowed, and one check under way
        let policy = policy(10, 100);
        let (_, network) = policy.begin_attempt(
            LoginThrottle::default(),
            Some(NetworkThrottle { failures: 8, ..NetworkThrottle::fresh(now()) }),
            [],
            now(),
        );
        let network = network.expect("the first of two is allowed");

        // When a second and a third ask
        let (second, network) = policy.begin_attempt(LoginThrottle::default(), Some(network), [network], now());
        let network = network.expect("the second is allowed");
        let (third, counted) = policy.begin_attempt(LoginThrottle::default(), Some(network), [network], now());

        // Then the second may go on, the third waits, and it is not counted
        assert_eq!(second, LoginAttempt::Allowed);
        assert_eq!((third, counted), (LoginAttempt::Busy, None));
    }

    #[test]
    fn attempts_lost_long_ago_give_their_room_back() {
        let policy = policy(1, 100);
        let stuck = NetworkThrottle { in_flight: 1, in_flight_since: Some(now()), ..NetworkThrottle::fresh(now()) };
        let soon = now() + Duration::seconds(1);
        let later = now() + LOST_ATTEMPTS_AFTER;
        assert_eq!(policy.begin_attempt(LoginThrottle::default(), Some(stuck), [stuck], soon).0, LoginAttempt::Busy);
        let (attempt, counted) = policy.begin_attempt(LoginThrottle::default(), Some(stuck), [stuck], later);
        assert_eq!(attempt, LoginAttempt::Allowed);
        assert_eq!(counted.map(|network| (network.in_flight, network.in_flight_since)), Some((1, Some(later))));
    }

    #[test]
    fn a_locked_account_or_network_is_refused_and_nothing_is_counted() {
        let policy = LockoutPolicy::default();
        let until = now() + Duration::minutes(1);
        let locked_account = LoginThrottle { failed_logins: 100, locked_until: Some(until) };
        assert_eq!(policy.begin_attempt(locked_account, None, [], now()), (LoginAttempt::Locked { until }, None));
        let locked_network = NetworkThrottle { locked_until: Some(until), ..NetworkThrottle::fresh(now()) };
        let attempt = policy.begin_attempt(LoginThrottle::default(), Some(locked_network), [locked_network], now());
        assert_eq!(attempt, (LoginAttempt::Locked { until }, None));
    }

    #[test]
    fn the_refusal_that_reaches_the_threshold_locks_the_network_and_a_verified_password_clears_both() {
        let policy = policy(3, 100);
        let network = NetworkThrottle { failures: 2, in_flight: 1, ..NetworkThrottle::fresh(now()) };
        let account = LoginThrottle { failed_logins: 2, locked_until: None };

        let refused = policy.finish_attempt(account, Some(network), AttemptOutcome::Refused, now());
        assert_eq!(refused.network.failures, 3);
        assert_eq!(refused.locked_until, Some(now() + Duration::minutes(1)));
        assert_eq!(refused.account, Some(LoginThrottle { failed_logins: 3, locked_until: None }));

        let verified = policy.finish_attempt(account, Some(network), AttemptOutcome::Verified, now());
        assert_eq!((verified.network.failures, verified.network.locked_until), (0, None));
        assert_eq!(verified.account, Some(LoginThrottle::default()));
        assert_eq!(verified.locked_until, None);

        let abandoned = policy.finish_attempt(account, Some(network), AttemptOutcome::Abandoned, now());
        assert_eq!((abandoned.network.failures, abandoned.network.in_flight), (2, 0));
        assert_eq!((abandoned.account, abandoned.locked_until), (None, None));

        // A right password with a code still to come forgets none of the wrong codes before it.
        let awaiting = policy.finish_attempt(account, Some(network), AttemptOutcome::AwaitingSecondFactor, now());
        assert_eq!((awaiting.network.failures, awaiting.network.in_flight), (2, 0));
        assert_eq!((awaiting.account, awaiting.locked_until), (None, None));
    }

    #[test]
    fn the_lockout_starts_at_the_threshold_and_doubles_up_to_the_cap() {
        let policy = LockoutPolicy::default();
        assert_eq!(policy.wait_after(9), None);
        assert_eq!(policy.wait_after(10), Some(Duration::minutes(1)));
        assert_eq!(policy.wait_after(11), Some(Duration::minutes(2)));
        assert_eq!(policy.wait_after(13), Some(Duration::minutes(8)));
        assert_eq!(policy.wait_after(14), Some(Duration::minutes(15)));
        assert_eq!(policy.wait_after(u32::MAX), Some(Duration::minutes(15)));
    }

    #[test]
    fn the_backstop_starts_at_its_own_threshold_on_the_same_scale() {
        let policy = LockoutPolicy::default();
        assert_eq!(policy.backstop_wait_after(99), None);
        assert_eq!(policy.backstop_wait_after(100), Some(Duration::minutes(1)));
        assert_eq!(policy.backstop_wait_after(101), Some(Duration::minutes(2)));
        assert_eq!(policy.backstop_wait_after(200), Some(Duration::minutes(15)));
    }
}
