//! `ProfileUrl`: an absolute http(s) link to a named host, of at most 100 characters (website and social links).

use serde::{Deserialize, Serialize};

/// A link shown on a profile: `http://` or `https://`, a DNS host name, an optional port, and an optional path,
/// query or fragment without whitespace or control characters. Only that grammar is accepted, so a profile can
/// never carry a `javascript:` link, an IP address, or a `https://facebook.com@evil.example` look-alike. The text is
/// kept as given.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProfileUrl(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProfileUrlError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters", max = ProfileUrl::MAX_CHARS)]
    TooLong,
    #[error("must be an http(s) URL with a host name, like https://example.com/page")]
    Invalid,
    #[error("must use http or https")]
    UnsupportedScheme,
}

impl ProfileUrl {
    pub const MAX_CHARS: usize = 100;

    /// The grammar [`ProfileUrl::parse`] accepts, as a regular expression (for API descriptions).
    pub const PATTERN: &str = concat!(
        "^[hH][tT][tT][pP][sS]?://",
        "([A-Za-z0-9][A-Za-z0-9-]*\\.)*[A-Za-z][A-Za-z0-9-]*",
        "(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?",
        "([/?#][^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*)?$",
    );

    pub fn parse(raw: impl Into<String>) -> Result<Self, ProfileUrlError> {
        let raw = raw.into();
        if raw.is_empty() {
            return Err(ProfileUrlError::Empty);
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(ProfileUrlError::TooLong);
        }
        let (scheme, rest) = raw.split_once(':').ok_or(ProfileUrlError::Invalid)?;
        let is_scheme = |s: &str| {
            s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        };
        if !is_scheme(scheme) {
            return Err(ProfileUrlError::Invalid);
        }
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(ProfileUrlError::UnsupportedScheme);
        }
        let rest = rest.strip_prefix("//").ok_or(ProfileUrlError::Invalid)?;
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let valid = is_host_name(host)
            && port.is_none_or(|port| {
                (1..=5).contains(&port.len())
                    && port.bytes().all(|byte| byte.is_ascii_digit())
                    && port.parse::<u32>().is_ok_and(|port| port <= 65_535)
            })
            && !tail.chars().any(|c| c.is_whitespace() || c.is_control() || c == '\u{00A0}');
        if valid { Ok(Self(raw)) } else { Err(ProfileUrlError::Invalid) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Dot-separated labels of ASCII letters, digits and `-`, each starting with a letter or digit; the last starts with
/// a letter, so a host is never read as an IP address.
fn is_host_name(host: &str) -> bool {
    let label_ok = |label: &str, first: fn(&u8) -> bool| {
        let bytes = label.as_bytes();
        bytes.first().is_some_and(first) && bytes.iter().all(|byte| byte.is_ascii_alphanumeric() || *byte == b'-')
    };
    let mut labels = host.rsplit('.');
    let last_ok = labels.next().is_some_and(|last| label_ok(last, u8::is_ascii_alphabetic));
    last_ok && labels.all(|label| label_ok(label, u8::is_ascii_alphanumeric))
}

crate::string_value!(ProfileUrl, ProfileUrlError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https_and_keeps_the_text() {
        assert_eq!(ProfileUrl::parse("https://example.com").unwrap().as_str(), "https://example.com");
        assert!(ProfileUrl::parse("http://example.com/ada?tab=1#top").is_ok());
        assert!(ProfileUrl::parse("HTTPS://9gag.com:8443").is_ok());
        assert!(ProfileUrl::parse("https://x.com#top").is_ok());
    }

    #[test]
    fn length_limit_is_100_characters() {
        let prefix = "https://example.com/"; // 20 characters
        assert!(ProfileUrl::parse(format!("{prefix}{}", "a".repeat(80))).is_ok());
        assert_eq!(ProfileUrl::parse(format!("{prefix}{}", "a".repeat(81))), Err(ProfileUrlError::TooLong));
    }

    #[test]
    fn rejects_other_schemes() {
        for bad in ["ftp://example.com", "javascript:alert(1)", "data:text/html,hi", "mailto:a@example.com"] {
            assert_eq!(ProfileUrl::parse(bad), Err(ProfileUrlError::UnsupportedScheme), "{bad:?}");
        }
    }

    #[test]
    fn rejects_relative_empty_and_padded_urls() {
        assert_eq!(ProfileUrl::parse(""), Err(ProfileUrlError::Empty));
        for bad in [
            "example.com",
            "/ada",
            "https://",
            "http:///path",
            "http:example.com",
            " https://example.com",
            "https://exa mple.com",
            "https://example.com/a b",
            "https://example.com/\u{a0}",
            "https://bücher.example/",
            "https://127.0.0.1/",
            "https://example.com:99999/",
            "https://facebook.com@evil.example/",
            "https://example.com./",
            "https://-example.com/",
        ] {
            assert_eq!(ProfileUrl::parse(bad), Err(ProfileUrlError::Invalid), "{bad:?}");
        }
    }
}
