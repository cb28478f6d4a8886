//! The Admin API v1 (seed 001): `/api/users` CRUD with roles and `/api/roles`, and beyond it a user's sessions,
//! suspension and second factor, for admins only. The same use cases as the Profile API serve it; only the JSON shape
//! and how users are named (integer ids) differ.

mod audit;
mod dto;
mod second_factor;
mod sessions;
mod suspension;

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, web};
use users_app::{
    Adapters, ClearLockoutError, CreateUserError, DeleteUserError, GetUserError, ReplaceUserError,
    SendPasswordResetError, UserService,
};
use users_domain::UserId;
use users_ports::PageRequest;

use crate::body::JsonObject;
use crate::errors::query_error;
use crate::examples::{EXAMPLE_WAIT_SECS, refused, sent};
use crate::extractors::Admin;
use crate::no_store_json;
use crate::password_limit::{PasswordWorkLimiter, too_much_password_work};
use crate::problem::{FieldError, Problem};
use crate::routes::Endpoint;
pub(crate) use dto::UserResponse;
use dto::{CreateUserRequest, ListQuery, ReplaceUserRequest, RoleResponse, UserListing, UserPageResponse};

type Service<A> = web::Data<UserService<A>>;
type Handled = Result<HttpResponse, Problem>;

pub(crate) fn endpoints<A: Adapters>() -> Vec<Endpoint> {
    vec![
        Endpoint::new(__path_list_users, web::to(list_users::<A>)),
        Endpoint::new(__path_create_user, web::to(create_user::<A>)),
        Endpoint::new(__path_get_user, web::to(get_user::<A>)),
        Endpoint::new(__path_replace_user, web::to(replace_user::<A>)),
        Endpoint::new(__path_delete_user, web::to(delete_user::<A>)),
        Endpoint::new(__path_clear_lockout, web::to(clear_lockout::<A>)),
        Endpoint::new(__path_send_password_reset, web::to(send_password_reset::<A>)),
        Endpoint::new(__path_list_roles, web::to(list_roles::<A>)),
    ]
    .into_iter()
    .chain(sessions::endpoints::<A>())
    .chain(suspension::endpoints::<A>())
    .chain(second_factor::endpoints::<A>())
    .chain(audit::endpoints::<A>())
    .collect()
}

/// An id as the Admin API writes it: `+2` and `02` name no user, rather than user 2 under another spelling.
pub(crate) fn user_id(raw: &str) -> Result<UserId, Problem> {
    let canonical = raw.parse::<i64>().ok().filter(|id| id.to_string() == raw);
    canonical.map(UserId).ok_or_else(|| {
        Problem::invalid_parameters(vec![FieldError {
            field: "id".to_owned(),
            message: "must be an integer, written plainly (no plus sign or leading zeros)".to_owned(),
        }])
    })
}

/// `query` as the list route reads it, for the document's example of a refused one.
fn list_query(query: &str) -> Result<UserListing, Problem> {
    web::Query::<ListQuery>::from_query(query).map_err(query_error)?.into_inner().parse()
}

/// List users, a page at a time
#[utoipa::path(get, path = "/api/users", tag = "admin-v1", operation_id = "adminListUsers", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "A page of users", body = UserPageResponse),
              (status = 400, description = "A query parameter is malformed or out of range (each is named in `errors`)", body = Problem, content_type = "application/problem+json",
               examples(("invalid-parameters" = (value = json!(refused(list_query("page=0")))))))))]
async fn list_users<A: Adapters>(service: Service<A>, admin: Admin<A>, query: web::Query<ListQuery>) -> Handled {
    let UserListing { page, limit, filter, order } = query.into_inner().parse()?;
    // A page far past the end is empty, not an overflow.
    let offset = (page - 1).saturating_mul(u64::from(limit));
    let found = service.list_users(&admin.admin, filter, order, PageRequest { offset, limit }).await?;
    let total = found.total.count();
    let total_pages = total.div_ceil(u64::from(limit));
    let data = found.items.into_iter().map(UserResponse::from).collect();
    let total_is_exact = found.total.is_exact();
    Ok(no_store_json(StatusCode::OK, UserPageResponse { data, page, limit, total, total_is_exact, total_pages }))
}

