//! `users-server healthcheck`: asks the running server's `/health/ready` and exits 0 when it answers 200, for
//! container probes in images that carry no HTTP client.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::settings::ServerSettings;

/// Time beyond the readiness check's own deadline on the database for the exchange itself.
const MARGIN: Duration = Duration::from_secs(1);

/// Enough of an answer for its status line; a peer that sends more is not read further.
const MOST_READ: u64 = 8 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    #[error("{address} did not answer within {} ms", within.as_millis())]
    TimedOut { address: String, within: Duration },
    #[error("cannot ask {address}: {source}")]
    Unreachable { address: String, source: std::io::Error },
    #[error("{address} is not ready: {status_line}")]
    NotReady { address: String, status_line: String },
}

/// Asks the server the settings describe (on the loopback address when it listens on every address) whether it is
/// ready, waiting as long as its readiness check may take, `ready_timeout`, and a little more.
pub async fn check(server: &ServerSettings, ready_timeout: Duration) -> Result<(), HealthcheckError> {
    let host = match server.host.as_str() {
        "0.0.0.0" | "" => "127.0.0.1",
        "::" | "[::]" => "::1",
        host => host.trim_start_matches('[').trim_end_matches(']'),
    };
    let address =
        if host.contains(':') { format!("[{host}]:{}", server.port) } else { format!("{host}:{}", server.port) };
    let within = ready_timeout + MARGIN;
    match tokio::time::timeout(within, status_line(&address)).await {
        Err(_) => Err(HealthcheckError::TimedOut { address, within }),
        Ok(Err(source)) => Err(HealthcheckError::Unreachable { address, source }),
        Ok(Ok(line)) if line.split_whitespace().nth(1) == Some("200") => Ok(()),
        Ok(Ok(status_line)) => Err(HealthcheckError::NotReady { address, status_line }),
    }
}

/// The first line of the answer to `GET /health/ready`.
async fn status_line(address: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(address).await?;
    let request = format!("GET /health/ready HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.take(MOST_READ).read_to_end(&mut answer).await?;
    let answer = String::from_utf8_lossy(&answer);
    Ok(answer.lines().next().unwrap_or_default().to_owned())
}
