//! `ClientNetwork`: the network a request comes from, as failed sign-ins are counted by it. One subscriber usually
//! holds a whole IPv4 /24 or IPv6 /64, so an attacker gains nothing by moving within one, and an owner signing in
//! from elsewhere is not held by the attacker's failures.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The longest text kept for a client address that could not be read (a proxy's garbage): enough to tell such
/// clients apart, not enough to grow a store.
pub const MAX_UNREADABLE_LEN: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientNetwork(String);

impl ClientNetwork {
    /// IPv4 by its /24 (also when written IPv4-mapped), IPv6 by its /64.
    pub fn of(address: IpAddr) -> Self {
        match address.to_canonical() {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                Self(format!("{}/24", Ipv4Addr::new(a, b, c, 0)))
            }
            IpAddr::V6(v6) => {
                let [a, b, c, d, ..] = v6.segments();
                Self(format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0)))
            }
        }
    }

    /// A client named by an address nobody could read: each such text is a network of its own, cut to
    /// [`MAX_UNREADABLE_LEN`] characters.
    pub fn unreadable(text: &str) -> Self {
        let text: String = text.trim().chars().take(MAX_UNREADABLE_LEN).collect();
        Self(format!("unreadable:{text}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ClientNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(address: &str) -> String {
        ClientNetwork::of(address.parse().unwrap()).to_string()
    }

    #[test]
    fn ipv4_clients_are_grouped_by_24_and_ipv6_by_64() {
        assert_eq!(network("203.0.113.9"), "203.0.113.0/24");
        assert_eq!(network("203.0.113.200"), "203.0.113.0/24");
        assert_eq!(network("::ffff:203.0.113.9"), "203.0.113.0/24", "IPv4-mapped is IPv4");
        assert_eq!(network("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_ne!(network("2001:db8:1:3::1"), network("2001:db8:1:2::1"));
    }

    #[test]
    fn unreadable_text_is_a_network_of_its_own_and_bounded() {
        assert_eq!(ClientNetwork::unreadable(" junk ").as_str(), "unreadable:junk");
        assert_eq!(ClientNetwork::unreadable(&"x".repeat(1000)).as_str().len(), "unreadable:".len() + 64);
    }
}
