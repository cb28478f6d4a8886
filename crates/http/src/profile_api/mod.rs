//! The Profile API (seed 000): `/auth/*` sign-up, sign-in (with a second factor) and tokens, `/users/current`, and
//! admin `/users/*`.

mod activity;
mod dto;
mod recovery;
mod second_factor;
mod sessions;

pub(crate) use dto::RoleName;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use users_app::{
    Adapters, CurrentPassword, DeleteAccountError, DeleteUserError, GetUserError, LoginError, LoginOutcome,
    LogoutError, Reauthentication, RefreshError, RegisterError, Registered, UpdateProfileError, UserService,
};
use users_domain::ObjectId;
use users_ports::{PageRequest, UserFilter, UserOrder};

use crate::body::{JsonObject, OptionalJsonObject};
use crate::errors::query_error;
use crate::examples::{EXAMPLE_WAIT_SECS, example_wait, refused, sent};
use crate::extractors::{Admin, Authenticated, Client};
use crate::no_store_json;
use crate::password_limit::{PasswordWorkLimiter, too_much_password_work};
use crate::problem::{FieldError, Problem};
use crate::rate_limit::ClientOrigin;
use crate::routes::Endpoint;
use dto::{
    AwaitingVerificationResponse, CurrentPasswordRequest, ListQuery, LoginRequest, ProfileResponse,
    RefreshTokenRequest, RegisterRequest, SignedInResponse, UpdateProfileRequest, UserListResponse,
};

type Service<A> = web::Data<UserService<A>>;
type Handled = Result<HttpResponse, Problem>;

pub(crate) fn endpoints<A: Adapters>() -> Vec<Endpoint> {
    vec![
        Endpoint::new(__path_register, web::to(register::<A>)),
        Endpoint::new(__path_login, web::to(login::<A>)),
        Endpoint::new(__path_refresh, web::to(refresh::<A>)),
        Endpoint::new(__path_logout, web::to(logout::<A>)),
        Endpoint::new(__path_current_user, web::to(current_user::<A>)),
        Endpoint::new(__path_update_current_user, web::to(update_current_user::<A>)),
        Endpoint::new(__path_delete_current_user, web::to(delete_current_user::<A>)),
        Endpoint::new(__path_list_users, web::to(list_users::<A>)),
        Endpoint::new(__path_list_users_without_slash, web::to(list_users_without_slash::<A>)),
        Endpoint::new(__path_get_user, web::to(get_user::<A>)),
        Endpoint::new(__path_delete_user, web::to(delete_user::<A>)),
    ]
    .into_iter()
    .chain(recovery::endpoints::<A>())
    .chain(second_factor::endpoints::<A>())
    .chain(sessions::endpoints::<A>())
    .chain(activity::endpoints::<A>())
    .collect()
}

/// Sign up
///
/// Creates an account, mails its address a verification link, and signs it in: the answer holds its first token
/// pair. Where addresses must be verified before a sign-in (`auth.require_verified_email`), no session starts: the
/// answer is 202 with the account alone.
#[utoipa::path(post, path = "/auth/register", tag = "auth", operation_id = "register", request_body = RegisterRequest,
    responses((status = 201, description = "Signed up and signed in", body = SignedInResponse),
              (status = 202, description = "Signed up; the account may sign in once its address is verified (the link is on its way)", body = AwaitingVerificationResponse),
              (status = 409, description = "Email or username taken, or the new account was deleted by an admin before it could be signed in", body = Problem, content_type = "application/problem+json",
               examples(("email-taken" = (value = json!(sent(RegisterError::EmailTaken)))),
                        ("username-taken" = (value = json!(sent(RegisterError::UsernameTaken)))),
                        ("account-deleted" = (value = json!(sent(RegisterError::DeletedAtOnce))))))))]
async fn register<A: Adapters>(service: Service<A>, client: Client, body: JsonObject<RegisterRequest>) -> Handled {
    let registration = body.0.parse()?;
    Ok(match service.register(registration, &client.details).await? {
        Registered::SignedIn(signed_in) => no_store_json(StatusCode::CREATED, SignedInResponse::from(signed_in)),
        Registered::AwaitingVerification(user) => {
            no_store_json(StatusCode::ACCEPTED, AwaitingVerificationResponse::from(user))
        }
    })
}

/// The `outcome` label of `logins_total`, every value it takes.
pub(crate) const LOGIN_OUTCOMES: [&str; 8] = [
    "success",
    "second_factor_required",
    "invalid_credentials",
    "locked",
    "email_not_verified",
    "account_suspended",
    "busy",
    "error",
];

