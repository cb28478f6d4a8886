//! `Username`: 1 to 20 ASCII letters, digits, `_`, `.` or `-`.

use serde::{Deserialize, Serialize};

/// A public handle. Restricted to ASCII so that two names that look alike are alike: Unicode letters would let
/// `pаypal` (with a Cyrillic `а`) pass for `paypal`. Unique case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters", max = Username::MAX_CHARS)]
    TooLong,
    #[error("may contain only letters A-Z, digits, '_', '.' and '-'")]
    InvalidCharacter,
}

impl Username {
    pub const MAX_CHARS: usize = 20;

    /// What [`Username::parse`] accepts, as a regular expression (for API descriptions).
    pub const PATTERN: &str = "^[A-Za-z0-9_.-]{1,20}$";

    pub fn parse(raw: impl Into<String>) -> Result<Self, UsernameError> {
        let raw = raw.into();
        if raw.is_empty() {
            return Err(UsernameError::Empty);
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(UsernameError::TooLong);
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        if !raw.chars().all(allowed) {
            return Err(UsernameError::InvalidCharacter);
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

crate::string_value!(Username, UsernameError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_letters_digits_and_the_three_marks() {
        assert_eq!(Username::parse("Ada_L.ove-1").unwrap().as_str(), "Ada_L.ove-1");
        assert!(Username::parse("a").is_ok());
    }

    #[test]
    fn length_limit_is_20_characters() {
        assert!(Username::parse("a".repeat(20)).is_ok());
        assert_eq!(Username::parse("a".repeat(21)), Err(UsernameError::TooLong));
    }

    #[test]
    fn rejects_empty_whitespace_and_other_characters() {
        assert_eq!(Username::parse(""), Err(UsernameError::Empty));
        for bad in [" ", "ada lovelace", " ada", "ada!", "ada@home", "jöhn", "раураl", "ada\n", "名前"] {
            assert_eq!(Username::parse(bad), Err(UsernameError::InvalidCharacter), "{bad:?}");
        }
    }

    #[test]
    fn counts_characters_not_bytes() {
        // 20 multi-byte characters are too long by kind, not by byte count: the error says which rule failed.
        assert_eq!(Username::parse("é".repeat(21)), Err(UsernameError::TooLong));
        assert_eq!(Username::parse("é".repeat(20)), Err(UsernameError::InvalidCharacter));
    }
}
