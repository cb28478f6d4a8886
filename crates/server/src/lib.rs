//! The `users-server` binary's library: settings, wiring of the adapters into the use cases and the HTTP adapter,
//! and the commands `serve`, `migrate`, `create-admin`, `import`, `add-signing-key`, `send-test-mail` and
//! `healthcheck`. Everything here is assembly and the reading of inputs; the rules live in `app`.

pub mod admin_password;
mod error_chain;
pub mod healthcheck;
pub mod import;
pub mod key_ring;
mod mail;
mod private_files;
pub mod secret;
pub mod settings;
pub mod startup;
pub mod telemetry;

pub use error_chain::error_chain;
pub use settings::Settings;
pub use startup::{Application, StartupError, StoreLocation, create_admin, import_users, migrate, send_test_mail};
