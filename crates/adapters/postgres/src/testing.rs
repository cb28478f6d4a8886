//! `TestDatabase`: a fresh (migrated, unless asked otherwise) PostgreSQL database for one test, dropped when the test
//! ends.
//!
//! The server is found through `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`). Without a
//! reachable server a test is skipped with a message written straight to stderr (so `cargo test` shows it without
//! `--nocapture`), except under `CI=true`, where that is a failure.

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{PgStore, run_migrations};

const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

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
                let message = format!("PostgreSQL is not reachable at {server_url}: {error}");
                if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                    panic!("{message}; database tests cannot be skipped under CI=true");
                }
                // Straight to the process's stderr: libtest captures `eprintln!` and shows it only for failing tests
                // or under --nocapture, and a skip must be seen in every run.
                use std::io::Write as _;
                let test = std::thread::current().name().unwrap_or("a database test").to_owned();
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "SKIPPED {test}: it did not run. {message}. Start PostgreSQL or set DATABASE_URL."
                );
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

    pub fn store(&self) -> PgStore {
        PgStore::new(&self.url, 8).expect("test pool")
    }

    /// A direct connection, for tests that look at the rows behind the repositories' backs.
    pub async fn connect(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url).await.expect("connect to test database")
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
    fn replaces_only_the_database_name() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(database_url("postgres://u:p@h/db?sslmode=disable", "t1"), "postgres://u:p@h/t1?sslmode=disable");
        assert_eq!(database_url("postgres://h:5432", "t1"), "postgres://h:5432/t1");
    }
}
