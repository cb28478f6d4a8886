//! What an admin looks users up by: `SearchPrefix`, the start of a name or address, and `AccountStatus`.

use unicode_normalization::UnicodeNormalization as _;

/// The start of an email address, username, first or last name, compared without regard to case: trimmed, 1 to 100
/// characters, no control characters, kept case-folded as `Email::key` folds an address (lowercase, NFC), so that
/// it is compared with the stored keys as they are.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SearchPrefix(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SearchPrefixError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters", max = SearchPrefix::MAX_CHARS)]
    TooLong,
    #[error("must not contain control characters")]
    ControlCharacter,
}

impl SearchPrefix {
    /// Longer than any email address (254) is pointless; 100 is longer than any name or handle.
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: impl Into<String>) -> Result<Self, SearchPrefixError> {
        let raw = raw.into();
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(SearchPrefixError::Empty);
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(SearchPrefixError::TooLong);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(SearchPrefixError::ControlCharacter);
        }
        Ok(Self(trimmed.to_lowercase().nfc().collect()))
    }

    /// The case-folded prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `text` starts with the prefix, case aside.
    pub fn matches(&self, text: &str) -> bool {
        text.to_lowercase().nfc().collect::<String>().starts_with(&self.0)
    }
}

/// Whether an account may be used at a given time, as the admin lists tell them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountStatus {
    /// Not suspended (or a suspension has run out).
    Active,
    /// A suspension is in force.
    Suspended,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_is_trimmed_and_case_folded() {
        assert_eq!(SearchPrefix::parse("  ÉLo ").unwrap().as_str(), "élo");
    }

    #[test]
    fn an_empty_long_or_control_prefix_is_refused() {
        assert_eq!(SearchPrefix::parse("   "), Err(SearchPrefixError::Empty));
        assert_eq!(SearchPrefix::parse("a".repeat(101)), Err(SearchPrefixError::TooLong));
        assert!(SearchPrefix::parse("a".repeat(100)).is_ok());
        assert_eq!(SearchPrefix::parse("a\u{0}b"), Err(SearchPrefixError::ControlCharacter));
    }

    #[test]
    fn matches_the_start_of_a_text_whatever_its_case() {
        let prefix = SearchPrefix::parse("ada").unwrap();
        assert!(prefix.matches("Ada Lovelace"));
        assert!(prefix.matches("ADA"));
        assert!(!prefix.matches("Lovelace Ada"));
        assert!(!prefix.matches("ad"));
    }
}