/// Sign in
///
/// With the email or the username, and the password; the answer holds a new session's token pair, or for an account
/// with a second factor, `mfa_required` and the token to send the code with to `/auth/login/mfa`.
#[utoipa::path(post, path = "/auth/login", tag = "auth", operation_id = "login", request_body = LoginRequest,
    responses((status = 200, description = "Signed in, or (`mfa_required`) the password is right and a code is needed", body = dto::LoginResponse),
              (status = 401, description = "Unknown account or wrong password (the same answer for both)", body = Problem, content_type = "application/problem+json",
               headers(("www-authenticate" = String, description = "Bearer challenge")),
               examples(("invalid-credentials" = (value = json!(sent(LoginError::InvalidCredentials)))))),
              (status = 403, description = "The password is right, but an admin suspended the account, or the service requires a verified address (`auth.require_verified_email`) and the account's is not: ask for a verification mail", body = Problem, content_type = "application/problem+json",
               examples(("account-suspended" = (value = json!(sent(LoginError::AccountSuspended)))),
                        ("email-not-verified" = (value = json!(sent(LoginError::EmailNotVerified)))))),
              (status = 429, description = "Too many failed sign-ins in a row: the account refuses sign-ins for a while", body = Problem, content_type = "application/problem+json",
               headers(("retry-after" = i64, description = "Seconds until sign-ins are accepted again")),
               examples(("account-locked" = (value = json!(sent(LoginError::Locked { retry_after: example_wait() }))))))))]
async fn login<A: Adapters>(service: Service<A>, client: Client, body: JsonObject<LoginRequest>) -> Handled {
    let sign_in = body.0.parse()?;
    let outcome = service.login(sign_in, &client.network, &client.details).await;
    let [
        success,
        second_factor_required,
        invalid_credentials,
        locked,
        email_not_verified,
        account_suspended,
        busy,
        error,
    ] = LOGIN_OUTCOMES;
    let label = match &outcome {
        Ok(LoginOutcome::SignedIn(_)) => success,
        Ok(LoginOutcome::SecondFactorRequired(_)) => second_factor_required,
        Err(LoginError::InvalidCredentials) => invalid_credentials,
        Err(LoginError::Locked { .. }) => locked,
        Err(LoginError::EmailNotVerified) => email_not_verified,
        Err(LoginError::AccountSuspended) => account_suspended,
        Err(LoginError::Busy) => busy,
        Err(LoginError::Unexpected(_)) => error,
    };
    metrics::counter!("logins_total", "outcome" => label).increment(1);
    Ok(no_store_json(StatusCode::OK, dto::LoginResponse::from(outcome?)))
}

/// Exchange a refresh token for a new token pair
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", operation_id = "refreshTokens", request_body = RefreshTokenRequest,
    responses((status = 200, description = "A new token pair; the presented refresh token is used up (presented again within 10 seconds, it gets this same pair)", body = dto::TokenPairResponse),
              (status = 401, description = "Unknown, expired or revoked refresh token (a session ended by its user or an admin, or by a suspension), or one used more than 10 seconds ago (such reuse ends the session)", body = Problem, content_type = "application/problem+json",
               headers(("www-authenticate" = String, description = "Bearer challenge")),
               examples(("invalid-refresh-token" = (value = json!(sent(RefreshError::InvalidToken))))))))]
async fn refresh<A: Adapters>(service: Service<A>, client: Client, body: JsonObject<RefreshTokenRequest>) -> Handled {
    let refresh_token = body.0.parse()?;
    let tokens = service.refresh(&refresh_token, &client.details).await?;
    Ok(no_store_json(StatusCode::OK, dto::TokenPairResponse::from(tokens)))
}

/// Sign out: end the session of a refresh token
#[utoipa::path(post, path = "/auth/logout", tag = "auth", operation_id = "logout", request_body = RefreshTokenRequest,
    responses((status = 204, description = "The session of this refresh token has ended"),
              (status = 401, description = "Unknown refresh token", body = Problem, content_type = "application/problem+json",
               headers(("www-authenticate" = String, description = "Bearer challenge")),
               examples(("invalid-refresh-token" = (value = json!(sent(LogoutError::InvalidToken))))))))]
