//! The Admin API's JSON (camelCase): request bodies, their parsing into domain values, and responses.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use users_app::UserReplacement;
use users_domain::{Email, Password, PersonName, Registration, Role, RoleSet, User};
use users_ports::{UserFilter, UserOrder, UserSortKey};
use utoipa::{IntoParams, ToSchema};

use crate::field_schemas;
use crate::fields::Fields;
use crate::problem::Problem;
use crate::profile_api::RoleName;
use crate::user_filter::{self, CreatedNames, RawFilter};

/// A user to create; without `roleIds` the user gets the `user` role. Unless `emailVerified` is true (the admin
/// vouches for the address), a verification link is mailed to it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"firstName": "Grace", "lastName": "Hopper", "email": "grace@example.com", "password": "a strong one", "roleIds": [2]}))]
pub(crate) struct CreateUserRequest {
    #[schema(schema_with = field_schemas::person_name, required = true)]
    first_name: Option<String>,
    #[schema(schema_with = field_schemas::person_name, required = true)]
    last_name: Option<String>,
    #[schema(schema_with = field_schemas::new_email, required = true)]
    email: Option<String>,
    #[schema(schema_with = field_schemas::new_password, required = true)]
    password: Option<String>,
    #[schema(schema_with = field_schemas::role_ids)]
    role_ids: Option<Value>,
    /// The admin vouches for the address: no verification mail. Default false.
    #[serde(default)]
    email_verified: Option<bool>,
}

/// A user to create as parsed: the account, the roles asked for, and whether the address is vouched for.
pub(crate) type NewAccount = (Registration, Option<RoleSet>, bool);

impl CreateUserRequest {
    /// The account to create, the roles asked for, and whether the admin vouches for the address.
    pub(crate) fn parse(self) -> Result<NewAccount, Problem> {
        let mut fields = Fields::default();
        let first_name = fields.required("firstName", self.first_name, PersonName::parse);
        let last_name = fields.required("lastName", self.last_name, PersonName::parse);
        let email = fields.required("email", self.email, Email::parse);
        let password = fields.required("password", self.password, Password::parse);
        let roles = roles(&mut fields, self.role_ids);
        let registration =
            first_name.zip(last_name).zip(email.zip(password)).map(|((first_name, last_name), (email, password))| {
                Registration {
                    username: None,
                    email,
                    password,
                    first_name: Some(first_name),
                    last_name: Some(last_name),
                }
            });
        let email_verified = self.email_verified.unwrap_or(false);
        fields.finish(registration.zip(roles).map(|(registration, roles)| (registration, roles, email_verified)))
    }
}

/// The user's new names and email; `roleIds` replaces the roles when given and keeps them when absent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"firstName": "Amazing", "lastName": "Grace", "email": "grace@example.com", "roleIds": [1, 2]}))]
pub(crate) struct ReplaceUserRequest {
    #[schema(schema_with = field_schemas::person_name, required = true)]
    first_name: Option<String>,
    #[schema(schema_with = field_schemas::person_name, required = true)]
    last_name: Option<String>,
    #[schema(schema_with = field_schemas::new_email, required = true)]
    email: Option<String>,
    #[schema(schema_with = field_schemas::role_ids)]
    role_ids: Option<Value>,
}

impl ReplaceUserRequest {
    pub(crate) fn parse(self) -> Result<UserReplacement, Problem> {
        let mut fields = Fields::default();
        let first_name = fields.required("firstName", self.first_name, PersonName::parse);
        let last_name = fields.required("lastName", self.last_name, PersonName::parse);
        let email = fields.required("email", self.email, Email::parse);
        let roles = roles(&mut fields, self.role_ids);
        let replacement =
            first_name.zip(last_name).zip(email).zip(roles).map(|(((first_name, last_name), email), roles)| {
                UserReplacement { first_name, last_name, email, roles }
            });
        fields.finish(replacement)
    }
}

