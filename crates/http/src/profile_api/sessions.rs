//! `/users/current/sessions`: where the signed-in user is signed in, and ending those sessions.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use users_app::{Adapters, EndSessionError, SessionView, UserService};
use users_ports::SessionKey;
use utoipa::ToSchema;

use crate::examples::sent;
use crate::extractors::Authenticated;
use crate::no_store_json;
use crate::problem::Problem;
use crate::routes::Endpoint;

type Service<A> = web::Data<UserService<A>>;
type Handled = Result<HttpResponse, Problem>;

pub(super) fn endpoints<A: Adapters>() -> Vec<Endpoint> {
    vec![
        Endpoint::new(__path_list_sessions, web::to(list_sessions::<A>)),
        Endpoint::new(__path_end_other_sessions, web::to(end_other_sessions::<A>)),
        Endpoint::new(__path_end_session, web::to(end_session::<A>)),
    ]
}

/// A live session: one sign-in, on one device, renewed by its refresh tokens.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionResponse {
    /// The session's opaque id (32 hex digits), to end it with.
    #[schema(pattern = "^[0-9a-f]{32}$", example = "3f9c2a7e51b04d8c9e6f0a1b2c3d4e5f")]
    id: String,
    /// When it signed in.
    created_at: DateTime<Utc>,
    /// Its sign-in or latest refresh (access tokens are checked without noting their use).
    last_used_at: DateTime<Utc>,
    /// When it ends unless refreshed before.
    expires_at: DateTime<Utc>,
    /// The `User-Agent` of its sign-in or latest refresh.
    user_agent: Option<String>,
    /// The client address of its sign-in or latest refresh.
    ip: Option<String>,
    /// Whether this is the session of the request's own access token.
    current: bool,
}

impl From<SessionView> for SessionResponse {
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

/// The signed-in user's sessions
///
/// Every live session of the account (signed in, neither ended nor expired), most recently used first.
#[utoipa::path(get, path = "/users/current/sessions", tag = "profile", operation_id = "listCurrentUserSessions", security(("bearer" = [])),
    responses((status = 200, description = "The live sessions, most recently used first", body = Vec<SessionResponse>)))]
async fn list_sessions<A: Adapters>(service: Service<A>, auth: Authenticated<A>) -> Handled {
    let sessions = service.list_sessions(&auth.current).await?;
    Ok(no_store_json(StatusCode::OK, sessions.into_iter().map(SessionResponse::from).collect::<Vec<_>>()))
}

/// Sign out everywhere else
///
/// Ends every session of the account but the one this request comes with.
#[utoipa::path(delete, path = "/users/current/sessions", tag = "profile", operation_id = "endOtherSessions", security(("bearer" = [])),
    responses((status = 204, description = "Every other session has ended: their access and refresh tokens no longer work")))]
async fn end_other_sessions<A: Adapters>(service: Service<A>, auth: Authenticated<A>) -> Handled {
    service.end_other_sessions(&auth.current).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// End one of the signed-in user's sessions
///
/// Its access and refresh tokens stop working at once, on every instance. Ending the current session signs out.
#[utoipa::path(delete, path = "/users/current/sessions/{sessionId}", tag = "profile", operation_id = "endSession", security(("bearer" = [])),
    params(("sessionId" = String, Path, description = "A session's id, as listed")),
    responses((status = 204, description = "The session has ended"),
              (status = 404, description = "None of the caller's live sessions has this id (another user's session, an ended one, or text no session could have, is not found either)", body = Problem, content_type = "application/problem+json",
               examples(("not-found" = (value = json!(sent(EndSessionError::NotFound))))))))]
async fn end_session<A: Adapters>(service: Service<A>, auth: Authenticated<A>, path: web::Path<String>) -> Handled {
    // The id is opaque to clients: text no session could have names none of theirs, like any other.
    let key = SessionKey::parse(&path).ok_or(EndSessionError::NotFound)?;
    service.end_session(&auth.current, &key).await?;
    Ok(HttpResponse::NoContent().finish())
}
