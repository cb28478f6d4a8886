//! Per-address rate limits on `/auth/*`: a token bucket per client address (an IPv6 client by its /64, the block a
//! single subscriber gets), and the rule for which address a request comes from when it passes through proxies.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;

use crate::problem::Problem;

/// How often idle buckets are dropped, so that many addresses passing by do not grow memory without bound.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

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

    /// The address a request comes from. A peer that is not a trusted proxy is the client. Behind trusted proxies,
    /// `X-Forwarded-For` is read from the right: each proxy appends the address it received from, so the first
    /// entry not itself a trusted proxy is the client; entries further left were written by the client and could
    /// be anything.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        // A dual-stack listener reports an IPv4 peer as `::ffff:a.b.c.d`; ranges are written as plain IPv4.
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded = headers.get_all("x-forwarded-for").filter_map(|value| value.to_str().ok());
        let entries: Vec<&str> = forwarded.flat_map(|value| value.split(',')).collect();
        let mut client = peer;
        for entry in entries.into_iter().rev() {
            let Ok(address) = entry.trim().parse::<IpAddr>() else { break };
            client = address.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// The budget of each address: `burst` requests at once, refilled at `per_minute`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitPolicy {
    pub per_minute: NonZeroU32,
    pub burst: NonZeroU32,
}

/// The buckets of every client address, shared by all workers.
pub struct AuthRateLimiter {
    buckets: DefaultKeyedRateLimiter<IpAddr>,
    proxies: TrustedProxies,
    last_sweep: Mutex<Instant>,
}

impl std::fmt::Debug for AuthRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRateLimiter").field("proxies", &self.proxies).finish_non_exhaustive()
    }
}

impl AuthRateLimiter {
    pub fn new(policy: RateLimitPolicy, proxies: TrustedProxies) -> Self {
        let quota = Quota::per_minute(policy.per_minute).allow_burst(policy.burst);
        Self { buckets: DefaultKeyedRateLimiter::dashmap(quota), proxies, last_sweep: Mutex::new(Instant::now()) }
    }

    /// Takes one request from `address`'s bucket, or says how long until it holds one again.
    pub fn check(&self, address: IpAddr) -> Result<(), Duration> {
        self.sweep_now_and_then();
        self.buckets.check_key(&bucket_of(address)).map_err(|empty| empty.wait_time_from(DefaultClock::default().now()))
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

/// The key of an address's bucket: IPv4 as is (also when written IPv4-mapped), IPv6 by its /64.
fn bucket_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// Middleware: a request to `/auth/*` beyond its address's budget gets 429 with `Retry-After` and goes no further;
/// other requests, and every request when no [`AuthRateLimiter`] is registered as app data, pass untouched.
pub async fn limit_auth_requests(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // The path as the router will see it: `/%61uth/login` is routed to `/auth/login`, so it is limited as such.
    if request.match_info().as_str().starts_with("/auth/")
        && let Some(limiter) = request.app_data::<web::Data<AuthRateLimiter>>()
        && let Some(peer) = request.peer_addr()
    {
        let address = limiter.proxies.client_address(peer.ip(), request.headers());
        if let Err(wait) = limiter.check(address) {
            metrics::counter!("auth_rate_limited_total").increment(1);
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let detail = "too many requests from this address; try again after the time in Retry-After";
            let problem = Problem::too_many_requests(detail, i64::try_from(seconds).unwrap_or(i64::MAX));
            return Ok(request.into_response(problem.error_response()));
        }
    }
    Ok(next.call(request).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
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
        assert_eq!(proxies.client_address(ip("198.51.100.1"), &headers), ip("198.51.100.1"), "not a proxy of ours");
        assert_eq!(proxies.client_address(ip("10.1.2.3"), &headers), ip("203.0.113.9"));
        assert_eq!(proxies.client_address(ip("192.0.2.7"), &headers), ip("203.0.113.9"));
        assert_eq!(proxies.client_address(ip("10.1.2.3"), &HeaderMap::new()), ip("10.1.2.3"), "no header: the peer");
        assert_eq!(TrustedProxies::default().client_address(ip("10.1.2.3"), &headers), ip("10.1.2.3"));
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_entry_whatever_it_wrote_to_the_left() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        // The client forged two entries; our two proxies appended the real address and the first proxy's.
        let headers = forwarded(&["1.1.1.1, 2.2.2.2", "203.0.113.9, 10.0.0.5"]);
        assert_eq!(proxies.client_address(ip("10.0.0.6"), &headers), ip("203.0.113.9"));
        // Garbage stops the walk at the last address that could be read.
        let headers = forwarded(&["not-an-address, 10.0.0.5"]);
        assert_eq!(proxies.client_address(ip("10.0.0.6"), &headers), ip("10.0.0.5"));
    }

    #[test]
    fn an_ipv4_peer_on_a_dual_stack_listener_matches_ipv4_ranges() {
        let proxies = TrustedProxies::parse(&["127.0.0.0/8"]).unwrap();
        let headers = forwarded(&["::ffff:203.0.113.9"]);
        assert_eq!(proxies.client_address(ip("::ffff:127.0.0.1"), &headers), ip("203.0.113.9"));
    }

    #[test]
    fn proxies_are_addresses_or_ranges() {
        assert!(TrustedProxies::parse(&["127.0.0.1", "::1", "fd00::/8", " 10.0.0.0/8 "]).is_ok());
        assert_eq!(TrustedProxies::parse(&["10.0.0.0/33"]), Err(InvalidProxy("10.0.0.0/33".into())));
        assert_eq!(TrustedProxies::parse(&["proxy.local"]), Err(InvalidProxy("proxy.local".into())));
    }

    #[test]
    fn a_bucket_allows_its_burst_then_says_how_long_to_wait() {
        let policy = RateLimitPolicy { per_minute: NonZeroU32::new(6).unwrap(), burst: NonZeroU32::new(3).unwrap() };
        let limiter = AuthRateLimiter::new(policy, TrustedProxies::default());
        for _ in 0..3 {
            assert_eq!(limiter.check(ip("203.0.113.9")), Ok(()));
        }
        let wait = limiter.check(ip("203.0.113.9")).unwrap_err();
        assert!(wait > Duration::from_secs(9) && wait <= Duration::from_secs(10), "one token per 10 s: {wait:?}");
        assert_eq!(limiter.check(ip("203.0.113.10")), Ok(()), "another address has its own bucket");
    }

    #[test]
    fn an_ipv6_client_is_one_bucket_per_64_and_mapped_ipv4_is_ipv4() {
        let policy = RateLimitPolicy { per_minute: NonZeroU32::new(1).unwrap(), burst: NonZeroU32::new(1).unwrap() };
        let limiter = AuthRateLimiter::new(policy, TrustedProxies::default());
        assert_eq!(limiter.check(ip("2001:db8:1:2::1")), Ok(()));
        assert!(limiter.check(ip("2001:db8:1:2:ffff::9")).is_err(), "same /64");
        assert_eq!(limiter.check(ip("2001:db8:1:3::1")), Ok(()), "another /64");
        assert_eq!(limiter.check(ip("198.51.100.1")), Ok(()));
        assert!(limiter.check(ip("::ffff:198.51.100.1")).is_err(), "the same IPv4 client");
    }
}
