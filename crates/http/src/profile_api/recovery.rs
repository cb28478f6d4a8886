//! The Profile API's routes for proving an address and recovering an account: `/auth/verification*` and
//! `/auth/password/*`, with their JSON.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use users_app::{Adapters, ConfirmEmailError, ResetPasswordError, UserService};
use users_domain::{Email, Password};
use users_ports::OneTimeToken;
use utoipa::ToSchema;

use super::dto::ProfileResponse;
use crate::examples::{refused, sent};
use crate::extractors::Client;
use crate::field_schemas;
use crate::fields::Fields;
use crate::no_store_json;
use crate::problem::Problem;
use crate::routes::Endpoint;

type Service<A> = web::Data<UserService<A>>;
type Handled = Result<HttpResponse, Problem>;

pub(crate) fn endpoints<A: Adapters>() -> Vec<Endpoint> {
    vec![
        Endpoint::new(__path_request_verification, web::to(request_verification::<A>)),
        Endpoint::new(__path_confirm_email, web::to(confirm_email::<A>)),
        Endpoint::new(__path_forgot_password, web::to(forgot_password::<A>)),
        Endpoint::new(__path_reset_password, web::to(reset_password::<A>)),
    ]
}

/// An address to mail a link to.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"email": "ada@example.com"}))]
pub(crate) struct EmailRequest {
    #[schema(schema_with = field_schemas::email, required = true)]
    email: Option<String>,
}

impl EmailRequest {
    fn parse(self) -> Result<Email, Problem> {
        let mut fields = Fields::default();
        let email = fields.required("email", self.email, Email::parse);
        fields.finish(email)
    }
}

/// A token from a mailed link.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"token": "4hP0m2Qx9yZ7tWv1sRk3nLb6cJd8fGa5eHi0oUq2rTs"}))]
pub(crate) struct TokenRequest {
    /// The `token` parameter of the link.
    #[schema(value_type = String, required = true, min_length = 1)]
    token: Option<String>,
}

impl TokenRequest {
    fn parse(self) -> Result<OneTimeToken, Problem> {
        let mut fields = Fields::default();
        let token = fields.required("token", self.token, token);
        fields.finish(token)
    }
}

/// A new password, with the token of a reset link.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"token": "4hP0m2Qx9yZ7tWv1sRk3nLb6cJd8fGa5eHi0oUq2rTs", "password": "a new strong one"}))]
pub(crate) struct ResetPasswordRequest {
    /// The `token` parameter of the reset link.
    #[schema(value_type = String, required = true, min_length = 1)]
    token: Option<String>,
    #[schema(schema_with = field_schemas::new_password, required = true)]
    password: Option<String>,
}

impl ResetPasswordRequest {
    fn parse(self) -> Result<(OneTimeToken, Password), Problem> {
        let mut fields = Fields::default();
        let token = fields.required("token", self.token, token);
        let password = fields.required("password", self.password, Password::parse);
        fields.finish(token.zip(password))
    }
}

/// An address no account can have, for the document's example of a refused one.
fn not_an_address() -> Result<Email, Problem> {
    EmailRequest { email: Some("not-an-address".to_owned()) }.parse()
}

fn token(raw: String) -> Result<OneTimeToken, &'static str> {
    if raw.is_empty() { Err("must not be empty") } else { Ok(OneTimeToken::new(raw)) }
}

/// Ask for a verification mail
///
/// If an account with an unverified address `email` exists, a verification link is mailed to it (at most one a
/// minute). The answer, and how long it takes, are the same whether or not one exists.
#[utoipa::path(post, path = "/auth/verification", tag = "auth", operation_id = "requestEmailVerification", request_body = EmailRequest,
    responses((status = 202, description = "Accepted: if an unverified account has this address, a link is on its way"),
              (status = 422, description = "The email is missing or not an address", body = Problem, content_type = "application/problem+json",
               examples(("invalid-email" = (value = json!(refused(not_an_address()))))))))]
async fn request_verification<A: Adapters>(service: Service<A>, body: crate::JsonObject<EmailRequest>) -> Handled {
    let email = body.0.parse()?;
    service.request_verification(email).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Confirm an address with the token of a verification link
#[utoipa::path(post, path = "/auth/verification/confirm", tag = "auth", operation_id = "confirmEmail", request_body = TokenRequest,
    responses((status = 200, description = "The address is verified; the user's profile", body = ProfileResponse),
              (status = 400, description = "The token is unknown, used, expired, or was mailed to an address the account no longer has", body = Problem, content_type = "application/problem+json",
               examples(("invalid-token" = (value = json!(sent(ConfirmEmailError::InvalidToken))))))))]
async fn confirm_email<A: Adapters>(
    service: Service<A>,
    client: Client,
    body: crate::JsonObject<TokenRequest>,
) -> Handled {
    let token = body.0.parse()?;
    let user = service.confirm_email(&token, &client.details).await?;
    Ok(no_store_json(StatusCode::OK, ProfileResponse::from(user)))
}

/// Ask for a password-reset mail
///
/// If an account has the address `email`, a link to choose a new password is mailed to it (at most one a minute;
/// it works for 30 minutes, and a newer one voids it). The answer, and how long it takes, are the same whether or
/// not one exists.
#[utoipa::path(post, path = "/auth/password/forgot", tag = "auth", operation_id = "forgotPassword", request_body = EmailRequest,
    responses((status = 202, description = "Accepted: if an account has this address, a link is on its way"),
              (status = 422, description = "The email is missing or not an address", body = Problem, content_type = "application/problem+json",
               examples(("invalid-email" = (value = json!(refused(not_an_address()))))))))]
async fn forgot_password<A: Adapters>(
    service: Service<A>,
    client: Client,
    body: crate::JsonObject<EmailRequest>,
) -> Handled {
    let email = body.0.parse()?;
    service.request_password_reset(email, &client.details).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Choose a new password with the token of a reset link
///
/// Every session of the account ends, its sign-in locks are lifted, and its address counts as verified. A refused
/// password (422) leaves the token usable.
#[utoipa::path(post, path = "/auth/password/reset", tag = "auth", operation_id = "resetPassword", request_body = ResetPasswordRequest,
    responses((status = 204, description = "The password is replaced; sign in with it"),
              (status = 400, description = "The token is unknown, used, expired, voided by a newer one, or was mailed to an address the account no longer has", body = Problem, content_type = "application/problem+json",
               examples(("invalid-token" = (value = json!(sent(ResetPasswordError::InvalidToken)))))),
              (status = 403, description = "An admin suspended the account since the link was mailed", body = Problem, content_type = "application/problem+json",
               examples(("account-suspended" = (value = json!(sent(ResetPasswordError::AccountSuspended))))))))]
async fn reset_password<A: Adapters>(
    service: Service<A>,
    client: Client,
    body: crate::JsonObject<ResetPasswordRequest>,
) -> Handled {
    let (token, password) = body.0.parse()?;
    service.reset_password(&token, password, &client.details).await?;
    Ok(HttpResponse::NoContent().finish())
}
