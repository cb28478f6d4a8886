//! One account per email and per username, whatever their case, also when two sign-ups race.

use futures_util::future::join_all;
use users_domain::{LoginIdentifier, User};
use users_ports::{InsertUserError, NewUser, SessionRepository, UpdateUserError, UserRepository, UserUpdate};

use crate::fixtures::{email, insert_ok, new_user, now, seconds, total, touch, username};

pub async fn duplicate_email_differing_by_case_is_refused<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    // Given a user with an email,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    // when others sign up with it in any case, then they are refused as a duplicate email,
    for (n, duplicate) in [(2, "ada@example.com"), (3, "ADA@example.COM"), (4, "Ada@Example.com")] {
        let result =
            users.insert(NewUser { username: Some(username(&format!("other{n}"))), ..new_user(n, duplicate, t) }).await;
        assert!(matches!(result, Err(InsertUserError::DuplicateEmail)), "{duplicate}: {result:?}");
    }
    // and the first is the only one, found by the email in any case.
    assert_eq!(total(&users).await, 1);
    let found = users.find_credentials(&LoginIdentifier::Email(email("ADA@EXAMPLE.COM"))).await.unwrap().unwrap();
    assert_eq!(found.user, ada);
}

/// Case beyond ASCII: SQL `lower()` on SQLite folds only `A`-`Z`, so `Ülrich` and `ülrich` were two accounts there
/// and one on PostgreSQL. Every store now compares the domain's key.
pub async fn emails_differing_by_non_ascii_case_are_one_account<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    // Given a user whose email has letters beyond ASCII, and another user,
    let t = now();
    let ulrich = insert_ok(&users, new_user(1, "Ülrich.Çelik@example.com", t)).await;
    let grace = insert_ok(&users, new_user(2, "grace@example.com", t)).await;

    // when the same address in another case is inserted, or taken by the other user, then it is refused;
    for (n, duplicate) in [(3, "ülrich.çelik@example.com"), (4, "ÜLRICH.ÇELIK@EXAMPLE.COM")] {
        let result = users.insert(new_user(n, duplicate, t)).await;
        assert!(matches!(result, Err(InsertUserError::DuplicateEmail)), "{duplicate}: {result:?}");
    }
    let taking_it = UserUpdate { email: Some(email("üLRICH.çELIK@example.com")), ..touch(t + seconds(1)) };
    let result = users.update(grace.id, taking_it).await;
    assert!(matches!(result, Err(UpdateUserError::DuplicateEmail)), "{result:?}");

    // the first user is still found by the address in any case.
    assert_eq!(total(&users).await, 2);
    let found = users.find_credentials(&LoginIdentifier::Email(email("ülrich.çelik@EXAMPLE.com"))).await.unwrap();
    assert_eq!(found.map(|found| found.user), Some(ulrich.clone()));
    // A change of case alone is the owner's to make, and the new case is what is shown.
    let recased = UserUpdate { email: Some(email("ülrich.çelik@example.com")), ..touch(t + seconds(2)) };
    let updated = users.update(ulrich.id, recased).await.expect("a case-only change of one's own email");
    assert_eq!(updated.email.as_str(), "ülrich.çelik@example.com");
    let found = users.find_credentials(&LoginIdentifier::Email(email("ÜLRICH.ÇELIK@example.com"))).await.unwrap();
    assert_eq!(found.map(|found| found.user.id), Some(ulrich.id));
}

pub async fn duplicate_username_differing_by_case_is_refused<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    // Given a user with a username,
    let t = now();
    let ada = insert_ok(&users, NewUser { username: Some(username("Ada")), ..new_user(1, "ada@example.com", t) }).await;
    // when others sign up with it in any case, then they are refused as a duplicate username,
    for (n, duplicate) in [(2, "Ada"), (3, "ada"), (4, "ADA")] {
        let result = users
            .insert(NewUser { username: Some(username(duplicate)), ..new_user(n, &format!("other{n}@example.com"), t) })
            .await;
        assert!(matches!(result, Err(InsertUserError::DuplicateUsername)), "{duplicate}: {result:?}");
    }
    // and the first is the only one, found by the username in any case.
    assert_eq!(total(&users).await, 1);
    let found = users.find_credentials(&LoginIdentifier::Username(username("aDA"))).await.unwrap().unwrap();
    assert_eq!(found.user, ada);
    // The refused inserts left nothing behind: their emails are free.
    assert!(users.find_credentials(&LoginIdentifier::Email(email("other2@example.com"))).await.unwrap().is_none());
}

pub async fn concurrent_inserts_of_one_email_admit_one<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    // Given an empty store with its connections open,
    let t = now();
    // Open the store's connections first, so that the inserts below start together.
    for health in join_all((0..20).map(|_| users.check_health())).await {
        health.expect("healthy");
    }
    // when twenty sign-ups with one email in various cases race,
    let cases = ["race@example.com", "Race@Example.com", "RACE@EXAMPLE.COM", "race@EXAMPLE.com"];
    let results = join_all((0..20u32).map(|n| {
        let users = &users;
        async move { users.insert(new_user(n + 1, cases[n as usize % cases.len()], t)).await }
    }))
    .await;

    // then exactly one is stored, and every other is told the email is taken.
    let winners: Vec<&User> = results.iter().filter_map(|result| result.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one insert succeeds: {results:?}");
    let duplicates = results.iter().filter(|result| matches!(result, Err(InsertUserError::DuplicateEmail))).count();
    assert_eq!(duplicates, 19, "all others are told the email is taken: {results:?}");

    assert_eq!(total(&users).await, 1);
    let stored = users.find_credentials(&LoginIdentifier::Email(email("race@example.com"))).await.unwrap().unwrap();
    assert_eq!(&stored.user, winners[0]);
}
