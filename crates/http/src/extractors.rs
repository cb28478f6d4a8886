//! Request extractors: `Authenticated` (any signed-in user) and `Admin` (a signed-in admin), from the bearer token;
//! `Client`, the network and device a request comes from.

use std::convert::Infallible;
use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::{LocalBoxFuture, Ready, ready};
use users_app::{Adapters, Administrator, CurrentUser, UserService};
use users_domain::{ClientDetails, ClientNetwork, UserAgent};

use crate::errors::missing_token;
use crate::problem::Problem;
use crate::rate_limit::{ClientAddress, ClientOrigin};

/// Where a request comes from: its network, as failed sign-ins are counted by it, and its device (address and user
/// agent), as a session remembers it. The address is read by the same rule as the rate limits (trusted proxies).
#[derive(Debug, Clone)]
pub struct Client {
    pub network: ClientNetwork,
    pub details: ClientDetails,
}

impl Client {
    pub fn of(request: &HttpRequest) -> Self {
        let ClientOrigin(address) = ClientOrigin::of(request);
        let user_agent = request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|value| UserAgent::from_header(&String::from_utf8_lossy(value.as_bytes())));
        let ip = match &address {
            ClientAddress::Ip(ip) => Some(*ip),
            ClientAddress::Unparsed(_) => None,
        };
        Self { network: address.network(), details: ClientDetails { ip, user_agent } }
    }
}

impl FromRequest for Client {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self::of(request)))
    }
}

/// The signed-in user making the request; 401 without a valid, live access token.
#[derive(Debug)]
pub struct Authenticated<A> {
    pub current: CurrentUser,
    adapters: PhantomData<fn() -> A>,
}

/// A signed-in admin; 401 as for [`Authenticated`], 403 for anyone without the admin role.
#[derive(Debug)]
pub struct Admin<A> {
    pub admin: Administrator,
    adapters: PhantomData<fn() -> A>,
}

fn bearer_token(request: &HttpRequest) -> Result<String, Problem> {
    let value = request.headers().get(header::AUTHORIZATION).ok_or_else(missing_token)?;
    let value = value.to_str().map_err(|_| missing_token())?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(token.trim().to_owned())
        }
        _ => Err(missing_token()),
    }
}

fn service<A: Adapters>(request: &HttpRequest) -> web::Data<UserService<A>> {
    request
        .app_data::<web::Data<UserService<A>>>()
        .cloned()
        .expect("the UserService is registered as app data by users_http::configure")
}

async fn authenticate<A: Adapters>(request: HttpRequest) -> Result<CurrentUser, Problem> {
    let token = bearer_token(&request)?;
    Ok(service::<A>(&request).authenticate(&token, &Client::of(&request).details).await?)
}

impl<A: Adapters> FromRequest for Authenticated<A> {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let current = authenticate::<A>(request).await?;
            Ok(Self { current, adapters: PhantomData })
        })
    }
}

impl<A: Adapters> FromRequest for Admin<A> {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let admin = authenticate::<A>(request).await?.into_admin()?;
            Ok(Self { admin, adapters: PhantomData })
        })
    }
}
