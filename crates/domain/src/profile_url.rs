//! `ProfileUrl`: an absolute http(s) URL of at most 100 characters (website and social links).

use serde::{Deserialize, Serialize};
use url::Url;

/// A link shown on a profile. Only `http` and `https` with a host are allowed, so a profile can never carry a
/// `javascript:` or `data:` link into a page that renders it. The text is kept as given.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProfileUrl(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProfileUrlError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters", max = ProfileUrl::MAX_CHARS)]
    TooLong,
    #[error("must be an absolute URL")]
    Invalid,
    #[error("must use http or https")]
    UnsupportedScheme,
}

impl ProfileUrl {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: impl Into<String>) -> Result<Self, ProfileUrlError> {
        let raw = raw.into();
        if raw.is_empty() {
            return Err(ProfileUrlError::Empty);
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(ProfileUrlError::TooLong);
        }
        // The URL parser forgives surrounding or embedded whitespace; a stored link must be exactly what it says.
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ProfileUrlError::Invalid);
        }
        let url = Url::parse(&raw).map_err(|_| ProfileUrlError::Invalid)?;
        // WHATWG parsing repairs `http:example.com` and `http:///path`; a link must spell out `scheme://host`.
        let spelled_with_authority = raw.split_once("://").is_some_and(|(_, rest)| !rest.starts_with(['/', '\\']));
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ProfileUrlError::UnsupportedScheme);
        }
        if !spelled_with_authority || url.host_str().is_none_or(str::is_empty) {
            return Err(ProfileUrlError::Invalid);
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

crate::string_value!(ProfileUrl, ProfileUrlError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https_and_keeps_the_text() {
        assert_eq!(ProfileUrl::parse("https://example.com").unwrap().as_str(), "https://example.com");
        assert!(ProfileUrl::parse("http://example.com/ada?tab=1#top").is_ok());
        assert!(ProfileUrl::parse("https://bücher.example/").is_ok());
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
        ] {
            assert_eq!(ProfileUrl::parse(bad), Err(ProfileUrlError::Invalid), "{bad:?}");
        }
    }
}
