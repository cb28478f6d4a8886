//! The Profile API's second factor: enrolling a TOTP authenticator (`/users/current/mfa/totp*`), removing it, and
//! the sign-in's second step (`/auth/login/mfa`), with their JSON.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use users_app::{
    Adapters, ConfirmTotpError, DisableTotpError, EnrolTotpError, SecondFactorLoginError, TotpEnrolmentStarted,
    UserService,
};
use users_domain::SecondFactorCode;
use users_ports::OneTimeToken;
use utoipa::ToSchema;

use super::dto::{CurrentPasswordRequest, SignedInResponse};
use super::presence;
use crate::body::OptionalJsonObject;
use crate::examples::{EXAMPLE_WAIT_SECS, example_wait, refused, sent};
use crate::extractors::{Authenticated, Client};
use crate::fields::Fields;
use crate::no_store_json;
use crate::password_limit::{PasswordWorkLimiter, too_much_password_work};
use crate::problem::Problem;
use crate::rate_limit::ClientOrigin;
use crate::routes::Endpoint;

type Service<A> = web::Data<UserService<A>>;
type Handled = Result<HttpResponse, Problem>;

pub(super) fn endpoints<A: Adapters>() -> Vec<Endpoint> {
    vec![
        Endpoint::new(__path_enrol_totp, web::to(enrol_totp::<A>)),
        Endpoint::new(__path_confirm_totp, web::to(confirm_totp::<A>)),
        Endpoint::new(__path_disable_totp, web::to(disable_totp::<A>)),
        Endpoint::new(__path_login_with_code, web::to(login_with_code::<A>)),
    ]
}

/// A new TOTP secret, shown this once in three forms: add it to an authenticator app, then confirm with a code the
/// app shows.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TotpEnrolmentResponse {
    /// The secret in base32, to type into an app by hand.
    #[schema(example = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")]
    secret: String,
    /// The same as an `otpauth://` URI, which apps read from a QR code.
    #[schema(example = "otpauth://totp/Users:ada%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Users")]
    otpauth_uri: String,
    /// `otpauth_uri` as a QR code, an SVG image to show as it is (for example as an `<img>`'s data URI).
    #[schema(
        example = "<?xml version=\"1.0\" standalone=\"yes\"?><svg xmlns=\"http://www.w3.org/2000/svg\" ...</svg>"
    )]
    qr_svg: String,
}

impl From<TotpEnrolmentStarted> for TotpEnrolmentResponse {
    fn from(started: TotpEnrolmentStarted) -> Self {
        let qr_svg = qr_svg(&started.otpauth_uri);
        Self { secret: started.secret, otpauth_uri: started.otpauth_uri, qr_svg }
    }
}

/// `text` as a QR code in SVG, at least 200 pixels square with its quiet zone (what phone cameras read well). An
/// otpauth URI is far below a QR code's capacity; text beyond it gets an empty image rather than an error.
fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).build(),
        Err(_) => String::new(),
    }
}

/// A code the authenticator app shows now.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"code": "492039"}))]
pub(crate) struct CodeRequest {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 64)]
    code: Option<String>,
}

impl CodeRequest {
    fn parse(self) -> Result<SecondFactorCode, Problem> {
        let mut fields = Fields::default();
        let code = fields.required("code", self.code, code);
        fields.finish(code)
    }
}

/// The recovery codes of a confirmed factor, shown this once: each signs in once in place of an app's code.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RecoveryCodesResponse {
    #[schema(example = json!(["k7qm-2xwa-p4rt-zn6e", "b3hs-yd5c-u2lf-q7vg"]))]
    recovery_codes: Vec<String>,
}

/// The second step of a sign-in: the token the first step answered with, and a code.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"mfa_token": "4hP0m2Qx9yZ7tWv1sRk3nLb6cJd8fGa5eHi0oUq2rTs", "code": "492039"}))]
pub(crate) struct SecondFactorLoginRequest {
    #[schema(value_type = String, required = true, min_length = 1)]
    mfa_token: Option<String>,
    /// A code from the authenticator app (6 digits), or an unused recovery code.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 64)]
    code: Option<String>,
}

impl SecondFactorLoginRequest {
    fn parse(self) -> Result<(OneTimeToken, SecondFactorCode), Problem> {
        let mut fields = Fields::default();
        let token = fields.required("mfa_token", self.mfa_token, |raw| {
            if raw.is_empty() { Err("must not be empty") } else { Ok(OneTimeToken::new(raw)) }
        });
        let code = fields.required("code", self.code, code);
        fields.finish(token.zip(code))
    }
}

