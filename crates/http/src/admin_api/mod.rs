//! The Admin API v1 (seed 001): `/api/users` CRUD with roles and `/api/roles`, for admins only. The same use cases
//! as the Profile API serve it; only the JSON shape and how users are named (integer ids) differ.

mod dto;

use actix_web::http::header::LOCATION;
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpResponse, web};
use users_app::{Adapters, UserService};
use users_domain::UserId;
use users_ports::PageRequest;

use crate::body::JsonObject;
use crate::extractors::Admin;
use crate::no_store_json;
use crate::openapi::ProblemDocument;
use crate::password_limit::PasswordWorkLimiter;
use crate::problem::{FieldError, Problem};
use crate::routes::Endpoint;
use dto::{CreateUserRequest, ListQuery, ReplaceUserRequest, RoleResponse, UserPageResponse, UserResponse};

type Service<A> = web::Data<UserService<A>>;
type Handled = Result<HttpResponse, Problem>;

pub(crate) fn endpoints<A: Adapters>() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::GET, "/api/users", web::to(list_users::<A>)),
        Endpoint::new(Method::POST, "/api/users", web::to(create_user::<A>)),
        Endpoint::new(Method::GET, "/api/users/{id}", web::to(get_user::<A>)),
        Endpoint::new(Method::PUT, "/api/users/{id}", web::to(replace_user::<A>)),
        Endpoint::new(Method::DELETE, "/api/users/{id}", web::to(delete_user::<A>)),
        Endpoint::new(Method::DELETE, "/api/users/{id}/lockout", web::to(clear_lockout::<A>)),
        Endpoint::new(Method::GET, "/api/roles", web::to(list_roles::<A>)),
    ]
}

fn user_id(raw: &str) -> Result<UserId, Problem> {
    raw.parse::<i64>().map(UserId).map_err(|_| {
        Problem::invalid_parameters(vec![FieldError {
            field: "id".to_owned(),
            message: "must be an integer".to_owned(),
        }])
    })
}

#[utoipa::path(get, path = "/api/users", tag = "admin-v1", operation_id = "adminListUsers", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "A page of users", body = UserPageResponse)))]
async fn list_users<A: Adapters>(service: Service<A>, admin: Admin<A>, query: web::Query<ListQuery>) -> Handled {
    let (page, limit) = query.into_inner().parse()?;
    // A page far past the end is empty, not an overflow.
    let offset = (page - 1).saturating_mul(u64::from(limit));
    let found = service.list_users(&admin.admin, PageRequest { offset, limit }).await?;
    let total_pages = found.total.div_ceil(u64::from(limit));
    let data = found.items.into_iter().map(UserResponse::from).collect();
    Ok(no_store_json(StatusCode::OK, UserPageResponse { data, page, limit, total: found.total, total_pages }))
}

#[utoipa::path(get, path = "/api/users/{id}", tag = "admin-v1", operation_id = "adminGetUser", security(("bearer" = [])), params(("id" = i64, Path, description = "The user's id")),
    responses((status = 200, description = "The user", body = UserResponse),
              (status = 404, description = "No such user", body = ProblemDocument, content_type = "application/problem+json")))]
async fn get_user<A: Adapters>(service: Service<A>, admin: Admin<A>, path: web::Path<String>) -> Handled {
    let id = user_id(&path)?;
    let user = service.get_user(&admin.admin, id).await?;
    Ok(no_store_json(StatusCode::OK, UserResponse::from(user)))
}

#[utoipa::path(post, path = "/api/users", tag = "admin-v1", operation_id = "adminCreateUser", security(("bearer" = [])), request_body = CreateUserRequest,
    responses((status = 201, description = "The created user", body = UserResponse,
               headers(("location" = String, description = "/api/users/{id}"))),
              (status = 409, description = "Email taken", body = ProblemDocument, content_type = "application/problem+json"),
              (status = 429, description = "Too many passwords hashed for this admin in a short time", body = ProblemDocument, content_type = "application/problem+json",
               headers(("retry-after" = i64, description = "Seconds until a request is accepted again")))))]
async fn create_user<A: Adapters>(
    service: Service<A>,
    admin: Admin<A>,
    limiter: web::Data<PasswordWorkLimiter>,
    body: JsonObject<CreateUserRequest>,
) -> Handled {
    let (registration, role_ids) = body.0.parse()?;
    limiter.spend(admin.admin.current().user.id)?;
    let user = service.create_user(&admin.admin, registration, role_ids).await?;
    let mut response = no_store_json(StatusCode::CREATED, UserResponse::from(user.clone()));
    let location = format!("/api/users/{}", user.id);
    response.headers_mut().insert(LOCATION, location.parse().map_err(|error| Problem::internal(&error))?);
    Ok(response)
}

#[utoipa::path(put, path = "/api/users/{id}", tag = "admin-v1", operation_id = "adminReplaceUser", security(("bearer" = [])), params(("id" = i64, Path, description = "The user's id")), request_body = ReplaceUserRequest,
    responses((status = 200, description = "The replaced user", body = UserResponse),
              (status = 404, description = "No such user", body = ProblemDocument, content_type = "application/problem+json"),
              (status = 409, description = "Email taken, or the last admin would lose the role", body = ProblemDocument, content_type = "application/problem+json")))]
async fn replace_user<A: Adapters>(
    service: Service<A>,
    admin: Admin<A>,
    path: web::Path<String>,
    body: JsonObject<ReplaceUserRequest>,
) -> Handled {
    let id = user_id(&path)?;
    let replacement = body.0.parse()?;
    let user = service.replace_user(&admin.admin, id, replacement).await?;
    Ok(no_store_json(StatusCode::OK, UserResponse::from(user)))
}

#[utoipa::path(delete, path = "/api/users/{id}", tag = "admin-v1", operation_id = "adminDeleteUser", security(("bearer" = [])), params(("id" = i64, Path, description = "The user's id")),
    responses((status = 204, description = "The user and their sessions are gone"),
              (status = 404, description = "No such user", body = ProblemDocument, content_type = "application/problem+json"),
              (status = 409, description = "The last admin cannot be deleted", body = ProblemDocument, content_type = "application/problem+json")))]
async fn delete_user<A: Adapters>(service: Service<A>, admin: Admin<A>, path: web::Path<String>) -> Handled {
    let id = user_id(&path)?;
    service.delete_user(&admin.admin, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(delete, path = "/api/users/{id}/lockout", tag = "admin-v1", operation_id = "adminClearLockout", security(("bearer" = [])), params(("id" = i64, Path, description = "The user's id")),
    responses((status = 204, description = "The user's failed sign-ins are forgotten and every lock they caused, from every network, is lifted"),
              (status = 404, description = "No such user", body = ProblemDocument, content_type = "application/problem+json")))]
async fn clear_lockout<A: Adapters>(service: Service<A>, admin: Admin<A>, path: web::Path<String>) -> Handled {
    let id = user_id(&path)?;
    service.clear_lockout(&admin.admin, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/roles", tag = "admin-v1", operation_id = "adminListRoles", security(("bearer" = [])),
    responses((status = 200, description = "Every role", body = Vec<RoleResponse>)))]
async fn list_roles<A: Adapters>(service: Service<A>, admin: Admin<A>) -> Handled {
    let roles: Vec<RoleResponse> =
        service.list_roles(&admin.admin).await?.into_iter().map(RoleResponse::from).collect();
    Ok(no_store_json(StatusCode::OK, roles))
}
