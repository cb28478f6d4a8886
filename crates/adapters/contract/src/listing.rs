//! Listing users a page at a time: in id order with the size of the whole; found by the start of an address, handle
//! or name; filtered by role, status, verification and creation time; sorted by address, creation or last sign-in
//! either way; a filter's matches counted up to a limit.

use chrono::{DateTime, Utc};
use users_domain::{AccountStatus, Profile, Role, SearchPrefix, User, UserId};
use users_ports::{
    AuditKind, NewUser, PageRequest, SessionRepository, Total, UserFilter, UserOrder, UserQuery, UserRepository,
    UserSortKey,
};

use crate::fixtures::{
    audit, in_id_order, insert_ok, new_admin, new_session, new_user, now, person_name, seconds, suspension, username,
};

pub async fn list_pages_in_id_order<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    // Given an empty store, a page of it is empty.
    let empty = users.list(&in_id_order(0, 10)).await.unwrap();
    assert_eq!((empty.items, empty.total), (vec![], Total::Exact(0)));

    // Given five users, one of them an admin,
    let t = now();
    let mut inserted = Vec::new();
    for n in 1..=5u32 {
        let user = if n == 3 {
            new_admin(n, &format!("user{n}@example.com"), t + seconds(n.into()))
        } else {
            new_user(n, &format!("user{n}@example.com"), t + seconds(n.into()))
        };
        inserted.push(insert_ok(&users, user).await);
    }
    assert!(inserted.windows(2).all(|pair| pair[0].id < pair[1].id), "ids grow with insertion");

    // when they are listed, then every page is a slice in id order, with the size of the whole;
    let all = users.list(&in_id_order(0, 10)).await.unwrap();
    assert_eq!(all.total, Total::Exact(5));
    assert_eq!(all.items, inserted, "every user, with roles, in id order");

    let slice = users.list(&in_id_order(1, 2)).await.unwrap();
    assert_eq!(slice.total, Total::Exact(5));
    assert_eq!(slice.items, inserted[1..3]);

    let tail = users.list(&in_id_order(3, 10)).await.unwrap();
    assert_eq!((tail.items.as_slice(), tail.total), (&inserted[3..], Total::Exact(5)));

    // a page past the end is empty, and so is a page of no items, but both say how many there are.
    for offset in [5, 6, 1000, u64::MAX] {
        let past = users.list(&in_id_order(offset, 10)).await.unwrap();
        assert_eq!((past.items, past.total), (vec![], Total::Exact(5)), "offset {offset}");
    }

    let none = users.list(&in_id_order(0, 0)).await.unwrap();
    assert_eq!((none.items, none.total), (vec![], Total::Exact(5)));

    // When one is deleted, the pages and the count follow.
    users.delete(inserted[1].id, audit(AuditKind::UserDeleted, now())).await.unwrap();
    let page = users.list(&in_id_order(1, 2)).await.unwrap();
    assert_eq!(page.total, Total::Exact(4));
    assert_eq!(page.items, vec![inserted[2].clone(), inserted[3].clone()]);
}

/// Every user `filter` lets through, in id order, and their count.
fn matching(filter: UserFilter) -> UserQuery {
    UserQuery { filter, ..in_id_order(0, 100) }
}

fn text(prefix: &str) -> UserFilter {
    UserFilter { text: Some(SearchPrefix::parse(prefix).expect("valid prefix")), ..UserFilter::default() }
}

async fn ids_of<U: UserRepository>(users: &U, query: &UserQuery) -> (Vec<UserId>, Total) {
    let page = users.list(query).await.expect("list users");
    (page.items.iter().map(|user| user.id).collect(), page.total)
}

fn ids<const N: usize>(users: [&User; N]) -> (Vec<UserId>, Total) {
    (users.iter().map(|user| user.id).collect(), Total::Exact(N as u64))
}

/// A user `n` with an address, a username and names.
fn named(n: u32, address: &str, handle: Option<&str>, first: &str, last: &str, at: DateTime<Utc>) -> NewUser {
    NewUser {
        username: handle.map(username),
        profile: Profile {
            first_name: Some(person_name(first)),
            last_name: Some(person_name(last)),
            ..Profile::default()
        },
        ..new_user(n, address, at)
    }
}

pub async fn a_prefix_finds_users_by_address_username_or_name_whatever_the_case<
    U: UserRepository,
    S: SessionRepository,
