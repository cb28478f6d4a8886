//! `ClientDetails`: what a request tells of the device behind it (its address and user agent), kept with a session
//! so its owner can recognise it.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// A `User-Agent` as a client sent it, cut to 512 characters with control characters dropped: it is shown to
/// people and stored, never trusted.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct UserAgent(String);

impl UserAgent {
    pub const MAX_CHARS: usize = 512;

    /// `None` for a header that holds nothing readable.
    pub fn from_header(raw: &str) -> Option<Self> {
        let kept: String = raw.chars().filter(|c| !c.is_control()).take(Self::MAX_CHARS).collect();
        let trimmed = kept.trim();
        (!trimmed.is_empty()).then(|| Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for UserAgent {
    /// What a store holds was cleaned on the way in; cleaning again is harmless.
    fn from(raw: String) -> Self {
        Self::from_header(&raw).unwrap_or_else(|| Self(String::new()))
    }
}

impl From<UserAgent> for String {
    fn from(agent: UserAgent) -> Self {
        agent.0
    }
}

impl std::fmt::Display for UserAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The device a request came from, as far as it can be told: its address (none when a proxy forwarded something
/// unreadable, or the request came over no network) and its user agent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientDetails {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<UserAgent>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_agent_is_cut_and_cleaned() {
        assert_eq!(UserAgent::from_header(" curl/8.5\r\n ").unwrap().as_str(), "curl/8.5");
        assert_eq!(UserAgent::from_header(&"a".repeat(600)).unwrap().as_str().len(), UserAgent::MAX_CHARS);
        assert_eq!(UserAgent::from_header("  \t"), None);
    }
}
