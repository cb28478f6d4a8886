//! `LockoutPolicy`: how many failed sign-ins in a row lock an account, and for how long.

use chrono::Duration;

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

#[cfg(test)]
mod tests {
    use super::*;

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
