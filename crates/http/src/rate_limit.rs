//! Per-address rate limits on `/auth/*`: a token bucket per client address (an IPv6 client by its /64, the block a
//! single subscriber gets), and the rule for which address a request comes from when it passes through proxies.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpRequest, ResponseError, web};
use futures_util::future::{Ready, ready};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;
use users_domain::ClientNetwork;

use crate::problem::Problem;

/// How often idle buckets are dropped, so that many addresses passing by do not grow memory without bound.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The most of an unreadable `X-Forwarded-For` entry kept as a client's name: enough to tell junk apart, too little
/// for a client to grow memory by sending long entries.
const UNPARSED_MAX_CHARS: usize = 64;

/// Where a request comes from, as far as the service can tell: an address, or, when a trusted proxy forwarded
/// something that is not one (`unknown`, an obfuscated name), that text, so such clients are counted together and
/// never as the proxy itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientAddress {
    Ip(IpAddr),
    /// At most 64 characters of the entry, trimmed.
    Unparsed(Box<str>),
}

impl ClientAddress {
    /// An `X-Forwarded-For` entry: an address, with or without a port (`1.2.3.4:5678`, `[2001:db8::1]:443`) or
    /// brackets (`[2001:db8::1]`), as proxies differ in how they write it; anything else is kept as text.
    fn from_forwarded(entry: &str) -> Self {
        let entry = entry.trim();
        match ip_of_entry(entry) {
            Some(address) => Self::Ip(address.to_canonical()),
            None => {
                let end = entry.char_indices().nth(UNPARSED_MAX_CHARS).map_or(entry.len(), |(index, _)| index);
                Self::Unparsed(entry[..end].into())
            }
        }
    }

    /// The client's network, as failed sign-ins are counted by it (the domain's grouping: IPv4 by /24, IPv6 by /64,
    /// unparsed text as a network of its own).
    pub fn network(&self) -> ClientNetwork {
        match self {
            Self::Ip(address) => ClientNetwork::of(*address),
            Self::Unparsed(text) => ClientNetwork::unreadable(text),
        }
    }

    /// The key of the client's bucket: IPv4 as is (also when written IPv4-mapped), IPv6 by its /64, text as is.
    fn bucket(&self) -> Self {
        match self {
            Self::Ip(address) => Self::Ip(match address.to_canonical() {
                IpAddr::V6(v6) => {
                    let [a, b, c, d, ..] = v6.segments();
                    IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
                }
                v4 => v4,
            }),
            unparsed => unparsed.clone(),
        }
    }
}

/// The address in `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443` or `[2001:db8::1]`.
fn ip_of_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(address) = entry.parse::<IpAddr>() {
        return Some(address);
    }
    if let Ok(socket) = entry.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    entry.strip_prefix('[')?.strip_suffix(']')?.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

impl From<IpAddr> for ClientAddress {
    fn from(address: IpAddr) -> Self {
        Self::Ip(address.to_canonical())
    }
}

/// The peers whose `X-Forwarded-For` is believed: the service's own load balancers and reverse proxies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is neither an IP address nor a CIDR range")]
pub struct InvalidProxy(String);

impl TrustedProxies {
    /// Each entry is an address (`10.1.2.3`) or a range (`10.0.0.0/8`, `fd00::/8`).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, InvalidProxy> {
        let parse = |entry: &str| {
            let entry = entry.trim();
            entry.parse::<IpNet>().or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
        };
        let ranges = entries.iter().map(|entry| parse(entry.as_ref()).map_err(|_| InvalidProxy(entry.as_ref().into())));
        Ok(Self(ranges.collect::<Result<_, _>>()?))
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(&address))
    }

    /// Where a request comes from. A peer that is not a trusted proxy is the client. Behind trusted proxies,
    /// `X-Forwarded-For` is read from the right: each proxy appends the address it received from, so the first
    /// entry not itself a trusted proxy is the client; entries further left were written by the client and could
    /// be anything. An entry that is no address is that client's name: the walk stops there, so it can never leave
    /// the proxy counted as the client.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> ClientAddress {
        // A dual-stack listener reports an IPv4 peer as `::ffff:a.b.c.d`; ranges are written as plain IPv4.
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return ClientAddress::Ip(peer);
        }
        // Not `to_str`: a value with non-ASCII bytes is junk to be named, not a header to skip.
        let forwarded: Vec<String> = headers
            .get_all("x-forwarded-for")
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect();
        // Empty list elements are list syntax, not entries (RFC 9110 §5.6.1).
        let entries = forwarded.iter().flat_map(|value| value.split(',')).filter(|entry| !entry.trim().is_empty());
        let mut client = ClientAddress::Ip(peer);
        for entry in entries.rev() {
            client = ClientAddress::from_forwarded(entry);
            match client {
                ClientAddress::Ip(address) if self.trusts(address) => continue,
                _ => break,
            }
        }
        client
    }
}

