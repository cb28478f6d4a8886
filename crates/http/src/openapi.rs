//! The OpenAPI 3.1 document of both dialects, generated from the handlers' annotations, served at `/openapi.json`,
//! with Swagger UI (embedded in the binary, so it works offline) at `/docs/`.
//!
//! Each handler declares the responses that are its own (201, 404, 409…). The problem responses every operation of
//! a kind shares are added in one place, [`SharedProblems`], from the same facts the code acts on: a JSON body may be
//! malformed (400), late (408), too large (413), not JSON (415) or invalid (422); parameters may be malformed (400); a
//! bearer token may be missing or refused (401); an admin route refuses other users (403); `/auth/*` is rate-limited
//! per address (429); any route may fail (500).

// utoipa's derive expands to fully qualified paths to this module's own types.
#![allow(unused_qualifications)]

use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use users_domain::{Password, PersonName, ProfileUrl, Role, Username};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Header, OpenApi as Document, Ref, RefOr, ResponseBuilder, Schema};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::{admin_api, health, profile_api, well_known};

/// An error, as `application/problem+json` (RFC 9457).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // described, never built: `Problem` serialises to this shape
pub(crate) struct ProblemDocument {
    /// The kind of problem: `/problems/{slug}`, e.g. `/problems/validation-failed`.
    #[serde(rename = "type")]
    #[schema(example = "/problems/validation-failed")]
    kind: String,
    #[schema(example = "Validation failed")]
    title: String,
    #[schema(example = 422)]
    status: u16,
    #[schema(example = "one or more fields are invalid")]
    detail: String,
    /// On 422 and on 400 for parameters: each field at fault.
    errors: Option<Vec<FieldErrorDocument>>,
    /// On 500: the id under which the fault was logged.
    request_id: Option<String>,
}

/// One field at fault (as `FieldError` serialises).
#[derive(Serialize, ToSchema)]
#[schema(as = FieldError)]
#[allow(dead_code)] // described, never built: `FieldError` serialises to this shape
pub(crate) struct FieldErrorDocument {
    #[schema(example = "email")]
    field: String,
    #[schema(example = "must be a valid email address")]
    message: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "users-service",
        description = "User management over two HTTP dialects sharing one core and one database: the Profile API \
            (`/auth/*`, `/users/*`; snake_case, users named by 24-hex ObjectId) and the Admin API v1 (`/api/*`; \
            camelCase, users named by integer id). Errors are RFC 9457 problems. Access tokens are JWTs valid 15 \
            minutes, signed with EdDSA keys published at `/.well-known/jwks.json`; refresh tokens are single-use and \
            rotated on every refresh.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        health::live,
        health::live_head,
        health::ready,
        health::ready_head,
        health::metrics,
        profile_api::register,
        profile_api::login,
        profile_api::refresh,
        profile_api::logout,
        profile_api::current_user,
        profile_api::update_current_user,
        profile_api::delete_current_user,
        profile_api::list_users,
        profile_api::list_users_without_slash,
        profile_api::get_user,
        profile_api::delete_user,
        admin_api::list_users,
        admin_api::get_user,
        admin_api::create_user,
        admin_api::replace_user,
        admin_api::delete_user,
        admin_api::clear_lockout,
        admin_api::list_roles,
        well_known::jwks,
    ),
    components(schemas(ProblemDocument, FieldErrorDocument)),
    modifiers(&BearerScheme, &SharedProblems, &DomainPatterns, &Links),
    tags(
        (name = "auth", description = "Sign-up, sign-in, token refresh and sign-out"),
        (name = "profile", description = "The signed-in user's own account"),
        (name = "admin", description = "Profile API: user management for admins"),
        (name = "admin-v1", description = "Admin API v1: user management with roles, for admins"),
        (name = "operations", description = "Probes, metrics and the token verification keys"),
    )
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The domain's own regular expressions for the string rules that lengths alone cannot state, written into the
/// request schemas (utoipa takes only literal patterns, and these must not be copies that drift).
struct DomainPatterns;

