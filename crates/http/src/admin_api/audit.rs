//! `/api/audit-events`: who did what, and when, for admins: every event, or a user's, or of a kind, newest first.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use users_app::{Adapters, AuditFilter, AuditPage, UserService};
use users_domain::UserId;
use users_ports::AuditEvent;
use utoipa::ToSchema;

use crate::audit_page::{self, KindName};
use crate::errors::query_error;
use crate::examples::refused;
use crate::extractors::Admin;
use crate::fields::Fields;
use crate::no_store_json;
use crate::problem::Problem;
use crate::routes::Endpoint;

type Service<A> = web::Data<UserService<A>>;
type Handled = Result<HttpResponse, Problem>;

pub(super) fn endpoints<A: Adapters>() -> Vec<Endpoint> {
    vec![Endpoint::new(__path_list_audit_events, web::to(list_audit_events::<A>))]
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditQuery {
    /// Only events about this user or done by them.
    #[param(minimum = 1)]
    user_id: Option<i64>,
    /// Only events of this kind (`user.signed_in`, `user.suspended`, ...).
    #[param(value_type = Option<KindName>)]
    kind: Option<String>,
    /// Only events older than this one: the `next` of the previous page.
    #[param(minimum = 1)]
    before: Option<i64>,
    /// Page size.
    #[param(minimum = 1, maximum = 100, default = 20)]
    limit: Option<i64>,
}

impl AuditQuery {
    fn parse(self) -> Result<AuditFilter, Problem> {
        let mut fields = Fields::default();
        let user = match self.user_id {
            None => Some(None),
            Some(id) if id >= 1 => Some(Some(UserId(id))),
            Some(_) => {
                fields.fail("userId", "must be a user id (1 or more)");
                None
            }
        };
        let kind = audit_page::kind(&mut fields, self.kind);
        let page = audit_page::page(&mut fields, self.before, self.limit);
        let filter =
            user.zip(kind).zip(page).map(|((user, kind), (before, limit))| AuditFilter { user, kind, before, limit });
        fields.finish_parameters(filter)
    }
}

/// An event: who (`actorId`: null when nobody signed in did it) did what (`kind`, `details`) to whom (`subjectId`),
/// from where, when.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditEventResponse {
    /// Increasing: a later event has a greater id.
    id: i64,
    at: DateTime<Utc>,
    kind: KindName,
    actor_id: Option<i64>,
    subject_id: Option<i64>,
    ip: Option<String>,
    user_agent: Option<String>,
    /// What the kind needs to be understood (the fields changed, the roles before and after, the reason of a
    /// suspension, ...); never a password, token or hash.
    #[schema(value_type = Object)]
    details: Map<String, Value>,
}

impl From<AuditEvent> for AuditEventResponse {
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

/// A page of events, newest first; pass `next` as `before` for the following page (null: this is the last).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditPageResponse {
    data: Vec<AuditEventResponse>,
    next: Option<i64>,
}

impl From<AuditPage> for AuditPageResponse {
    fn from(page: AuditPage) -> Self {
        Self { data: page.events.into_iter().map(AuditEventResponse::from).collect(), next: page.next.map(|id| id.0) }
    }
}

/// `query` as the route reads it, for the document's example of a refused one.
fn audit_query(query: &str) -> Result<AuditFilter, Problem> {
    web::Query::<AuditQuery>::from_query(query).map_err(query_error)?.into_inner().parse()
}

/// The audit log
///
/// Security-relevant events (sign-ins and their failures, changes of password, address, roles, sessions and
/// suspensions, ...), each written in the transaction of its change, newest first. Kept `audit.retention_days`.
#[utoipa::path(get, path = "/api/audit-events", tag = "admin-v1", operation_id = "adminListAuditEvents", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, description = "A page of events, newest first", body = AuditPageResponse),
              (status = 400, description = "A query parameter is malformed, out of range or an unknown kind (each is named in `errors`)", body = Problem, content_type = "application/problem+json",
               examples(("invalid-parameters" = (value = json!(refused(audit_query("kind=user.hacked")))))))))]
async fn list_audit_events<A: Adapters>(
    service: Service<A>,
    admin: Admin<A>,
    query: web::Query<AuditQuery>,
) -> Handled {
    let filter = query.into_inner().parse()?;
    let page = service.list_audit_events(&admin.admin, filter).await?;
    Ok(no_store_json(StatusCode::OK, AuditPageResponse::from(page)))
}
