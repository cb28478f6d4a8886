//! `TestDatabase`: a fresh, migrated SQLite database file for one test, deleted when the test ends.

use std::path::PathBuf;

use crate::{SqliteStore, run_migrations};

#[derive(Debug)]
pub struct TestDatabase {
    folder: PathBuf,
    path: PathBuf,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).expect("OS random source");
        let name: String = suffix.iter().map(|byte| format!("{byte:02x}")).collect();
        let folder = std::env::temp_dir().join(format!("users-sqlite-test-{name}"));
        let path = folder.join("users.db");
        run_migrations(&path).await.expect("migrate test database");
        Self { folder, path }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    pub fn store(&self) -> SqliteStore {
        SqliteStore::new(&self.path).expect("test store")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}
