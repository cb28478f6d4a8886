//! The Profile API's JSON (snake_case): request bodies as sent, their parsing into domain values, and responses.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use users_app::{SignedIn, TokenPair};
use users_domain::{
    Email, LoginIdentifier, Password, PersonName, ProfileChanges, ProfilePatch, ProfileUrl, Registration, User,
    Username,
};
use users_ports::RefreshToken;

use crate::fields::{Fields, nullable};
use crate::problem::Problem;

#[derive(Debug, Deserialize)]
pub(crate) struct RegisterRequest {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
    first_name: Option<String>,
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

#[derive(Debug, Deserialize)]
pub(crate) struct LoginRequest {
    email: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// Login input that is well formed. Whether it names a real account is for the use case to say.
pub(crate) enum LoginInput {
    Credentials(LoginIdentifier, Password),
    /// An identifier or password that no account can have (a malformed email, a 3-character password): refused
    /// as invalid credentials, exactly like a wrong password.
    Impossible,
}

impl LoginRequest {
    pub(crate) fn parse(self) -> Result<LoginInput, Problem> {
        let mut fields = Fields::default();
        let identifier = match (self.email, self.username) {
            (Some(email), None) => Some(Email::parse(email).map(LoginIdentifier::Email).ok()),
            (None, Some(username)) => Some(Username::parse(username).map(LoginIdentifier::Username).ok()),
            (Some(_), Some(_)) => {
                fields.fail("email", "give either email or username, not both");
                None
            }
            (None, None) => {
                fields.fail("email", "email or username is required");
                None
            }
        };
        let password = fields.required("password", self.password, |raw| Ok::<_, String>(Password::parse(raw).ok()));
        let input = identifier.zip(password).map(|pair| match pair {
            (Some(identifier), Some(password)) => LoginInput::Credentials(identifier, password),
            _ => LoginInput::Impossible,
        });
        fields.finish(input)
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RefreshTokenRequest {
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

/// Every field optional; `null` clears a clearable field.
#[derive(Debug, Deserialize)]
pub(crate) struct UpdateProfileRequest {
    #[serde(default, deserialize_with = "nullable")]
    username: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    password: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    website: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    facebook: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    instagram: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    linkedin: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    x: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    youtube: Option<Option<String>>,
}

impl UpdateProfileRequest {
    pub(crate) fn parse(self) -> Result<ProfileChanges, Problem> {
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
        fields.finish(Some(changes))
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    limit: Option<i64>,
    offset: Option<i64>,
}

pub(crate) const DEFAULT_LIMIT: u32 = 20;
pub(crate) const MAX_LIMIT: u32 = 50;

impl ListQuery {
    /// `(offset, limit)`; out-of-range values are a 400.
    pub(crate) fn parse(self) -> Result<(u64, u32), Problem> {
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
        fields.finish_parameters(offset.zip(limit))
    }
}

/// A user as the Profile API shows it: named by its ObjectId, never with its password hash.
#[derive(Debug, Serialize)]
pub(crate) struct ProfileResponse {
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
    roles: Vec<&'static str>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

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
            roles: user.roles.iter().map(|role| role.name()).collect(),
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct TokenPairResponse {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
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

#[derive(Debug, Serialize)]
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

#[derive(Debug, Serialize)]
pub(crate) struct UserListResponse {
    pub(crate) data: Vec<ProfileResponse>,
    pub(crate) total: u64,
    pub(crate) limit: u32,
    pub(crate) offset: u64,
}