/// Any text up to 64 characters is a code to check (a wrong one is refused like any wrong code); more is no code.
fn code(raw: String) -> Result<SecondFactorCode, &'static str> {
    match raw.chars().count() {
        0 => Err("must not be empty"),
        1..=64 => Ok(SecondFactorCode::parse(&raw)),
        _ => Err("must be at most 64 characters"),
    }
}

/// A request that sent no code, for the document's example of a refused one.
fn no_code() -> Result<SecondFactorCode, Problem> {
    CodeRequest { code: None }.parse()
}

/// Start enrolling an authenticator app
///
/// Needs proof of presence. Answers a new secret; sign-ins ask for nothing until it is confirmed with a code.
/// Starting again before confirming replaces the secret.
#[utoipa::path(post, path = "/users/current/mfa/totp", tag = "profile", operation_id = "enrolTotp", security(("bearer" = [])), request_body(content = Option<CurrentPasswordRequest>, description = "Optional: the password typed again, needed unless the session signed in within the last few minutes"),
    responses((status = 200, description = "The secret to give the app; confirm it with a code", body = TotpEnrolmentResponse),
              (status = 403, description = "No proof of presence: no `current_password` (or a wrong one) and no sign-in within the last few minutes", body = Problem, content_type = "application/problem+json",
               examples(("reauthentication-required" = (value = json!(sent(EnrolTotpError::ReauthenticationRequired)))))),
              (status = 404, description = "The account was deleted meanwhile", body = Problem, content_type = "application/problem+json",
               examples(("not-found" = (value = json!(sent(EnrolTotpError::AccountGone)))))),
              (status = 409, description = "A second factor is already enabled: remove it first", body = Problem, content_type = "application/problem+json",
               examples(("mfa-already-enabled" = (value = json!(sent(EnrolTotpError::AlreadyEnabled)))))),
              (status = 429, description = "Too many wrong passwords for this account from this network, or too many passwords checked for it", body = Problem, content_type = "application/problem+json",
               headers(("retry-after" = i64, description = "Seconds until a request is accepted again")),
               examples(("account-locked" = (value = json!(sent(EnrolTotpError::Locked { retry_after: example_wait() })))),
                        ("password-work-limited" = (value = json!(sent(too_much_password_work(EXAMPLE_WAIT_SECS)))))))))]
async fn enrol_totp<A: Adapters>(
    service: Service<A>,
    auth: Authenticated<A>,
    client: ClientOrigin,
    limiter: web::Data<PasswordWorkLimiter>,
    body: OptionalJsonObject<CurrentPasswordRequest>,
) -> Handled {
    let proof = presence(body, &auth, &client, &limiter)?;
    let started = service.enrol_totp(&auth.current, proof).await?;
    Ok(no_store_json(StatusCode::OK, TotpEnrolmentResponse::from(started)))
}

/// Confirm the authenticator app with a code it shows
///
/// From now on a sign-in asks for a code after the password. The answer holds ten recovery codes, shown only now.
#[utoipa::path(post, path = "/users/current/mfa/totp/confirm", tag = "profile", operation_id = "confirmTotp", security(("bearer" = [])), request_body = CodeRequest,
    responses((status = 200, description = "Enabled; the recovery codes, each good for one sign-in", body = RecoveryCodesResponse),
              (status = 409, description = "No enrolment waits for a code: start one first (or it is confirmed already)", body = Problem, content_type = "application/problem+json",
               examples(("mfa-not-pending" = (value = json!(sent(ConfirmTotpError::NotPending)))))),
              (status = 422, description = "The code is missing, longer than 64 characters, or not the app's current one (a wrong code counts as a failed sign-in)", body = Problem, content_type = "application/problem+json",
               examples(("invalid-code" = (value = json!(sent(ConfirmTotpError::InvalidCode)))),
                        ("validation-failed" = (value = json!(refused(no_code())))))),
              (status = 429, description = "Too many failed sign-ins or wrong codes in a row: the account refuses them for a while", body = Problem, content_type = "application/problem+json",
               headers(("retry-after" = i64, description = "Seconds until a code is accepted again")),
               examples(("account-locked" = (value = json!(sent(ConfirmTotpError::Locked { retry_after: example_wait() }))))))))]
