//! The HTTP driving adapter on actix-web: the Profile API's and the Admin API's routes, the health probes, the authentication
//! extractors, and the mapping of every error to an RFC 9457 problem.
//!
//! Use it with [`configure`] inside an actix `App`; the server crate adds logging middleware and binds the socket.

mod admin_api;
mod audit_page;
mod body;
mod body_deadline;
mod errors;
mod examples;
mod extractors;
mod field_schemas;
mod fields;
mod health;
mod observability;
mod openapi;
mod pages;
mod password_limit;
mod problem;
mod profile_api;
mod rate_limit;
mod routes;
mod user_filter;
mod well_known;

use actix_web::http::StatusCode;
use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};
use serde::Serialize;
use users_app::{Adapters, UserService};

pub use body::{JsonObject, OptionalJsonObject};
pub use body_deadline::{BodyDeadline, limit_body_time};
pub use extractors::{Admin, Authenticated, Client};
pub use health::ReadyDeadline;
pub use metrics_exporter_prometheus::PrometheusHandle;
pub use observability::{RequestId, RequestSpan, X_REQUEST_ID, describe_metrics, request_id_and_metrics};
pub use password_limit::PasswordWorkLimiter;
pub use problem::{FieldError, PROBLEM_JSON, Problem};
pub use rate_limit::{
    AuthRateLimiter, ClientAddress, ClientOrigin, InvalidProxy, RateLimitPolicy, TrustedProxies, limit_auth_requests,
};
pub use routes::Endpoint;
pub use well_known::JWKS_MAX_AGE_SECS;

/// Largest JSON body accepted; larger ones get 413. Every request body of the API fits in a few hundred bytes.
pub const MAX_JSON_BYTES: usize = 16 * 1024;

/// Registers the service, the extractor settings and every route on an actix `App` or scope, and serves the OpenAPI
/// document of exactly those routes. `metrics` renders what `GET /metrics` answers; `None` leaves `/metrics` out of
/// this `App`, its routes and its OpenAPI document alike, for a listener of its own set up with
/// [`configure_metrics`]. Wrap the `App` in [`request_id_and_metrics`] (outermost) and a `TracingLogger` built with
/// [`RequestSpan`] to get request ids, request spans and HTTP metrics. The pages the emailed links open
/// (`/reset-password`, `/verify-email`) name `product_name` in their title and heading.
pub fn configure<A: Adapters>(
    service: web::Data<UserService<A>>,
    metrics: Option<PrometheusHandle>,
    product_name: String,
) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        let mut endpoints = api_endpoints::<A>();
        if let Some(metrics) = metrics {
            config.app_data(web::Data::new(metrics));
            endpoints.extend(health::metrics_endpoints());
        }
        let document = openapi::document(&endpoints);
        config
            .app_data(service)
            .app_data(
                web::JsonConfig::default()
                    .limit(MAX_JSON_BYTES)
                    .error_handler(|error, _| errors::json_error(error).into()),
            )
            .app_data(web::QueryConfig::default().error_handler(|error, _| errors::query_error(error).into()))
            .configure(|config| routes::register(config, endpoints))
            .configure(|config| openapi::serve(config, &document))
            // The pages the emailed links open: not API operations, so not in the document.
            .configure(pages::configure(product_name))
            .default_service(web::to(not_found));
    }
}

/// `GET /metrics` alone, for an `App` on a listener of its own (see [`configure`]); anything else there is 404.
pub fn configure_metrics(metrics: PrometheusHandle) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(web::Data::new(metrics))
            .configure(|config| routes::register(config, health::metrics_endpoints()))
            .default_service(web::to(not_found));
    }
}

/// Every endpoint of the service: the probes and metrics, the Profile API, the Admin API and the JWKS.
pub fn endpoints<A: Adapters>() -> Vec<Endpoint> {
    let mut endpoints = api_endpoints::<A>();
    endpoints.extend(health::metrics_endpoints());
    endpoints
}

/// Every endpoint but `/metrics`, which may be served on a listener of its own.
fn api_endpoints<A: Adapters>() -> Vec<Endpoint> {
    let mut endpoints = health::endpoints::<A>();
    endpoints.extend(profile_api::endpoints::<A>());
    endpoints.extend(admin_api::endpoints::<A>());
    endpoints.extend(well_known::endpoints::<A>());
    endpoints
}

/// Headers every response carries: browsers must not guess content types, and links out of the docs page carry no
/// referrer. (actix sends no `Server` header, so no version is disclosed.)
pub fn security_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add(("x-content-type-options", "nosniff"))
        .add(("referrer-policy", "no-referrer"))
}

/// A JSON response that no cache may keep: every body of this API is personal data or a credential.
pub(crate) fn no_store_json(status: StatusCode, body: impl Serialize) -> HttpResponse {
    HttpResponse::build(status).insert_header(CacheControl(vec![CacheDirective::NoStore])).json(body)
}

async fn not_found() -> Result<HttpResponse, Problem> {
    Err(Problem::not_found("no such route"))
}
