//! The one place where the use cases' errors become HTTP problems, and where actix's own extractor errors
//! (malformed JSON, wrong content type, oversized body, bad query string) get the same problem+json shape.

use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use users_app::{
    AuthenticateError, ClearLockoutError, ConfirmEmailError, ConfirmTotpError, CreateUserError, DeleteAccountError,
    DeleteUserError, DisableTotpError, EndOtherSessionsError, EndSessionError, EnrolTotpError, GetUserError,
    ListActivityError, ListAuditEventsError, ListRolesError, ListSessionsError, ListUserSessionsError, ListUsersError,
    LoginError, LogoutError, NotAnAdmin, RefreshError, RegisterError, RemoveSecondFactorError, ReplaceUserError,
    RequestPasswordResetError, RequestVerificationError, ResetPasswordError, SecondFactorLoginError,
    SendPasswordResetError, SignOutEverywhereError, SuspendUserError, Unexpected, UnsuspendUserError,
    UpdateProfileError,
};

use users_domain::PasswordError;

use crate::body_deadline;
use crate::problem::{FieldError, Problem};

/// The challenge for requests that carry no usable credentials.
pub(crate) const CHALLENGE: &str = "Bearer realm=\"users\"";
/// The challenge for a bearer token that was refused (RFC 6750 §3.1).
pub(crate) const INVALID_TOKEN_CHALLENGE: &str = "Bearer realm=\"users\", error=\"invalid_token\"";

/// A request without usable bearer credentials to a route that needs them.
pub(crate) fn missing_token() -> Problem {
    Problem::unauthorized("missing-token", "this endpoint needs a bearer access token", CHALLENGE)
}

fn email_taken() -> Problem {
    Problem::conflict("email-taken", "an account with this email already exists")
}

fn username_taken() -> Problem {
    Problem::conflict("username-taken", "this username is already taken")
}

fn weak_password(error: &PasswordError) -> Problem {
    Problem::validation(vec![FieldError { field: "password".to_owned(), message: error.to_string() }])
}

fn last_admin() -> Problem {
    Problem::conflict("last-admin", "the last admin cannot be removed or demoted; make another user admin first")
}

/// The password hashers' queue is full: nothing was done, and a retry shortly will likely pass.
pub(crate) fn busy() -> Problem {
    Problem::service_unavailable("busy", "the service is busy checking passwords; try again shortly", 1)
}

fn locked(retry_after: chrono::Duration) -> Problem {
    // Whole seconds, rounded up, so a client that waits as told is not refused again.
    let seconds = (retry_after + chrono::Duration::milliseconds(999)).num_seconds();
    Problem::too_many_requests("too many failed sign-ins; this account refuses sign-ins for a while", seconds)
}

fn reauthentication_required() -> Problem {
    reauthentication_problem(
        "this change needs the account's password: send it as current_password (a sign-in within the last few \
         minutes also counts)",
    )
}

/// An admin route taking over the admin's own account, which takes no `current_password`.
fn own_account_needs_a_recent_sign_in() -> Problem {
    reauthentication_problem(
        "changing your own email or deleting your own account needs a sign-in within the last few minutes; or use \
         /users/current with current_password",
    )
}

fn reauthentication_problem(detail: &'static str) -> Problem {
    Problem::new(StatusCode::FORBIDDEN, "reauthentication-required", "Reauthentication required", detail)
}

fn user_not_found() -> Problem {
    Problem::not_found("no user has this id")
}

/// The password was right, but an admin stopped the account.
fn account_suspended() -> Problem {
    Problem::new(
        StatusCode::FORBIDDEN,
        "account-suspended",
        "Account suspended",
        "this account is suspended; contact the service's administrators",
    )
}

fn invalid_refresh_token() -> Problem {
    Problem::unauthorized(
        "invalid-refresh-token",
        "the refresh token is invalid, expired or revoked",
        INVALID_TOKEN_CHALLENGE,
    )
}