async fn logout<A: Adapters>(service: Service<A>, client: Client, body: JsonObject<RefreshTokenRequest>) -> Handled {
    let refresh_token = body.0.parse()?;
    service.logout(&refresh_token, &client.details).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in user's profile
#[utoipa::path(get, path = "/users/current", tag = "profile", operation_id = "getCurrentUser", security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user", body = ProfileResponse)))]
async fn current_user<A: Adapters>(auth: Authenticated<A>) -> Handled {
    Ok(no_store_json(StatusCode::OK, ProfileResponse::from(auth.current.user)))
}

/// Update the signed-in user's profile
///
/// Only the fields sent change; `null` clears an optional one. A new email or password needs proof of presence.
#[utoipa::path(put, path = "/users/current", tag = "profile", operation_id = "updateCurrentUser", security(("bearer" = [])), request_body = UpdateProfileRequest,
    responses((status = 200, description = "The updated user", body = ProfileResponse),
              (status = 403, description = "A new password or email without proof of presence: no `current_password` (or a wrong one) and no sign-in within the last few minutes", body = Problem, content_type = "application/problem+json",
               examples(("reauthentication-required" = (value = json!(sent(UpdateProfileError::ReauthenticationRequired)))))),
              (status = 404, description = "The account was deleted meanwhile", body = Problem, content_type = "application/problem+json",
               examples(("not-found" = (value = json!(sent(UpdateProfileError::AccountGone)))))),
              (status = 409, description = "Email or username taken", body = Problem, content_type = "application/problem+json",
               examples(("email-taken" = (value = json!(sent(UpdateProfileError::EmailTaken)))),
                        ("username-taken" = (value = json!(sent(UpdateProfileError::UsernameTaken)))))),
              (status = 429, description = "Too many wrong passwords for this account from this network, or too many password changes", body = Problem, content_type = "application/problem+json",
               headers(("retry-after" = i64, description = "Seconds until a request is accepted again")),
               examples(("account-locked" = (value = json!(sent(UpdateProfileError::Locked { retry_after: example_wait() })))),
                        ("password-work-limited" = (value = json!(sent(too_much_password_work(EXAMPLE_WAIT_SECS)))))))))]
async fn update_current_user<A: Adapters>(
    service: Service<A>,
    auth: Authenticated<A>,
    client: ClientOrigin,
    limiter: web::Data<PasswordWorkLimiter>,
    body: JsonObject<UpdateProfileRequest>,
) -> Handled {
    let (changes, current_password) = body.0.parse()?;
    if changes.password.is_some() || matches!(current_password, CurrentPassword::Typed(_)) {
        limiter.spend(auth.current.user.id)?;
    }
    let proof = Reauthentication { current_password, network: client.0.network() };
    let user = service.update_profile(&auth.current, changes, proof).await?;
    Ok(no_store_json(StatusCode::OK, ProfileResponse::from(user)))
}

/// Delete the signed-in user's account
///
/// The account and all its sessions end. Needs proof of presence.
#[utoipa::path(delete, path = "/users/current", tag = "profile", operation_id = "deleteCurrentUser", security(("bearer" = [])), request_body(content = Option<CurrentPasswordRequest>, description = "Optional: the password typed again, needed unless the session signed in within the last few minutes"),
    responses((status = 204, description = "The account and its sessions are gone"),
              (status = 403, description = "No proof of presence: no `current_password` (or a wrong one) and no sign-in within the last few minutes", body = Problem, content_type = "application/problem+json",
               examples(("reauthentication-required" = (value = json!(sent(DeleteAccountError::ReauthenticationRequired)))))),
              (status = 409, description = "The last admin cannot delete their account", body = Problem, content_type = "application/problem+json",
               examples(("last-admin" = (value = json!(sent(DeleteAccountError::LastAdmin)))))),
              (status = 429, description = "Too many wrong passwords for this account from this network, or too many passwords checked for it", body = Problem, content_type = "application/problem+json",
               headers(("retry-after" = i64, description = "Seconds until a request is accepted again")),
               examples(("account-locked" = (value = json!(sent(DeleteAccountError::Locked { retry_after: example_wait() })))),
                        ("password-work-limited" = (value = json!(sent(too_much_password_work(EXAMPLE_WAIT_SECS)))))))))]
async fn delete_current_user<A: Adapters>(
    service: Service<A>,
    auth: Authenticated<A>,
    client: ClientOrigin,
    limiter: web::Data<PasswordWorkLimiter>,
    body: OptionalJsonObject<CurrentPasswordRequest>,
) -> Handled {
    let proof = presence(body, &auth, &client, &limiter)?;
    service.delete_account(&auth.current, proof).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The proof of presence a request offers, its password typed again spending the account's password work.
pub(super) fn presence(
    body: OptionalJsonObject<CurrentPasswordRequest>,
    auth: &Authenticated<impl Adapters>,
    client: &ClientOrigin,
    limiter: &PasswordWorkLimiter,
) -> Result<Reauthentication, Problem> {
    let current_password = body.0.unwrap_or_default().parse();
    if matches!(current_password, CurrentPassword::Typed(_)) {
        limiter.spend(auth.current.user.id)?;
    }
    Ok(Reauthentication { current_password, network: client.0.network() })
}

/// List users, a page at a time
#[utoipa::path(get, path = "/users/", tag = "admin", operation_id = "listUsers", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "A page of users", body = UserListResponse),
              (status = 400, description = "A query parameter is malformed or out of range (each is named in `errors`)", body = Problem, content_type = "application/problem+json",
               examples(("invalid-parameters" = (value = json!(refused(list_query("limit=0")))))))))]