>(
    users: U,
    _sessions: S,
) {
    // Given users whose addresses, handles and names start differently,
    let t = now();
    let ada = insert_ok(&users, named(1, "Ada.Lovelace@Example.com", Some("countess"), "Ada", "Lovelace", t)).await;
    let grace = insert_ok(&users, named(2, "grace@navy.mil", Some("AdmiralG"), "Grace", "Hopper", t)).await;
    let alan = insert_ok(&users, named(3, "turing@example.org", None, "Alan", "Turing", t)).await;
    // (SQLite folds the case of A to Z only: a name that starts with another letter is found as it is written.)
    let elodie = insert_ok(&users, named(4, "e.dupont@example.fr", Some("edupont"), "élodie", "Dupont", t)).await;

    // when searched by the start of an address, whatever its case, then its owner is found;
    assert_eq!(ids_of(&users, &matching(text("ADA."))).await, ids([&ada]));
    assert_eq!(ids_of(&users, &matching(text("grace@navy"))).await, ids([&grace]));
    // by the start of a username, a first name or a last name, the same;
    assert_eq!(ids_of(&users, &matching(text("admiral"))).await, ids([&grace]));
    assert_eq!(ids_of(&users, &matching(text("alan"))).await, ids([&alan]));
    assert_eq!(ids_of(&users, &matching(text("HOP"))).await, ids([&grace]));
    assert_eq!(ids_of(&users, &matching(text("Dup"))).await, ids([&elodie]));
    // a prefix shared by several finds each once, in id order ("ad": Ada's address, Grace's handle);
    assert_eq!(ids_of(&users, &matching(text("ad"))).await, ids([&ada, &grace]));
    assert_eq!(ids_of(&users, &matching(text("t"))).await, ids([&alan]));
    // a prefix of a name with a letter outside A-Z finds it;
    assert_eq!(ids_of(&users, &matching(text("élo"))).await, ids([&elodie]));
    // and the middle of a text, or a text longer than any, finds nobody.
    assert_eq!(ids_of(&users, &matching(text("ovelace"))).await, ids([]));
    assert_eq!(ids_of(&users, &matching(text("lovelaces"))).await, ids([]));
    assert_eq!(ids_of(&users, &matching(text("%"))).await, ids([]), "no wildcard");
    assert_eq!(ids_of(&users, &matching(text("_"))).await, ids([]), "no wildcard");
}

pub async fn filters_by_role_status_verification_and_creation_time<U: UserRepository, S: SessionRepository>(
    users: U,
    _sessions: S,
) {
    // Given an admin, a verified user, a suspended user, a user whose suspension has run out, and a newcomer,
    let t = now();
    let admin = insert_ok(&users, new_admin(1, "admin@example.com", t)).await;
    let verified =
        insert_ok(&users, NewUser { email_verified: true, ..new_user(2, "verified@example.com", t + seconds(10)) })
            .await;
    let suspended = insert_ok(&users, new_user(3, "suspended@example.com", t + seconds(20))).await;
    let lapsed = insert_ok(&users, new_user(4, "lapsed@example.com", t + seconds(30))).await;
    let newcomer = insert_ok(&users, new_user(5, "newcomer@example.com", t + seconds(40))).await;
    let stop = suspension(t + seconds(50), None, Some("abuse"));
    users.suspend(suspended.id, stop, audit(AuditKind::UserSuspended, t + seconds(50))).await.unwrap();
    let ran_out = suspension(t + seconds(50), Some(t + seconds(60)), None);
    users.suspend(lapsed.id, ran_out, audit(AuditKind::UserSuspended, t + seconds(50))).await.unwrap();
    let at = |query: UserQuery| UserQuery { now: t + seconds(70), ..query };

    // when filtered by role, then only its holders are listed;
    let admins = UserFilter { role: Some(Role::Admin), ..UserFilter::default() };
    assert_eq!(ids_of(&users, &at(matching(admins))).await, ids([&admin]));
    let members = UserFilter { role: Some(Role::User), ..UserFilter::default() };
    assert_eq!(ids_of(&users, &at(matching(members))).await, ids([&admin, &verified, &suspended, &lapsed, &newcomer]));
    // by status, as it stands at the query's time (a suspension that ran out is over);
    let stopped = UserFilter { status: Some(AccountStatus::Suspended), ..UserFilter::default() };
    assert_eq!(ids_of(&users, &at(matching(stopped.clone()))).await, ids([&suspended]));
    let during = UserQuery { now: t + seconds(55), ..matching(stopped) };
    assert_eq!(ids_of(&users, &during).await, ids([&suspended, &lapsed]), "before the end of the second");
    let active = UserFilter { status: Some(AccountStatus::Active), ..UserFilter::default() };
    assert_eq!(ids_of(&users, &at(matching(active))).await, ids([&admin, &verified, &lapsed, &newcomer]));
    // by verification;
    let unverified = UserFilter { verified: Some(false), ..UserFilter::default() };
    assert_eq!(ids_of(&users, &at(matching(unverified))).await, ids([&admin, &suspended, &lapsed, &newcomer]));
    let vouched = UserFilter { verified: Some(true), ..UserFilter::default() };
    assert_eq!(ids_of(&users, &at(matching(vouched))).await, ids([&verified]));
    // by creation time, both ends excluded;
    let window = UserFilter {
        created_after: Some(t + seconds(10)),
        created_before: Some(t + seconds(40)),
        ..UserFilter::default()
    };
    assert_eq!(ids_of(&users, &at(matching(window))).await, ids([&suspended, &lapsed]));
    // and by several conditions, only the users that meet them all, counted.
    let combined = UserFilter {
        text: Some(SearchPrefix::parse("l").unwrap()),
        status: Some(AccountStatus::Active),
        verified: Some(false),
        created_after: Some(t),
        ..UserFilter::default()
    };
    assert_eq!(ids_of(&users, &at(matching(combined))).await, ids([&lapsed]));
    let nobody = UserFilter { role: Some(Role::Admin), verified: Some(true), ..UserFilter::default() };
    assert_eq!(ids_of(&users, &at(matching(nobody))).await, ids([]));
}