/// `roleIds`: absent or `null` (`Some(None)`: no change asked), or an array of the ids of known roles.
fn roles(fields: &mut Fields, raw: Option<Value>) -> Option<Option<RoleSet>> {
    match raw {
        None | Some(Value::Null) => Some(None),
        Some(Value::Array(items)) => match items.iter().map(Value::as_i64).collect::<Option<Vec<_>>>() {
            Some(ids) => match RoleSet::from_ids(&ids) {
                Ok(roles) => Some(Some(roles)),
                Err(invalid) => {
                    fields.fail("roleIds", invalid);
                    None
                }
            },
            None => {
                fields.fail("roleIds", "must be an array of integer role ids");
                None
            }
        },
        Some(_) => {
            fields.fail("roleIds", "must be an array of integer role ids");
            None
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListQuery {
    /// 1-based page number.
    #[param(minimum = 1, default = 1)]
    page: Option<i64>,
    /// Page size.
    #[param(minimum = 1, maximum = 100, default = 10)]
    limit: Option<i64>,
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
    /// The order: by id, email address (case aside), creation time or last sign-in (never signed in comes first
    /// going up, last going down); ties are broken by id.
    #[param(schema_with = user_filter::sort_schema, default = "id")]
    sort: Option<String>,
    /// Up (`asc`) or down (`desc`).
    #[param(schema_with = user_filter::order_schema, default = "asc")]
    order: Option<String>,
}

pub(crate) const DEFAULT_LIMIT: u32 = 10;
pub(crate) const MAX_LIMIT: u32 = 100;

/// A list query read: the page, its filter and its order.
#[derive(Debug)]
pub(crate) struct UserListing {
    pub(crate) page: u64,
    pub(crate) limit: u32,
    pub(crate) filter: UserFilter,
    pub(crate) order: UserOrder,
}

impl ListQuery {
    /// The listing asked for, every value validated; bad values are a 400 naming each.
    pub(crate) fn parse(self) -> Result<UserListing, Problem> {
        let mut fields = Fields::default();
        let page = match self.page {
            None => Some(1),
            Some(page) => u64::try_from(page).ok().filter(|page| *page >= 1).or_else(|| {
                fields.fail("page", "must be 1 or more");
                None
            }),
        };
        let limit = match self.limit {
            None => Some(DEFAULT_LIMIT),
            Some(limit) => u32::try_from(limit).ok().filter(|limit| (1..=MAX_LIMIT).contains(limit)).or_else(|| {
                fields.fail("limit", format!("must be between 1 and {MAX_LIMIT}"));
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
        let names = CreatedNames { after: "createdAfter", before: "createdBefore" };
        let filter = user_filter::parse(&mut fields, raw, names);
        let key = match self.sort.as_deref() {
            None | Some("id") => Some(UserSortKey::Id),
            Some("email") => Some(UserSortKey::Email),
            Some("createdAt") => Some(UserSortKey::CreatedAt),
            Some("lastSignInAt") => Some(UserSortKey::LastSignInAt),
            Some(_) => {
                fields.fail("sort", "must be id, email, createdAt or lastSignInAt");
                None
            }
        };
        let descending = match self.order.as_deref() {
            None | Some("asc") => Some(false),
            Some("desc") => Some(true),
            Some(_) => {
                fields.fail("order", "must be asc or desc");
                None
            }
        };
        let listing = (|| {
            Some(UserListing {
                page: page?,
                limit: limit?,
                filter: filter?,
                order: UserOrder { key: key?, descending: descending? },
            })
        })();
        fields.finish_parameters(listing)
    }
}

/// A user as the Admin API shows it: by numeric id, with role names, never with a password or its hash.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserResponse {
    id: i64,
    first_name: Option<String>,
    last_name: Option<String>,
    email: String,
    username: Option<String>,
    roles: Vec<RoleName>,
    /// Whether the user proved they receive mail at `email`, or an admin vouched for it.
    email_verified: bool,
    /// Whether sign-ins ask for a second factor (a confirmed TOTP authenticator) after the password.
    mfa_enabled: bool,
    /// Whether an admin has the account suspended: it cannot sign in until `suspendedUntil`, or until lifted.
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

impl From<User> for UserResponse {
    fn from(user: User) -> Self {
        Self {
            id: user.id.0,
            first_name: user.profile.first_name.map(String::from),
            last_name: user.profile.last_name.map(String::from),
            email: user.email.into(),
            username: user.username.map(String::from),
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

/// One page of users, in id order; `totalPages` is `ceil(total / limit)`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserPageResponse {
    pub(crate) data: Vec<UserResponse>,
    pub(crate) page: u64,
    pub(crate) limit: u32,
    /// How many users match: exactly, or (`totalIsExact` false) at least this many, when a filter matches more than
    /// are worth counting (1,000).
    pub(crate) total: u64,
    pub(crate) total_is_exact: bool,
    pub(crate) total_pages: u64,
}

/// A role and its id.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RoleResponse {
    #[schema(example = 2)]
    id: i64,
    name: RoleName,
}

impl From<Role> for RoleResponse {
    fn from(role: Role) -> Self {
        Self { id: role.id(), name: RoleName(role) }
    }
}
