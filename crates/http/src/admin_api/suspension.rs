//! `/api/users/{id}/suspension`: stopping an account without deleting it, and lifting that.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Datelike, Utc};
use serde::Deserialize;
use users_app::{Adapters, SuspendUserError, SuspensionRequest, UnsuspendUserError, UserService};
use users_domain::{SuspensionError, SuspensionReason};
use utoipa::ToSchema;

use super::{UserResponse, user_id};
use crate::body::OptionalJsonObject;
use crate::examples::{refused, sent};
use crate::extractors::Admin;
use crate::fields::Fields;
use crate::no_store_json;
use crate::problem::Problem;
use crate::routes::Endpoint;

type Service<A> = web::Data<UserService<A>>;
type Handled = Result<HttpResponse, Problem>;

pub(super) fn endpoints<A: Adapters>() -> Vec<Endpoint> {
    vec![
        Endpoint::new(__path_suspend_user, web::to(suspend_user::<A>)),
        Endpoint::new(__path_unsuspend_user, web::to(unsuspend_user::<A>)),
    ]
}

/// Why and until when; both optional (no body at all suspends until lifted, without a reason).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"reason": "Chargeback under review", "until": "2027-01-31T00:00:00Z"}))]
pub(crate) struct SuspendRequest {
    /// Why, for other admins (at most 500 characters).
    #[schema(max_length = 500)]
    reason: Option<String>,
    /// When the suspension lifts by itself (RFC 3339, in the future); null or absent: until an admin lifts it.
    #[schema(format = DateTime)]
    until: Option<String>,
}

impl SuspendRequest {
    fn parse(self) -> Result<SuspensionRequest, Problem> {
        let mut fields = Fields::default();
        let reason = fields.optional("reason", self.reason, SuspensionReason::parse);
        let until = fields.optional("until", self.until, |raw| parse_time(&raw));
        // A field that failed is `None` here too, but then `finish` answers with its error.
        fields.finish(Some(SuspensionRequest { until, reason }))
    }
}

fn parse_time(raw: &str) -> Result<DateTime<Utc>, &'static str> {
    let time = DateTime::parse_from_rfc3339(raw)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| "must be an RFC 3339 date-time, such as 2027-01-31T00:00:00Z")?;
    // Both stores keep four-digit years (SQLite compares them as text).
    if time.year() > 9999 { Err("must be before the year 10000") } else { Ok(time) }
}

/// The answer to an `until` that has already passed, for the document's example.
fn until_in_the_past() -> SuspendUserError {
    SuspendUserError::InvalidEnd(SuspensionError::EndsInThePast)
}

/// Suspend a user
///
/// The account stays, but every session of it ends at once, a correct sign-in is refused with 403
/// `account-suspended`, its tokens no longer work and no reset link is mailed to it, until `until` (when it lifts by
/// itself) or until lifted. Suspending a suspended user replaces its end and reason.
#[utoipa::path(post, path = "/api/users/{id}/suspension", tag = "admin-v1", operation_id = "adminSuspendUser", security(("bearer" = [])), params(("id" = i64, Path, description = "The user's id")),
    request_body(content = Option<SuspendRequest>, description = "Optional: why, and until when"),
    responses((status = 200, description = "The user, suspended", body = UserResponse),
              (status = 400, description = "The user id is not an integer", body = Problem, content_type = "application/problem+json",
               examples(("invalid-parameters" = (value = json!(refused(user_id("ada"))))))),
              (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json",
               examples(("not-found" = (value = json!(sent(SuspendUserError::NotFound)))))),
              (status = 409, description = "The admin's own account, or the last admin who is not suspended", body = Problem, content_type = "application/problem+json",
               examples(("cannot-suspend-self" = (value = json!(sent(SuspendUserError::Oneself)))),
                        ("last-admin" = (value = json!(sent(SuspendUserError::LastActiveAdmin)))))),
              (status = 422, description = "`until` is not a future RFC 3339 date-time, or `reason` is empty or too long", body = Problem, content_type = "application/problem+json",
               examples(("validation-failed" = (value = json!(sent(until_in_the_past()))))))))]
async fn suspend_user<A: Adapters>(
    service: Service<A>,
    admin: Admin<A>,
    path: web::Path<String>,
    body: OptionalJsonObject<SuspendRequest>,
) -> Handled {
    let id = user_id(&path)?;
    let request = body.0.unwrap_or_default().parse()?;
    let user = service.suspend_user(&admin.admin, id, request).await?;
    Ok(no_store_json(StatusCode::OK, UserResponse::from(user)))
}

/// Lift a user's suspension
///
/// The user may sign in again (their ended sessions stay ended). Lifting it from an active user changes nothing.
#[utoipa::path(delete, path = "/api/users/{id}/suspension", tag = "admin-v1", operation_id = "adminUnsuspendUser", security(("bearer" = [])), params(("id" = i64, Path, description = "The user's id")),
    responses((status = 200, description = "The user, active", body = UserResponse),
              (status = 400, description = "The user id is not an integer", body = Problem, content_type = "application/problem+json",
               examples(("invalid-parameters" = (value = json!(refused(user_id("ada"))))))),
              (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json",
               examples(("not-found" = (value = json!(sent(UnsuspendUserError::NotFound))))))))]
async fn unsuspend_user<A: Adapters>(service: Service<A>, admin: Admin<A>, path: web::Path<String>) -> Handled {
    let id = user_id(&path)?;
    let user = service.unsuspend_user(&admin.admin, id).await?;
    Ok(no_store_json(StatusCode::OK, UserResponse::from(user)))
}
