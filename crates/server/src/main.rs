//! `users-server`: runs the user service (`serve`, the default), applies migrations (`migrate`), or creates an
//! admin (`create-admin --email EMAIL`, password on standard input), or adds a signing key (`add-signing-key`).

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use users_app::ProvisionedAdmin;
use users_server::{Application, Settings, create_admin, key_ring, migrate, telemetry};

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
    /// Create an admin account, or make an existing account admin. Reads the password from standard input.
    CreateAdmin {
        #[arg(long)]
        email: String,
    },
    /// Generate a new Ed25519 signing key in the keys folder and print its id. Instances that restart without a
    /// pinned JWT_SIGNING_KEY_ID sign with it; the older keys keep verifying until they are removed.
    AddSigningKey,
}

/// Why mimalloc: see the workspace manifest and BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            eprintln!("users-server: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::load(cli.config)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
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
        Command::CreateAdmin { email } => {
            migrate(&settings).await?;
            let password = read_password()?;
            match create_admin(&settings, &email, password).await? {
                ProvisionedAdmin::Created(user) => println!("created admin {} (id {})", user.email, user.object_id),
                ProvisionedAdmin::Promoted(user) => {
                    println!("made {} an admin (id {}); their password is unchanged", user.email, user.object_id)
                }
                ProvisionedAdmin::AlreadyAdmin(user) => {
                    println!("{} is already an admin (id {}); nothing changed", user.email, user.object_id)
                }
            }
        }
        Command::AddSigningKey => {
            let folder = &settings.auth.jwt_keys_dir;
            let key_id = key_ring::add_key(folder)?;
            println!("added signing key {key_id} in {}", folder.display());
        }
    }
    Ok(())
}

fn list(names: &[String]) -> String {
    if names.is_empty() { String::new() } else { format!(": {}", names.join(", ")) }
}

/// The first line of standard input, without its line ending.
fn read_password() -> std::io::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