/// How long a client is told to wait when the store is out of reach or refuses writes: long enough for a failover
/// or a freed disk to matter, short enough that a client does not give up.
const STORE_RETRY_AFTER_SECS: i64 = 5;

/// What a client is told when the store is out of reach or refuses writes; the cause is for the logs only.
pub(crate) fn store_unavailable() -> Problem {
    Problem::service_unavailable(
        "store-unavailable",
        "the service cannot reach or write to its database right now; try again shortly",
        STORE_RETRY_AFTER_SECS,
    )
}

impl From<Unexpected> for Problem {
    fn from(error: Unexpected) -> Self {
        if error.is_unavailable() {
            // A warning, not an error: an outage answers many requests this way, and the readiness probe and the
            // metrics carry the alarm. The client learns only that it may retry.
            tracing::warn!(error = %error, "the store is unavailable");
            return store_unavailable();
        }
        Problem::internal(&error)
    }
}

impl From<RegisterError> for Problem {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::EmailTaken => email_taken(),
            RegisterError::UsernameTaken => username_taken(),
            RegisterError::WeakPassword(error) => weak_password(&error),
            RegisterError::Busy => busy(),
            RegisterError::DeletedAtOnce => Problem::conflict(
                "account-deleted",
                "the account was deleted as soon as it was created, before it could be signed in; it no longer exists",
            ),
            RegisterError::Unexpected(error) => error.into(),
        }
    }
}

impl From<LoginError> for Problem {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::InvalidCredentials => {
                Problem::unauthorized("invalid-credentials", "the credentials are not valid", CHALLENGE)
            }
            LoginError::Locked { retry_after } => locked(retry_after),
            LoginError::EmailNotVerified => Problem::new(
                StatusCode::FORBIDDEN,
                "email-not-verified",
                "Email not verified",
                "this account's email address is not verified yet: use the link mailed to it, or ask for a new one \
                 at /auth/verification",
            ),
            LoginError::AccountSuspended => account_suspended(),
            LoginError::Busy => busy(),
            LoginError::Unexpected(error) => error.into(),
        }
    }
}

impl From<RefreshError> for Problem {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::InvalidToken | RefreshError::Reused => invalid_refresh_token(),
            RefreshError::Unexpected(error) => error.into(),
        }
    }
}

impl From<LogoutError> for Problem {
    fn from(error: LogoutError) -> Self {
        match error {
            LogoutError::InvalidToken => invalid_refresh_token(),
            LogoutError::Unexpected(error) => error.into(),
        }
    }
}

impl From<AuthenticateError> for Problem {
    fn from(error: AuthenticateError) -> Self {
        let detail = match error {
            AuthenticateError::InvalidToken => "the access token is invalid",
            AuthenticateError::ExpiredToken => "the access token has expired",
            AuthenticateError::SessionEnded => "the session of this access token has ended",
            AuthenticateError::Unexpected(error) => return error.into(),
        };
        Problem::unauthorized("invalid-token", detail, INVALID_TOKEN_CHALLENGE)
    }
}

impl From<NotAnAdmin> for Problem {
    fn from(_: NotAnAdmin) -> Self {
        Problem::forbidden("this action needs the admin role")
    }
}

impl From<UpdateProfileError> for Problem {
    fn from(error: UpdateProfileError) -> Self {
        match error {
            UpdateProfileError::EmailTaken => email_taken(),
            UpdateProfileError::UsernameTaken => username_taken(),
            UpdateProfileError::WeakPassword(error) => weak_password(&error),
            UpdateProfileError::AccountGone => user_not_found(),
            UpdateProfileError::ReauthenticationRequired => reauthentication_required(),
            UpdateProfileError::Locked { retry_after } => locked(retry_after),
            UpdateProfileError::Busy => busy(),
            UpdateProfileError::Unexpected(error) => error.into(),
        }
    }
}

