//! `Suspension`: an account stopped by an admin without being deleted, for a while or until lifted, with the reason
//! the admin gave.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why an account was suspended, as an admin wrote it: trimmed, 1 to 500 characters, no control characters but
/// line breaks and tabs (a reason is read by admins, who may write a paragraph).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SuspensionReason(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SuspensionReasonError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters", max = SuspensionReason::MAX_CHARS)]
    TooLong,
    #[error("must not contain control characters other than line breaks and tabs")]
    ControlCharacter,
}

impl SuspensionReason {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: impl Into<String>) -> Result<Self, SuspensionReasonError> {
        let raw = raw.into();
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(SuspensionReasonError::Empty);
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(SuspensionReasonError::TooLong);
        }
        if trimmed.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return Err(SuspensionReasonError::ControlCharacter);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

crate::string_value!(SuspensionReason, SuspensionReasonError);

/// An account's suspension: since when, until when (`None`: until an admin lifts it), and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    pub since: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub reason: Option<SuspensionReason>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SuspensionError {
    /// A suspension that would already be over: most likely a mistyped date, never what the admin meant.
    #[error("must be in the future")]
    EndsInThePast,
}

impl Suspension {
    /// A suspension starting at `now`; an end that is not after `now` is refused.
    pub fn starting(
        now: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        reason: Option<SuspensionReason>,
    ) -> Result<Self, SuspensionError> {
        match until {
            Some(end) if end <= now => Err(SuspensionError::EndsInThePast),
            _ => Ok(Self { since: now, until, reason }),
        }
    }

    /// Whether the account is still suspended at `now`: a suspension with an end lifts by itself then.
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        self.until.is_none_or(|end| end > now)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::days(20_000)
    }

    #[test]
    fn a_suspension_without_an_end_stays_in_force() {
        let suspension = Suspension::starting(now(), None, None).unwrap();
        assert!(suspension.in_force(now() + Duration::days(3650)));
    }

    #[test]
    fn a_suspension_with_an_end_lifts_by_itself_then() {
        let end = now() + Duration::hours(1);
        let suspension = Suspension::starting(now(), Some(end), None).unwrap();
        assert!(suspension.in_force(end - Duration::microseconds(1)));
        assert!(!suspension.in_force(end));
    }

    #[test]
    fn an_end_that_is_not_in_the_future_is_refused() {
        assert_eq!(Suspension::starting(now(), Some(now()), None), Err(SuspensionError::EndsInThePast));
        assert_eq!(
            Suspension::starting(now(), Some(now() - Duration::seconds(1)), None),
            Err(SuspensionError::EndsInThePast)
        );
    }

    #[test]
    fn a_reason_is_trimmed_and_bounded() {
        assert_eq!(SuspensionReason::parse("  spam  ").unwrap().as_str(), "spam");
        assert_eq!(SuspensionReason::parse("line one\nline two").unwrap().as_str(), "line one\nline two");
        assert_eq!(SuspensionReason::parse("   "), Err(SuspensionReasonError::Empty));
        assert_eq!(SuspensionReason::parse("x".repeat(501)), Err(SuspensionReasonError::TooLong));
        assert!(SuspensionReason::parse("x".repeat(500)).is_ok());
        assert_eq!(SuspensionReason::parse("bell\u{7}"), Err(SuspensionReasonError::ControlCharacter));
    }
}
