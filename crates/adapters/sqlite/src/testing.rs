//! `TestDatabase`: a fresh, migrated SQLite database file for one test, deleted when the test ends.

use std::path::PathBuf;

use users_store::Store;

use crate::run_migrations;

#[derive(Debug)]
pub struct TestDatabase {
    folder: PathBuf,
    path: PathBuf,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let db = Self::create_unmigrated();
        run_migrations(&db.path).await.expect("migrate test database");
        db
    }

    /// A path for a database of its own that does not exist yet, nor its folder ([`run_migrations`] creates both).
    pub fn create_unmigrated() -> Self {
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).expect("OS random source");
        let name: String = suffix.iter().map(|byte| format!("{byte:02x}")).collect();
        let folder = std::env::temp_dir().join(format!("users-sqlite-test-{name}"));
        let path = folder.join("users.db");
        Self { folder, path }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    pub fn store(&self) -> Store {
        crate::store(&self.path, 4, 4).expect("test store")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}
