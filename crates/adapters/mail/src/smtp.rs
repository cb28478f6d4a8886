//! `SmtpMailer`: messages over SMTP with lettre, to a local catcher in plain text or to a relay over STARTTLS or
//! implicit TLS (rustls, the system's roots), with AUTH when the URL has credentials.

use std::fmt;
use std::time::Duration;

use lettre::transport::smtp::Error as SmtpError;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use url::Url;
use users_ports::{Mail, MailError, MailSender};

use crate::Composer;

/// Replies that are about the session, not the message: authentication or TLS required first (530), a mechanism too
/// weak (534), credentials refused (535), encryption required for the mechanism (538). A setting to fix, so the mail
/// waits for it.
const SESSION_REFUSALS: [u16; 4] = [530, 534, 535, 538];

/// Why an SMTP URL was refused. None of the messages shows the password.
#[derive(Debug, thiserror::Error)]
pub enum SmtpUrlError {
    #[error("the SMTP URL does not parse: {0}")]
    NotAUrl(url::ParseError),
    #[error("the SMTP URL's scheme is {0:?}: use smtp:// (plain, or STARTTLS with ?tls=required) or smtps:// (TLS)")]
    Scheme(String),
    #[error("the SMTP URL names no host")]
    NoHost,
    #[error("the SMTP URL's tls={0:?} is not `required` (STARTTLS or fail) or `opportunistic` (STARTTLS if offered)")]
    Tls(String),
    #[error("the SMTP URL's tls= is for smtp:// only: smtps:// is TLS from the start")]
    TlsOnSmtps,
    #[error("the SMTP URL's query has {0:?}: only tls= is understood")]
    Parameter(String),
    #[error("the SMTP URL has a user name or a password without the other: write smtp://user:password@host")]
    HalfCredentials,
    #[error("the SMTP URL is refused by the SMTP client: {0}")]
    Client(#[source] SmtpError),
}

/// Sends each message over a new SMTP connection.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    composer: Composer,
    description: String,
    timeout: Duration,
}

impl SmtpMailer {
    /// How long connecting may take, and then the whole exchange, before the attempt counts as failed (and is
    /// retried later). lettre bounds only the connection on tokio, so a server that stops answering mid-way would
    /// otherwise hold a delivery for as long as it keeps the socket open.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// From `smtp://host:port` (plain), `smtp://user:pass@host:587?tls=required` (STARTTLS) or
    /// `smtps://user:pass@host:465` (TLS); user and password are percent-encoded. The ports shown are the defaults.
    pub fn from_url(smtp_url: &str, composer: Composer) -> Result<Self, SmtpUrlError> {
        Self::with_timeout(smtp_url, composer, Self::DEFAULT_TIMEOUT)
    }

    /// As [`from_url`](Self::from_url), with `timeout` for the connection and again for the whole exchange.
    pub fn with_timeout(smtp_url: &str, composer: Composer, timeout: Duration) -> Result<Self, SmtpUrlError> {
        let url = Url::parse(smtp_url).map_err(SmtpUrlError::NotAUrl)?;
        let description = check(&url)?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(SmtpUrlError::Client)?
            .timeout(Some(timeout))
            .build();
        Ok(Self { transport, composer, description, timeout })
    }

    /// The transport and server without the password, for the startup log: `SMTP smtp://user@host:587 (STARTTLS)`.
    pub fn describe(&self) -> &str {
        &self.description
    }
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer").field("server", &self.description).finish_non_exhaustive()
    }
}

impl MailSender for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = self.composer.compose(mail).map_err(|cause| MailError::Rejected(cause.into()))?;
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(sent) => sent.map(drop).map_err(classify),
            Err(elapsed) => Err(MailError::Unavailable(format!("no answer from the SMTP server: {elapsed}").into())),
        }
    }
}

/// A permanent (5xx) reply to this message is final; anything else (no connection, a timeout, a 4xx, TLS failing,
/// a refusal of the session itself) may pass later.
fn classify(error: SmtpError) -> MailError {
    let about_the_session = error.status().is_some_and(|code| SESSION_REFUSALS.contains(&u16::from(code)));
    if error.is_permanent() && !about_the_session {
        MailError::Rejected(error.into())
    } else {
        MailError::Unavailable(error.into())
    }
}

/// Refuses what lettre would silently ignore or misread, and describes the server without the password.
fn check(url: &Url) -> Result<String, SmtpUrlError> {
    let mut tls = None;
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "tls" => tls = Some(value.into_owned()),
            _ => return Err(SmtpUrlError::Parameter(key.into_owned())),
        }
    }
    let (mode, default_port) = match (url.scheme(), tls.as_deref()) {
        ("smtp", None) => ("plain, no TLS", 25),
        ("smtp", Some("required")) => ("STARTTLS", 587),
        ("smtp", Some("opportunistic")) => ("STARTTLS if offered", 587),
        ("smtp", Some(other)) => return Err(SmtpUrlError::Tls(other.to_owned())),
        ("smtps", None) => ("TLS", 465),
        ("smtps", Some(_)) => return Err(SmtpUrlError::TlsOnSmtps),
        (other, _) => return Err(SmtpUrlError::Scheme(other.to_owned())),
    };
    let host = url.host_str().filter(|host| !host.is_empty()).ok_or(SmtpUrlError::NoHost)?;
    if url.username().is_empty() != url.password().is_none() {
        return Err(SmtpUrlError::HalfCredentials);
    }
    let user = if url.username().is_empty() { String::new() } else { format!("{}@", url.username()) };
    let port = url.port().unwrap_or(default_port);
    Ok(format!("SMTP {}://{user}{host}:{port} ({mode})", url.scheme()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(url: &str) -> Result<String, SmtpUrlError> {
        check(&Url::parse(url).unwrap())
    }

    #[test]
    fn the_description_names_user_host_port_and_tls_but_never_the_password() {
        let starttls = described("smtp://mailer:s3cret@relay.example.com:587?tls=required").unwrap();
        assert_eq!(starttls, "SMTP smtp://mailer@relay.example.com:587 (STARTTLS)");
        assert_eq!(
            described("smtps://mailer:s3cret@relay.example.com").unwrap(),
            "SMTP smtps://mailer@relay.example.com:465 (TLS)"
        );
        assert_eq!(described("smtp://127.0.0.1:1025").unwrap(), "SMTP smtp://127.0.0.1:1025 (plain, no TLS)");
    }

    #[test]
    fn urls_lettre_would_misread_are_refused_without_showing_the_password() {
        for (url, expected) in [
            ("http://mailer:s3cret@relay.example.com", "scheme"),
            ("smtp://mailer:s3cret@relay.example.com?tls=require", "tls=\"require\""),
            ("smtps://mailer:s3cret@relay.example.com?tls=required", "smtps://"),
            ("smtp://mailer:s3cret@relay.example.com?ssl=1", "\"ssl\""),
            ("smtp://mailer@relay.example.com", "user name or a password"),
            ("smtp://:s3cret@relay.example.com", "user name or a password"),
        ] {
            let error = described(url).unwrap_err().to_string();
            assert!(error.contains(expected), "{url}: {error}");
            assert!(!error.contains("s3cret"), "{url}: {error}");
        }
    }
}