async fn list_users<A: Adapters>(service: Service<A>, admin: Admin<A>, query: web::Query<ListQuery>) -> Handled {
    let (offset, limit, filter) = query.into_inner().parse()?;
    let page = service.list_users(&admin.admin, filter, UserOrder::default(), PageRequest { offset, limit }).await?;
    let data = page.items.into_iter().map(ProfileResponse::from).collect();
    let (total, total_is_exact) = (page.total.count(), page.total.is_exact());
    Ok(no_store_json(StatusCode::OK, UserListResponse { data, total, total_is_exact, limit, offset }))
}

/// List users, a page at a time (`GET /users/` without its slash)
#[utoipa::path(get, path = "/users", tag = "admin", operation_id = "listUsersWithoutSlash", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "The same as `GET /users/`", body = UserListResponse),
              (status = 400, description = "A query parameter is malformed or out of range (each is named in `errors`)", body = Problem, content_type = "application/problem+json",
               examples(("invalid-parameters" = (value = json!(refused(list_query("limit=0")))))))))]
async fn list_users_without_slash<A: Adapters>(
    service: Service<A>,
    admin: Admin<A>,
    query: web::Query<ListQuery>,
) -> Handled {
    list_users(service, admin, query).await
}

/// `query` as the list routes read it, for the document's example of a refused one.
fn list_query(query: &str) -> Result<(u64, u32, UserFilter), Problem> {
    web::Query::<ListQuery>::from_query(query).map_err(query_error)?.into_inner().parse()
}

fn object_id(raw: &str) -> Result<ObjectId, Problem> {
    ObjectId::parse(raw).map_err(|error| {
        Problem::invalid_parameters(vec![FieldError { field: "userId".to_owned(), message: error.to_string() }])
    })
}

/// Get a user by ObjectId
#[utoipa::path(get, path = "/users/{userId}", tag = "admin", operation_id = "getUserByObjectId", security(("bearer" = [])), params(("userId" = String, Path, description = "The user's ObjectId (24 hex digits)", pattern = "^[0-9a-fA-F]{24}$")),
    responses((status = 200, description = "The user", body = ProfileResponse),
              (status = 400, description = "The user id is not an ObjectId", body = Problem, content_type = "application/problem+json",
               examples(("invalid-parameters" = (value = json!(refused(object_id("42"))))))),
              (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json",
               examples(("not-found" = (value = json!(sent(GetUserError::NotFound))))))))]
async fn get_user<A: Adapters>(service: Service<A>, admin: Admin<A>, path: web::Path<String>) -> Handled {
    let id = object_id(&path)?;
    let user = service.get_user(&admin.admin, id).await?;
    Ok(no_store_json(StatusCode::OK, ProfileResponse::from(user)))
}

/// Delete a user by ObjectId
#[utoipa::path(delete, path = "/users/{userId}", tag = "admin", operation_id = "deleteUserByObjectId", security(("bearer" = [])), params(("userId" = String, Path, description = "The user's ObjectId (24 hex digits)", pattern = "^[0-9a-fA-F]{24}$")),
    responses((status = 204, description = "The user and their sessions are gone"),
              (status = 400, description = "The user id is not an ObjectId", body = Problem, content_type = "application/problem+json",
               examples(("invalid-parameters" = (value = json!(refused(object_id("42"))))))),
              (status = 403, description = "The admin's own account, without a sign-in within the last few minutes", body = Problem, content_type = "application/problem+json",
               examples(("reauthentication-required" = (value = json!(sent(DeleteUserError::ReauthenticationRequired)))))),
              (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json",
               examples(("not-found" = (value = json!(sent(DeleteUserError::NotFound)))))),
              (status = 409, description = "The last admin cannot be deleted", body = Problem, content_type = "application/problem+json",
               examples(("last-admin" = (value = json!(sent(DeleteUserError::LastAdmin))))))))]
async fn delete_user<A: Adapters>(service: Service<A>, admin: Admin<A>, path: web::Path<String>) -> Handled {
    let id = object_id(&path)?;
    service.delete_user(&admin.admin, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
