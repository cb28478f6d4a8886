//! Failed sign-ins counted by network and by account: the room left for attempts, the locks, and their purge.

use futures_util::future::join_all;
use users_domain::{AttemptOutcome, ClientNetwork, LoginAttempt, LoginThrottle, UserId};
use users_ports::{AuditKind, SessionRepository, UserRepository};

use crate::fixtures::{LOCKOUT, attempt, audit, device, network, new_user, now, seconds, throttle_of};

pub async fn concurrent_attempts_from_a_network_are_held_to_its_threshold<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    // Given an account, and a policy that locks a network after three failures,
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    let attacker = network("203.0.113.9");

    // when ten attempts from one network begin at once, then three may check their password (had they all failed,
    // the threshold is reached), and the others are told to wait;
    let results = join_all((0..10).map(|_| users.begin_login_attempt(ada.id, &attacker, t, &LOCKOUT))).await;
    let results: Vec<LoginAttempt> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(results.iter().filter(|result| **result == LoginAttempt::Allowed).count(), 3, "{results:?}");
    assert_eq!(results.iter().filter(|result| **result == LoginAttempt::Busy).count(), 7, "{results:?}");

    // when those three fail, then the third failure locks this network out of the account for a minute;
    for finished in 1..=3 {
        let lock = users
            .finish_login_attempt(ada.id, &attacker, AttemptOutcome::Refused, t, &LOCKOUT, &device(1))
            .await
            .unwrap();
        assert_eq!(lock, (finished == 3).then_some(t + seconds(60)), "after failure {finished}");
    }
    let refused = users.begin_login_attempt(ada.id, &attacker, t + seconds(1), &LOCKOUT).await.unwrap();
    assert_eq!(refused, LoginAttempt::Locked { until: t + seconds(60) });

    // the owner, from another network, is not held by that lock, nor does her success lift it.
    let owner = network("198.51.100.7");
    assert_eq!(attempt(&users, ada.id, &owner, AttemptOutcome::Verified, t + seconds(2)).await, LoginAttempt::Allowed);
    let still = users.begin_login_attempt(ada.id, &attacker, t + seconds(3), &LOCKOUT).await.unwrap();
    assert_eq!(still, LoginAttempt::Locked { until: t + seconds(60) }, "another network's success lifts nothing");
}

pub async fn concurrent_correct_sign_ins_never_lock<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    // Given an account,
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    let home = network("198.51.100.7");
    // when wave after wave of attempts from one network begin at once and all succeed, then the room fills and
    // empties, and no failure or lock is ever written.
    for wave in 0..4 {
        let begun = join_all((0..5).map(|_| users.begin_login_attempt(ada.id, &home, t, &LOCKOUT))).await;
        let allowed = begun.into_iter().map(Result::unwrap).filter(|result| *result == LoginAttempt::Allowed).count();
        assert_eq!(allowed, 3, "wave {wave}");
        for _ in 0..allowed {
            let lock = users
                .finish_login_attempt(ada.id, &home, AttemptOutcome::Verified, t, &LOCKOUT, &device(1))
                .await
                .unwrap();
            assert_eq!(lock, None);
        }
    }
    assert_eq!(throttle_of(&users, "ada@example.com").await, LoginThrottle::default());
    assert_eq!(attempt(&users, ada.id, &home, AttemptOutcome::Verified, t).await, LoginAttempt::Allowed);
}

