//! The Profile API's JSON (snake_case): request bodies as sent, their parsing into domain values, and responses.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use users_app::{CurrentPassword, LoginOutcome, SecondFactorChallenge, SignIn, SignedIn, TokenPair};
use users_domain::{
    Email, LoginIdentifier, Password, PersonName, ProfileChanges, ProfilePatch, ProfileUrl, Registration, Role, User,
    Username,
};
use users_ports::{RefreshToken, UserFilter};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::field_schemas;
use crate::fields::{Fields, nullable};
use crate::problem::Problem;
use crate::user_filter::{self, CreatedNames, RawFilter};

/// A new account. The account is signed in at once.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"email": "ada@example.com", "password": "correct horse battery", "username": "ada", "first_name": "Ada", "last_name": "Lovelace"}))]
pub(crate) struct RegisterRequest {
    #[schema(schema_with = field_schemas::username_or_null)]
    username: Option<String>,
    #[schema(schema_with = field_schemas::new_email, required = true)]
    email: Option<String>,
    #[schema(schema_with = field_schemas::new_password, required = true)]
    password: Option<String>,
    #[schema(schema_with = field_schemas::person_name_or_null)]
    first_name: Option<String>,
    #[schema(schema_with = field_schemas::person_name_or_null)]
    last_name: Option<String>,
}

impl RegisterRequest {
    pub(crate) fn parse(self) -> Result<Registration, Problem> {
        let mut fields = Fields::default();
        let username = fields.optional("username", self.username, Username::parse);
        let email = fields.required("email", self.email, Email::parse);
        let password = fields.required("password", self.password, Password::parse);
        let first_name = fields.optional("first_name", self.first_name, PersonName::parse);
        let last_name = fields.optional("last_name", self.last_name, PersonName::parse);
        fields.finish(email.zip(password).map(|(email, password)| Registration {
            username,
            email,
            password,
            first_name,
            last_name,
        }))
    }
}

/// Credentials: the email or the username, and the password. When both are given, the email is used.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginRequest {
    email: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// The email or the username names the account: an `anyOf`, which the derive cannot express.
impl PartialSchema for LoginRequest {
    // `example`, as the derived schemas of the other bodies have it.
    #[allow(deprecated)]
    fn schema() -> RefOr<Schema> {
        let password = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
            .build();
        let by = |field: &str, schema: RefOr<Schema>| {
            ObjectBuilder::new()
                .property(field, schema)
                .property("password", password.clone())
                .required(field)
                .required("password")
        };
        AnyOfBuilder::new()
            .item(by("email", field_schemas::email().into()))
            .item(by("username", ObjectBuilder::new().schema_type(Type::String).into()))
            .description(Some(
                "Credentials: the email or the username, and the password. When both are given, the email is used.",
            ))
            .example(Some(json!({"email": "ada@example.com", "password": "correct horse battery"})))
            .into()
    }
}

impl ToSchema for LoginRequest {}

impl LoginRequest {
    /// A 422 only when a field is missing; values no account can have are for the use case to refuse.
    pub(crate) fn parse(self) -> Result<SignIn, Problem> {
        let mut fields = Fields::default();
        let identifier = match (self.email, self.username) {
            (Some(email), _) => Some(Email::parse(email).map(LoginIdentifier::Email).ok()),
            (None, Some(username)) => Some(Username::parse(username).map(LoginIdentifier::Username).ok()),
            (None, None) => {
                fields.fail("email", "email or username is required");
                None
            }
        };
        let password = fields.required("password", self.password, |raw| Ok::<_, String>(Password::typed(raw).ok()));
        let sign_in = identifier.zip(password).map(|pair| match pair {
            (Some(login), Some(password)) => SignIn::Credentials { login, password },
            _ => SignIn::Impossible,
        });
        fields.finish(sign_in)
    }
}

