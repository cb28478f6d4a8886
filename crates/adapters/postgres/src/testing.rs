//! `TestDatabase`: a fresh (migrated, unless asked otherwise) PostgreSQL database for one test, dropped when the test
//! ends; `FreezableProxy`: a TCP proxy in front of it that can be told to stop forwarding, as a black-holed network
//! path does.
//!
//! The server is found through `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`). Without a
//! reachable server a test is skipped with a message written straight to stderr (so `cargo test` shows it without
//! `--nocapture`), except under `CI=true`, where that is a failure.

use std::net::SocketAddr;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use users_store::{CachedSessions, Store, StoreOneTimeTokens, StoreSecondFactors, StoreSessions, StoreUsers};

use crate::{PgOptions, run_migrations};

const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Says that the calling test does not run, and why, where every `cargo test` run shows it; under `CI=true`, where
/// nothing may be skipped, fails the test instead. The caller returns after it.
pub fn skip(why: &str) {
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{test} cannot run: {why}; tests cannot be skipped under CI=true");
    }
    // Straight to the process's stderr: libtest captures `eprintln!` and shows it only for failing tests or under
    // --nocapture, and a skip must be seen in every run.
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: it did not run. {why}.");
}

/// A database of its own for one test, so tests run in parallel without seeing each other's rows.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    server_url: String,
    url: String,
}

impl TestDatabase {
    /// Creates and migrates a new database, or returns `None` (after saying so on stderr) when no server is
    /// reachable outside CI.
    pub async fn create() -> Option<Self> {
        let db = Self::create_unmigrated().await?;
        run_migrations(db.url()).await.expect("migrate test database");
        Some(db)
    }

    /// Like [`TestDatabase::create`], but the database is left empty: not even the migrations' own table is there.
    pub async fn create_unmigrated() -> Option<Self> {
        let server_url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_SERVER_URL.to_owned());
        let mut admin = match AsyncPgConnection::establish(&server_url).await {
            Ok(connection) => connection,
            Err(error) => {
                skip(&format!(
                    "PostgreSQL is not reachable at {server_url}: {error}. Start PostgreSQL or set DATABASE_URL"
                ));
                return None;
            }
        };
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).expect("OS random source");
        let name = format!("users_test_{}", suffix.iter().map(|b| format!("{b:02x}")).collect::<String>());
        diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create test database");
        let url = database_url(&server_url, &name);
        Some(Self { name, server_url, url })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's URL with `params` (`key=value&…`) added to its query.
    pub fn url_with(&self, params: &str) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{separator}{params}", self.url)
    }

    pub fn store(&self) -> Store {
        self.store_with(&test_options())
    }

    pub fn store_with(&self, options: &PgOptions) -> Store {
        crate::store(&self.url, options).expect("test pool")
    }

    /// The store as the server runs it: signed-in users remembered, the change feed followed.
    pub fn cached_store(&self) -> CachedStore {
        cached_store_at(&self.url, &test_options())
    }

    /// [`TestDatabase::cached_store`], and the store it is made of, sharing its pool: for what the cache does not
    /// concern (the outbox, the audit log).
    pub fn cached_store_over_store(&self) -> (CachedStore, Store) {
        let options = test_options();
        let store = crate::store(&self.url, &options).expect("test pool");
        (cached(&store, &self.url, &options), store)
    }

    /// The server's address, from the URL's host and port.
    pub async fn server_address(&self) -> SocketAddr {
        let authority = authority(&self.url);
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, host_port)| host_port);
        let host_port = if host_port.contains(':') { host_port.to_owned() } else { format!("{host_port}:5432") };
        let mut addresses = tokio::net::lookup_host(&host_port).await.expect("the database host resolves");
        addresses.next().expect("an address for the database host")
    }

    /// The database's URL with its host and port replaced by `address` (a proxy's).
    pub fn url_via(&self, address: SocketAddr) -> String {
        let authority = authority(&self.url);
        let replaced = match authority.rsplit_once('@') {
            Some((credentials, _)) => format!("{credentials}@{address}"),
            None => address.to_string(),
        };
        self.url.replacen(authority, &replaced, 1)
    }

    /// A direct connection, for tests that look at the rows behind the repositories' backs.
    pub async fn connect(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url).await.expect("connect to test database")
    }
}

