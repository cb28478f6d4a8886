//! What operators see of each request: a request id (kept from the client's `x-request-id` or made here) on the
//! response, on every log line of the request and in a 500's body; the request's tracing span; and the HTTP metrics.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Describes the HTTP adapter's metrics for `/metrics` and gives the series it can name in advance a first value, so
/// that a scrape shows them (at zero) before anything has happened; the per-request series start with their first
/// request. Called once the metrics recorder is installed.
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!("http_requests_total", "Requests answered, by method, route template and status");
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "Time from a request's arrival to its answer, by method, route template and status"
    );
    describe_counter!("logins_total", "Sign-in attempts by outcome");
    describe_counter!("auth_rate_limited_total", "Requests to /auth/* refused for coming too often from one address");
    describe_counter!(
        "password_work_limited_total",
        "Requests refused for hashing too many passwords for one signed-in user"
    );
    for outcome in crate::profile_api::LOGIN_OUTCOMES {
        metrics::counter!("logins_total", "outcome" => outcome).absolute(0);
    }
    metrics::counter!("auth_rate_limited_total").absolute(0);
    metrics::counter!("password_work_limited_total").absolute(0);
}

tokio::task_local! {
    static CURRENT: RequestId;
}

/// The id that ties a request's response, logs and error reports together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// A client's id is kept if it is 1 to 128 of `A-Z a-z 0-9 . _ : -`: enough for UUIDs and trace ids, and
    /// nothing that could forge log lines or markup where ids are shown.
    fn from_client(value: &HeaderValue) -> Option<Self> {
        let value = value.to_str().ok()?;
        let allowed = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b':' | b'-');
        let acceptable = (1..=128).contains(&value.len()) && value.bytes().all(allowed);
        acceptable.then(|| Self(value.into()))
    }

    fn generate() -> Self {
        let mut bytes = [0u8; 16];
        // An id is for correlation, not security: a failing random source leaves it all zeros rather than failing
        // the request.
        let _ = getrandom::fill(&mut bytes);
        Self(bytes.iter().map(|byte| format!("{byte:02x}")).collect::<String>().into())
    }

    /// The id of the request being handled on this task, if any.
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Outermost middleware: assigns the request id, runs the request inside it, stamps the response with it and records
/// the request's count and duration by method, route and status.
pub async fn request_id_and_metrics(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = request.headers().get(X_REQUEST_ID).and_then(RequestId::from_client).unwrap_or_else(RequestId::generate);
    request.extensions_mut().insert(id.clone());
    let started = Instant::now();
    // Handlers' and extractors' errors arrive here as responses already; an `Err` is a failure of the middleware
    // chain itself, which actix answers on its own.
    let mut response = CURRENT.scope(id.clone(), next.call(request)).await?.map_into_boxed_body();
    record_http_metrics(&response, started);
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    Ok(response)
}

fn record_http_metrics(response: &ServiceResponse<BoxBody>, started: Instant) {
    let request = response.request();
    // Route templates, not paths, keep the label set small: `/users/{userId}`, never one series per user.
    let route = request.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let method = match request.method().as_str() {
        method @ ("GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS") => method,
        _ => "other",
    };
    let labels = [("method", method.to_owned()), ("route", route), ("status", response.status().as_u16().to_string())];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
}

/// The span each request's log lines are written in: the request id, method and path from the start, the route
/// and status once known.
#[derive(Debug)]
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request.extensions().get::<RequestId>().map(ToString::to_string).unwrap_or_default();
        tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %request.method(),
            path = %request.path(),
            route = tracing::field::Empty,
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let status = match outcome {
            Ok(response) => {
                if let Some(route) = response.request().match_pattern() {
                    span.record("route", route.as_str());
                }
                response.status()
            }
            Err(error) => error.as_response_error().status_code(),
        };
        span.record("status", status.as_u16());
        let _entered = span.enter();
        tracing::info!(status = status.as_u16(), "request finished");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_id_is_kept_only_if_it_is_short_visible_ascii() {
        let keep = |raw: &str| RequestId::from_client(&HeaderValue::from_str(raw).unwrap());
        assert_eq!(keep("abc-123").unwrap().as_str(), "abc-123");
        assert!(keep(&"a".repeat(128)).is_some());
        assert!(keep(&"a".repeat(129)).is_none());
        assert!(keep("two words").is_none());
        assert!(keep("id\"<script>").is_none());
        assert!(keep("a;b").is_none());
        assert!(keep("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0").is_some());
        assert!(keep("").is_none());
    }

    #[test]
    fn generated_ids_are_distinct_hex() {
        let (first, second) = (RequestId::generate(), RequestId::generate());
        assert_ne!(first, second);
        assert_eq!(first.as_str().len(), 32);
        assert!(first.as_str().bytes().all(|byte| byte.is_ascii_hexdigit()));
    }
}
