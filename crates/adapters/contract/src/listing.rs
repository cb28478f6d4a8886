//! Listing users a page at a time, in id order, with the size of the whole.

use users_ports::{AuditKind, PageRequest, SessionRepository, UserRepository};

use crate::fixtures::{audit, insert_ok, new_admin, new_user, now, seconds};

pub async fn list_pages_in_id_order<U: UserRepository, S: SessionRepository>(users: U, _sessions: S) {
    // Given an empty store, a page of it is empty.
    let empty = users.list(PageRequest { offset: 0, limit: 10 }).await.unwrap();
    assert_eq!((empty.items, empty.total), (vec![], 0));

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
    let all = users.list(PageRequest { offset: 0, limit: 10 }).await.unwrap();
    assert_eq!(all.total, 5);
    assert_eq!(all.items, inserted, "every user, with roles, in id order");

    let slice = users.list(PageRequest { offset: 1, limit: 2 }).await.unwrap();
    assert_eq!(slice.total, 5);
    assert_eq!(slice.items, inserted[1..3]);

    let tail = users.list(PageRequest { offset: 3, limit: 10 }).await.unwrap();
    assert_eq!((tail.items.as_slice(), tail.total), (&inserted[3..], 5));

    // a page past the end is empty, and so is a page of no items, but both say how many there are.
    for offset in [5, 6, 1000, u64::MAX] {
        let past = users.list(PageRequest { offset, limit: 10 }).await.unwrap();
        assert_eq!((past.items, past.total), (vec![], 5), "offset {offset}");
    }

    let none = users.list(PageRequest { offset: 0, limit: 0 }).await.unwrap();
    assert_eq!((none.items, none.total), (vec![], 5));

    // When one is deleted, the pages and the count follow.
    users.delete(inserted[1].id, audit(AuditKind::UserDeleted, now())).await.unwrap();
    let page = users.list(PageRequest { offset: 1, limit: 2 }).await.unwrap();
    assert_eq!(page.total, 4);
    assert_eq!(page.items, vec![inserted[2].clone(), inserted[3].clone()]);
}