impl From<DeleteAccountError> for Problem {
    fn from(error: DeleteAccountError) -> Self {
        match error {
            DeleteAccountError::LastAdmin => last_admin(),
            DeleteAccountError::ReauthenticationRequired => reauthentication_required(),
            DeleteAccountError::Locked { retry_after } => locked(retry_after),
            DeleteAccountError::Busy => busy(),
            DeleteAccountError::Unexpected(error) => error.into(),
        }
    }
}

impl From<ListUsersError> for Problem {
    fn from(error: ListUsersError) -> Self {
        match error {
            ListUsersError::Unexpected(error) => error.into(),
        }
    }
}

impl From<GetUserError> for Problem {
    fn from(error: GetUserError) -> Self {
        match error {
            GetUserError::NotFound => user_not_found(),
            GetUserError::Unexpected(error) => error.into(),
        }
    }
}

impl From<DeleteUserError> for Problem {
    fn from(error: DeleteUserError) -> Self {
        match error {
            DeleteUserError::NotFound => user_not_found(),
            DeleteUserError::LastAdmin => last_admin(),
            DeleteUserError::ReauthenticationRequired => own_account_needs_a_recent_sign_in(),
            DeleteUserError::Unexpected(error) => error.into(),
        }
    }
}

impl From<CreateUserError> for Problem {
    fn from(error: CreateUserError) -> Self {
        match error {
            CreateUserError::EmailTaken => email_taken(),
            CreateUserError::UsernameTaken => username_taken(),
            CreateUserError::WeakPassword(error) => weak_password(&error),
            CreateUserError::Busy => busy(),
            CreateUserError::Unexpected(error) => error.into(),
        }
    }
}

impl From<ReplaceUserError> for Problem {
    fn from(error: ReplaceUserError) -> Self {
        match error {
            ReplaceUserError::NotFound => user_not_found(),
            ReplaceUserError::EmailTaken => email_taken(),
            ReplaceUserError::LastAdmin => last_admin(),
            ReplaceUserError::ReauthenticationRequired => own_account_needs_a_recent_sign_in(),
            ReplaceUserError::Unexpected(error) => error.into(),
        }
    }
}

impl From<ClearLockoutError> for Problem {
    fn from(error: ClearLockoutError) -> Self {
        match error {
            ClearLockoutError::NotFound => user_not_found(),
            ClearLockoutError::Unexpected(error) => error.into(),
        }
    }
}

impl From<ListRolesError> for Problem {
    fn from(error: ListRolesError) -> Self {
        match error {
            ListRolesError::Unexpected(error) => error.into(),
        }
    }
}

/// A mailed token that cannot be used: the same answer for every reason, so a guesser learns nothing.
fn invalid_mailed_token() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid-token",
        "Invalid token",
        "this link is invalid, already used or expired; ask for a new one",
    )
}

impl From<ConfirmEmailError> for Problem {
    fn from(error: ConfirmEmailError) -> Self {
        match error {
            ConfirmEmailError::InvalidToken => invalid_mailed_token(),
            ConfirmEmailError::Unexpected(error) => error.into(),
        }
    }
}

impl From<ResetPasswordError> for Problem {
    fn from(error: ResetPasswordError) -> Self {
        match error {
            ResetPasswordError::InvalidToken => invalid_mailed_token(),
            ResetPasswordError::WeakPassword(error) => weak_password(&error),
            ResetPasswordError::Busy => busy(),
            ResetPasswordError::AccountSuspended => account_suspended(),
            ResetPasswordError::Unexpected(error) => error.into(),
        }
    }
}

impl From<RequestVerificationError> for Problem {
    fn from(error: RequestVerificationError) -> Self {
        match error {
            RequestVerificationError::Unexpected(error) => error.into(),
        }
    }
}

impl From<RequestPasswordResetError> for Problem {
    fn from(error: RequestPasswordResetError) -> Self {
        match error {
            RequestPasswordResetError::Unexpected(error) => error.into(),
        }
    }
}

