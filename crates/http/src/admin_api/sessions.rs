//! `/api/users/{id}/sessions`: where a user is signed in, and signing them out everywhere.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use users_app::{Adapters, ListUserSessionsError, SessionView, SignOutEverywhereError, UserService};
use utoipa::ToSchema;

use super::user_id;
use crate::examples::{refused, sent};
use crate::extractors::Admin;
use crate::no_store_json;
use crate::problem::Problem;
use crate::routes::Endpoint;

type Service<A> = web::Data<UserService<A>>;
type Handled = Result<HttpResponse, Problem>;

pub(super) fn endpoints<A: Adapters>() -> Vec<Endpoint> {
    vec![
        Endpoint::new(__path_list_user_sessions, web::to(list_user_sessions::<A>)),
        Endpoint::new(__path_sign_out_everywhere, web::to(sign_out_everywhere::<A>)),
    ]
}

/// A user's live session, as the Admin API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AdminSessionResponse {
    /// The session's opaque id (32 hex digits).
    #[schema(pattern = "^[0-9a-f]{32}$", example = "3f9c2a7e51b04d8c9e6f0a1b2c3d4e5f")]
    id: String,
    created_at: DateTime<Utc>,
    /// Its sign-in or latest refresh.
    last_used_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    /// The `User-Agent` of its sign-in or latest refresh.
    user_agent: Option<String>,
    /// The client address of its sign-in or latest refresh.
    ip: Option<String>,
    /// Whether this is the session of the admin's own request.
    current: bool,
}

impl From<SessionView> for AdminSessionResponse {
    fn from(view: SessionView) -> Self {
        let session = view.session;
        Self {
            id: session.key.to_string(),
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            expires_at: session.expires_at,
            user_agent: session.client.user_agent.map(String::from),
            ip: session.client.ip.map(|ip| ip.to_string()),
            current: view.current,
        }
    }
}

/// A user's sessions
///
/// Every live session of the user (neither ended nor expired), most recently used first.
#[utoipa::path(get, path = "/api/users/{id}/sessions", tag = "admin-v1", operation_id = "adminListUserSessions", security(("bearer" = [])), params(("id" = i64, Path, description = "The user's id")),
    responses((status = 200, description = "The user's live sessions, most recently used first", body = Vec<AdminSessionResponse>),
              (status = 400, description = "The user id is not an integer", body = Problem, content_type = "application/problem+json",
               examples(("invalid-parameters" = (value = json!(refused(user_id("ada"))))))),
              (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json",
               examples(("not-found" = (value = json!(sent(ListUserSessionsError::NotFound))))))))]
async fn list_user_sessions<A: Adapters>(service: Service<A>, admin: Admin<A>, path: web::Path<String>) -> Handled {
    let id = user_id(&path)?;
    let sessions = service.list_user_sessions(&admin.admin, id).await?;
    Ok(no_store_json(StatusCode::OK, sessions.into_iter().map(AdminSessionResponse::from).collect::<Vec<_>>()))
}

/// Sign a user out everywhere
///
/// Ends every session of the user: their access and refresh tokens stop working at once, on every instance. The
/// account itself is untouched; it may sign in again.
#[utoipa::path(delete, path = "/api/users/{id}/sessions", tag = "admin-v1", operation_id = "adminSignOutEverywhere", security(("bearer" = [])), params(("id" = i64, Path, description = "The user's id")),
    responses((status = 204, description = "Every session of the user has ended"),
              (status = 400, description = "The user id is not an integer", body = Problem, content_type = "application/problem+json",
               examples(("invalid-parameters" = (value = json!(refused(user_id("ada"))))))),
              (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json",
               examples(("not-found" = (value = json!(sent(SignOutEverywhereError::NotFound))))))))]
async fn sign_out_everywhere<A: Adapters>(service: Service<A>, admin: Admin<A>, path: web::Path<String>) -> Handled {
    let id = user_id(&path)?;
    service.sign_out_everywhere(&admin.admin, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
