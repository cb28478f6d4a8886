//! The route table: every endpoint as data (method, path, handler), so that registering them, answering 405 with
//! the right `Allow`, and checking the OpenAPI document against them all read the same list.

use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::http::header::HeaderValue;
use actix_web::{HttpResponse, Route, web};

use crate::problem::Problem;

/// One method on one path.
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    route: Route,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

impl Endpoint {
    pub(crate) fn new(method: Method, path: &'static str, route: Route) -> Self {
        Self { method, path, route }
    }
}

/// Registers the endpoints, one resource per path; other methods on a known path get 405 naming the allowed ones.
pub(crate) fn register(config: &mut web::ServiceConfig, endpoints: Vec<Endpoint>) {
    let mut by_path: BTreeMap<&'static str, Vec<Endpoint>> = BTreeMap::new();
    for endpoint in endpoints {
        by_path.entry(endpoint.path).or_default().push(endpoint);
    }
    for (path, endpoints) in by_path {
        let allow = endpoints.iter().map(|endpoint| endpoint.method.as_str()).collect::<Vec<_>>().join(", ");
        let allow = HeaderValue::from_str(&allow).expect("method names are valid header text");
        let mut resource = web::resource(path);
        for endpoint in endpoints {
            resource = resource.route(endpoint.route.method(endpoint.method));
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
