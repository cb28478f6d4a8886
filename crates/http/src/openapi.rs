//! The OpenAPI 3.1 document of both dialects, built from the endpoints the app registers (each handler's
//! `#[utoipa::path]` operation, see `routes`), served at `/openapi.json`, with Swagger UI (embedded in the binary, so
//! it works offline) at `/docs/`. This module names no handler: what is served is what is described.
//!
//! Each handler declares the responses that are its own (201, 404, 409…), its summary and description (its doc
//! comment: the first line, a blank line, the rest), and the examples of the problems only it answers with (its
//! parameters refused, its conflicts, its locks). The problem responses every operation of a kind shares are added
//! in one place, [`SharedProblems`], from the same facts the code acts on: a JSON body may be malformed (400), late
//! (408), too large (413), not JSON (415) or invalid (422); a bearer token may be missing or refused (401); an admin
//! route refuses other users (403); `/auth/*` is rate-limited per address (429); a route that hashes passwords may
//! find the hashers busy, one that touches the store may find it unavailable (503); any route may fail (500). Every
//! example is a problem built by the code that sends it (see `examples`), so the two cannot drift; every problem
//! response's schema is [`Problem`]'s own.

// utoipa's derive expands to fully qualified paths to the types it names.
#![allow(unused_qualifications)]

use std::collections::btree_map::Entry;

use actix_web::error::JsonPayloadError;
use actix_web::http::header::{HeaderName, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError as _, web};
use users_app::{AuthenticateError, NotAnAdmin};
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::path::{Operation, Paths};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Header, OpenApi as Document, Ref, RefOr, Response};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::examples::{EXAMPLE_WAIT_SECS, sent};
use crate::problem::{PROBLEM_JSON, Problem};
use crate::routes::Endpoint;
use crate::{errors, rate_limit};

/// What the document says besides its operations: who it describes, how tokens are sent, the tags and the problem
/// schema every error response shares. The operations and the schemas they name come from the endpoints.
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
    components(schemas(Problem)),
    modifiers(&BearerScheme),
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
                add_shared_problems(path, operation, rate_limited);
            }
        }
    }
}

/// The operations that may hash a password, so may find the hashers' queue full.
const HASHING_OPERATIONS: [&str; 6] =
    ["register", "login", "updateCurrentUser", "deleteCurrentUser", "adminCreateUser", "resetPassword"];

/// Operations whose parameters take any text: a session's id is opaque, so text no session has is a 404.
const ANY_TEXT_PARAMETERS: [&str; 1] = ["endSession"];

/// The tag of the operations that never meet the store's faults: the readiness probe answers its own 503, the rest
/// answer from memory.
const STORELESS_TAG: &str = "operations";