/// A refresh token, as issued with the last token pair.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct RefreshTokenRequest {
    #[schema(value_type = String, required = true, min_length = 1)]
    refresh_token: Option<String>,
}

impl RefreshTokenRequest {
    pub(crate) fn parse(self) -> Result<RefreshToken, Problem> {
        let mut fields = Fields::default();
        let token = fields.required("refresh_token", self.refresh_token, |raw| {
            if raw.is_empty() { Err("must not be empty") } else { Ok(RefreshToken::new(raw)) }
        });
        fields.finish(token)
    }
}

/// Every field is optional: an absent field is kept, `null` clears an optional one (`email` and `password` cannot be
/// cleared). A new password or email needs `current_password`, unless the session signed in within the last few
/// minutes. A new password ends the user's other sessions.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"last_name": "Lovelace", "website": "https://ada.example", "x": null}))]
pub(crate) struct UpdateProfileRequest {
    /// The account's password, typed again: proof that its owner is here, for a new `password` or `email`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    current_password: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = field_schemas::username_or_null)]
    username: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = field_schemas::new_email)]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = field_schemas::new_password)]
    password: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = field_schemas::person_name_or_null)]
    first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = field_schemas::person_name_or_null)]
    last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = field_schemas::profile_url_or_null)]
    website: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = field_schemas::profile_url_or_null)]
    facebook: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = field_schemas::profile_url_or_null)]
    instagram: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = field_schemas::profile_url_or_null)]
    linkedin: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = field_schemas::profile_url_or_null)]
    x: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = field_schemas::profile_url_or_null)]
    youtube: Option<Option<String>>,
}

/// The current password as given, if at all.
fn current_password(raw: Option<String>) -> CurrentPassword {
    match raw.map(Password::typed) {
        None => CurrentPassword::NotGiven,
        Some(Ok(password)) => CurrentPassword::Typed(password),
        Some(Err(_)) => CurrentPassword::Impossible,
    }
}

/// Proof of presence (deleting one's account, enrolling or removing a second factor): the password typed again,
/// unless the session signed in within the last few minutes.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"current_password": "correct horse battery"}))]
pub(crate) struct CurrentPasswordRequest {
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    current_password: Option<String>,
}

impl CurrentPasswordRequest {
    pub(crate) fn parse(self) -> CurrentPassword {
        current_password(self.current_password)
    }
}

