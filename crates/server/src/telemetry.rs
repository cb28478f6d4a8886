//! Logging and metrics. Logs: `tracing` events on stderr, filtered by `RUST_LOG` (default `info`), as text or, with
//! `LOG_FORMAT=json`, one JSON object per line carrying the request's span fields (its request id among them).
//! Metrics: the process-wide Prometheus recorder behind the `metrics` facade.

use std::io::IsTerminal;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    // A second init (tests start several apps in one process) keeps the first subscriber.
    let _ = if json {
        tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init()
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .try_init()
    };
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