impl From<SendPasswordResetError> for Problem {
    fn from(error: SendPasswordResetError) -> Self {
        match error {
            SendPasswordResetError::NotFound => user_not_found(),
            SendPasswordResetError::AccountSuspended => Problem::conflict(
                "account-suspended",
                "a suspended account is sent no reset link; lift the suspension first",
            ),
            SendPasswordResetError::Unexpected(error) => error.into(),
        }
    }
}

impl From<ListAuditEventsError> for Problem {
    fn from(error: ListAuditEventsError) -> Self {
        match error {
            ListAuditEventsError::Unexpected(error) => error.into(),
        }
    }
}

impl From<ListActivityError> for Problem {
    fn from(error: ListActivityError) -> Self {
        match error {
            ListActivityError::Unexpected(error) => error.into(),
        }
    }
}

impl From<ListSessionsError> for Problem {
    fn from(error: ListSessionsError) -> Self {
        match error {
            ListSessionsError::Unexpected(error) => error.into(),
        }
    }
}

impl From<EndSessionError> for Problem {
    fn from(error: EndSessionError) -> Self {
        match error {
            EndSessionError::NotFound => Problem::not_found("none of your live sessions has this id"),
            EndSessionError::Unexpected(error) => error.into(),
        }
    }
}

impl From<EndOtherSessionsError> for Problem {
    fn from(error: EndOtherSessionsError) -> Self {
        match error {
            EndOtherSessionsError::Unexpected(error) => error.into(),
        }
    }
}

impl From<ListUserSessionsError> for Problem {
    fn from(error: ListUserSessionsError) -> Self {
        match error {
            ListUserSessionsError::NotFound => user_not_found(),
            ListUserSessionsError::Unexpected(error) => error.into(),
        }
    }
}

impl From<SignOutEverywhereError> for Problem {
    fn from(error: SignOutEverywhereError) -> Self {
        match error {
            SignOutEverywhereError::NotFound => user_not_found(),
            SignOutEverywhereError::Unexpected(error) => error.into(),
        }
    }
}

impl From<SuspendUserError> for Problem {
    fn from(error: SuspendUserError) -> Self {
        match error {
            SuspendUserError::NotFound => user_not_found(),
            SuspendUserError::Oneself => {
                Problem::conflict("cannot-suspend-self", "admins cannot suspend their own account; ask another admin")
            }
            SuspendUserError::LastActiveAdmin => Problem::conflict(
                "last-admin",
                "the last active admin cannot be suspended; make another user admin first",
            ),
            SuspendUserError::InvalidEnd(error) => {
                Problem::validation(vec![FieldError { field: "until".to_owned(), message: error.to_string() }])
            }
            SuspendUserError::Unexpected(error) => error.into(),
        }
    }
}

impl From<UnsuspendUserError> for Problem {
    fn from(error: UnsuspendUserError) -> Self {
        match error {
            UnsuspendUserError::NotFound => user_not_found(),
            UnsuspendUserError::Unexpected(error) => error.into(),
        }
    }
}

impl From<EnrolTotpError> for Problem {
    fn from(error: EnrolTotpError) -> Self {
        match error {
            EnrolTotpError::AlreadyEnabled => Problem::conflict(
                "mfa-already-enabled",
                "a second factor is already enabled; remove it before enrolling another",
            ),
            EnrolTotpError::AccountGone => user_not_found(),
            EnrolTotpError::ReauthenticationRequired => reauthentication_required(),
            EnrolTotpError::Locked { retry_after } => locked(retry_after),
            EnrolTotpError::Busy => busy(),
            EnrolTotpError::Unexpected(error) => error.into(),
        }
    }
}

impl From<ConfirmTotpError> for Problem {
    fn from(error: ConfirmTotpError) -> Self {
        match error {
            ConfirmTotpError::NotPending => Problem::conflict(
                "mfa-not-pending",
                "no second factor waits for confirmation; start an enrolment first",
            ),
            ConfirmTotpError::InvalidCode => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-code",
                "Invalid code",
                "the code is not the one the authenticator app shows now; check the phone's clock and try the next one",
            ),
            ConfirmTotpError::Locked { retry_after } => locked(retry_after),
            ConfirmTotpError::Unexpected(error) => error.into(),
        }
    }
}

