//! How connections to PostgreSQL are opened: the URL read as libpq reads it (`sslmode` with all five of its modes and
//! `sslrootcert`, which tokio-postgres does not know), TLS through rustls, and the connect timeout, TCP keepalives and
//! server-side `statement_timeout` of the store's options. The pool, the migrations and the change listener all
//! connect through here, so they all agree on what a URL means.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use diesel::{ConnectionError, ConnectionResult};
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection as _};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode as DriverSslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`: how much of TLS a connection insists on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// TLS when the server offers it, plain otherwise; the certificate is not checked. libpq's default.
    Prefer,
    /// TLS or nothing; the certificate is checked only when `sslrootcert` names a root (as libpq does).
    Require,
    /// TLS, with a certificate issued under `sslrootcert`, for whatever host name.
    VerifyCa,
    /// TLS, with a certificate issued under `sslrootcert` that names the host connected to.
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = ConnectSetupError;

    fn from_str(mode: &str) -> Result<Self, Self::Err> {
        Ok(match mode {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            // libpq's "allow" tries plain first, then TLS: never what an operator of a managed database wants.
            other => return Err(ConnectSetupError::SslMode(other.to_owned())),
        })
    }
}

/// A `DATABASE_URL` that cannot be used, found before any connection is tried.
#[derive(Debug, thiserror::Error)]
pub enum ConnectSetupError {
    #[error("sslmode {0:?} is not one of disable, prefer, require, verify-ca, verify-full")]
    SslMode(String),
    #[error("sslmode={0} needs sslrootcert: the file of the root certificates the server's must be issued under")]
    NoRootCertificate(&'static str),
    #[error("sslrootcert {path}: {reason}")]
    RootCertificate { path: PathBuf, reason: String },
    #[error("{0}")]
    Url(#[from] tokio_postgres::Error),
}

/// What a connection needs besides the URL.
#[derive(Clone, Debug)]
pub(crate) struct ConnectOptions {
    pub(crate) connect_timeout: Duration,
    /// Idle time before the first keepalive probe; a dead peer is given up after three more intervals of a third
    /// of it, and data left unacknowledged that long ends the connection too (`TCP_USER_TIMEOUT`). Zero: none.
    pub(crate) tcp_keepalive: Duration,
    /// Zero: none (the server's own setting applies).
    pub(crate) statement_timeout: Duration,
    /// Set unless the URL names one, so the connections can be told apart in `pg_stat_activity`.
    pub(crate) application_name: &'static str,
}

/// Opens connections to one database as its URL and the options say.
#[derive(Clone)]
pub(crate) struct Connector {
    config: tokio_postgres::Config,
    mode: SslMode,
    /// `None` for `sslmode=disable`.
    tls: Option<MakeRustlsConnect>,
    statement_timeout: Duration,
    /// For error messages: the root the certificate was checked against.
    root: Option<PathBuf>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector").field("mode", &self.mode).field("root", &self.root).finish_non_exhaustive()
    }
}

impl Connector {
    pub(crate) fn new(database_url: &str, options: &ConnectOptions) -> Result<Self, ConnectSetupError> {
        let LibpqUrl { driver_url, mode, root } = LibpqUrl::parse(database_url)?;
        let mut config = tokio_postgres::Config::from_str(&driver_url)?;
        config
            .ssl_mode(match mode {
                SslMode::Disable => DriverSslMode::Disable,
                SslMode::Prefer => DriverSslMode::Prefer,
                SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => DriverSslMode::Require,
            })
            .connect_timeout(options.connect_timeout);
        // Zero turns keepalives off (the kernel refuses a zero idle time).
        if options.tcp_keepalive.is_zero() {
            config.keepalives(false);
        } else {
            config
                .keepalives(true)
                .keepalives_idle(options.tcp_keepalive)
                .keepalives_interval((options.tcp_keepalive / 3).max(Duration::from_secs(1)))
                .keepalives_retries(3)
                .tcp_user_timeout(options.tcp_keepalive);
        }
        if config.get_application_name().is_none() {
            config.application_name(options.application_name);
        }
        let tls = match mode {
            SslMode::Disable => None,
            _ => Some(MakeRustlsConnect::new(tls_config(mode, root.as_deref())?)),
        };
        Ok(Self { config, mode, tls, statement_timeout: options.statement_timeout, root })
    }

    /// The same database under another `application_name` (the change listener's).
    pub(crate) fn named(&self, application_name: &str) -> Self {
        let mut named = self.clone();
        named.config.application_name(application_name);
        named
    }

    /// The same database without a statement timeout (for migrations, which may rightly take long).
    pub(crate) fn without_statement_timeout(&self) -> Self {
        Self { statement_timeout: Duration::ZERO, ..self.clone() }
    }

    pub(crate) async fn connect(&self) -> ConnectionResult<AsyncPgConnection> {
        let mut connection = match self.connect_as(&self.config).await {
            // libpq's prefer also tries plain TCP when the TLS handshake fails, not only when TLS is refused.
            Err(Failed::Driver(error)) if self.mode == SslMode::Prefer && is_tls_failure(&error) => {
                let mut plain = self.config.clone();
                plain.ssl_mode(DriverSslMode::Disable);
                self.connect_as(&plain).await
            }
            connected => connected,
        }
        .map_err(|failed| match failed {
            Failed::Driver(error) => ConnectionError::BadConnection(self.explain(&error)),
            Failed::Setup(error) => error,
        })?;
        if !self.statement_timeout.is_zero() {
            // Set once per connection: the server cancels a statement that runs longer, and the request gets a
            // clean error instead of waiting on a stuck lock or a runaway plan.
            let ms = self.statement_timeout.as_millis();
            connection
                .batch_execute(&format!("SET statement_timeout = {ms}"))
                .await
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
        }
        Ok(connection)
    }

    async fn connect_as(&self, config: &tokio_postgres::Config) -> Result<AsyncPgConnection, Failed> {
        match &self.tls {
            Some(tls) => {
                let (client, connection) = config.connect(tls.clone()).await.map_err(Failed::Driver)?;
                AsyncPgConnection::try_from_client_and_connection(client, connection).await.map_err(Failed::Setup)
            }
            None => {
                let (client, connection) = config.connect(tokio_postgres::NoTls).await.map_err(Failed::Driver)?;
                AsyncPgConnection::try_from_client_and_connection(client, connection).await.map_err(Failed::Setup)
            }
        }
    }

    /// The driver's message and its causes (the driver's own message leaves out why a handshake failed), with what
    /// the certificate was checked against when the handshake is what failed.
    fn explain(&self, error: &tokio_postgres::Error) -> String {
        let mut message = error.to_string();
        let mut cause = std::error::Error::source(error);
        while let Some(reason) = cause {
            let reason_text = reason.to_string();
            if !message.contains(&reason_text) {
                message = format!("{message}: {reason_text}");
            }
            cause = reason.source();
        }
        if !is_tls_failure(error) {
            return message;
        }
        let mode = match self.mode {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        };
        match &self.root {
            Some(root) => format!("{message} (sslmode={mode}, sslrootcert={})", root.display()),
            None => format!("{message} (sslmode={mode})"),
        }
    }
}

enum Failed {
    /// Connecting or the handshakes (TCP, TLS, authentication).
    Driver(tokio_postgres::Error),
    /// diesel-async's first queries on the new connection.
    Setup(ConnectionError),
}

/// tokio-postgres tells a failed TLS handshake (or a server refusing TLS under require) only by its message.
fn is_tls_failure(error: &tokio_postgres::Error) -> bool {
    let message = error.to_string();
    message.starts_with("error performing TLS handshake") || message.contains("server does not support TLS")
}

/// The URL with libpq's TLS parameters taken out: tokio-postgres refuses `sslrootcert` and the verify modes.
#[derive(Debug, PartialEq, Eq)]
struct LibpqUrl {
    driver_url: String,
    mode: SslMode,
    root: Option<PathBuf>,
}

impl LibpqUrl {
    fn parse(url: &str) -> Result<Self, ConnectSetupError> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let (mut mode, mut root) = (None, None);
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            // Decoded as the driver decodes it: `ssl%6Dode=require` must not slip past as some other parameter.
            match percent_decoded(key).as_str() {
                "sslmode" => mode = Some(percent_decoded(value).parse()?),
                "sslrootcert" => root = Some(PathBuf::from(percent_decoded(value))),
                _ => kept.push(pair),
            }
        }
        let driver_url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
        // libpq's default: TLS when offered, unchecked.
        Ok(Self { driver_url, mode: mode.unwrap_or(SslMode::Prefer), root })
    }
}

/// `%2F` and friends as the bytes they stand for (a path in a URL's query is usually written encoded). A `+` stays a
/// `+`, as libpq reads it.
fn percent_decoded(value: &str) -> String {
    percent_encoding::percent_decode_str(value).decode_utf8_lossy().into_owned()
}

/// The rustls client for `mode`: what it checks of the server's certificate is libpq's choice for that mode.
fn tls_config(mode: SslMode, root: Option<&Path>) -> Result<rustls::ClientConfig, ConnectSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = root.map(root_certificates).transpose()?;
    let verifier: Arc<dyn ServerCertVerifier> = match (mode, roots) {
        // libpq checks under require too when a root is given, as verify-ca does ("for backwards compatibility").
        (SslMode::Require | SslMode::VerifyCa, Some(roots)) => Arc::new(ChainOnly(webpki(roots, &provider)?)),
        (SslMode::VerifyFull, Some(roots)) => webpki(roots, &provider)?,
        (SslMode::VerifyCa, None) => return Err(ConnectSetupError::NoRootCertificate("verify-ca")),
        (SslMode::VerifyFull, None) => return Err(ConnectSetupError::NoRootCertificate("verify-full")),
        // Encryption against eavesdroppers, no defence against an impostor: what these modes promise.
        (SslMode::Disable | SslMode::Prefer | SslMode::Require, _) => {
            Arc::new(AnyCertificate(provider.signature_verification_algorithms))
        }
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| ConnectSetupError::RootCertificate { path: PathBuf::new(), reason: error.to_string() })?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(config)
}

fn root_certificates(path: &Path) -> Result<RootCertStore, ConnectSetupError> {
    let unusable = |reason: String| ConnectSetupError::RootCertificate { path: path.to_owned(), reason };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| unusable(error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| unusable(error.to_string()))?;
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(unusable("no usable PEM certificate in the file".to_owned()));
    }
    Ok(roots)
}

fn webpki(
    roots: RootCertStore,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, ConnectSetupError> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
        .build()
        .map_err(|error| ConnectSetupError::RootCertificate { path: PathBuf::new(), reason: error.to_string() })
}

/// verify-ca: the chain up to a trusted root is checked, the host name is not. rustls checks the name last, once
/// the chain holds, so a wrong name alone is what is forgiven here.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            checked => checked,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// prefer and require without a root: any certificate, but the handshake's signatures are still checked, so the
/// session is really keyed to the certificate presented.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_out_what_the_driver_would_refuse_and_keeps_the_rest() {
        let url = "postgres://u:p@db:5432/users?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Froot.pem";
        assert_eq!(
            LibpqUrl::parse(url).unwrap(),
            LibpqUrl {
                driver_url: "postgres://u:p@db:5432/users?application_name=x".to_owned(),
                mode: SslMode::VerifyFull,
                root: Some("/etc/root.pem".into()),
            }
        );
        let plain = LibpqUrl::parse("postgres://db/users").unwrap();
        assert_eq!((plain.driver_url.as_str(), plain.mode, plain.root), ("postgres://db/users", SslMode::Prefer, None));
        assert_eq!(LibpqUrl::parse("postgres://db/users?sslmode=require").unwrap().driver_url, "postgres://db/users");
    }

    #[test]
    fn an_encoded_parameter_name_is_read_as_the_driver_reads_it() {
        let encoded = LibpqUrl::parse("postgres://db/users?ssl%6Dode=require").unwrap();

        assert_eq!((encoded.driver_url.as_str(), encoded.mode), ("postgres://db/users", SslMode::Require));
    }

    #[test]
    fn reads_every_libpq_mode_and_refuses_others() {
        for (text, mode) in [
            ("disable", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ] {
            assert_eq!(text.parse::<SslMode>().unwrap(), mode);
        }
        for wrong in ["allow", "", "VERIFY-FULL", "verify_full"] {
            let error = wrong.parse::<SslMode>().unwrap_err().to_string();
            assert!(error.contains("disable, prefer, require, verify-ca, verify-full"), "{error}");
        }
    }

    #[test]
    fn the_verify_modes_need_a_root_and_a_root_must_be_readable() {
        let options = ConnectOptions {
            connect_timeout: Duration::from_secs(1),
            tcp_keepalive: Duration::from_secs(30),
            statement_timeout: Duration::ZERO,
            application_name: "test",
        };
        let error = Connector::new("postgres://db/users?sslmode=verify-ca", &options).unwrap_err().to_string();
        assert!(error.contains("sslmode=verify-ca needs sslrootcert"), "{error}");
        let error = Connector::new("postgres://db/users?sslmode=verify-full&sslrootcert=/no/such.pem", &options)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("sslrootcert /no/such.pem: "), "{error}");
    }
}
