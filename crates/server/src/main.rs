//! `users-server`: runs the user service (`serve`, the default), applies migrations (`migrate`), creates an admin
//! (`create-admin --email EMAIL [--promote-existing]`), imports users from another system (`import FILE`), adds a
//! signing key (`add-signing-key`), sends a test message
//! through the configured mail transport (`send-test-mail --to ADDRESS`), or asks a running server whether it is
//! ready (`healthcheck`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use users_app::{ExistingAccount, ProvisionedAdmin};
use users_server::{
    Application, Settings, admin_password, create_admin, healthcheck, import_users, key_ring, migrate, send_test_mail,
    telemetry,
};

#[derive(Parser)]
#[command(name = "users-server", version, about = "User management service: sign-up, sign-in, profiles and admin")]
struct Cli {
    /// Settings file (TOML). Default: $USERS_CONFIG, else ./users.toml if it exists.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve HTTP until SIGTERM/SIGINT (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Create an admin account; fails if the email already has one, unless --promote-existing is given.
    ///
    /// The password is asked for twice, hidden, on a terminal; otherwise it is the first line of standard input.
    /// Prints the store it wrote to.
    CreateAdmin {
        /// The admin's email, with which they sign in.
        #[arg(long)]
        email: String,
        /// If the email already has an account, make that account an admin instead: it keeps its own password, and
        /// none is asked for. Only for an account you know is yours: anyone can register any email.
        #[arg(long)]
        promote_existing: bool,
    },
    /// Bring users over from another system: FILE holds one JSON object a line, `{email, username?, first_name?,
    /// last_name?, roles?, email_verified?, password_hash?}`.
    ///
    /// A password_hash may be Argon2 or scrypt (PHC), bcrypt or PBKDF2-SHA256 (PHC, or Django's pbkdf2_sha256$);
    /// the user signs in with the old password, which is then re-hashed. A user without one sets a password through
    /// a reset. An address that already has an account is skipped, so running it again is safe. Refused lines are
    /// listed with their numbers and reasons; the rest go in. Applies pending migrations first.
    Import {
        /// The JSON Lines file.
        file: PathBuf,
    },
    /// Generate a new Ed25519 signing key in the keys folder and print its id. Instances that restart without a
    /// pinned JWT_SIGNING_KEY_ID sign with it; the older keys keep verifying until they are removed.
    AddSigningKey,
    /// Send one message through the configured mail transport (SMTP, or a file in the mail folder) and say whether it
    /// was accepted: a check of the mail settings, with no database.
    SendTestMail {
        /// The address to send it to.
        #[arg(long)]
        to: String,
    },
    /// Ask the server these settings describe whether it is ready (GET /health/ready); exit 0 if so, 1 if not. For
    /// container health checks.
    Healthcheck,
}

/// Why mimalloc: see the workspace manifest and BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(error) = telemetry::init() {
        eprintln!("users-server: {error}");
        return ExitCode::FAILURE;
    }
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let message = users_server::error_chain(error.as_ref());
            // Once: in the log when it is heard (as JSON where logs are JSON), else on stderr.
            if tracing::enabled!(tracing::Level::ERROR) {
                tracing::error!("{message}");
            } else {
                eprintln!("users-server: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::load(cli.config)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            raise_open_file_limit();
            let applied = migrate(&settings).await?;
            tracing::info!(count = applied.len(), "migrations applied");
            let application = Application::build(&settings)?;
            let (host, port, store) = (&settings.server.host, application.port(), settings.database.redacted_url());
            tracing::info!("users-server serving http://{host}:{port} from {store}");
            match application.metrics_address() {
                Some(address) => tracing::info!("metrics served on http://{address}/metrics only"),
                None => tracing::info!("metrics served on the API's port, http://{host}:{port}/metrics"),
            }
            application.run_until_stopped().await?;
            tracing::info!("users-server stopped");
        }
        Command::Migrate => {
            let applied = migrate(&settings).await?;
            println!("applied {} migration(s){}", applied.len(), list(&applied));
        }
        Command::CreateAdmin { email, promote_existing } => {
            migrate(&settings).await?;
            let existing = if promote_existing { ExistingAccount::Promote } else { ExistingAccount::Refuse };
            let store = settings.database.redacted_url();
            match create_admin(&settings, &email, existing, async || admin_password::read()).await? {
                ProvisionedAdmin::Created(user) => {
                    println!("created admin {} (id {}) in {store}", user.email, user.object_id)
                }
                ProvisionedAdmin::Promoted(user) => println!(
                    "made {} an admin (id {}) in {store}; their password is unchanged",
                    user.email, user.object_id
                ),
                ProvisionedAdmin::AlreadyAdmin(user) => {
                    println!("{} is already an admin (id {}) in {store}; nothing changed", user.email, user.object_id)
                }
            }
        }
        Command::Import { file } => {
            migrate(&settings).await?;
            let report = import_users(&settings, &file, |so_far| {
                eprintln!(
                    "import: {} imported, {} skipped, {} refused so far",
                    so_far.imported,
                    so_far.skipped,
                    so_far.refused.len()
                );
            })
            .await?;
            for (line, reason) in &report.refused {
                println!("line {line}: refused: {reason}");
            }
            let store = settings.database.redacted_url();
            let (imported, skipped, refused) = (report.imported, report.skipped, report.refused.len());
            println!("imported {imported}, skipped {skipped} (already there), refused {refused}, into {store}");
        }
        Command::AddSigningKey => {
            let folder = &settings.auth.jwt_keys_dir;
            let key_id = key_ring::add_key(folder)?;
            println!("added signing key {key_id} in {}", folder.display());
        }
        Command::SendTestMail { to } => {
            let transport = send_test_mail(&settings, &to).await?;
            println!("a test message to {to} was accepted by {transport}");
        }
        Command::Healthcheck => healthcheck::check(&settings.server, settings.database.ready_timeout()).await?,
    }
    Ok(())
}

/// Each connection holds a file descriptor, and a soft limit of 1024 (a common default) is reached long before
/// `server.max_connections`: the soft limit is raised to the hard one, which needs no privilege.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open-file limit"),
        Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() { String::new() } else { format!(": {}", names.join(", ")) }
}