/// The client a request comes from, by the same rule as the rate limits: its peer, or what the
/// [`TrustedProxies`] registered as `web::Data` forwarded (none registered: the peer is the client). A request with
/// no peer address (not over TCP) counts as `Unparsed("unknown")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOrigin(pub ClientAddress);

impl ClientOrigin {
    /// For middleware, which has the request but no extractors.
    pub fn of(request: &HttpRequest) -> Self {
        let Some(peer) = request.peer_addr() else { return Self(ClientAddress::Unparsed("unknown".into())) };
        let client = match request.app_data::<web::Data<TrustedProxies>>() {
            Some(proxies) => proxies.client_address(peer.ip(), request.headers()),
            None => ClientAddress::from(peer.ip()),
        };
        Self(client)
    }
}

impl FromRequest for ClientOrigin {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self::of(request)))
    }
}

/// The budget of each address: `burst` requests at once, refilled at `per_minute`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitPolicy {
    pub per_minute: NonZeroU32,
    pub burst: NonZeroU32,
}

/// The buckets of every client, shared by all workers. Which client a request is comes from [`ClientOrigin`].
pub struct AuthRateLimiter {
    buckets: DefaultKeyedRateLimiter<ClientAddress>,
    last_sweep: Mutex<Instant>,
}

impl std::fmt::Debug for AuthRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRateLimiter").finish_non_exhaustive()
    }
}

impl AuthRateLimiter {
    pub fn new(policy: RateLimitPolicy) -> Self {
        let quota = Quota::per_minute(policy.per_minute).allow_burst(policy.burst);
        Self { buckets: DefaultKeyedRateLimiter::dashmap(quota), last_sweep: Mutex::new(Instant::now()) }
    }

    /// Takes one request from `client`'s bucket, or says how long until it holds one again.
    pub fn check(&self, client: &ClientAddress) -> Result<(), Duration> {
        self.sweep_now_and_then();
        self.buckets.check_key(&client.bucket()).map_err(|empty| empty.wait_time_from(DefaultClock::default().now()))
    }

    fn sweep_now_and_then(&self) {
        // `try_lock`: one request sweeps, the others do not wait for it.
        let Ok(mut last_sweep) = self.last_sweep.try_lock() else { return };
        if last_sweep.elapsed() >= SWEEP_EVERY {
            *last_sweep = Instant::now();
            self.buckets.retain_recent();
            self.buckets.shrink_to_fit();
        }
    }
}

/// What a request beyond its address's budget gets: 429, to wait `retry_after_secs`.
pub(crate) fn too_many_from_address(retry_after_secs: i64) -> Problem {
    let detail = "too many requests from this address; try again after the time in Retry-After";
    Problem::too_many_requests(detail, retry_after_secs)
}

