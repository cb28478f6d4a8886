//! Liveness and readiness probes, and the Prometheus metrics.

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use users_app::{Adapters, UserService};

use crate::openapi::{ProblemDocument, sent};
use crate::problem::Problem;

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
use crate::routes::Endpoint;

pub(crate) const METRICS_PATH: &str = "/metrics";

/// The probes.
pub(crate) fn endpoints<A: Adapters>() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::GET, "/health/live", web::to(live)),
        Endpoint::new(Method::HEAD, "/health/live", web::to(live_head)),
        Endpoint::new(Method::GET, "/health/ready", web::to(ready::<A>)),
        Endpoint::new(Method::HEAD, "/health/ready", web::to(ready_head::<A>)),
    ]
}

/// `/metrics`: on the API's listener, or on one of its own.
pub(crate) fn metrics_endpoints() -> Vec<Endpoint> {
    vec![Endpoint::new(Method::GET, METRICS_PATH, web::to(metrics))]
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
              (status = 503, description = "The database does not answer", body = ProblemDocument, content_type = "application/problem+json",
               examples(("not-ready" = (value = json!(sent(not_ready()))))))))]
async fn ready_head<A: Adapters>(service: web::Data<UserService<A>>) -> Result<HttpResponse, Problem> {
    ready(service).await
}

/// Readiness probe
///
/// The service can do its work: its store answers.
#[utoipa::path(get, path = "/health/ready", tag = "operations", operation_id = "ready",
    responses((status = 200, description = "The database answers", body = HealthResponse),
              (status = 503, description = "The database does not answer", body = ProblemDocument, content_type = "application/problem+json",
               examples(("not-ready" = (value = json!(sent(not_ready()))))))))]
async fn ready<A: Adapters>(service: web::Data<UserService<A>>) -> Result<HttpResponse, Problem> {
    match service.check_ready().await {
        Ok(()) => Ok(HttpResponse::Ok().json(json!({ "status": "ok", "database": "ok" }))),
        Err(error) => {
            tracing::warn!(error = %error, "readiness check failed");
            Err(not_ready())
        }
    }
}

fn not_ready() -> Problem {
    Problem::new(StatusCode::SERVICE_UNAVAILABLE, "not-ready", "Service unavailable", "the database is not reachable")
}