fn test_options() -> PgOptions {
    PgOptions { max_connections: 8, ..PgOptions::default() }
}

/// A store that remembers signed-in users while its change feed proves it hears every change.
pub type CachedStore = CachedSessions<StoreUsers, StoreSessions, StoreOneTimeTokens, StoreSecondFactors>;

/// The store at `url` as the server runs it, its change feed followed on a task of the current runtime until the
/// store is dropped.
pub fn cached_store_at(url: &str, options: &PgOptions) -> CachedStore {
    cached(&crate::store(url, options).expect("test pool"), url, options)
}

/// `store`'s repositories behind the signed-in cache, its change feed (from `url`) followed.
fn cached(store: &Store, url: &str, options: &PgOptions) -> CachedStore {
    let cached = CachedSessions::new(
        store.users(),
        store.sessions(),
        store.one_time_tokens(),
        store.second_factors(),
        options.change_feed_max_lag,
    );
    tokio::spawn(cached.follow(crate::change_feed(url, options).expect("test change feed")));
    cached
}

/// The `user:password@host:port` part of a URL.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

/// A TCP proxy to one server that can be frozen: it then stops reading and writing on every connection, old and new,
/// without closing any, as a network path that silently drops everything does (no reset, no FIN: nothing for TCP
/// to notice soon). Thawed, it forwards what it held and goes on. Stops when dropped.
#[derive(Debug)]
pub struct FreezableProxy {
    address: SocketAddr,
    frozen: watch::Sender<bool>,
    accepting: tokio::task::JoinHandle<()>,
}

impl FreezableProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let address = listener.local_addr().expect("the proxy's address");
        let (frozen, _) = watch::channel(false);
        let state = frozen.clone();
        let accepting = tokio::spawn(async move {
            let mut pumps = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(target).await else { continue };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                pumps.spawn(pump(client_read, server_write, state.subscribe()));
                pumps.spawn(pump(server_read, client_write, state.subscribe()));
            }
        });
        Self { address, frozen, accepting }
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops forwarding: bytes already read are held, nothing more is read.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    pub fn thaw(&self) {
        self.frozen.send_replace(false);
    }
}

impl Drop for FreezableProxy {
    fn drop(&mut self) {
        // Its JoinSet of pumps goes with it, closing every connection.
        self.accepting.abort();
    }
}

/// Copies one direction of a connection, reading and writing only while thawed.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: watch::Receiver<bool>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        if frozen.wait_for(|frozen| !frozen).await.is_err() {
            return;
        }
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        // Freezing while a read was under way holds what it got.
        if frozen.wait_for(|frozen| !frozen).await.is_err() || to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

/// The server URL with its database name replaced.
fn database_url(server_url: &str, database: &str) -> String {
    let (base, query) = server_url.split_once('?').map_or((server_url, None), |(base, query)| (base, Some(query)));
    let base = match base.rfind('/') {
        Some(slash) if base[..slash].ends_with('/') => base.to_owned(), // "postgres://host" has no database part
        Some(slash) => base[..slash].to_owned(),
        None => base.to_owned(),
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server_url, name) = (self.server_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on: do the cleanup on a thread of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let mut admin = AsyncPgConnection::establish(&server_url).await.ok()?;
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await.ok()
            })
        });
        let _ = cleanup.join();
    }
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn finds_the_host_and_port_of_a_url() {
        assert_eq!(super::authority("postgres://u:p@127.0.0.1:5432/db?sslmode=disable"), "u:p@127.0.0.1:5432");
        assert_eq!(super::authority("postgres://db/users"), "db");
    }

    #[test]
    fn replaces_only_the_database_name() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(database_url("postgres://u:p@h/db?sslmode=disable", "t1"), "postgres://u:p@h/t1?sslmode=disable");
        assert_eq!(database_url("postgres://h:5432", "t1"), "postgres://h:5432/t1");
    }
}