impl From<DisableTotpError> for Problem {
    fn from(error: DisableTotpError) -> Self {
        match error {
            DisableTotpError::ReauthenticationRequired => reauthentication_required(),
            DisableTotpError::Locked { retry_after } => locked(retry_after),
            DisableTotpError::Busy => busy(),
            DisableTotpError::Unexpected(error) => error.into(),
        }
    }
}

impl From<RemoveSecondFactorError> for Problem {
    fn from(error: RemoveSecondFactorError) -> Self {
        match error {
            RemoveSecondFactorError::NotFound => user_not_found(),
            RemoveSecondFactorError::ReauthenticationRequired => reauthentication_problem(
                "removing your own second factor through the admin routes needs a sign-in within the last few \
                 minutes; or use DELETE /users/current/mfa/totp with current_password",
            ),
            RemoveSecondFactorError::Unexpected(error) => error.into(),
        }
    }
}

impl From<SecondFactorLoginError> for Problem {
    fn from(error: SecondFactorLoginError) -> Self {
        match error {
            SecondFactorLoginError::InvalidToken => Problem::unauthorized(
                "invalid-mfa-token",
                "the sign-in token is invalid, used or expired; sign in with the password again",
                CHALLENGE,
            ),
            SecondFactorLoginError::InvalidCode => {
                Problem::unauthorized("invalid-code", "the code is not valid, or was used already", CHALLENGE)
            }
            SecondFactorLoginError::Locked { retry_after } => locked(retry_after),
            SecondFactorLoginError::AccountSuspended => account_suspended(),
            SecondFactorLoginError::Unexpected(error) => error.into(),
        }
    }
}

/// A JSON body actix could not read: 413 too large, 415 not JSON, 400 not well-formed, 422 well-formed but of the
/// wrong shape (a number where a string belongs), 408 not all there by its deadline.
pub(crate) fn json_error(error: JsonPayloadError) -> Problem {
    match error {
        JsonPayloadError::Payload(error) if body_deadline::is_too_slow(&error) => Problem::request_timeout(),
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            format!("the request body must be at most {} bytes", crate::MAX_JSON_BYTES),
        ),
        JsonPayloadError::ContentType => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "the request body must be JSON, sent with Content-Type: application/json",
        ),
        // Well-formed JSON that is not an object (the only shape any route takes); its value is not echoed.
        JsonPayloadError::Deserialize(error) if error.is_data() => not_an_object(),
        JsonPayloadError::Deserialize(error) => {
            Problem::bad_request(format!("the request body is not valid JSON: {error}"))
        }
        other => Problem::bad_request(format!("the request body could not be read: {other}")),
    }
}

/// 422 for a body that is well-formed JSON but not an object; its value is not echoed.
pub(crate) fn not_an_object() -> Problem {
    Problem::validation(vec![FieldError { field: "body".to_owned(), message: "must be a JSON object".to_owned() }])
}

pub(crate) fn query_error(error: QueryPayloadError) -> Problem {
    Problem::invalid_parameters(vec![FieldError { field: "query".to_owned(), message: error.to_string() }])
}

#[cfg(test)]
mod tests {
    use actix_web::ResponseError as _;
    use actix_web::http::header;
    use users_ports::StoreError;

    use super::*;

    #[test]
    fn a_store_out_of_service_is_a_503_with_retry_after() {
        let problem = Problem::from(Unexpected::from(StoreError::unavailable("database or disk is full")));

        let response = problem.error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "5");
        let body = serde_json::to_value(&problem).unwrap();
        assert_eq!(body["type"], "/problems/store-unavailable");
        assert!(!body["detail"].as_str().unwrap().contains("disk"), "the cause is for the logs: {body}");
    }

    #[test]
    fn any_other_store_fault_is_a_500() {
        let problem = Problem::from(Unexpected::from(StoreError::new("stored user row is invalid")));

        assert_eq!(problem.error_response().status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
