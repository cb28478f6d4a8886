//! `Clock`: where the core reads the time, so tests can fix it.

use chrono::{DateTime, Utc};

#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}
