//! The Profile API (seed 000): `/auth/*` sign-up, sign-in and tokens, `/users/current`, and admin `/users/*`.

mod dto;

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpResponse, web};
use users_app::{Adapters, UserService};
use users_domain::ObjectId;
use users_ports::PageRequest;

use crate::body::JsonObject;
use crate::extractors::{Admin, Authenticated};
use crate::no_store_json;
use crate::problem::{FieldError, Problem};
use crate::routes::Endpoint;
use dto::{
    ListQuery, LoginInput, LoginRequest, ProfileResponse, RefreshTokenRequest, RegisterRequest, SignedInResponse,
    UpdateProfileRequest, UserListResponse,
};

type Service<A> = web::Data<UserService<A>>;
type Handled = Result<HttpResponse, Problem>;

pub(crate) fn endpoints<A: Adapters>() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::POST, "/auth/register", web::to(register::<A>)),
        Endpoint::new(Method::POST, "/auth/login", web::to(login::<A>)),
        Endpoint::new(Method::POST, "/auth/refresh", web::to(refresh::<A>)),
        Endpoint::new(Method::POST, "/auth/logout", web::to(logout::<A>)),
        Endpoint::new(Method::GET, "/users/current", web::to(current_user::<A>)),
        Endpoint::new(Method::PUT, "/users/current", web::to(update_current_user::<A>)),
        Endpoint::new(Method::DELETE, "/users/current", web::to(delete_current_user::<A>)),
        Endpoint::new(Method::GET, "/users/", web::to(list_users::<A>)),
        Endpoint::new(Method::GET, "/users", web::to(list_users::<A>)),
        Endpoint::new(Method::GET, "/users/{user_id}", web::to(get_user::<A>)),
        Endpoint::new(Method::DELETE, "/users/{user_id}", web::to(delete_user::<A>)),
    ]
}

async fn register<A: Adapters>(service: Service<A>, body: JsonObject<RegisterRequest>) -> Handled {
    let registration = body.0.parse()?;
    let signed_in = service.register(registration).await?;
    Ok(no_store_json(StatusCode::CREATED, SignedInResponse::from(signed_in)))
}

async fn login<A: Adapters>(service: Service<A>, body: JsonObject<LoginRequest>) -> Handled {
    let (identifier, password) = match body.0.parse()? {
        LoginInput::Credentials(identifier, password) => (identifier, password),
        LoginInput::Impossible => {
            metrics::counter!("logins_total", "outcome" => "invalid_credentials").increment(1);
            return Err(users_app::LoginError::InvalidCredentials.into());
        }
    };
    let outcome = service.login(identifier, password).await;
    let label = match &outcome {
        Ok(_) => "success",
        Err(users_app::LoginError::InvalidCredentials) => "invalid_credentials",
        Err(users_app::LoginError::Unexpected(_)) => "error",
    };
    metrics::counter!("logins_total", "outcome" => label).increment(1);
    Ok(no_store_json(StatusCode::OK, SignedInResponse::from(outcome?)))
}

async fn refresh<A: Adapters>(service: Service<A>, body: JsonObject<RefreshTokenRequest>) -> Handled {
    let refresh_token = body.0.parse()?;
    let tokens = service.refresh(&refresh_token).await?;
    Ok(no_store_json(StatusCode::OK, dto::TokenPairResponse::from(tokens)))
}

async fn logout<A: Adapters>(service: Service<A>, body: JsonObject<RefreshTokenRequest>) -> Handled {
    let refresh_token = body.0.parse()?;
    service.logout(&refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn current_user<A: Adapters>(auth: Authenticated<A>) -> Handled {
    Ok(no_store_json(StatusCode::OK, ProfileResponse::from(auth.current.user)))
}

async fn update_current_user<A: Adapters>(
    service: Service<A>,
    auth: Authenticated<A>,
    body: JsonObject<UpdateProfileRequest>,
) -> Handled {
    let changes = body.0.parse()?;
    let user = service.update_profile(&auth.current, changes).await?;
    Ok(no_store_json(StatusCode::OK, ProfileResponse::from(user)))
}

async fn delete_current_user<A: Adapters>(service: Service<A>, auth: Authenticated<A>) -> Handled {
    service.delete_account(&auth.current).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn list_users<A: Adapters>(service: Service<A>, admin: Admin<A>, query: web::Query<ListQuery>) -> Handled {
    let (offset, limit) = query.into_inner().parse()?;
    let page = service.list_users(&admin.admin, PageRequest { offset, limit }).await?;
    let data = page.items.into_iter().map(ProfileResponse::from).collect();
    Ok(no_store_json(StatusCode::OK, UserListResponse { data, total: page.total, limit, offset }))
}

fn object_id(raw: &str) -> Result<ObjectId, Problem> {
    ObjectId::parse(raw).map_err(|error| {
        Problem::invalid_parameters(vec![FieldError { field: "userId".to_owned(), message: error.to_string() }])
    })
}

async fn get_user<A: Adapters>(service: Service<A>, admin: Admin<A>, path: web::Path<String>) -> Handled {
    let id = object_id(&path)?;
    let user = service.get_user(&admin.admin, id).await?;
    Ok(no_store_json(StatusCode::OK, ProfileResponse::from(user)))
}

async fn delete_user<A: Adapters>(service: Service<A>, admin: Admin<A>, path: web::Path<String>) -> Handled {
    let id = object_id(&path)?;
    service.delete_user(&admin.admin, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