/// Middleware: a request to `/auth/*` beyond its address's budget gets 429 with `Retry-After` and goes no further;
/// other requests, and every request when no [`AuthRateLimiter`] is registered as app data, pass untouched. The client
/// is the request's [`ClientOrigin`].
pub async fn limit_auth_requests(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // The path as the router will see it: `/%61uth/login` is routed to `/auth/login`, so it is limited as such.
    if request.match_info().as_str().starts_with("/auth/")
        && let Some(limiter) = request.app_data::<web::Data<AuthRateLimiter>>()
    {
        let ClientOrigin(client) = ClientOrigin::of(request.request());
        if let Err(wait) = limiter.check(&client) {
            metrics::counter!("auth_rate_limited_total").increment(1);
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let problem = too_many_from_address(i64::try_from(seconds).unwrap_or(i64::MAX));
            return Ok(request.into_response(problem.error_response()));
        }
    }
    Ok(next.call(request).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;
    use actix_web::test::{TestRequest, call_service, init_service, read_body};
    use actix_web::{App, HttpResponse};

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn client(text: &str) -> ClientAddress {
        ClientAddress::Ip(ip(text))
    }

    fn unparsed(text: &str) -> ClientAddress {
        ClientAddress::Unparsed(text.into())
    }

    fn forwarded(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for".parse().unwrap(), HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8", "192.0.2.7"]).unwrap();
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(proxies.client_address(ip("198.51.100.1"), &headers), client("198.51.100.1"), "not a proxy of ours");
        assert_eq!(proxies.client_address(ip("10.1.2.3"), &headers), client("203.0.113.9"));
        assert_eq!(proxies.client_address(ip("192.0.2.7"), &headers), client("203.0.113.9"));
        assert_eq!(
            proxies.client_address(ip("10.1.2.3"), &HeaderMap::new()),
            client("10.1.2.3"),
            "no header: the peer"
        );
        assert_eq!(TrustedProxies::default().client_address(ip("10.1.2.3"), &headers), client("10.1.2.3"));
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_entry_whatever_it_wrote_to_the_left() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        // The client forged two entries; our two proxies appended the real address and the first proxy's.
        let headers = forwarded(&["1.1.1.1, 2.2.2.2", "203.0.113.9, 10.0.0.5"]);
        assert_eq!(proxies.client_address(ip("10.0.0.6"), &headers), client("203.0.113.9"));
    }

    #[test]
    fn entries_with_ports_or_brackets_name_their_address() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let cases = [
            ("203.0.113.9:5678", "203.0.113.9"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            (" 203.0.113.9 ", "203.0.113.9"),
            ("[::ffff:203.0.113.9]:80", "203.0.113.9"),
        ];
        for (entry, expected) in cases {
            let headers =
                HeaderMap::from_iter([("x-forwarded-for".parse().unwrap(), HeaderValue::from_str(entry).unwrap())]);
            assert_eq!(proxies.client_address(ip("10.0.0.6"), &headers), client(expected), "{entry}");
        }
        // A proxy's own entry with a port is still that proxy, and is skipped.
        let headers = forwarded(&["203.0.113.9:1234, 10.0.0.5:4321"]);
        assert_eq!(proxies.client_address(ip("10.0.0.6"), &headers), client("203.0.113.9"));
    }

    #[test]
    fn junk_is_the_client_itself_never_the_proxy() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let headers = forwarded(&["not-an-address, 10.0.0.5"]);
        assert_eq!(proxies.client_address(ip("10.0.0.6"), &headers), unparsed("not-an-address"));
        for junk in ["unknown", "_hidden", "[2001:db8::1", "1.2.3.4:99999", "fe80::1%eth0", "2001:db8::1]:443"] {
            let headers =
                HeaderMap::from_iter([("x-forwarded-for".parse().unwrap(), HeaderValue::from_str(junk).unwrap())]);
            assert_eq!(proxies.client_address(ip("10.0.0.6"), &headers), unparsed(junk), "{junk}");
        }
        // Bytes that are not text are junk too, not a header to skip.
        let headers =
            HeaderMap::from_iter([("x-forwarded-for".parse().unwrap(), HeaderValue::from_bytes(b"caf\xe9").unwrap())]);
        assert_eq!(proxies.client_address(ip("10.0.0.6"), &headers), unparsed("caf\u{fffd}"));
    }

    #[test]
    fn an_unparsed_entry_is_trimmed_and_capped_at_64_characters() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let long = format!("  {}  ", "x".repeat(1000));
        let headers =
            HeaderMap::from_iter([("x-forwarded-for".parse().unwrap(), HeaderValue::from_str(&long).unwrap())]);
        assert_eq!(proxies.client_address(ip("10.0.0.6"), &headers), unparsed(&"x".repeat(64)));
    }

    #[test]
    fn empty_list_elements_are_skipped_and_only_empty_ones_leave_the_peer() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        assert_eq!(proxies.client_address(ip("10.0.0.6"), &forwarded(&["203.0.113.9, ,"])), client("203.0.113.9"));
        assert_eq!(proxies.client_address(ip("10.0.0.6"), &forwarded(&[" , "])), client("10.0.0.6"));
    }

    #[test]
    fn behind_several_proxies_each_trusted_hop_is_skipped() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8", "2001:db8:ffff::/48"]).unwrap();
        let headers = forwarded(&["198.51.100.1, 203.0.113.9:1000", "[2001:db8:ffff::2]:8443, 10.0.0.5"]);
        assert_eq!(proxies.client_address(ip("10.0.0.6"), &headers), client("203.0.113.9"));
        // Every entry trusted: the leftmost one is as near the client as can be told.
        let headers = forwarded(&["10.0.0.1, 10.0.0.5"]);
        assert_eq!(proxies.client_address(ip("10.0.0.6"), &headers), client("10.0.0.1"));
    }

    #[test]
    fn an_ipv4_peer_on_a_dual_stack_listener_matches_ipv4_ranges() {
        let proxies = TrustedProxies::parse(&["127.0.0.0/8"]).unwrap();
        let headers = forwarded(&["::ffff:203.0.113.9"]);
        assert_eq!(proxies.client_address(ip("::ffff:127.0.0.1"), &headers), client("203.0.113.9"));
    }

    #[test]
    fn proxies_are_addresses_or_ranges() {
        assert!(TrustedProxies::parse(&["127.0.0.1", "::1", "fd00::/8", " 10.0.0.0/8 "]).is_ok());
        assert_eq!(TrustedProxies::parse(&["10.0.0.0/33"]), Err(InvalidProxy("10.0.0.0/33".into())));
        assert_eq!(TrustedProxies::parse(&["proxy.local"]), Err(InvalidProxy("proxy.local".into())));
    }

    #[test]
    fn the_network_names_a_v4_24_a_v6_64_or_the_text() {
        assert_eq!(client("203.0.113.77").network().as_str(), "203.0.113.0/24");
        assert_eq!(client("::ffff:203.0.113.77").network().as_str(), "203.0.113.0/24");
        assert_eq!(client("2001:db8:1:2:3:4:5:6").network().as_str(), "2001:db8:1:2::/64");
        assert_eq!(unparsed("unknown").network().as_str(), "unreadable:unknown");
    }

    #[test]
    fn a_bucket_allows_its_burst_then_says_how_long_to_wait() {
        let policy = RateLimitPolicy { per_minute: NonZeroU32::new(6).unwrap(), burst: NonZeroU32::new(3).unwrap() };
        let limiter = AuthRateLimiter::new(policy);
        for _ in 0..3 {
            assert_eq!(limiter.check(&client("203.0.113.9")), Ok(()));
        }
        let wait = limiter.check(&client("203.0.113.9")).unwrap_err();
        assert!(wait > Duration::from_secs(9) && wait <= Duration::from_secs(10), "one token per 10 s: {wait:?}");
        assert_eq!(limiter.check(&client("203.0.113.10")), Ok(()), "another address has its own bucket");
    }

    #[test]
    fn an_ipv6_client_is_one_bucket_per_64_and_mapped_ipv4_is_ipv4() {
        let policy = RateLimitPolicy { per_minute: NonZeroU32::new(1).unwrap(), burst: NonZeroU32::new(1).unwrap() };
        let limiter = AuthRateLimiter::new(policy);
        assert_eq!(limiter.check(&client("2001:db8:1:2::1")), Ok(()));
        assert!(limiter.check(&client("2001:db8:1:2:ffff::9")).is_err(), "same /64");
        assert_eq!(limiter.check(&client("2001:db8:1:3::1")), Ok(()), "another /64");
        assert_eq!(limiter.check(&client("198.51.100.1")), Ok(()));
        assert!(limiter.check(&client("::ffff:198.51.100.1")).is_err(), "the same IPv4 client");
    }

    #[test]
    fn unparsed_clients_have_a_bucket_of_their_own_text() {
        let policy = RateLimitPolicy { per_minute: NonZeroU32::new(1).unwrap(), burst: NonZeroU32::new(1).unwrap() };
        let limiter = AuthRateLimiter::new(policy);
        assert_eq!(limiter.check(&unparsed("unknown")), Ok(()));
        assert!(limiter.check(&unparsed("unknown")).is_err());
        assert_eq!(limiter.check(&unparsed("_hidden")), Ok(()));
        assert_eq!(limiter.check(&client("10.0.0.6")), Ok(()), "the proxy is not charged for them");
    }

    async fn origin_seen(app_proxies: Option<TrustedProxies>, request: TestRequest) -> String {
        let mut app = App::new().route(
            "/",
            web::get()
                .to(|ClientOrigin(client): ClientOrigin| async move { HttpResponse::Ok().body(format!("{client:?}")) }),
        );
        if let Some(proxies) = app_proxies {
            app = app.app_data(web::Data::new(proxies));
        }
        let app = init_service(app).await;
        let body = read_body(call_service(&app, request.to_request()).await).await;
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[actix_web::test]
    async fn the_client_origin_follows_the_registered_proxies_or_else_is_the_peer() {
        let from_proxy = || {
            TestRequest::get()
                .peer_addr("10.0.0.6:40000".parse().unwrap())
                .insert_header(("x-forwarded-for", "203.0.113.9:5678"))
        };
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        assert_eq!(origin_seen(Some(proxies.clone()), from_proxy()).await, format!("{:?}", client("203.0.113.9")));
        assert_eq!(origin_seen(None, from_proxy()).await, format!("{:?}", client("10.0.0.6")), "no proxies: the peer");
        let junk =
            TestRequest::get().peer_addr("10.0.0.6:40000".parse().unwrap()).insert_header(("x-forwarded-for", "junk"));
        assert_eq!(origin_seen(Some(proxies), junk).await, format!("{:?}", unparsed("junk")));
    }
}
