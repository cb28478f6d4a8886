//! `PasswordWorkLimiter`: a budget of password hashes per signed-in user, for the routes the per-address limit on
//! `/auth/*` does not cover (changing one's password, typing it again to prove presence, an admin creating users),
//! so that one account cannot keep the hashing threads busy for everyone.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use users_domain::UserId;

use crate::problem::Problem;
use crate::rate_limit::RateLimitPolicy;

pub struct PasswordWorkLimiter {
    /// `None`: no limit.
    buckets: Option<DefaultKeyedRateLimiter<i64>>,
}

impl std::fmt::Debug for PasswordWorkLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordWorkLimiter").field("limited", &self.buckets.is_some()).finish()
    }
}

impl PasswordWorkLimiter {
    /// Each user may have `policy.burst` passwords hashed at once, refilled at `policy.per_minute`; `None` turns
    /// the limit off.
    pub fn new(policy: Option<RateLimitPolicy>) -> Self {
        let quota = |policy: RateLimitPolicy| Quota::per_minute(policy.per_minute).allow_burst(policy.burst);
        Self { buckets: policy.map(|policy| DefaultKeyedRateLimiter::dashmap(quota(policy))) }
    }

    /// Takes one hash from `user`'s budget, or answers 429 with how long to wait.
    pub(crate) fn spend(&self, user: UserId) -> Result<(), Problem> {
        let Some(buckets) = &self.buckets else { return Ok(()) };
        // A user's bucket is a few bytes; idle ones are dropped now and then.
        if buckets.len() > 100_000 {
            buckets.retain_recent();
        }
        buckets.check_key(&user.0).map_err(|empty| {
            let wait = empty.wait_time_from(DefaultClock::default().now());
            metrics::counter!("password_work_limited_total").increment(1);
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            too_much_password_work(i64::try_from(seconds).unwrap_or(i64::MAX))
        })
    }
}

/// What a request beyond its user's budget of password hashes gets: 429, to wait `retry_after_secs`.
pub(crate) fn too_much_password_work(retry_after_secs: i64) -> Problem {
    Problem::too_many_requests(
        "too many password changes or checks for this account; try again after the time in Retry-After",
        retry_after_secs,
    )
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    #[test]
    fn each_user_has_a_budget_of_its_own() {
        let policy = RateLimitPolicy { per_minute: NonZeroU32::new(1).unwrap(), burst: NonZeroU32::new(2).unwrap() };
        let limiter = PasswordWorkLimiter::new(Some(policy));
        assert!(limiter.spend(UserId(1)).is_ok());
        assert!(limiter.spend(UserId(1)).is_ok());
        let refused = limiter.spend(UserId(1)).unwrap_err();
        assert_eq!(refused.status().as_u16(), 429);
        assert!(limiter.spend(UserId(2)).is_ok(), "another user's budget is untouched");
        let unlimited = PasswordWorkLimiter::new(None);
        assert!((0..100).all(|_| unlimited.spend(UserId(1)).is_ok()));
    }
}