pub async fn a_network_lock_doubles_up_to_its_cap_and_a_success_resets_it<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    // Given a network locked out after three failures,
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    let attacker = network("2001:db8:1:2::9");
    for _ in 0..3 {
        assert_eq!(attempt(&users, ada.id, &attacker, AttemptOutcome::Refused, t).await, LoginAttempt::Allowed);
    }
    let mut lock_ends = t + seconds(60);
    // when each lock has passed, then one attempt at a time is let through, and each failure locks for twice as
    // long, up to the cap: 120, 240, 480, then 600 s each time.
    for wait in [120, 240, 480, 600, 600] {
        let at = lock_ends + seconds(1);
        let begun = users.begin_login_attempt(ada.id, &attacker, at, &LOCKOUT).await.unwrap();
        assert_eq!(begun, LoginAttempt::Allowed);
        let second = users.begin_login_attempt(ada.id, &attacker, at, &LOCKOUT).await.unwrap();
        assert_eq!(second, LoginAttempt::Busy, "one at a time after a lock");
        let lock = users
            .finish_login_attempt(ada.id, &attacker, AttemptOutcome::Refused, at, &LOCKOUT, &device(1))
            .await
            .unwrap();
        lock_ends = at + seconds(wait);
        assert_eq!(lock, Some(lock_ends));
    }
    // Another address in the same /64 is the same network.
    let neighbour = network("2001:db8:1:2::abcd");
    assert_eq!(
        users.begin_login_attempt(ada.id, &neighbour, lock_ends - seconds(1), &LOCKOUT).await.unwrap(),
        LoginAttempt::Locked { until: lock_ends }
    );
    // When a success comes once the lock has passed, then the count starts again: three more failures before the
    // next lock, an abandoned attempt counting for nothing.
    let at = lock_ends + seconds(1);
    assert_eq!(attempt(&users, ada.id, &attacker, AttemptOutcome::Verified, at).await, LoginAttempt::Allowed);
    for _ in 0..2 {
        assert_eq!(attempt(&users, ada.id, &attacker, AttemptOutcome::Refused, at).await, LoginAttempt::Allowed);
    }
    assert_eq!(attempt(&users, ada.id, &attacker, AttemptOutcome::Abandoned, at).await, LoginAttempt::Allowed);
    assert_eq!(attempt(&users, ada.id, &attacker, AttemptOutcome::Refused, at).await, LoginAttempt::Allowed);
    assert_eq!(
        users.begin_login_attempt(ada.id, &attacker, at, &LOCKOUT).await.unwrap(),
        LoginAttempt::Locked { until: at + seconds(60) },
        "an abandoned attempt counted for nothing"
    );
    // An unknown user counts nothing.
    let unknown = users.begin_login_attempt(UserId(ada.id.0 + 1000), &attacker, t, &LOCKOUT).await.unwrap();
    assert_eq!(unknown, LoginAttempt::Allowed, "unknown users count nothing");
}

pub async fn failures_spread_over_networks_reach_the_backstop<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    // Given an account, and a policy that locks it from everywhere after five failures in a row,
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    // when two failures come from each of several networks, none reaching its own threshold of 3, then the fifth
    // overall reaches the backstop and locks the account from everywhere.
    let networks: Vec<ClientNetwork> = (1..=3).map(|n| network(&format!("203.0.{n}.9"))).collect();
    let mut failures = 0;
    'guessing: for from in &networks {
        for _ in 0..2 {
            assert_eq!(attempt(&users, ada.id, from, AttemptOutcome::Refused, t).await, LoginAttempt::Allowed);
            failures += 1;
            if failures == 5 {
                break 'guessing;
            }
        }
    }
    let locked = LoginThrottle { failed_logins: 5, locked_until: Some(t + seconds(60)) };
    assert_eq!(throttle_of(&users, "ada@example.com").await, locked);
    let elsewhere = users.begin_login_attempt(ada.id, &network("198.51.100.7"), t, &LOCKOUT).await.unwrap();
    assert_eq!(elsewhere, LoginAttempt::Locked { until: t + seconds(60) });

    // When an admin clears the lockout, then every lock and count is gone; an unknown user is not found.
    assert!(users.clear_lockout(ada.id, audit(AuditKind::UserUnlocked, now())).await.unwrap());
    assert_eq!(throttle_of(&users, "ada@example.com").await, LoginThrottle::default());
    for from in &networks {
        assert_eq!(attempt(&users, ada.id, from, AttemptOutcome::Refused, t).await, LoginAttempt::Allowed);
    }
    assert!(!users.clear_lockout(UserId(ada.id.0 + 1000), audit(AuditKind::UserUnlocked, now())).await.unwrap());
}

pub async fn attempts_lost_in_a_crash_give_their_room_back_and_count_for_nothing<
    U: UserRepository,
    S: SessionRepository,