impl UpdateProfileRequest {
    pub(crate) fn parse(self) -> Result<(ProfileChanges, CurrentPassword), Problem> {
        let current = current_password(self.current_password);
        let mut fields = Fields::default();
        let changes = ProfileChanges {
            username: fields.patch("username", self.username, Username::parse),
            email: fields.replace("email", self.email, Email::parse),
            password: fields.replace("password", self.password, Password::parse),
            profile: ProfilePatch {
                first_name: fields.patch("first_name", self.first_name, PersonName::parse),
                last_name: fields.patch("last_name", self.last_name, PersonName::parse),
                website: fields.patch("website", self.website, ProfileUrl::parse),
                facebook: fields.patch("facebook", self.facebook, ProfileUrl::parse),
                instagram: fields.patch("instagram", self.instagram, ProfileUrl::parse),
                linkedin: fields.patch("linkedin", self.linkedin, ProfileUrl::parse),
                x: fields.patch("x", self.x, ProfileUrl::parse),
                youtube: fields.patch("youtube", self.youtube, ProfileUrl::parse),
            },
        };
        fields.finish(Some((changes, current)))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Page size.
    #[param(minimum = 1, maximum = 50, default = 20)]
    limit: Option<i64>,
    /// Users to skip, in id order.
    #[param(minimum = 0, default = 0)]
    offset: Option<i64>,
    /// The start of the user's email address, username, first name or last name, case aside (at most 100
    /// characters, no control characters; empty or blank: no search).
    #[param(max_length = 100, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$", example = "ada")]
    q: Option<String>,
    /// Only the users with this role.
    #[param(schema_with = user_filter::role_schema)]
    role: Option<String>,
    /// Only the users suspended now, or only those not.
    #[param(schema_with = user_filter::status_schema)]
    status: Option<String>,
    /// Only the users whose address is verified (`true`), or only those whose address is not (`false`).
    #[param(value_type = Option<bool>)]
    verified: Option<String>,
    /// Only the users created after this time (RFC 3339), not at it.
    #[param(value_type = Option<String>, format = DateTime)]
    created_after: Option<String>,
    /// Only the users created before this time (RFC 3339), not at it.
    #[param(value_type = Option<String>, format = DateTime)]
    created_before: Option<String>,
}

pub(crate) const DEFAULT_LIMIT: u32 = 20;
pub(crate) const MAX_LIMIT: u32 = 50;

impl ListQuery {
    /// `(offset, limit, filter)`; bad values are a 400 naming each.
    pub(crate) fn parse(self) -> Result<(u64, u32, UserFilter), Problem> {
        let mut fields = Fields::default();
        let limit = match self.limit {
            None => Some(DEFAULT_LIMIT),
            Some(limit) => u32::try_from(limit).ok().filter(|limit| (1..=MAX_LIMIT).contains(limit)).or_else(|| {
                fields.fail("limit", format!("must be between 1 and {MAX_LIMIT}"));
                None
            }),
        };
        let offset = match self.offset {
            None => Some(0),
            Some(offset) => u64::try_from(offset).ok().or_else(|| {
                fields.fail("offset", "must be 0 or more");
                None
            }),
        };
        let raw = RawFilter {
            q: self.q,
            role: self.role,
            status: self.status,
            verified: self.verified,
            created_after: self.created_after,
            created_before: self.created_before,
        };
        let names = CreatedNames { after: "created_after", before: "created_before" };
        let filter = user_filter::parse(&mut fields, raw, names);
        fields.finish_parameters(offset.zip(limit).zip(filter).map(|((offset, limit), filter)| (offset, limit, filter)))
    }
}

/// A user as the Profile API shows it: named by its ObjectId, never with its password hash.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProfileResponse {
    /// The user's ObjectId: 24 lowercase hex digits.
    #[schema(pattern = "^[0-9a-f]{24}$", example = "6b0514ba33750eebff42152b")]
    id: String,
    username: Option<String>,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    website: Option<String>,
    facebook: Option<String>,
    instagram: Option<String>,
    linkedin: Option<String>,
    x: Option<String>,
    youtube: Option<String>,
    roles: Vec<RoleName>,
    /// Whether the user proved they receive mail at `email` (false after a change of address until proven).
    email_verified: bool,
    /// Whether sign-ins ask for a second factor (a confirmed TOTP authenticator) after the password.
    mfa_enabled: bool,
    /// Whether an admin has the account suspended: it cannot sign in until `suspended_until`, or until lifted.
    suspended: bool,
    /// When the suspension lifts by itself; null while not suspended, or suspended until lifted.
    suspended_until: Option<DateTime<Utc>>,
    /// Why the account is suspended, as the admin wrote it.
    suspension_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// When the user last signed in; null if never.
    last_sign_in_at: Option<DateTime<Utc>>,
}

/// A role as responses name it: the domain's name for it (`Role::name`), and in the document the names of every role
/// the domain defines.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RoleName(pub(crate) Role);

impl Serialize for RoleName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.name())
    }
}

impl PartialSchema for RoleName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A role's name."))
            .enum_values(Some(Role::ALL.map(Role::name)))
            .into()
    }
}

impl ToSchema for RoleName {}