async fn confirm_totp<A: Adapters>(
    service: Service<A>,
    auth: Authenticated<A>,
    client: ClientOrigin,
    body: crate::JsonObject<CodeRequest>,
) -> Handled {
    let code = body.0.parse()?;
    let codes = service.confirm_totp(&auth.current, &code, &client.0.network()).await?;
    let recovery_codes = codes.iter().map(users_domain::RecoveryCode::display).collect();
    Ok(no_store_json(StatusCode::OK, RecoveryCodesResponse { recovery_codes }))
}

/// Remove the second factor
///
/// Needs proof of presence. The authenticator and the recovery codes stop working; sign-ins ask for the password
/// alone. Removing none succeeds.
#[utoipa::path(delete, path = "/users/current/mfa/totp", tag = "profile", operation_id = "disableTotp", security(("bearer" = [])), request_body(content = Option<CurrentPasswordRequest>, description = "Optional: the password typed again, needed unless the session signed in within the last few minutes"),
    responses((status = 204, description = "No second factor any more"),
              (status = 403, description = "No proof of presence: no `current_password` (or a wrong one) and no sign-in within the last few minutes", body = Problem, content_type = "application/problem+json",
               examples(("reauthentication-required" = (value = json!(sent(DisableTotpError::ReauthenticationRequired)))))),
              (status = 429, description = "Too many wrong passwords for this account from this network, or too many passwords checked for it", body = Problem, content_type = "application/problem+json",
               headers(("retry-after" = i64, description = "Seconds until a request is accepted again")),
               examples(("account-locked" = (value = json!(sent(DisableTotpError::Locked { retry_after: example_wait() })))),
                        ("password-work-limited" = (value = json!(sent(too_much_password_work(EXAMPLE_WAIT_SECS)))))))))]
async fn disable_totp<A: Adapters>(
    service: Service<A>,
    auth: Authenticated<A>,
    client: ClientOrigin,
    limiter: web::Data<PasswordWorkLimiter>,
    body: OptionalJsonObject<CurrentPasswordRequest>,
) -> Handled {
    let proof = presence(body, &auth, &client, &limiter)?;
    service.disable_totp(&auth.current, proof).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sign in, second step: a code
///
/// With the `mfa_token` of a sign-in that answered `mfa_required`, and a code from the authenticator app (each
/// accepted once) or an unused recovery code. Wrong codes count toward the account's lockout, as wrong passwords do.
#[utoipa::path(post, path = "/auth/login/mfa", tag = "auth", operation_id = "loginWithSecondFactor", request_body = SecondFactorLoginRequest,
    responses((status = 200, description = "Signed in", body = SignedInResponse),
              (status = 401, description = "The `mfa_token` is unknown, used, expired or voided (sign in again), or the code is wrong or used", body = Problem, content_type = "application/problem+json",
               headers(("www-authenticate" = String, description = "Bearer challenge")),
               examples(("invalid-mfa-token" = (value = json!(sent(SecondFactorLoginError::InvalidToken)))),
                        ("invalid-code" = (value = json!(sent(SecondFactorLoginError::InvalidCode)))))),
              (status = 403, description = "An admin suspended the account since its password was checked", body = Problem, content_type = "application/problem+json",
               examples(("account-suspended" = (value = json!(sent(SecondFactorLoginError::AccountSuspended)))))),
              (status = 422, description = "`mfa_token` or `code` is missing, not a string, or `code` is longer than 64 characters", body = Problem, content_type = "application/problem+json",
               examples(("validation-failed" = (value = json!(refused(no_code())))))),
              (status = 429, description = "Too many failed sign-ins in a row: the account refuses sign-ins for a while", body = Problem, content_type = "application/problem+json",
               headers(("retry-after" = i64, description = "Seconds until sign-ins are accepted again")),
               examples(("account-locked" = (value = json!(sent(SecondFactorLoginError::Locked { retry_after: example_wait() }))))))))]
async fn login_with_code<A: Adapters>(
    service: Service<A>,
    client: Client,
    body: crate::JsonObject<SecondFactorLoginRequest>,
) -> Handled {
    let (token, code) = body.0.parse()?;
    let signed_in = service.login_with_second_factor(&token, &code, &client.network, &client.details).await?;
    Ok(no_store_json(StatusCode::OK, SignedInResponse::from(signed_in)))
}
