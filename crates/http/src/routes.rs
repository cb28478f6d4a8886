//! The route table: every endpoint as data (its handler and its OpenAPI operation), so that registering them,
//! answering 405 with the right `Allow`, and the OpenAPI document all read the same list.
//!
//! An endpoint is declared once, in its API module, by its handler and the operation its `#[utoipa::path]`
//! describes: the method and path are read from that operation, so the route served and the route documented cannot
//! differ. (utoipa-actix-web's own `service(handler)` needs actix's route macros, which take no handler generic over
//! the adapters as ours are, and registers each method on its own, leaving no place for a 405 naming the others.)

use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::http::header::HeaderValue;
use actix_web::{HttpResponse, Route, web};
use utoipa::openapi::path::{HttpMethod, Paths};
use utoipa::openapi::{RefOr, Schema};
use utoipa_actix_web::OpenApiFactory;

use crate::problem::Problem;

/// One method on one path: the handler and its operation in the OpenAPI document.
pub struct Endpoint {
    pub method: Method,
    pub path: String,
    route: Route,
    operation: Box<dyn OpenApiFactory>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

impl Endpoint {
    /// `handler` at the one method and path of `operation`, the struct `#[utoipa::path]` generates beside the
    /// handler: `Endpoint::new(__path_register, web::to(register::<A>))`.
    pub(crate) fn new<O: utoipa::Path + OpenApiFactory + 'static>(operation: O, handler: Route) -> Self {
        let path = O::path();
        let method = match O::methods().as_slice() {
            [method] => method_of(method),
            methods => panic!("{path}: an endpoint is one method, not {}", methods.len()),
        };
        Self { method, path, route: handler, operation: Box::new(operation) }
    }

    /// Adds this endpoint's operation to `paths`, and the schemas it names to `schemas`.
    pub(crate) fn describe(&self, paths: &mut Paths, schemas: &mut Vec<(String, RefOr<Schema>)>) {
        paths.merge(self.operation.paths());
        self.operation.schemas(schemas);
    }
}

fn method_of(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Post => Method::POST,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

/// Registers the endpoints, one resource per path; other methods on a known path get 405 naming the allowed ones.
pub(crate) fn register(config: &mut web::ServiceConfig, endpoints: Vec<Endpoint>) {
    let mut by_path: BTreeMap<String, Vec<(Method, Route)>> = BTreeMap::new();
    for Endpoint { method, path, route, .. } in endpoints {
        let routes = by_path.entry(path.clone()).or_default();
        assert!(routes.iter().all(|(taken, _)| *taken != method), "{method} {path} is declared twice");
        routes.push((method, route));
    }
    for (path, routes) in by_path {
        let allow = routes.iter().map(|(method, _)| method.as_str()).collect::<Vec<_>>().join(", ");
        let allow = HeaderValue::from_str(&allow).expect("method names are valid header text");
        let mut resource = web::resource(path);
        for (method, route) in routes {
            resource = resource.route(route.method(method));
        }
        config.service(resource.default_service(method_not_allowed(allow)));
    }
}

/// The fallback of a resource: 405 naming the methods it does take.
fn method_not_allowed(allow: HeaderValue) -> Route {
    web::to(move || {
        let allow = allow.clone();
        async move { Err::<HttpResponse, _>(Problem::method_not_allowed(allow)) }
    })
}