fn add_shared_problems(path: &str, operation: &mut Operation, rate_limited: bool) {
    let id = operation.operation_id.clone().unwrap_or_else(|| panic!("an operation on {path} has no operationId"));
    let hashes = HASHING_OPERATIONS.contains(&id.as_str());
    let has_body = operation.request_body.is_some();
    let has_parameters = operation.parameters.as_ref().is_some_and(|parameters| !parameters.is_empty());
    let needs_token = operation.security.as_ref().is_some_and(|security| !security.is_empty());
    let tags = operation.tags.clone().unwrap_or_default();
    let admin_only = tags.iter().any(|tag| tag == "admin" || tag == "admin-v1");
    let uses_store = !tags.iter().any(|tag| tag == STORELESS_TAG);
    // Which parameter is refused, and why, differs with each route's parser: each declares its own 400 (but for
    // the routes whose parameters take any text).
    assert!(
        !has_parameters
            || ANY_TEXT_PARAMETERS.contains(&id.as_str())
            || operation.responses.responses.contains_key("400"),
        "{id} takes parameters but declares no 400 for refusing them"
    );
    let mut add = |status: &str, description: &str, examples: &[(&str, Problem)]| {
        add_problem(operation, status, description, examples);
    };
    if has_body {
        add("400", "The body is not well-formed JSON", &[("malformed-json", malformed_json())]);
        add(
            "408",
            "The body did not all arrive in time, and the connection is closed",
            &[("request-timeout", Problem::request_timeout())],
        );
        let too_large = JsonPayloadError::Overflow { limit: crate::MAX_JSON_BYTES };
        add("413", "The body is larger than 16 KiB", &[("payload-too-large", errors::json_error(too_large))]);
        add(
            "415",
            "The body is not sent as application/json",
            &[("unsupported-media-type", errors::json_error(JsonPayloadError::ContentType))],
        );
        add(
            "422",
            "The body is not a JSON object, or fields are invalid (each is named in `errors`)",
            &[("not-an-object", errors::not_an_object())],
        );
    }
    if needs_token {
        add(
            "401",
            "No bearer token, or one that is invalid, expired or of an ended session",
            &[("missing-token", errors::missing_token()), ("invalid-token", AuthenticateError::ExpiredToken.into())],
        );
    }
    if admin_only {
        add("403", "The signed-in user is not an admin", &[("not-an-admin", NotAnAdmin.into())]);
    }
    if rate_limited {
        add(
            "429",
            "Too many requests from this address",
            &[("address-rate-limited", rate_limit::too_many_from_address(EXAMPLE_WAIT_SECS))],
        );
    }
    if hashes {
        add(
            "503",
            "The password hashers' queue is full, so nothing was done (try again after `Retry-After`)",
            &[("busy", errors::busy())],
        );
    }
    if uses_store {
        add(
            "503",
            "The database is out of reach or refuses writes (try again after `Retry-After`)",
            &[("store-unavailable", errors::store_unavailable())],
        );
    }
    add(
        "500",
        "An unexpected fault; the body names the request id it was logged under",
        &[("internal-error", Problem::unexpected_fault(Some("5f0c3e9a7b1d4e62a8c4f1b2d3e4a5b6")))],
    );
}

fn malformed_json() -> Problem {
    let error = serde_json::from_str::<serde_json::Value>(r#"{"email": "#).expect_err("not JSON");
    errors::json_error(JsonPayloadError::Deserialize(error))
}

/// Adds a shared problem to an operation's response for `status`. A response the handler declared keeps its own
/// description and examples, and gains this one's (the handler states what is particular to the route, the shared
/// rule what it has in common with others); headers the service sends with the problem are declared alongside.
fn add_problem(operation: &mut Operation, status: &str, description: &str, examples: &[(&str, Problem)]) {
    let id = operation.operation_id.as_deref().unwrap_or_default();
    let response = match operation.responses.responses.entry(status.to_owned()) {
        Entry::Vacant(entry) => entry.insert(Response::new(description).into()),
        Entry::Occupied(entry) => {
            let response = entry.into_mut();
            if let RefOr::T(response) = response {
                response.description = format!("{}; or {}", response.description, lowercase_first(description));
            }
            response
        }
    };
    let RefOr::T(response) = response else { panic!("{id} {status}: a response by reference") };
    let content = response
        .content
        .entry(PROBLEM_JSON.to_owned())
        .or_insert_with(|| Content::new(Some(Ref::from_schema_name(Problem::name()))).into());
    let RefOr::T(content) = content else { panic!("{id} {status}: content by reference") };
    for (name, problem) in examples {
        let example = ExampleBuilder::new().value(Some(sent(problem.clone()))).build();
        let clash = content.examples.insert((*name).to_owned(), example.into());
        assert!(clash.is_none(), "{id} {status}: two examples named {name}");
        for (header, _) in problem.error_response().headers() {
            let Some(what) = HEADERS.iter().find_map(|(name, what)| (header == name).then_some(*what)) else {
                continue;
            };
            let schema = if *header == RETRY_AFTER { i64::schema() } else { String::schema() };
            let mut declared = Header::new(schema);
            declared.description = Some(what.to_owned());
            response.headers.entry(header.as_str().to_owned()).or_insert(declared.into());
        }
    }
}

/// The headers a problem response may carry that the document declares, with what each says.
const HEADERS: [(HeaderName, &str); 2] =
    [(WWW_AUTHENTICATE, "Bearer challenge"), (RETRY_AFTER, "Seconds after which to try again")];

/// `Too many…` becomes `too many…`, to follow a `; or`; `JSON…` stays.
fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && !second.is_uppercase() => {
            first.to_lowercase().chain(text.chars().skip(1)).collect()
        }
        _ => text.to_owned(),
    }
}