>(
    users: U,
    _sessions: S,
) {
    // Given an account,
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    let from = network("203.0.113.9");
    // when three attempts begin and are never finished (the process died, or their clients hung up), then the
    // room is full;
    for _ in 0..3 {
        assert_eq!(users.begin_login_attempt(ada.id, &from, t, &LOCKOUT).await.unwrap(), LoginAttempt::Allowed);
    }
    assert_eq!(users.begin_login_attempt(ada.id, &from, t + seconds(5), &LOCKOUT).await.unwrap(), LoginAttempt::Busy);
    // others coming and going meanwhile do not keep the lost ones alive,
    let finished = t + seconds(10);
    users.finish_login_attempt(ada.id, &from, AttemptOutcome::Verified, finished, &LOCKOUT, &device(1)).await.unwrap();
    assert_eq!(attempt(&users, ada.id, &from, AttemptOutcome::Verified, finished).await, LoginAttempt::Allowed);
    // and fifteen seconds on, the room is whole again, and nothing was counted against the account.
    let later = t + seconds(16);
    for _ in 0..3 {
        assert_eq!(users.begin_login_attempt(ada.id, &from, later, &LOCKOUT).await.unwrap(), LoginAttempt::Allowed);
    }
    assert_eq!(throttle_of(&users, "ada@example.com").await, LoginThrottle::default());
}

pub async fn concurrent_attempts_from_many_networks_are_held_to_the_backstop<
    U: UserRepository,
    S: SessionRepository,
>(
    users: U,
    _sessions: S,
) {
    // Given an account,
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    let networks: Vec<ClientNetwork> = (1..=4).map(|n| network(&format!("203.0.{n}.9"))).collect();
    // when twelve attempts begin at once, three from each of four networks, then five may check their password:
    // each network has room for three, but the account for five;
    let repository = &users;
    let begins = networks
        .iter()
        .flat_map(|from| (0..3).map(move |_| from))
        .map(|from| async move { (from, repository.begin_login_attempt(ada.id, from, t, &LOCKOUT).await.unwrap()) });
    let results = join_all(begins).await;
    let allowed: Vec<&ClientNetwork> =
        results.iter().filter(|(_, result)| *result == LoginAttempt::Allowed).map(|(from, _)| *from).collect();
    assert_eq!(allowed.len(), 5, "{results:?}");
    // when they all fail, then the fifth failure locks the account from everywhere, and nothing more was checked.
    for from in allowed {
        users.finish_login_attempt(ada.id, from, AttemptOutcome::Refused, t, &LOCKOUT, &device(1)).await.unwrap();
    }
    assert_eq!(throttle_of(&users, "ada@example.com").await.failed_logins, 5);
    let elsewhere = users.begin_login_attempt(ada.id, &network("198.51.100.7"), t, &LOCKOUT).await.unwrap();
    assert_eq!(elsewhere, LoginAttempt::Locked { until: t + seconds(60) });
}

pub async fn idle_sign_in_counts_are_purged<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    // Given the counts of three networks: one idle, one locked, one recent,
    let t = now();
    let ada = users.insert(new_user(1, "ada@example.com", t)).await.expect("insert");
    let (idle, locked, recent) = (network("203.0.113.9"), network("203.0.114.9"), network("203.0.115.9"));
    attempt(&users, ada.id, &idle, AttemptOutcome::Refused, t).await;
    for _ in 0..3 {
        attempt(&users, ada.id, &locked, AttemptOutcome::Refused, t + seconds(100)).await;
    }
    // the recent one a success (which also starts the account's own count again, so the backstop plays no part),
    attempt(&users, ada.id, &recent, AttemptOutcome::Verified, t + seconds(200)).await;
    // when those idle since before t + 150 are purged, then only the first goes: the second is locked until t + 160;
    assert_eq!(users.purge_login_throttles(t + seconds(150)).await.unwrap(), 1);
    // the purged network starts again from nothing: three failures before a lock, as if new;
    for _ in 0..2 {
        attempt(&users, ada.id, &idle, AttemptOutcome::Refused, t + seconds(300)).await;
    }
    assert_eq!(
        users.begin_login_attempt(ada.id, &idle, t + seconds(300), &LOCKOUT).await.unwrap(),
        LoginAttempt::Allowed
    );
    // and a later purge takes the locked one, once its lock has passed, and the recent one.
    assert_eq!(users.purge_login_throttles(t + seconds(250)).await.unwrap(), 2, "the locked one, after its lock");
}
