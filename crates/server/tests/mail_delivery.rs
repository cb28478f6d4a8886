//! The built `users-server` delivering mail through a real SMTP server (Python's `aiosmtpd`, started here) that is
//! down at first: the messages wait in the outbox, survive a `kill -9` of the service, and arrive once each when
//! the mail server and the service are back. On the embedded SQLite store and on PostgreSQL.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

/// The script of the mail adapter's tests: an `aiosmtpd` server that writes each message it accepts into a folder.
const SMTP_SERVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../adapters/mail/tests/smtp_server.py");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free port").port()
}

/// Whether Python can run `aiosmtpd`. Under CI its absence fails the test; elsewhere the test is skipped, loudly.
fn smtp_server_available() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 with aiosmtpd is needed (python3 -m pip install aiosmtpd)"
        );
        eprintln!("skipped: python3 with aiosmtpd is not installed (python3 -m pip install aiosmtpd)");
    }
    found
}

/// A process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The SMTP server on `port`, writing what it accepts into `mailbox`; it listens before this returns.
fn start_smtp_server(port: u16, mailbox: &Path) -> Process {
    let child = Command::new("python3")
        .arg(SMTP_SERVER)
        .args(["--port", &port.to_string(), "--dir"])
        .arg(mailbox)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the SMTP server");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the SMTP server did not listen within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    Process(child)
}

/// `users-server` in `folder` on `port`, storing in `database_url` and mailing through `smtp_url`; ready when
/// this returns.
async fn start_service(folder: &Path, port: u16, database_url: &str, smtp_url: &str) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_users-server"))
        .current_dir(folder)
        .env("DATABASE_URL", database_url)
        .env("MAIL_SMTP_URL", smtp_url)
        .env("PORT", port.to_string())
        .env_remove("HOST")
        .env_remove("USERS_CONFIG")
        .env_remove("JWT_SECRET")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start users-server");
    let process = Process(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = reqwest::get(format!("http://127.0.0.1:{port}/health/ready")).await
            && response.status() == StatusCode::OK
        {
            return process;
        }
        assert!(Instant::now() < deadline, "users-server did not become ready within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The recipients of the messages in `mailbox`, as their `To:` headers name them, sorted.
fn recipients(mailbox: &Path) -> Vec<String> {
    let mut recipients: Vec<String> = std::fs::read_dir(mailbox)
        .expect("the mailbox")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
        .map(|path| {
            let raw = std::fs::read(&path).expect("a message");
            let message = mail_parser::MessageParser::default().parse(&raw).expect("an RFC 5322 message");
            let to = message.to().and_then(|to| to.first()).and_then(|to| to.address()).expect("a recipient");
            to.to_owned()
        })
        .collect();
    recipients.sort();
    recipients
}

fn temp_folder(name: &str) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("users-mail-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).expect("a temporary folder");
    folder
}

/// Three sign-ups while the mail server is down, a `kill -9` of the service with their verifications queued, then
/// the mail server and the service back: each verification arrives, once.
async fn queued_mail_survives_a_kill_and_a_mail_server_that_was_down(folder: &Path, database_url: &str) {
    let mailbox = folder.join("mailbox");
    std::fs::create_dir_all(&mailbox).unwrap();
    let (service_port, smtp_port) = (free_port(), free_port());
    let smtp_url = format!("smtp://127.0.0.1:{smtp_port}");

    // Given three sign-ups while nothing listens on the mail server's port,
    let service = start_service(folder, service_port, database_url, &smtp_url).await;
    let addresses = ["ada@example.com", "grace@example.com", "alan@example.com"];
    let client = reqwest::Client::new();
    for address in addresses {
        let response = client
            .post(format!("http://127.0.0.1:{service_port}/auth/register"))
            .json(&json!({ "email": address, "password": PASSWORD }))
            .send()
            .await
            .expect("sign up");
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    // tried and refused for a few seconds,
    tokio::time::sleep(Duration::from_secs(3)).await;

    // when the service is killed outright, and comes back with the mail server,
    drop(service);
    let _smtp = start_smtp_server(smtp_port, &mailbox);
    let _service = start_service(folder, service_port, database_url, &smtp_url).await;

    // then every verification arrives (within the backoff, or a crashed delivery's lease),
    let mut expected: Vec<String> = addresses.iter().map(|address| (*address).to_owned()).collect();
    expected.sort();
    let deadline = Instant::now() + Duration::from_secs(180);
    while recipients(&mailbox).len() < expected.len() {
        assert!(Instant::now() < deadline, "only {:?} arrived", recipients(&mailbox));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // and none twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(recipients(&mailbox), expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn on_sqlite_queued_mail_survives_a_kill_and_a_mail_server_that_was_down() {
    if !smtp_server_available() {
        return;
    }
    let folder = temp_folder("sqlite");
    queued_mail_survives_a_kill_and_a_mail_server_that_was_down(&folder, "sqlite://data/users.db").await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_queued_mail_survives_a_kill_and_a_mail_server_that_was_down() {
    if !smtp_server_available() {
        return;
    }
    let Some(database) = users_postgres::testing::TestDatabase::create().await else { return };
    let folder = temp_folder("postgres");
    queued_mail_survives_a_kill_and_a_mail_server_that_was_down(&folder, database.url()).await;
    let _ = std::fs::remove_dir_all(&folder);
}

/// `users-server send-test-mail` in `folder`, with `smtp_url` as `MAIL_SMTP_URL` when given.
fn send_test_mail(folder: &Path, smtp_url: Option<&str>) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_users-server"));
    command.args(["send-test-mail", "--to", "ada@example.com"]).current_dir(folder).env_remove("USERS_CONFIG");
    match smtp_url {
        Some(url) => command.env("MAIL_SMTP_URL", url),
        None => command.env_remove("MAIL_SMTP_URL"),
    };
    command.output().expect("run send-test-mail")
}

#[test]
fn a_test_message_goes_to_the_mail_folder_by_default_and_the_command_says_so() {
    let folder = temp_folder("test-message");

    let output = send_test_mail(&folder, None);

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("ada@example.com") && stdout.contains("data/mail"), "{stdout}");
    assert_eq!(recipients(&folder.join("data/mail")), ["ada@example.com"]);
    assert!(!folder.join("data/users.db").exists(), "a check of the mail settings touches no database");
    let _ = std::fs::remove_dir_all(&folder);
}

#[test]
fn a_test_message_a_mail_server_does_not_take_fails_the_command_naming_the_server() {
    let folder = temp_folder("test-message-refused");
    let port = free_port();

    let output = send_test_mail(&folder, Some(&format!("smtp://mailer:s3cret@127.0.0.1:{port}")));

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(!stderr.contains("s3cret"), "the password is never shown: {stderr}");
    let _ = std::fs::remove_dir_all(&folder);
}