impl From<User> for ProfileResponse {
    fn from(user: User) -> Self {
        let profile = user.profile;
        Self {
            id: user.object_id.to_string(),
            username: user.username.map(String::from),
            email: user.email.into(),
            first_name: profile.first_name.map(String::from),
            last_name: profile.last_name.map(String::from),
            website: profile.website.map(String::from),
            facebook: profile.facebook.map(String::from),
            instagram: profile.instagram.map(String::from),
            linkedin: profile.linkedin.map(String::from),
            x: profile.x.map(String::from),
            youtube: profile.youtube.map(String::from),
            roles: user.roles.into_iter().map(RoleName).collect(),
            email_verified: user.email_verified,
            mfa_enabled: user.mfa_enabled,
            suspended: user.suspension.is_some(),
            suspended_until: user.suspension.as_ref().and_then(|suspension| suspension.until),
            suspension_reason: user.suspension.and_then(|suspension| suspension.reason).map(String::from),
            created_at: user.created_at,
            updated_at: user.updated_at,
            last_sign_in_at: user.last_sign_in_at,
        }
    }
}

/// A short-lived access token (a JWT to send as `Authorization: Bearer …`) and the refresh token that renews it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenPairResponse {
    access_token: String,
    /// Opaque; replaced on every refresh.
    refresh_token: String,
    #[schema(value_type = String, example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    expires_in: i64,
}

impl From<TokenPair> for TokenPairResponse {
    fn from(tokens: TokenPair) -> Self {
        Self {
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token.as_str().to_owned(),
            token_type: "Bearer",
            expires_in: tokens.expires_in,
        }
    }
}

/// A token pair and the signed-in user.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SignedInResponse {
    #[serde(flatten)]
    tokens: TokenPairResponse,
    user: ProfileResponse,
}

impl From<SignedIn> for SignedInResponse {
    fn from(signed_in: SignedIn) -> Self {
        Self { tokens: signed_in.tokens.into(), user: signed_in.user.into() }
    }
}

/// What a right password gets: a session's tokens, or for an account with a second factor, the token to present a
/// code with at `/auth/login/mfa`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
// Made once per sign-in and serialised at once: a box would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum LoginResponse {
    SignedIn(SignedInResponse),
    SecondFactorRequired(SecondFactorRequiredResponse),
}

impl From<LoginOutcome> for LoginResponse {
    fn from(outcome: LoginOutcome) -> Self {
        match outcome {
            LoginOutcome::SignedIn(signed_in) => Self::SignedIn(signed_in.into()),
            LoginOutcome::SecondFactorRequired(challenge) => Self::SecondFactorRequired(challenge.into()),
        }
    }
}

/// The password was right; the account asks for a code from its authenticator app (or a recovery code) before it
/// is signed in. No tokens yet.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SecondFactorRequiredResponse {
    #[schema(value_type = bool, example = true)]
    mfa_required: bool,
    /// Single use: send it with the code to `POST /auth/login/mfa`.
    mfa_token: String,
    /// Seconds until `mfa_token` expires.
    #[schema(example = 300)]
    expires_in: i64,
}

impl From<SecondFactorChallenge> for SecondFactorRequiredResponse {
    fn from(challenge: SecondFactorChallenge) -> Self {
        Self {
            mfa_required: true,
            mfa_token: challenge.mfa_token.as_str().to_owned(),
            expires_in: challenge.expires_in,
        }
    }
}

/// A new account that may not sign in before its address is verified (`auth.require_verified_email`): no tokens
/// yet; the verification link is on its way.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AwaitingVerificationResponse {
    user: ProfileResponse,
}

impl From<User> for AwaitingVerificationResponse {
    fn from(user: User) -> Self {
        Self { user: user.into() }
    }
}

/// One page of users, in id order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserListResponse {
    pub(crate) data: Vec<ProfileResponse>,
    /// How many users match: exactly, or (`total_is_exact` false) at least this many, when a filter matches more
    /// than are worth counting (1,000).
    pub(crate) total: u64,
    pub(crate) total_is_exact: bool,
    pub(crate) limit: u32,
    pub(crate) offset: u64,
}
