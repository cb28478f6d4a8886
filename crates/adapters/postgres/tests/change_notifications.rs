//! What only the PostgreSQL store does: it remembers signed-in users between requests and forgets them when the
//! database announces a change, whoever made it. Each test has a fresh database of its own.

use std::time::Duration;

use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures_util::StreamExt;
use users_domain::{AttemptOutcome, ClientNetwork, LockoutPolicy, Role, User};
use users_ports::{AuditKind, SessionId, SessionRepository, UserRepository};
use users_postgres::testing::CachedStore;
use users_postgres::testing::TestDatabase;
use users_store_contract::{audit, device, insert_ok, new_session, new_user, now, seconds, signed_in_at, suspension};

/// A store that hears changes, with one signed-in user and their session.
async fn signed_in() -> Option<(TestDatabase, CachedStore, User, SessionId)> {
    let db = TestDatabase::create().await?;
    // Written before the cached store listens: the sign-in's own notification (it sets the user's last sign-in)
    // must not arrive after the test's first read and make it forget what the test expects it to remember.
    let plain = db.store();
    let t = now();
    let ada = insert_ok(&plain.users(), new_user(1, "ada@example.com", t)).await;
    let session = plain.sessions().create(new_session(ada.id, "ada-1", t, t + seconds(3600))).await.unwrap().unwrap();
    let ada = signed_in_at(ada, t);
    let store = db.cached_store();
    for _ in 0..500 {
        if store.hears_changes() {
            return Some((db, store, ada, session));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the store did not start listening for changes within 5 s");
}

async fn read(store: &CachedStore, user: &User, session: SessionId) -> Option<User> {
    store.clone().find_signed_in(user.id, session, now()).await.unwrap()
}

/// Polls until `check` holds of what the store answers, for up to 5 s.
async fn eventually(store: &CachedStore, user: &User, session: SessionId, check: impl Fn(Option<&User>) -> bool) {
    for _ in 0..500 {
        if check(read(store, user, session).await.as_ref()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the store still answers {:?} after 5 s", read(store, user, session).await);
}

/// Changes a row without firing the triggers, so that no notification tells the store.
async fn change_silently(conn: &mut AsyncPgConnection, sql: &str) {
    conn.batch_execute(&format!("BEGIN; SET LOCAL session_replication_role = replica; {sql}; COMMIT;"))
        .await
        .expect("silent change");
}

#[tokio::test]
async fn a_signed_in_user_is_read_once_then_remembered() {
    let Some((db, store, ada, session)) = signed_in().await else { return };
    assert_eq!(read(&store, &ada, session).await.as_ref(), Some(&ada));

    let mut conn = db.connect().await;
    change_silently(&mut conn, &format!("UPDATE users SET first_name = 'Silent' WHERE id = {}", ada.id.0)).await;
    assert_eq!(read(&store, &ada, session).await.as_ref(), Some(&ada), "answered from memory, not the database");
}

#[tokio::test]
async fn a_session_revoked_elsewhere_ends_here() {
    let Some((db, store, ada, session)) = signed_in().await else { return };
    assert!(read(&store, &ada, session).await.is_some());

    let mut conn = db.connect().await;
    conn.batch_execute(&format!("UPDATE sessions SET revoked_at = now() WHERE id = {}", session.0)).await.unwrap();
    eventually(&store, &ada, session, |user| user.is_none()).await;
}

#[tokio::test]
async fn a_profile_or_roles_changed_elsewhere_are_seen_here() {
    let Some((db, store, ada, session)) = signed_in().await else { return };
    assert!(read(&store, &ada, session).await.is_some());
    let mut conn = db.connect().await;

    conn.batch_execute(&format!("UPDATE users SET first_name = 'Changed' WHERE id = {}", ada.id.0)).await.unwrap();
    eventually(&store, &ada, session, |user| {
        user.and_then(|user| user.profile.first_name.as_ref()).is_some_and(|name| name.as_str() == "Changed")
    })
    .await;

    conn.batch_execute(&format!("INSERT INTO user_roles (user_id, role_id) VALUES ({}, 1)", ada.id.0)).await.unwrap();
    eventually(&store, &ada, session, |user| user.is_some_and(|user| user.roles.contains(&Role::Admin))).await;

    conn.batch_execute(&format!("DELETE FROM users WHERE id = {}", ada.id.0)).await.unwrap();
    eventually(&store, &ada, session, |user| user.is_none()).await;
}

#[tokio::test]
async fn writes_through_the_store_are_read_back_at_once() {
    let Some((_db, store, ada, session)) = signed_in().await else { return };
    assert!(read(&store, &ada, session).await.is_some());
    let t = now();

    let update =
        users_ports::UserUpdate { roles: Some(vec![Role::Admin, Role::User]), ..users_store_contract::touch(t) };
    store.clone().update(ada.id, update).await.unwrap();
    assert!(read(&store, &ada, session).await.unwrap().roles.contains(&Role::Admin));

    store.clone().revoke_all_of_user(ada.id, None, t, audit(AuditKind::SessionRevoked, t)).await.unwrap();
    assert_eq!(read(&store, &ada, session).await, None);
}

#[tokio::test]
async fn a_suspension_made_elsewhere_is_seen_here() {
    let Some((db, store, ada, session)) = signed_in().await else { return };
    assert!(read(&store, &ada, session).await.is_some());

    // An operator's SQL that touches the user's row alone (no session ends with it): the suspension columns notify.
    let mut conn = db.connect().await;
    conn.batch_execute(&format!("UPDATE users SET suspended_at = now() WHERE id = {}", ada.id.0)).await.unwrap();
    eventually(&store, &ada, session, |user| user.is_some_and(|user| user.suspension.is_some())).await;
    conn.batch_execute(&format!("UPDATE users SET suspended_at = NULL WHERE id = {}", ada.id.0)).await.unwrap();
    eventually(&store, &ada, session, |user| user.is_some_and(|user| user.suspension.is_none())).await;

    // Another instance suspends the user: the session it ended is over here too.
    let elsewhere = db.store().users();
    elsewhere
        .suspend(ada.id, suspension(now(), None, Some("abuse")), audit(AuditKind::UserSuspended, now()))
        .await
        .expect("suspended elsewhere");
    eventually(&store, &ada, session, |user| user.is_none()).await;
}

#[tokio::test]
async fn while_the_notifications_are_not_heard_nothing_is_remembered() {
    let Some((db, store, ada, session)) = signed_in().await else { return };
    assert!(read(&store, &ada, session).await.is_some());
    let mut conn = db.connect().await;
    change_silently(&mut conn, &format!("UPDATE users SET first_name = 'Silent' WHERE id = {}", ada.id.0)).await;

    // The listening connection dies: changes made until it is back would go unheard, so memory is given up.
    diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'users-change-listener'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    eventually(&store, &ada, session, |user| {
        user.and_then(|user| user.profile.first_name.as_ref()).is_some_and(|name| name.as_str() == "Silent")
    })
    .await;
    // And it comes back on its own.
    for _ in 0..500 {
        if store.hears_changes() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the store did not listen again within 5 s");
}

#[tokio::test]
async fn sign_in_counts_and_refreshes_notify_nothing_but_profile_changes_do() {
    let Some((db, store, ada, _session)) = signed_in().await else { return };
    let mut listening = db.connect().await;
    listening.batch_execute("LISTEN users_changed").await.unwrap();
    let t = now();

    let (users, lockout) = (store.clone(), LockoutPolicy::default());
    let from = ClientNetwork::of("203.0.113.9".parse().unwrap());
    for outcome in [AttemptOutcome::Refused, AttemptOutcome::Verified] {
        users.begin_login_attempt(ada.id, &from, t, &lockout).await.unwrap();
        users.finish_login_attempt(ada.id, &from, outcome, t, &lockout, &device(1)).await.unwrap();
    }
    let extended: usize = diesel::sql_query("UPDATE sessions SET expires_at = expires_at + interval '1 hour'")
        .execute(&mut db.connect().await)
        .await
        .unwrap();
    assert_eq!(extended, 1);
    store.clone().update(ada.id, users_store_contract::touch(t + seconds(1))).await.unwrap();

    // The store's listener pings the channel now and then to prove it hears it; those are not changes.
    let notifications = listening.notifications_stream().filter(|notification| {
        std::future::ready(!notification.as_ref().is_ok_and(|notification| notification.payload.starts_with("ping ")))
    });
    let mut notifications = std::pin::pin!(notifications);
    let first = tokio::time::timeout(Duration::from_secs(5), notifications.next())
        .await
        .expect("a notification")
        .unwrap()
        .unwrap();
    assert_eq!((first.channel.as_str(), first.payload.as_str()), ("users_changed", &*ada.id.0.to_string()));
    // Each transaction notifies apart: had the sign-in count or the refresh notified, there would be more.
    let more = tokio::time::timeout(Duration::from_millis(300), notifications.next()).await;
    assert!(more.is_err(), "one notification only: {more:?}");
}

#[tokio::test]
async fn setting_any_column_of_a_user_but_the_sign_in_count_notifies() {
    let Some((db, _store, ada, _session)) = signed_in().await else { return };
    let mut conn = db.connect().await;
    #[derive(diesel::QueryableByName)]
    struct Column {
        #[diesel(sql_type = diesel::sql_types::Text)]
        column_name: String,
    }
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = 'users' AND column_name <> 'id'",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert!(columns.len() > 10, "the users table was found");
    let mut listening = db.connect().await;
    listening.batch_execute("LISTEN users_changed").await.unwrap();
    let notifications = listening.notifications_stream().filter(|notification| {
        std::future::ready(!notification.as_ref().is_ok_and(|notification| notification.payload.starts_with("ping ")))
    });
    let mut notifications = std::pin::pin!(notifications);

    for Column { column_name } in columns {
        conn.batch_execute(&format!("UPDATE users SET {column_name} = {column_name} WHERE id = {}", ada.id.0))
            .await
            .unwrap();
        let heard = tokio::time::timeout(Duration::from_millis(500), notifications.next()).await;
        let quiet = ["failed_logins", "locked_until"].contains(&column_name.as_str());
        match heard {
            Ok(Some(Ok(notification))) => {
                assert!(!quiet, "setting {column_name} notified");
                assert_eq!(notification.payload, ada.id.0.to_string());
            }
            Ok(other) => panic!("{other:?}"),
            Err(_silence) => {
                assert!(quiet, "setting {column_name} notified nobody: add it to the users_changed trigger")
            }
        }
    }
}

#[tokio::test]
async fn a_table_emptied_elsewhere_is_seen_here() {
    // TRUNCATE names no rows and fires no row trigger: the remembered user must be read again all the same.
    type Check = fn(Option<&User>) -> bool;
    let cases: [(&str, Check); 4] = [
        ("TRUNCATE sessions CASCADE", |user| user.is_none()),
        ("TRUNCATE user_roles", |user| user.is_some_and(|user| user.roles.is_empty())),
        ("TRUNCATE users CASCADE", |user| user.is_none()),
        ("TRUNCATE roles CASCADE", |user| user.is_some_and(|user| user.roles.is_empty())),
    ];
    for (truncate, check) in cases {
        let Some((db, store, ada, session)) = signed_in().await else { return };
        assert_eq!(read(&store, &ada, session).await.as_ref(), Some(&ada), "{truncate}");

        db.connect().await.batch_execute(truncate).await.unwrap();

        eventually(&store, &ada, session, check).await;
    }
}

/// The allowed lag of the stores made by `TestDatabase::store` (the default).
const MAX_LAG: Duration = Duration::from_secs(1);

#[tokio::test]
async fn a_remembered_user_stays_remembered_while_the_listener_keeps_proving_itself() {
    let Some((db, store, ada, session)) = signed_in().await else { return };
    assert!(read(&store, &ada, session).await.is_some());
    let mut conn = db.connect().await;
    change_silently(&mut conn, &format!("UPDATE users SET first_name = 'Silent' WHERE id = {}", ada.id.0)).await;

    // Well past the allowed lag: the listener's pings keep the proof young, so memory keeps answering.
    let until = tokio::time::Instant::now() + MAX_LAG * 3;
    while tokio::time::Instant::now() < until {
        assert_eq!(read(&store, &ada, session).await.as_ref(), Some(&ada), "answered from memory");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Resumes a stopped process when dropped, so that a failing test never leaves a server process frozen.
struct Resume(String);

impl Drop for Resume {
    fn drop(&mut self) {
        let resumed = std::process::Command::new("kill").args(["-CONT", &self.0]).status();
        assert!(resumed.is_ok_and(|status| status.success()), "could not resume process {}", self.0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_revoked_elsewhere_ends_here_within_the_lag_even_while_the_listener_is_stalled() {
    let Some((db, store, ada, session)) = signed_in().await else { return };
    assert!(read(&store, &ada, session).await.is_some());
    let mut conn = db.connect().await;
    #[derive(diesel::QueryableByName)]
    struct Backend {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    let Backend { pid } = diesel::sql_query(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'users-change-listener'",
    )
    .get_result(&mut conn)
    .await
    .expect("the listener's backend");

    // Given the listener's backend is stopped: its connection stays open, and nothing it should hear comes.
    let pid = pid.to_string();
    let stopped = std::process::Command::new("kill").args(["-STOP", &pid]).status();
    if !stopped.is_ok_and(|status| status.success()) {
        users_postgres::testing::skip(&format!(
            "cannot stop PostgreSQL's process {pid} (the test needs root and a local server)"
        ));
        return;
    }
    let resume = Resume(pid);

    // When the session is revoked through another connection...
    conn.batch_execute(&format!("UPDATE sessions SET revoked_at = now() WHERE id = {}", session.0)).await.unwrap();
    let revoked = std::time::Instant::now();

    // ...then this store stops answering it from memory within the allowed lag.
    while read(&store, &ada, session).await.is_some() {
        assert!(
            revoked.elapsed() < MAX_LAG + Duration::from_millis(300),
            "still signed in after {:?}",
            revoked.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // And once the backend runs again (or the listener gave it up for a new connection), memory is used again.
    drop(resume);
    for _ in 0..1000 {
        if store.hears_changes() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the store did not hear changes again within 10 s");
}
