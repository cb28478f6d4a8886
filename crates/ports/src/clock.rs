//! `Clock`: where the core reads the time and waits, so tests can fix the one and skip the other.

use chrono::{DateTime, Duration, Utc};

#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// Waits this long without blocking other work.
    async fn sleep(&self, duration: Duration);
}
