//! `SmtpMailer` against a real SMTP server: Python's aiosmtpd, started by each test on a free port
//! (`tests/smtp_server.py`). Without python3 and aiosmtpd the tests are skipped, loudly, except under `CI=true`,
//! where that is a failure.

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use users_mail::SmtpMailer;
use users_ports::{MailError, MailSender as _};

use crate::support::{FROM, ReadBack, Scratch, TOKEN, composer, reset_mail};

/// A running aiosmtpd that stores what it accepts in a folder of its own; killed when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    inbox: Scratch,
}

impl SmtpServer {
    /// `None` when aiosmtpd is missing and the test is to be skipped.
    fn start(options: &[&str]) -> Option<Self> {
        aiosmtpd_present().then(|| Self::start_on(free_port(), options))
    }

    fn start_on(port: u16, options: &[&str]) -> Self {
        let inbox = Scratch::new("smtp-inbox");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_server.py");
        let child = Command::new("python3")
            .arg(script)
            .args(["--port", &port.to_string(), "--dir"])
            .arg(inbox.path())
            .args(options)
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 starts");
        let mut server = Self { child, port, inbox };
        server.wait_until_listening();
        server
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the test SMTP server stopped before listening: {status}");
            }
            assert!(Instant::now() < deadline, "the test SMTP server is not listening on {} after 20 s", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn received(&self) -> Vec<ReadBack> {
        Scratch::names_in(self.inbox.path())
            .into_iter()
            .filter(|name| !name.starts_with('.'))
            .map(|name| ReadBack::parse(&std::fs::read(self.inbox.path().join(name)).unwrap()))
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether python3 can import aiosmtpd. When it cannot: a failure under `CI=true`, where nothing may be skipped, and
/// elsewhere a skip said straight to stderr, so that every `cargo test` run shows it, not only `--nocapture`.
fn aiosmtpd_present() -> bool {
    let present = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !present {
        let test = std::thread::current().name().unwrap_or("an SMTP test").to_owned();
        let why = "it needs python3 with aiosmtpd (python3 -m pip install aiosmtpd)";
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!("{test} cannot run: {why}; tests cannot be skipped under CI=true");
        }
        let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: it did not run. {why}.");
    }
    present
}

/// A port nothing listens on now: bound by the system's choice, then let go.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn mailer(url: &str) -> SmtpMailer {
    SmtpMailer::from_url(url, composer()).unwrap()
}

#[tokio::test]
async fn a_message_sent_over_smtp_arrives_with_its_link() {
    let Some(server) = SmtpServer::start(&[]) else { return };

    mailer(&server.url()).send(&reset_mail("ada@example.com")).await.unwrap();

    let received = server.received();
    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert_eq!((message.to.as_str(), message.from.as_str()), ("ada@example.com", FROM));
    assert_eq!(message.subject, "Reset your Users password");
    assert_eq!(message.content_type, "multipart/alternative");
    assert!(message.text_has_line(&format!("http://127.0.0.1:8080/reset-password?token={TOKEN}")), "{}", message.text);
}

#[tokio::test]
async fn a_server_that_is_down_gives_unavailable_and_the_same_send_succeeds_once_it_is_up() {
    if !aiosmtpd_present() {
        return;
    }
    let port = free_port();
    let mailer = mailer(&format!("smtp://127.0.0.1:{port}"));
    let mail = reset_mail("ada@example.com");

    let error = mailer.send(&mail).await.unwrap_err();
    assert!(matches!(error, MailError::Unavailable(_)), "{error:?}");

    let server = SmtpServer::start_on(port, &[]);
    mailer.send(&mail).await.unwrap();
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn a_recipient_refused_for_good_gives_rejected() {
    let Some(server) = SmtpServer::start(&["--rcpt-reply", "550 5.1.1 No such user here"]) else { return };

    let error = mailer(&server.url()).send(&reset_mail("nobody@example.com")).await.unwrap_err();

    assert!(matches!(error, MailError::Rejected(_)), "{error:?}");
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_recipient_refused_for_now_gives_unavailable() {
    let Some(server) = SmtpServer::start(&["--rcpt-reply", "451 4.3.0 Try again later"]) else { return };

    let error = mailer(&server.url()).send(&reset_mail("ada@example.com")).await.unwrap_err();

    assert!(matches!(error, MailError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn auth_with_the_right_password_delivers_and_a_refused_one_keeps_the_mail_for_later() {
    let Some(server) = SmtpServer::start(&["--auth", "mailer:s3cret"]) else { return };
    let with = |credentials: &str| mailer(&format!("smtp://{credentials}@127.0.0.1:{}", server.port));
    let mail = reset_mail("ada@example.com");

    with("mailer:s3cret").send(&mail).await.unwrap();
    assert_eq!(server.received().len(), 1);

    // A wrong password (535) or none at all (530) is the setting's fault, not the message's: it is retried.
    let wrong = with("mailer:not-it").send(&mail).await.unwrap_err();
    assert!(matches!(wrong, MailError::Unavailable(_)), "{wrong:?}");
    assert!(!wrong.to_string().contains("not-it"), "{wrong}");
    let anonymous = mailer(&server.url()).send(&mail).await.unwrap_err();
    assert!(matches!(anonymous, MailError::Unavailable(_)), "{anonymous:?}");
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn starttls_required_against_a_server_without_tls_sends_nothing_and_is_unavailable() {
    let Some(server) = SmtpServer::start(&[]) else { return };

    let error =
        mailer(&format!("{}?tls=required", server.url())).send(&reset_mail("ada@example.com")).await.unwrap_err();

    assert!(matches!(error, MailError::Unavailable(_)), "{error:?}");
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_server_that_never_answers_gives_unavailable_once_the_timeout_passes() {
    // Listening, so the connection is made, but nothing ever accepts it or says hello.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("smtp://127.0.0.1:{}", silent.local_addr().unwrap().port());
    let mailer = SmtpMailer::with_timeout(&url, composer(), Duration::from_millis(300)).unwrap();

    let sent = tokio::time::timeout(Duration::from_secs(10), mailer.send(&reset_mail("ada@example.com"))).await;

    let error = sent.expect("the mailer gives up by itself").unwrap_err();
    assert!(matches!(error, MailError::Unavailable(_)), "{error:?}");
}

/// Set in the child process that [`in_a_process_trusting_the_test_root`] starts.
const TRUSTS_TEST_ROOT: &str = "USERS_MAIL_TEST_TRUSTS_TEST_ROOT";

/// Whether this process trusts the test root (`tests/fixtures/ca.pem`) and the calling test is to do its work. If
/// not, the test is run again in a child process of this test binary with `SSL_CERT_FILE` naming that root, which
/// the system's roots are then read from (a running test cannot change its own environment safely); the child's
/// verdict becomes the test's.
fn in_a_process_trusting_the_test_root() -> bool {
    if std::env::var_os(TRUSTS_TEST_ROOT).is_some() {
        return true;
    }
    let test = std::thread::current().name().expect("a test thread is named after its test").to_owned();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ca.pem");
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &test, "--test-threads", "1"])
        .env(TRUSTS_TEST_ROOT, "1")
        .env("SSL_CERT_FILE", root)
        .env_remove("SSL_CERT_DIR")
        .stderr(Stdio::inherit())
        .output()
        .expect("the test binary runs again");
    let report = String::from_utf8_lossy(&child.stdout);
    assert!(child.status.success() && report.contains("1 passed"), "{test} in a child process:\n{report}");
    false
}

#[tokio::test]
async fn starttls_and_tls_from_the_start_deliver_when_a_trusted_root_issued_the_certificate() {
    if !in_a_process_trusting_the_test_root() {
        return;
    }
    let Some(starttls) = SmtpServer::start(&["--tls", "starttls", "--auth", "mailer:s3cret"]) else { return };
    let Some(implicit) = SmtpServer::start(&["--tls", "implicit"]) else { return };

    let over_starttls = mailer(&format!("smtp://mailer:s3cret@localhost:{}?tls=required", starttls.port));
    over_starttls.send(&reset_mail("ada@example.com")).await.unwrap();
    mailer(&format!("smtps://localhost:{}", implicit.port)).send(&reset_mail("bob@example.com")).await.unwrap();

    assert_eq!(starttls.received().iter().map(|m| m.to.as_str()).collect::<Vec<_>>(), ["ada@example.com"]);
    assert_eq!(implicit.received().iter().map(|m| m.to.as_str()).collect::<Vec<_>>(), ["bob@example.com"]);
}

#[tokio::test]
async fn a_server_certificate_no_trusted_root_issued_is_refused_and_nothing_is_sent() {
    // This process reads the machine's roots, which never include the test root.
    let Some(server) = SmtpServer::start(&["--tls", "implicit"]) else { return };

    let error =
        mailer(&format!("smtps://localhost:{}", server.port)).send(&reset_mail("ada@example.com")).await.unwrap_err();

    assert!(matches!(error, MailError::Unavailable(_)), "{error:?}");
    assert!(server.received().is_empty());
}
