//! `/users/current/activity`: the signed-in user's own events (about their account, or done by them), newest first.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use users_app::{Adapters, AuditPage, UserService};
use users_ports::{AuditEvent, AuditEventId};
use utoipa::ToSchema;

use crate::audit_page::{self, KindName};
use crate::errors::query_error;
use crate::examples::refused;
use crate::extractors::Authenticated;
use crate::fields::Fields;
use crate::no_store_json;
use crate::problem::Problem;
use crate::routes::Endpoint;

type Service<A> = web::Data<UserService<A>>;
type Handled = Result<HttpResponse, Problem>;

pub(super) fn endpoints<A: Adapters>() -> Vec<Endpoint> {
    vec![Endpoint::new(__path_list_activity, web::to(list_activity::<A>))]
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ActivityQuery {
    /// Only events older than this one: the `next` of the previous page.
    #[param(minimum = 1)]
    before: Option<i64>,
    /// Page size.
    #[param(minimum = 1, maximum = 100, default = 20)]
    limit: Option<i64>,
}

impl ActivityQuery {
    fn parse(self) -> Result<(Option<AuditEventId>, u32), Problem> {
        let mut fields = Fields::default();
        let page = audit_page::page(&mut fields, self.before, self.limit);
        fields.finish_parameters(page)
    }
}

/// An event of the user's: who (`actor_id`: null when nobody signed in did it) did what to whom (`subject_id`,
/// integer user ids as the Admin API has them), from where, when. Where someone else did it (an admin), their
/// `ip` and `user_agent` are not shown (null).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ActivityEventResponse {
    /// Increasing: a later event has a greater id.
    id: i64,
    at: DateTime<Utc>,
    kind: KindName,
    actor_id: Option<i64>,
    subject_id: Option<i64>,
    ip: Option<String>,
    user_agent: Option<String>,
    /// What the kind needs to be understood; never a password, token or hash.
    #[schema(value_type = Object)]
    details: Map<String, Value>,
}

impl From<AuditEvent> for ActivityEventResponse {
    fn from(event: AuditEvent) -> Self {
        Self {
            id: event.id.0,
            at: event.at,
            kind: KindName(event.kind),
            actor_id: event.actor.map(|id| id.0),
            subject_id: event.subject.map(|id| id.0),
            ip: event.ip.map(|ip| ip.to_string()),
            user_agent: event.user_agent.map(String::from),
            details: event.details,
        }
    }
}

/// A page of the user's events, newest first; pass `next` as `before` for the following page (null at the end).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ActivityPageResponse {
    data: Vec<ActivityEventResponse>,
    next: Option<i64>,
}

impl From<AuditPage> for ActivityPageResponse {
    fn from(page: AuditPage) -> Self {
        let data = page.events.into_iter().map(ActivityEventResponse::from).collect();
        Self { data, next: page.next.map(|id| id.0) }
    }
}

/// `query` as the route reads it, for the document's example of a refused one.
fn activity_query(query: &str) -> Result<(Option<AuditEventId>, u32), Problem> {
    web::Query::<ActivityQuery>::from_query(query).map_err(query_error)?.into_inner().parse()
}

/// The signed-in user's activity
///
/// The security-relevant events of the account (sign-ins and their failures, changes, sessions ended, ...) and
/// those its user did to others, newest first.
#[utoipa::path(get, path = "/users/current/activity", tag = "profile", operation_id = "listCurrentUserActivity", security(("bearer" = [])), params(ActivityQuery),
    responses((status = 200, description = "A page of events, newest first", body = ActivityPageResponse),
              (status = 400, description = "A query parameter is malformed or out of range (each is named in `errors`)", body = Problem, content_type = "application/problem+json",
               examples(("invalid-parameters" = (value = json!(refused(activity_query("limit=0")))))))))]
async fn list_activity<A: Adapters>(
    service: Service<A>,
    auth: Authenticated<A>,
    query: web::Query<ActivityQuery>,
) -> Handled {
    let (before, limit) = query.into_inner().parse()?;
    let page = service.list_activity(&auth.current, before, limit).await?;
    Ok(no_store_json(StatusCode::OK, ActivityPageResponse::from(page)))
}