impl Modify for DomainPatterns {
    fn modify(&self, document: &mut Document) {
        let name = PersonName::PATTERN;
        let link = ProfileUrl::PATTERN;
        let rules: [(&str, &[(&str, &str)]); 4] = [
            ("RegisterRequest", &[("username", Username::PATTERN), ("first_name", name), ("last_name", name)]),
            (
                "UpdateProfileRequest",
                &[
                    ("username", Username::PATTERN),
                    ("first_name", name),
                    ("last_name", name),
                    ("website", link),
                    ("facebook", link),
                    ("instagram", link),
                    ("linkedin", link),
                    ("x", link),
                    ("youtube", link),
                ],
            ),
            ("CreateUserRequest", &[("firstName", name), ("lastName", name)]),
            ("ReplaceUserRequest", &[("firstName", name), ("lastName", name)]),
        ];
        let schemas = &mut document.components.as_mut().expect("components").schemas;
        // Role ids are integers from the roles the domain defines (and the first migration stores).
        let role_ids: Schema = serde_json::from_value(serde_json::json!({
            "type": ["array", "null"],
            "minItems": 1,
            "items": { "type": "integer", "format": "int64", "enum": Role::ALL.map(Role::id) },
            "description": "Ids from `GET /api/roles`; at least one.",
        }))
        .expect("a valid schema");
        // Sign-in names the account by email or by username (the email wins when both are given): an `anyOf`,
        // which the derive cannot express.
        let login: Schema = serde_json::from_value(serde_json::json!({
            "description": "Credentials: the email or the username, and the password. When both are given, the \
                email is used.",
            "anyOf": [
                {
                    "type": "object",
                    "required": ["email", "password"],
                    "properties": {
                        "email": { "type": "string", "format": "email", "maxLength": 50 },
                        "password": { "type": "string", "format": "password" },
                    },
                },
                {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {
                        "username": { "type": "string" },
                        "password": { "type": "string", "format": "password" },
                    },
                },
            ],
            "example": { "email": "ada@example.com", "password": "correct horse battery" },
        }))
        .expect("a valid schema");
        schemas.insert("LoginRequest".to_owned(), RefOr::T(login));
        for schema in ["CreateUserRequest", "ReplaceUserRequest"] {
            let Some(RefOr::T(Schema::Object(object))) = schemas.get_mut(schema) else { panic!("no schema {schema}") };
            object.properties.insert("roleIds".to_owned(), RefOr::T(role_ids.clone()));
        }
        for (schema, properties) in rules {
            let Some(RefOr::T(Schema::Object(object))) = schemas.get_mut(schema) else {
                panic!("no object schema {schema}");
            };
            for (property, pattern) in properties {
                let Some(RefOr::T(Schema::Object(field))) = object.properties.get_mut(*property) else {
                    panic!("no string property {schema}.{property}");
                };
                field.pattern = Some((*pattern).to_owned());
            }
        }
    }
}

/// Which operation's answer feeds which other operation: a created user's id, in each dialect's own form. Declared,
/// so that tools following links (and readers) need not guess between the two kinds of user id.
struct Links;

/// A `POST` whose 201 creates a user, and the operations that take the created user's id.
struct CreatedUser {
    path: &'static str,
    targets: &'static [&'static str],
    parameter: &'static str,
    source: &'static str,
}

const CREATED_USERS: [CreatedUser; 2] = [
    CreatedUser {
        path: "/api/users",
        targets: &["adminGetUser", "adminReplaceUser", "adminDeleteUser"],
        parameter: "id",
        source: "$response.body#/id",
    },
    CreatedUser {
        path: "/auth/register",
        targets: &["getUserByObjectId", "deleteUserByObjectId"],
        parameter: "userId",
        source: "$response.body#/user/id",
    },
];

impl Modify for Links {
    fn modify(&self, document: &mut Document) {
        for created in CREATED_USERS {
            let operation = document.paths.paths.get_mut(created.path).and_then(|item| item.post.as_mut());
            let Some(RefOr::T(response)) = operation.and_then(|operation| operation.responses.responses.get_mut("201"))
            else {
                panic!("no 201 response for POST {}", created.path);
            };
            for target in created.targets {
                let link = serde_json::from_value(serde_json::json!({
                    "operationId": target,
                    "parameters": { created.parameter: created.source },
                }))
                .expect("a valid link");
                response.links.insert((*target).to_owned(), RefOr::T(link));
            }
        }
    }
}

struct SharedProblems;

impl Modify for SharedProblems {
    fn modify(&self, document: &mut Document) {
        for (path, item) in document.paths.paths.iter_mut() {
            let rate_limited = path.starts_with("/auth/");
            let operations =
                [&mut item.get, &mut item.head, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                add_shared_problems(operation, rate_limited);
            }
        }
    }
}

/// The operations that may hash a password, so may find the hashers' queue full.
const HASHING_OPERATIONS: [&str; 5] =
    ["register", "login", "updateCurrentUser", "deleteCurrentUser", "adminCreateUser"];

