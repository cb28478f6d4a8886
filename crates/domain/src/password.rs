//! `Password`: a plaintext password of 8 to 128 characters, never printed.

use serde::Deserialize;

/// A plaintext password that meets the length policy. It never appears in `Debug` output, has no `Display` and no
/// `Serialize`, so it cannot end up in a log line or a response by accident.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Password(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("must be at least {min} characters", min = Password::MIN_CHARS)]
    TooShort,
    #[error("must be at most {max} characters", max = Password::MAX_CHARS)]
    TooLong,
    #[error("is one of the most commonly used passwords")]
    TooCommon,
}

/// The bundled list: one password a line, `#` lines are comments.
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    /// Checks the length in Unicode characters, so a passphrase in any script gets the same allowance.
    pub fn parse(raw: impl Into<String>) -> Result<Self, PasswordError> {
        let raw = raw.into();
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(PasswordError::TooShort);
        }
        if chars > Self::MAX_CHARS {
            return Err(PasswordError::TooLong);
        }
        let lowered = raw.to_lowercase();
        if Self::common().any(|common| common == lowered) {
            return Err(PasswordError::TooCommon);
        }
        Ok(Self(raw))
    }

    /// The bundled list of passwords too common to accept (compared in lower case).
    pub fn common() -> impl Iterator<Item = &'static str> {
        COMMON_PASSWORDS.lines().filter(|line| !line.is_empty() && !line.starts_with('#'))
    }

    /// The plaintext, for the password hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Password {
    type Error = PasswordError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_8_to_128_characters() {
        assert_eq!(Password::parse(""), Err(PasswordError::TooShort));
        assert_eq!(Password::parse("a".repeat(7)), Err(PasswordError::TooShort));
        assert!(Password::parse("a".repeat(8)).is_ok());
        assert!(Password::parse("a".repeat(128)).is_ok());
        assert_eq!(Password::parse("a".repeat(129)), Err(PasswordError::TooLong));
    }

    #[test]
    fn counts_unicode_characters_not_bytes() {
        // Eight characters, 24 bytes: long enough. 129 characters of 3 bytes each: too long.
        assert!(Password::parse("密码密码密码密码").is_ok());
        assert_eq!(Password::parse("密码密").unwrap_err(), PasswordError::TooShort);
        assert_eq!(Password::parse("密".repeat(129)), Err(PasswordError::TooLong));
    }

    #[test]
    fn refuses_the_most_common_passwords_whatever_their_case() {
        for common in ["password", "PassWord1", "12345678", "qwertyuiop", "iloveyou"] {
            assert_eq!(Password::parse(common), Err(PasswordError::TooCommon), "{common}");
        }
        assert!(Password::parse("correct horse battery").is_ok());
    }

    #[test]
    fn whitespace_counts_and_is_kept() {
        let password = Password::parse("        ").unwrap();
        assert_eq!(password.expose(), "        ");
    }

    #[test]
    fn never_shows_the_plaintext_in_debug_output() {
        let password = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }
}
