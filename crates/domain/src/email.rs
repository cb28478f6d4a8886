//! `Email`: a syntactically valid address of at most 50 characters.

use email_address::{EmailAddress, Options};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization as _;

/// An email address as the user typed it, checked against RFC 5321/5322 syntax and the service's length limit.
///
/// Uniqueness is case-insensitive (the store compares [`EmailKey`]s) but the address keeps the case it was given,
/// so the user sees what they typed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters", max = Email::MAX_CHARS)]
    TooLong,
    #[error("must be a valid email address")]
    Invalid,
}

impl Email {
    pub const MAX_CHARS: usize = 50;

    pub fn parse(raw: impl Into<String>) -> Result<Self, EmailError> {
        let raw = raw.into();
        if raw.is_empty() {
            return Err(EmailError::Empty);
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(EmailError::TooLong);
        }
        // A bare address only: no "Name <addr>" display form, no IP-literal domains, and a domain with a dot.
        let options = Options { minimum_sub_domains: 2, allow_domain_literal: false, allow_display_text: false };
        if raw.chars().any(char::is_whitespace) || EmailAddress::parse_with_options(&raw, options).is_err() {
            return Err(EmailError::Invalid);
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or(self.0.as_str(), |(local, _)| local)
    }

    /// What two addresses share when they are "the same email" for uniqueness and sign-in.
    pub fn key(&self) -> EmailKey {
        EmailKey(self.0.to_lowercase().nfc().collect())
    }
}

/// An address lower-cased by Unicode's full rules, then in its canonical composed form (NFC), the same in every store:
/// `Ülrich@example.com` and `ülrich@example.com` are one account, and so are two addresses whose characters are
/// canonically equivalent (a CJK compatibility ideograph and the ideograph it stands for). Computed here rather than
/// by SQL `lower()`, which SQLite applies to ASCII letters only.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmailKey(String);

impl EmailKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

crate::string_value!(Email, EmailError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses_and_keeps_their_case() {
        let email = Email::parse("Ada.Lovelace+test@Example.org").unwrap();
        assert_eq!(email.as_str(), "Ada.Lovelace+test@Example.org");
        assert_eq!(email.local_part(), "Ada.Lovelace+test");
    }

    #[test]
    fn the_key_lower_cases_every_letter_not_only_ascii() {
        let key = Email::parse("ÜLRICH.ÇELIK@Example.ORG").unwrap().key();

        assert_eq!(key.as_str(), "ülrich.çelik@example.org");
        assert_eq!(Email::parse("ülrich.çelik@example.org").unwrap().key(), key);
        assert_ne!(Email::parse("ulrich.celik@example.org").unwrap().key(), key, "letters keep their marks");
    }

    #[test]
    fn the_key_is_the_same_for_canonically_equivalent_characters() {
        // A CJK compatibility ideograph and the unified one it stands for look the same, and are the same in NFC.
        let compatibility = Email::parse("\u{f900}\u{f900}@example.org").unwrap();
        let unified = Email::parse("\u{8c48}\u{8c48}@example.org").unwrap();

        assert_ne!(compatibility.as_str(), unified.as_str(), "each keeps what was typed");
        assert_eq!(compatibility.key(), unified.key());
    }

    #[test]
    fn length_limit_is_50_characters() {
        let domain = "@example.com"; // 12 characters
        let at_limit = format!("{}{domain}", "a".repeat(38));
        let over_limit = format!("{}{domain}", "a".repeat(39));
        assert_eq!(at_limit.chars().count(), 50);
        assert!(Email::parse(at_limit).is_ok());
        assert_eq!(Email::parse(over_limit), Err(EmailError::TooLong));
    }

    #[test]
    fn rejects_empty_and_malformed_addresses() {
        assert_eq!(Email::parse(""), Err(EmailError::Empty));
        for bad in [
            "plainaddress",
            "@example.com",
            "user@",
            "user@@example.com",
            "user@localhost",
            " user@example.com",
            "user@example.com ",
            "user name@example.com",
            "Ada <ada@example.com>",
            "user@[127.0.0.1]",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn deserialises_only_through_the_constructor() {
        let ok: Email = serde_json::from_str("\"a@example.com\"").unwrap();
        assert_eq!(ok.as_str(), "a@example.com");
        assert!(serde_json::from_str::<Email>("\"not-an-email\"").is_err());
    }
}