/// The document of `endpoints`: each one's operation and the schemas it names, the problems operations of its kind
/// share, and the links between operations.
pub(crate) fn document(endpoints: &[Endpoint]) -> Document {
    let mut document = ApiDoc::openapi();
    let mut paths = Paths::new();
    let mut schemas = Vec::new();
    for endpoint in endpoints {
        endpoint.describe(&mut paths, &mut schemas);
    }
    document.paths.merge(paths);
    document.components.get_or_insert_with(Default::default).schemas.extend(schemas);
    SharedProblems.modify(&mut document);
    Links.modify(&mut document);
    document
}

/// `/openapi.json` serving `document`, and the Swagger UI over it at `/docs/` (and `/docs`, which redirects there).
pub(crate) fn serve(config: &mut web::ServiceConfig, document: &Document) {
    let document = web::Bytes::from(serde_json::to_vec(document).expect("the document serialises"));
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;
    use users_app::Adapters;
    use users_ports::{
        MockAuditLog, MockClock, MockOneTimePasswords, MockOneTimeTokenRepository, MockPasswordHasher,
        MockSecondFactorRepository, MockSecretSealer, MockSessionRepository, MockTokenIssuer, MockUserRepository,
    };

    use super::*;

    /// Adapters to name the endpoints with: none of their handlers runs here.
    struct Mocked;

    impl Adapters for Mocked {
        type Users = MockUserRepository;
        type Sessions = MockSessionRepository;
        type OneTimeTokens = MockOneTimeTokenRepository;
        type Audit = MockAuditLog;
        type Hasher = MockPasswordHasher;
        type Tokens = MockTokenIssuer;
        type Clock = MockClock;
        type SecondFactors = MockSecondFactorRepository;
        type OneTimePasswords = MockOneTimePasswords;
        type Sealer = MockSecretSealer;
    }

    /// The document of every endpoint, as served.
    fn document_json() -> Value {
        serde_json::to_value(document(&crate::endpoints::<Mocked>())).expect("the document serialises")
    }

    const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

    /// Every operation of the served document, as `(method path, operation)`.
    fn operations(document: &Value) -> Vec<(String, &Value)> {
        let paths = document["paths"].as_object().expect("paths");
        let operations: Vec<_> = paths
            .iter()
            .flat_map(|(path, item)| {
                METHODS
                    .iter()
                    .filter_map(move |method| Some((format!("{} {path}", method.to_uppercase()), item.get(*method)?)))
            })
            .collect();
        assert!(operations.len() > 20, "{} operations", operations.len());
        operations
    }

    #[test]
    fn the_document_describes_every_endpoint_and_no_other() {
        let document = document_json();
        let described: BTreeSet<String> = operations(&document).into_iter().map(|(operation, _)| operation).collect();
        let endpoints: BTreeSet<String> = crate::endpoints::<Mocked>()
            .iter()
            .map(|endpoint| format!("{} {}", endpoint.method, endpoint.path))
            .collect();
        assert_eq!(described, endpoints);
    }

    #[test]
    fn every_problem_response_has_the_problem_schema() {
        let document = document_json();
        let problem = format!("#/components/schemas/{}", Problem::name());
        assert!(document.pointer(&problem["#".len()..]).is_some(), "no {problem}");
        for (operation, body) in operations(&document) {
            for (status, response) in body["responses"].as_object().expect("responses") {
                if let Some(content) = response["content"].get(PROBLEM_JSON) {
                    assert_eq!(content["schema"]["$ref"], problem.as_str(), "{operation} {status}");
                }
            }
        }
    }

    #[test]
    fn every_operation_has_a_one_line_summary() {
        let document = document_json();
        for (operation, body) in operations(&document) {
            let summary = body["summary"].as_str().unwrap_or_default();
            // A doc comment without its blank line after the first paragraph makes the whole of it the summary.
            assert!(
                !summary.is_empty() && summary.len() <= 80 && !summary.contains('\n'),
                "{operation}: summary {summary:?}"
            );
        }
    }

    #[test]
    fn every_error_response_has_examples_of_its_own_status() {
        let document = document_json();
        let mut examples_seen = 0;
        for (operation, body) in operations(&document) {
            for (status, response) in body["responses"].as_object().expect("responses") {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                let at = format!("{operation} {status}");
                let content = &response["content"][PROBLEM_JSON];
                assert!(content["schema"].is_object(), "{at}: no problem schema");
                assert!(
                    content.get("example").is_none(),
                    "{at}: an `example`; named `examples` only, so rules can add to them"
                );
                let examples = content["examples"].as_object().filter(|examples| !examples.is_empty());
                let examples = examples.unwrap_or_else(|| panic!("{at}: no example"));
                for (name, example) in examples {
                    let problem = &example["value"];
                    assert_eq!(problem["status"].to_string(), *status, "{at} {name}: {problem}");
                    let kind = problem["type"].as_str().unwrap_or_default();
                    assert!(
                        kind.starts_with("/problems/") && kind.len() > "/problems/".len(),
                        "{at} {name}: {problem}"
                    );
                    assert!(problem["title"].is_string() && problem["detail"].is_string(), "{at} {name}: {problem}");
                    let waits =
                        ["too-many-attempts", "busy", "store-unavailable"].contains(&&kind["/problems/".len()..]);
                    if waits {
                        assert!(response["headers"]["retry-after"].is_object(), "{at} {name}: no Retry-After");
                    }
                    examples_seen += 1;
                }
                if status == "401" {
                    assert!(response["headers"]["www-authenticate"].is_object(), "{at}: no WWW-Authenticate");
                }
            }
        }
        assert!(examples_seen > 100, "{examples_seen} examples");
    }

    #[test]
    fn a_status_with_several_causes_shows_each() {
        let document = document_json();
        let names = |pointer: &str| -> Vec<String> {
            let examples = document.pointer(pointer).and_then(Value::as_object);
            examples.unwrap_or_else(|| panic!("no examples at {pointer}")).keys().cloned().collect()
        };
        let at = |path: &str, method: &str, status: &str| {
            format!(
                "/paths/{}/{method}/responses/{status}/content/application~1problem+json/examples",
                path.replace('/', "~1")
            )
        };
        assert_eq!(names(&at("/auth/register", "post", "409")), ["account-deleted", "email-taken", "username-taken"]);
        assert_eq!(names(&at("/auth/register", "post", "503")), ["busy", "store-unavailable"]);
        assert_eq!(names(&at("/auth/login", "post", "429")), ["account-locked", "address-rate-limited"]);
        assert_eq!(names(&at("/api/users/{id}", "delete", "403")), ["not-an-admin", "reauthentication-required"]);
        assert_eq!(names(&at("/api/users/{id}", "put", "400")), ["invalid-parameters", "malformed-json"]);
        let description = document.pointer("/paths/~1auth~1login/post/responses/429/description").unwrap();
        assert_eq!(
            description,
            "Too many failed sign-ins in a row: the account refuses sign-ins for a while; or too many requests from \
             this address"
        );
    }
}