fn add_shared_problems(operation: &mut Operation, rate_limited: bool) {
    let hashes = operation.operation_id.as_deref().is_some_and(|id| HASHING_OPERATIONS.contains(&id));
    let has_body = operation.request_body.is_some();
    let has_parameters = operation.parameters.as_ref().is_some_and(|parameters| !parameters.is_empty());
    let needs_token = operation.security.as_ref().is_some_and(|security| !security.is_empty());
    let admin_only =
        operation.tags.as_ref().is_some_and(|tags| tags.iter().any(|tag| tag == "admin" || tag == "admin-v1"));
    let mut add = |status: &str, description: &str| {
        let mut response = ResponseBuilder::new()
            .description(description)
            .content("application/problem+json", Content::new(Some(Ref::from_schema_name("ProblemDocument"))));
        if status == "401" {
            response = response.header("www-authenticate", Header::new(String::schema()));
        }
        if status == "429" {
            let mut retry_after = Header::new(i64::schema());
            retry_after.description = Some("Seconds until a request is accepted again".to_owned());
            response = response.header("retry-after", retry_after);
        }
        if status == "503" {
            let mut retry_after = Header::new(i64::schema());
            retry_after.description = Some("Seconds after which to try again".to_owned());
            response = response.header("retry-after", retry_after);
        }
        operation.responses.responses.entry(status.to_owned()).or_insert_with(|| response.build().into());
    };
    if has_body {
        add("400", "The body is not well-formed JSON");
        add("408", "The body did not all arrive in time; the connection is closed");
        add("413", "The body is larger than 16 KiB");
        add("415", "The body is not sent as application/json");
        add("422", "The body is not a JSON object, or fields are invalid (each is named in `errors`)");
    } else if has_parameters {
        add("400", "A path or query parameter is malformed or out of range (each is named in `errors`)");
    }
    if needs_token {
        add("401", "No bearer token, or one that is invalid, expired or of an ended session");
    }
    if admin_only {
        add("403", "The signed-in user is not an admin");
    }
    if rate_limited {
        add("429", "Too many requests from this address (or, on sign-in, too many failures for this account)");
    }
    if hashes {
        add("503", "The password hashers' queue is full; nothing was done; try again after `Retry-After`");
    }
    add("500", "An unexpected fault; the body names the request id it was logged under");
}

/// The document, as generated from the annotations.
pub fn document() -> Document {
    ApiDoc::openapi()
}

/// The document as served: the generated one, plus what its model cannot hold. New passwords must not be on the
/// bundled list of common ones, a `not`/`enum` rule utoipa has no field for; the rule against a password made of the
/// account's own names is only described (JSON Schema has no rule across fields).
pub fn document_json() -> serde_json::Value {
    let mut document = serde_json::to_value(document()).expect("the document serialises");
    let common: Vec<&str> = Password::common().collect();
    for schema in ["RegisterRequest", "UpdateProfileRequest", "CreateUserRequest"] {
        let password = document
            .pointer_mut(&format!("/components/schemas/{schema}/properties/password"))
            .and_then(serde_json::Value::as_object_mut)
            .unwrap_or_else(|| panic!("no password property in {schema}"));
        password.insert("not".to_owned(), serde_json::json!({ "enum": common }));
        password.insert(
            "description".to_owned(),
            serde_json::json!(
                "Not one of the most common passwords, and neither equal to nor containing the username or the \
                 part of the email before the @ (ignoring case; names under 3 characters only when equal). The \
                 second rule spans two fields, which a schema cannot state: a password breaking it gets 422."
            ),
        );
    }
    document
}

/// `/openapi.json` and the Swagger UI over it at `/docs/` (and `/docs`, which redirects there). Without
/// `serves_metrics`, `/metrics` is served on another listener, so this one's document does not offer it.
pub(crate) fn configure(config: &mut web::ServiceConfig, serves_metrics: bool) {
    let mut document = document_json();
    if !serves_metrics && let Some(paths) = document["paths"].as_object_mut() {
        paths.remove(health::METRICS_PATH);
    }
    let document = web::Bytes::from(serde_json::to_vec(&document).expect("the document serialises"));
    config
        .route(
            "/openapi.json",
            web::get().to(move || {
                let document = document.clone();
                async move { HttpResponse::Ok().content_type("application/json").body(document) }
            }),
        )
        // No validator badge: Swagger UI would otherwise send the document's address to validator.swagger.io.
        .service(SwaggerUi::new("/docs/{_:.*}").config(Config::from("/openapi.json").validator_url("none")))
        .route(
            "/docs",
            web::get().to(|| async { HttpResponse::PermanentRedirect().insert_header((LOCATION, "/docs/")).finish() }),
        );
}
