//! `Password`: a plaintext password of 8 to 128 characters, never printed.

use serde::Deserialize;

use crate::{Email, Username};

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
    #[error("must not contain your username or the name part of your email")]
    ContainsPersonalInfo,
}

/// The bundled list: one password a line, `#` lines are comments.
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// Names shorter than this are only refused as the whole password: a password may well contain "al" or "jo".
const MIN_NAME_CHARS_TO_CONTAIN: usize = 3;

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

    /// A password as typed to prove who one is (a sign-in, the current password), held to the length bound only:
    /// an account brought over from another system keeps the password it had, which may be shorter or more common
    /// than a new one may be, and must still sign in with it.
    pub fn typed(raw: impl Into<String>) -> Result<Self, PasswordError> {
        let raw = raw.into();
        match raw.chars().count() {
            0 => Err(PasswordError::TooShort),
            chars if chars > Self::MAX_CHARS => Err(PasswordError::TooLong),
            _ => Ok(Self(raw)),
        }
    }

    /// The bundled list of passwords too common to accept (compared in lower case).
    pub fn common() -> impl Iterator<Item = &'static str> {
        COMMON_PASSWORDS.lines().filter(|line| !line.is_empty() && !line.starts_with('#'))
    }

    /// Refuses a password that is, or contains, the account's own names: the email's local part or the username,
    /// whatever their case. A password is checked against the names it will live with, so callers pass the email
    /// and username the account will have.
    pub fn check_not_personal(&self, email: &Email, username: Option<&Username>) -> Result<(), PasswordError> {
        let password = self.0.to_lowercase();
        let names = std::iter::once(email.local_part()).chain(username.map(Username::as_str));
        for name in names.map(str::to_lowercase) {
            let contained = name.chars().count() >= MIN_NAME_CHARS_TO_CONTAIN && password.contains(&name);
            if password == name || contained {
                return Err(PasswordError::ContainsPersonalInfo);
            }
        }
        Ok(())
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
    fn a_typed_password_is_held_to_the_length_bound_only() {
        assert_eq!(Password::typed("hunter2").unwrap().expose(), "hunter2");
        assert!(Password::typed("password").is_ok(), "common, but maybe an imported account's");
        assert_eq!(Password::typed("").err(), Some(PasswordError::TooShort));
        assert_eq!(Password::typed("x".repeat(129)).err(), Some(PasswordError::TooLong));
    }

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
    fn refuses_passwords_made_of_the_accounts_own_names() {
        let email = Email::parse("Ada.Lovelace@example.com").unwrap();
        let username = Username::parse("countess").unwrap();
        let check = |raw: &str| Password::parse(raw).unwrap().check_not_personal(&email, Some(&username));
        assert_eq!(check("ada.lovelace"), Err(PasswordError::ContainsPersonalInfo));
        assert_eq!(check("my ADA.LOVELACE pw"), Err(PasswordError::ContainsPersonalInfo));
        assert_eq!(check("Countess!!"), Err(PasswordError::ContainsPersonalInfo));
        assert_eq!(check("correct horse battery"), Ok(()));
        // A very short name is refused only as the whole password.
        let short = Email::parse("al@example.com").unwrap();
        assert_eq!(Password::parse("walrus moustache").unwrap().check_not_personal(&short, None), Ok(()));
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
