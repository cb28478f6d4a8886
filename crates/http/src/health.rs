//! Liveness and readiness probes, and the Prometheus metrics.

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use users_app::{Adapters, UserService};

use crate::problem::Problem;
use crate::routes::Endpoint;

pub(crate) fn endpoints<A: Adapters>() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::GET, "/health/live", web::to(live)),
        Endpoint::new(Method::HEAD, "/health/live", web::to(live)),
        Endpoint::new(Method::GET, "/health/ready", web::to(ready::<A>)),
        Endpoint::new(Method::HEAD, "/health/ready", web::to(ready::<A>)),
        Endpoint::new(Method::GET, "/metrics", web::to(metrics)),
    ]
}

/// Everything recorded through the `metrics` facade, in Prometheus' text format.
async fn metrics(handle: web::Data<PrometheusHandle>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(handle.render())
}

/// The process answers: nothing else is checked, so a slow database never gets the process restarted.
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The service can do its work: its store answers.
async fn ready<A: Adapters>(service: web::Data<UserService<A>>) -> Result<HttpResponse, Problem> {
    match service.check_ready().await {
        Ok(()) => Ok(HttpResponse::Ok().json(json!({ "status": "ok", "database": "ok" }))),
        Err(error) => {
            tracing::warn!(error = %error, "readiness check failed");
            Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                "Service unavailable",
                "the database is not reachable",
            ))
        }
    }
}