pub async fn sorts_by_address_creation_and_last_sign_in_either_way<U: UserRepository, S: SessionRepository>(
    users: U,
    sessions: S,
) {
    // Given users created out of address order, two at the same instant, and two of them signed in,
    let t = now();
    let bea = insert_ok(&users, new_user(1, "Bea@example.com", t + seconds(20))).await;
    let ann = insert_ok(&users, new_user(2, "ann@example.com", t + seconds(10))).await;
    let cid = insert_ok(&users, new_user(3, "cid@example.com", t + seconds(10))).await;
    let dan = insert_ok(&users, new_user(4, "dan@example.com", t + seconds(30))).await;
    sessions.create(new_session(cid.id, "cid-1", t + seconds(100), t + seconds(9000))).await.unwrap().unwrap();
    sessions.create(new_session(bea.id, "bea-1", t + seconds(200), t + seconds(9000))).await.unwrap().unwrap();
    let sorted =
        |key: UserSortKey, descending: bool| UserQuery { order: UserOrder { key, descending }, ..in_id_order(0, 100) };

    // when sorted by address, then case aside, either way;
    assert_eq!(ids_of(&users, &sorted(UserSortKey::Email, false)).await, ids([&ann, &bea, &cid, &dan]));
    assert_eq!(ids_of(&users, &sorted(UserSortKey::Email, true)).await, ids([&dan, &cid, &bea, &ann]));
    // by creation, ties broken by id in the same direction;
    assert_eq!(ids_of(&users, &sorted(UserSortKey::CreatedAt, false)).await, ids([&ann, &cid, &bea, &dan]));
    assert_eq!(ids_of(&users, &sorted(UserSortKey::CreatedAt, true)).await, ids([&dan, &bea, &cid, &ann]));
    // by last sign-in, never signed in first going up and last going down;
    assert_eq!(ids_of(&users, &sorted(UserSortKey::LastSignInAt, false)).await, ids([&ann, &dan, &cid, &bea]));
    assert_eq!(ids_of(&users, &sorted(UserSortKey::LastSignInAt, true)).await, ids([&bea, &cid, &dan, &ann]));
    // by id, backwards;
    assert_eq!(ids_of(&users, &sorted(UserSortKey::Id, true)).await, ids([&dan, &cid, &ann, &bea]));
    // and a page of a sorted list is its slice.
    let page = UserQuery { page: PageRequest { offset: 1, limit: 2 }, ..sorted(UserSortKey::CreatedAt, true) };
    let (slice, total) = ids_of(&users, &page).await;
    assert_eq!((slice, total), (vec![bea.id, cid.id], Total::Exact(4)));
}

pub async fn a_filtered_count_stops_at_its_limit<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    // Given five users of one role,
    let t = now();
    let mut inserted = Vec::new();
    for n in 1..=5u32 {
        inserted.push(insert_ok(&users, new_user(n, &format!("user{n}@example.com"), t)).await.id);
    }
    let members = UserFilter { role: Some(Role::User), ..UserFilter::default() };
    // when their filter is counted up to three, then the total says "at least three", and the page is whole;
    let capped = UserQuery { count_limit: 3, ..matching(members.clone()) };
    let page = users.list(&capped).await.unwrap();
    assert_eq!(page.total, Total::AtLeast(3));
    assert_eq!(page.items.iter().map(|user| user.id).collect::<Vec<_>>(), inserted);
    // up to five, it is exact;
    let exact = UserQuery { count_limit: 5, ..matching(members) };
    assert_eq!(users.list(&exact).await.unwrap().total, Total::Exact(5));
    // and the whole population is counted exactly whatever the limit.
    let everyone = UserQuery { count_limit: 1, ..in_id_order(0, 2) };
    assert_eq!(users.list(&everyone).await.unwrap().total, Total::Exact(5));
}
