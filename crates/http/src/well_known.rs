//! `/.well-known/jwks.json`: the public keys that verify our access tokens, so other services need no secret.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};
use serde::Serialize;
use users_app::{Adapters, PublishedKey, UserService};

use crate::routes::Endpoint;

/// How long verifiers may cache the key set. A new signing key must be published (trusted by every instance) at
/// least this long before it starts signing.
pub const JWKS_MAX_AGE_SECS: u32 = 300;

pub(crate) fn endpoints<A: Adapters>() -> Vec<Endpoint> {
    vec![Endpoint::new(__path_jwks, web::to(jwks::<A>))]
}

/// A JSON Web Key Set (RFC 7517).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct KeySet {
    keys: Vec<PublicJwk>,
}

/// An Ed25519 public key as a JWK (RFC 8037).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PublicJwk {
    #[schema(example = "OKP")]
    kty: &'static str,
    #[schema(example = "Ed25519")]
    crv: &'static str,
    #[schema(example = "EdDSA")]
    alg: &'static str,
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    usage: &'static str,
    /// The `kid` in the header of the tokens this key verifies.
    #[schema(example = "20261124-9f2c61d0")]
    kid: String,
    /// The public key, base64url without padding.
    #[schema(example = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")]
    x: String,
}

impl From<PublishedKey> for PublicJwk {
    fn from(key: PublishedKey) -> Self {
        Self { kty: "OKP", crv: "Ed25519", alg: "EdDSA", usage: "sig", kid: key.key_id, x: key.public_key }
    }
}

/// Token verification keys (JWKS)
///
/// The keys that verify access tokens: the one signing now and those still trusted from before a rotation. Empty
/// when the service signs with a shared HS256 secret, which is never published.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "operations", operation_id = "jwks",
    responses((status = 200, description = "The verification keys", body = KeySet)))]
async fn jwks<A: Adapters>(service: web::Data<UserService<A>>) -> HttpResponse {
    let keys = service.published_keys().into_iter().map(PublicJwk::from).collect();
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::Public, CacheDirective::MaxAge(JWKS_MAX_AGE_SECS)]))
        .json(KeySet { keys })
}
