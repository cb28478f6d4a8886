//! `ChangeFeed`: hears the changes made to users and sessions wherever they are made (another instance, an
//! operator's SQL), for whatever remembers them (the signed-in users' cache), and proves how recently it heard all.

use std::future::Future;
use std::sync::Weak;
use std::time::Instant;

use users_domain::UserId;

/// What a change feed tells, in the order it heard it.
pub trait ChangeObserver: Send + Sync {
    /// The user, their roles or their sessions changed.
    fn user_changed(&self, id: UserId);

    /// Anything may have changed (a change that names no one, or one the feed could not read).
    fn everything_changed(&self);

    /// Every change committed before `sent` has been heard.
    fn heard_everything_before(&self, sent: Instant);

    /// The feed stopped hearing: changes are missed until it next proves it hears everything.
    fn deaf(&self);
}

/// A source of changes: PostgreSQL's notifications, for one.
pub trait ChangeFeed: Send + 'static {
    /// Hears changes and tells `observer` of each, starting again after any loss, until the observer is gone.
    fn follow(self, observer: Weak<dyn ChangeObserver>) -> impl Future<Output = ()> + Send;
}
