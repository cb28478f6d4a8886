//! `/api/users/{id}/mfa`: an admin removes a user's second factor (a lost phone with lost recovery codes).

use actix_web::{HttpResponse, web};
use users_app::{Adapters, RemoveSecondFactorError, UserService};

use super::user_id;
use crate::examples::{refused, sent};
use crate::extractors::Admin;
use crate::problem::Problem;
use crate::routes::Endpoint;

type Service<A> = web::Data<UserService<A>>;
type Handled = Result<HttpResponse, Problem>;

pub(super) fn endpoints<A: Adapters>() -> Vec<Endpoint> {
    vec![Endpoint::new(__path_remove_second_factor, web::to(remove_second_factor::<A>))]
}

/// Remove a user's second factor
///
/// The user's authenticator and recovery codes stop working; they sign in with their password alone until they
/// enrol again. Removing none succeeds. Recorded as `mfa.disabled`. An admin's own factor needs a sign-in within the
/// last few minutes.
#[utoipa::path(delete, path = "/api/users/{id}/mfa", tag = "admin-v1", operation_id = "adminRemoveSecondFactor", security(("bearer" = [])), params(("id" = i64, Path, description = "The user's id")),
    responses((status = 204, description = "The user has no second factor any more"),
              (status = 400, description = "The user id is not an integer", body = Problem, content_type = "application/problem+json",
               examples(("invalid-parameters" = (value = json!(refused(user_id("ada"))))))),
              (status = 403, description = "The admin's own factor, without a sign-in within the last few minutes", body = Problem, content_type = "application/problem+json",
               examples(("reauthentication-required" = (value = json!(sent(RemoveSecondFactorError::ReauthenticationRequired)))))),
              (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json",
               examples(("not-found" = (value = json!(sent(RemoveSecondFactorError::NotFound))))))))]
async fn remove_second_factor<A: Adapters>(service: Service<A>, admin: Admin<A>, path: web::Path<String>) -> Handled {
    let id = user_id(&path)?;
    service.remove_second_factor(&admin.admin, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
