//! Liveness and readiness probes, and the Prometheus metrics.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use users_app::{Adapters, UserService};

use crate::examples::sent;
use crate::problem::Problem;
use crate::routes::Endpoint;

/// What the probes answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // described, never built: the probes answer with `json!`
pub(crate) struct HealthResponse {
    #[schema(example = "ok")]
    status: String,
    /// On `/health/ready` only.
    #[schema(example = "ok")]
    database: Option<String>,
}

/// How long `/health/ready` waits for the store before answering 503, as app data
/// (`App::app_data(ReadyDeadline(…))`). An orchestrator's probe has a timeout of its own: a probe that hangs past it
/// says nothing about why, and one that hangs forever holds a connection per probe.
#[derive(Clone, Copy, Debug)]
pub struct ReadyDeadline(pub Duration);

/// Without a [`ReadyDeadline`] in the app data.
const DEFAULT_READY_DEADLINE: Duration = Duration::from_secs(2);

/// The probes.
pub(crate) fn endpoints<A: Adapters>() -> Vec<Endpoint> {
    vec![
        Endpoint::new(__path_live, web::to(live)),
        Endpoint::new(__path_live_head, web::to(live_head)),
        Endpoint::new(__path_ready, web::to(ready::<A>)),
        Endpoint::new(__path_ready_head, web::to(ready_head::<A>)),
    ]
}

/// `/metrics`: on the API's listener, or on one of its own.
pub(crate) fn metrics_endpoints() -> Vec<Endpoint> {
    vec![Endpoint::new(__path_metrics, web::to(metrics))]
}

/// Prometheus metrics
///
/// Everything recorded through the `metrics` facade, in Prometheus' text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "metrics",
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain")))]
async fn metrics(handle: web::Data<PrometheusHandle>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(handle.render())
}

/// Liveness probe
///
/// The process answers: nothing else is checked, so a slow database never gets the process restarted.
#[utoipa::path(get, path = "/health/live", tag = "operations", operation_id = "live",
    responses((status = 200, description = "The process answers", body = HealthResponse)))]
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Liveness probe, headers only
///
/// As `GET /health/live`, without the body.
#[utoipa::path(head, path = "/health/live", tag = "operations", operation_id = "liveHead",
    responses((status = 200, description = "The process answers")))]
async fn live_head() -> HttpResponse {
    live().await
}

/// Readiness probe, headers only
///
/// As `GET /health/ready`, without the body.
#[utoipa::path(head, path = "/health/ready", tag = "operations", operation_id = "readyHead",
    responses((status = 200, description = "The database answers"),
              (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json",
               examples(("not-ready" = (value = json!(sent(not_ready(UNREACHABLE)))))))))]
async fn ready_head<A: Adapters>(
    request: HttpRequest,
    service: web::Data<UserService<A>>,
) -> Result<HttpResponse, Problem> {
    ready(request, service).await
}

/// Readiness probe
///
/// The service can do its work: its store answers.
#[utoipa::path(get, path = "/health/ready", tag = "operations", operation_id = "ready",
    responses((status = 200, description = "The database answers", body = HealthResponse),
              (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json",
               examples(("not-ready" = (value = json!(sent(not_ready(UNREACHABLE)))))))))]
async fn ready<A: Adapters>(request: HttpRequest, service: web::Data<UserService<A>>) -> Result<HttpResponse, Problem> {
    let deadline = request.app_data::<ReadyDeadline>().map_or(DEFAULT_READY_DEADLINE, |deadline| deadline.0);
    match tokio::time::timeout(deadline, service.check_ready()).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok().json(json!({ "status": "ok", "database": "ok" }))),
        Ok(Err(error)) => {
            tracing::warn!(error = %error, "readiness check failed");
            Err(not_ready(UNREACHABLE))
        }
        Err(_elapsed) => {
            tracing::warn!(?deadline, "readiness check failed: the database did not answer in time");
            Err(not_ready("the database did not answer in time"))
        }
    }
}

/// Why the store is not ready is in the logs: out of reach, or refusing writes (a full disk, a read-only database).
const UNREACHABLE: &str = "the database is not reachable, or refused writes a moment ago";

fn not_ready(detail: &'static str) -> Problem {
    Problem::new(StatusCode::SERVICE_UNAVAILABLE, "not-ready", "Service unavailable", detail)
}
