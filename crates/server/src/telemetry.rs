//! Logging and metrics. Logs: `tracing` events (and the `log` records of libraries) on stderr, filtered by `RUST_LOG`
//! (default `info`) and never below info from the database driver, which would write secrets; as text or, with
//! `LOG_FORMAT=json`, one JSON object per line carrying the request's span fields (its request id among them).
//! Metrics: the process-wide Prometheus recorder behind the `metrics` facade.

use std::io::IsTerminal;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing::Level;
use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

/// How log lines are written, from `LOG_FORMAT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default), coloured on a terminal.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl LogFormat {
    /// `LOG_FORMAT`'s value (unset or empty: text); anything else is refused with the allowed values, rather than
    /// falling back to text where a collector expects JSON.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.map(str::trim).unwrap_or_default().to_ascii_lowercase().as_str() {
            "" | "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => {
                Err(format!("LOG_FORMAT {:?} is not a log format: use \"text\" or \"json\"", value.unwrap_or_default()))
            }
        }
    }
}

/// Installs the log subscriber in the format `LOG_FORMAT` names; an unknown format is an error (nothing is logged
/// yet, so the caller prints it).
pub fn init() -> Result<(), String> {
    let format = LogFormat::parse(std::env::var("LOG_FORMAT").ok().as_deref())?;
    init_with(format);
    Ok(())
}

pub fn init_with(format: LogFormat) {
    let operators = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A filter of its own beside the operator's: no directive in RUST_LOG, however specific, can let secrets through.
    let filter = operators.and(filter_fn(|metadata| !may_hold_secrets(metadata.target(), *metadata.level())));
    let lines = if format == LogFormat::Json {
        fmt::layer().json().with_current_span(true).with_span_list(false).with_writer(std::io::stderr).boxed()
    } else {
        fmt::layer().with_ansi(std::io::stderr().is_terminal()).with_writer(std::io::stderr).boxed()
    };
    // A second init (tests start several apps in one process) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(lines.with_filter(filter)).try_init();
}

/// Log sources that write secrets below some level, and the most verbose level each may be heard at.
/// tokio-postgres logs every statement with its parameters (password hashes, refresh-token hashes, emails) at debug,
/// and batches of SQL text; its info level has the server's notices only.
const QUIETED: [(&str, Level); 1] = [("tokio_postgres", Level::INFO)];

/// Whether an event or span of `target` comes from a quieted source at a level more verbose than it may be heard at.
fn may_hold_secrets(target: &str, level: Level) -> bool {
    QUIETED.iter().any(|(source, most_verbose)| {
        let within = target.strip_prefix(source).is_some_and(|rest| rest.is_empty() || rest.starts_with("::"));
        within && level > *most_verbose
    })
}

/// Histogram buckets, in seconds, from a fast indexed read to a slow password hash under load.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The process's metrics recorder, installed on first use (several applications in one test process share it).
pub fn metrics() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(&BUCKETS).expect("the bucket list is not empty");
            let handle = match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is already global (an embedding application's): still render ours.
                Err(_) => PrometheusBuilder::new().set_buckets(&BUCKETS).expect("buckets").build_recorder().handle(),
            };
            start_upkeep(handle.clone());
            handle
        })
        .clone()
}

/// Histogram samples wait in the recorder until they are folded into their buckets, which `install_recorder` leaves
/// to its caller: unscraped, they grew by every request (tens of MiB in a benchmark). Folded every few seconds here.
fn start_upkeep(handle: PrometheusHandle) {
    let upkeep = move || {
        loop {
            std::thread::sleep(UPKEEP_EVERY);
            handle.run_upkeep();
        }
    };
    if let Err(error) = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(upkeep) {
        tracing::warn!(%error, "no metrics upkeep thread: histogram samples are folded only when /metrics is read");
    }
}

const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_formats_are_text_or_json_and_anything_else_is_refused_with_the_choices() {
        assert_eq!(LogFormat::parse(None), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some("")), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some("JSON")), Ok(LogFormat::Json));
        assert_eq!(LogFormat::parse(Some("text")), Ok(LogFormat::Text));
        let refused = LogFormat::parse(Some("jsno")).unwrap_err();
        assert!(refused.contains("\"jsno\"") && refused.contains("\"text\" or \"json\""), "{refused}");
    }

    #[test]
    fn the_database_driver_is_heard_at_info_and_above_only() {
        let kept = |target, level| !may_hold_secrets(target, level);
        assert!(!kept("tokio_postgres::query", Level::DEBUG), "statements with their parameters");
        assert!(!kept("tokio_postgres::prepare", Level::TRACE));
        assert!(!kept("tokio_postgres", Level::DEBUG));
        assert!(kept("tokio_postgres::connection", Level::INFO), "the server's notices");
        assert!(kept("tokio_postgres", Level::WARN));
        assert!(kept("tokio_postgres_rustls", Level::DEBUG), "another crate");
        assert!(kept("users_server", Level::TRACE));
    }
}