/// Get a user
#[utoipa::path(get, path = "/api/users/{id}", tag = "admin-v1", operation_id = "adminGetUser", security(("bearer" = [])), params(("id" = i64, Path, description = "The user's id")),
    responses((status = 200, description = "The user", body = UserResponse),
              (status = 400, description = "The user id is not an integer", body = Problem, content_type = "application/problem+json",
               examples(("invalid-parameters" = (value = json!(refused(user_id("ada"))))))),
              (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json",
               examples(("not-found" = (value = json!(sent(GetUserError::NotFound))))))))]
async fn get_user<A: Adapters>(service: Service<A>, admin: Admin<A>, path: web::Path<String>) -> Handled {
    let id = user_id(&path)?;
    let user = service.get_user(&admin.admin, id).await?;
    Ok(no_store_json(StatusCode::OK, UserResponse::from(user)))
}

/// Create a user
///
/// With the given roles (`user` when none are given). The new user is not signed in.
#[utoipa::path(post, path = "/api/users", tag = "admin-v1", operation_id = "adminCreateUser", security(("bearer" = [])), request_body = CreateUserRequest,
    responses((status = 201, description = "The created user", body = UserResponse,
               headers(("location" = String, description = "/api/users/{id}"))),
              (status = 409, description = "Email taken", body = Problem, content_type = "application/problem+json",
               examples(("email-taken" = (value = json!(sent(CreateUserError::EmailTaken)))))),
              (status = 429, description = "Too many passwords hashed for this admin in a short time", body = Problem, content_type = "application/problem+json",
               headers(("retry-after" = i64, description = "Seconds until a request is accepted again")),
               examples(("password-work-limited" = (value = json!(sent(too_much_password_work(EXAMPLE_WAIT_SECS)))))))))]
async fn create_user<A: Adapters>(
    service: Service<A>,
    admin: Admin<A>,
    limiter: web::Data<PasswordWorkLimiter>,
    body: JsonObject<CreateUserRequest>,
) -> Handled {
    let (registration, roles, email_verified) = body.0.parse()?;
    limiter.spend(admin.admin.current().user.id)?;
    let user = service.create_user(&admin.admin, registration, roles, email_verified).await?;
    let mut response = no_store_json(StatusCode::CREATED, UserResponse::from(user.clone()));
    let location = format!("/api/users/{}", user.id);
    response.headers_mut().insert(LOCATION, location.parse().map_err(|error| Problem::internal(&error))?);
    Ok(response)
}

/// Replace a user
///
/// Every field is replaced; the roles only when `roleIds` is given.
#[utoipa::path(put, path = "/api/users/{id}", tag = "admin-v1", operation_id = "adminReplaceUser", security(("bearer" = [])), params(("id" = i64, Path, description = "The user's id")), request_body = ReplaceUserRequest,
    responses((status = 200, description = "The replaced user", body = UserResponse),
              (status = 400, description = "The user id is not an integer", body = Problem, content_type = "application/problem+json",
               examples(("invalid-parameters" = (value = json!(refused(user_id("ada"))))))),
              (status = 403, description = "A new email for the admin's own account, without a sign-in within the last few minutes", body = Problem, content_type = "application/problem+json",
               examples(("reauthentication-required" = (value = json!(sent(ReplaceUserError::ReauthenticationRequired)))))),
              (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json",
               examples(("not-found" = (value = json!(sent(ReplaceUserError::NotFound)))))),
              (status = 409, description = "Email taken, or the last admin would lose the role", body = Problem, content_type = "application/problem+json",
               examples(("email-taken" = (value = json!(sent(ReplaceUserError::EmailTaken)))),
                        ("last-admin" = (value = json!(sent(ReplaceUserError::LastAdmin))))))))]
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

