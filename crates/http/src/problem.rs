//! `Problem`: an RFC 9457 `application/problem+json` error response, the only error shape either dialect returns.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::observability::RequestId;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid input field and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[schema(description = "One field at fault (as `FieldError` serialises).")]
pub struct FieldError {
    #[schema(example = "email")]
    pub field: String,
    #[schema(example = "must be a valid email address")]
    pub message: String,
}

/// An error as a client sees it: `{type, title, status, detail}`, plus `errors` for validation failures. Its schema
/// in the OpenAPI document is derived from this type, as serialised (`type` written out from the slug, `status` as a
/// number); named `ProblemDocument` there.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(as = ProblemDocument, description = "An error, as `application/problem+json` (RFC 9457).")]
pub struct Problem {
    /// The kind of problem: `/problems/{slug}`, e.g. `/problems/validation-failed`.
    #[serde(rename = "type", serialize_with = "problem_type")]
    #[schema(value_type = String, example = "/problems/validation-failed")]
    slug: &'static str,
    #[schema(value_type = String, example = "Validation failed")]
    title: &'static str,
    #[serde(serialize_with = "status_code")]
    #[schema(value_type = u16, example = 422)]
    status: StatusCode,
    #[schema(example = "one or more fields are invalid")]
    detail: String,
    /// On 422 and on 400 for parameters: each field at fault.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Option<Vec<FieldError>>)]
    errors: Vec<FieldError>,
    /// On 500: the id under which the fault was logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    request_id: Option<Box<str>>,
    /// Headers the status calls for: `WWW-Authenticate` on 401, `Allow` on 405.
    #[serde(skip)]
    headers: Box<[(HeaderName, HeaderValue)]>,
}

/// `type` is a URI reference naming the kind of problem: `/problems/{slug}`.
fn problem_type<S: serde::Serializer>(slug: &&'static str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&format_args!("/problems/{slug}"))
}

fn status_code<S: serde::Serializer>(status: &StatusCode, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u16(status.as_u16())
}

impl Problem {
    /// `slug` names the kind of problem: its `type` is `/problems/{slug}`.
    pub fn new(status: StatusCode, slug: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self { slug, title, status, detail: detail.into(), errors: Vec::new(), request_id: None, headers: Box::new([]) }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request", detail)
    }

    /// 400 for query-string or path parameters that are not what the route takes.
    pub fn invalid_parameters(errors: Vec<FieldError>) -> Self {
        Self { errors, ..Self::bad_request("one or more parameters are invalid") }
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self {
            errors,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation-failed",
                "Validation failed",
                "one or more fields are invalid",
            )
        }
    }

    /// 401 with the `WWW-Authenticate` challenge RFC 6750 asks for.
    pub fn unauthorized(slug: &'static str, detail: impl Into<String>, challenge: &'static str) -> Self {
        Self {
            headers: Box::new([(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge))]),
            ..Self::new(StatusCode::UNAUTHORIZED, slug, "Unauthorized", detail)
        }
    }

    /// 405 with the `Allow` header listing the methods the route takes.
    pub fn method_not_allowed(allow: HeaderValue) -> Self {
        let detail = format!("this route takes {}", allow.to_str().unwrap_or_default());
        Self {
            headers: Box::new([(header::ALLOW, allow)]),
            ..Self::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed", detail)
        }
    }

    /// 429 with `Retry-After` in whole seconds.
    pub fn too_many_requests(detail: impl Into<String>, retry_after_secs: i64) -> Self {
        let retry_after = HeaderValue::from(retry_after_secs.max(1));
        Self {
            headers: Box::new([(header::RETRY_AFTER, retry_after)]),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "too-many-attempts", "Too many requests", detail)
        }
    }

    /// 503 with `Retry-After` in whole seconds: the service cannot take this work now, and says when to come back.
    pub fn service_unavailable(slug: &'static str, detail: impl Into<String>, retry_after_secs: i64) -> Self {
        let retry_after = HeaderValue::from(retry_after_secs.max(1));
        Self {
            headers: Box::new([(header::RETRY_AFTER, retry_after)]),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, slug, "Service unavailable", detail)
        }
    }

    /// 408: the request's body did not arrive in time.
    pub fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request-timeout",
            "Request timeout",
            "the request body did not arrive in time; send the whole request again",
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn conflict(slug: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, slug, "Conflict", detail)
    }

    /// 500: the cause goes to the log (inside the request's span, so with its request id), never to the client.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %cause, "request failed on an unexpected fault");
        Self::unexpected_fault(RequestId::current().as_ref().map(RequestId::as_str))
    }

    /// The 500 a client gets, naming the id its fault was logged under; [`Problem::internal`] logs the cause first.
    pub(crate) fn unexpected_fault(request_id: Option<&str>) -> Self {
        Self {
            request_id: request_id.map(Into::into),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal-error",
                "Internal server error",
                "the service failed to handle this request; it has been logged under its request id",
            )
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.title, self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response
            .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)))
            .insert_header(header::CacheControl(vec![header::CacheDirective::NoStore]));
        for (name, value) in &self.headers {
            response.insert_header((name.clone(), value.clone()));
        }
        response.body(serde_json::to_string(self).unwrap_or_default())
    }
}
