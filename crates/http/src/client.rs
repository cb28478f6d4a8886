//! `ClientNetworkOf`: the network a request comes from (its client address behind the trusted proxies, grouped as
//! `ClientNetwork` groups it), for the use cases that count failed sign-ins by network.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use users_domain::ClientNetwork;

use crate::problem::Problem;
use crate::rate_limit::TrustedProxies;

#[derive(Debug)]
pub struct ClientNetworkOf(pub ClientNetwork);

impl FromRequest for ClientNetworkOf {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(peer) = request.peer_addr() else {
            // Only a test harness calls without a peer: it is a network of its own.
            return ready(Ok(Self(ClientNetwork::unreadable("no peer address"))));
        };
        let proxies = request.app_data::<web::Data<TrustedProxies>>().map(|proxies| proxies.get_ref());
        let address = proxies.map_or(peer.ip(), |proxies| proxies.client_address(peer.ip(), request.headers()));
        ready(Ok(Self(ClientNetwork::of(address))))
    }
}