/// Delete a user
#[utoipa::path(delete, path = "/api/users/{id}", tag = "admin-v1", operation_id = "adminDeleteUser", security(("bearer" = [])), params(("id" = i64, Path, description = "The user's id")),
    responses((status = 204, description = "The user and their sessions are gone"),
              (status = 400, description = "The user id is not an integer", body = Problem, content_type = "application/problem+json",
               examples(("invalid-parameters" = (value = json!(refused(user_id("ada"))))))),
              (status = 403, description = "The admin's own account, without a sign-in within the last few minutes", body = Problem, content_type = "application/problem+json",
               examples(("reauthentication-required" = (value = json!(sent(DeleteUserError::ReauthenticationRequired)))))),
              (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json",
               examples(("not-found" = (value = json!(sent(DeleteUserError::NotFound)))))),
              (status = 409, description = "The last admin cannot be deleted", body = Problem, content_type = "application/problem+json",
               examples(("last-admin" = (value = json!(sent(DeleteUserError::LastAdmin))))))))]
async fn delete_user<A: Adapters>(service: Service<A>, admin: Admin<A>, path: web::Path<String>) -> Handled {
    let id = user_id(&path)?;
    service.delete_user(&admin.admin, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mail a user a password-reset link
///
/// The user keeps their password until they use the link (30 minutes; at most one mail a minute per user, later
/// requests are accepted and send nothing).
#[utoipa::path(post, path = "/api/users/{id}/password-reset", tag = "admin-v1", operation_id = "adminSendPasswordReset", security(("bearer" = [])), params(("id" = i64, Path, description = "The user's id")),
    responses((status = 202, description = "Accepted: a reset link is on its way to the user's address"),
              (status = 400, description = "The user id is not an integer", body = Problem, content_type = "application/problem+json",
               examples(("invalid-parameters" = (value = json!(refused(user_id("ada"))))))),
              (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json",
               examples(("not-found" = (value = json!(sent(SendPasswordResetError::NotFound)))))),
              (status = 409, description = "The account is suspended: it is sent no reset link", body = Problem, content_type = "application/problem+json",
               examples(("account-suspended" = (value = json!(sent(SendPasswordResetError::AccountSuspended))))))))]
async fn send_password_reset<A: Adapters>(service: Service<A>, admin: Admin<A>, path: web::Path<String>) -> Handled {
    let id = user_id(&path)?;
    service.send_password_reset(&admin.admin, id).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Lift a user's sign-in locks
#[utoipa::path(delete, path = "/api/users/{id}/lockout", tag = "admin-v1", operation_id = "adminClearLockout", security(("bearer" = [])), params(("id" = i64, Path, description = "The user's id")),
    responses((status = 204, description = "The user's failed sign-ins are forgotten and every lock they caused, from every network, is lifted"),
              (status = 400, description = "The user id is not an integer", body = Problem, content_type = "application/problem+json",
               examples(("invalid-parameters" = (value = json!(refused(user_id("ada"))))))),
              (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json",
               examples(("not-found" = (value = json!(sent(ClearLockoutError::NotFound))))))))]
async fn clear_lockout<A: Adapters>(service: Service<A>, admin: Admin<A>, path: web::Path<String>) -> Handled {
    let id = user_id(&path)?;
    service.clear_lockout(&admin.admin, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// List the roles
#[utoipa::path(get, path = "/api/roles", tag = "admin-v1", operation_id = "adminListRoles", security(("bearer" = [])),
    responses((status = 200, description = "Every role", body = Vec<RoleResponse>)))]
async fn list_roles<A: Adapters>(service: Service<A>, admin: Admin<A>) -> Handled {
    let roles: Vec<RoleResponse> =
        service.list_roles(&admin.admin).await?.into_iter().map(RoleResponse::from).collect();
    Ok(no_store_json(StatusCode::OK, roles))
}
