//! `PersonName`: a first or last name, trimmed, 1 to 20 characters.

use serde::{Deserialize, Serialize};

/// A given or family name. Surrounding whitespace is removed; what remains must be 1 to 20 characters with no
/// control characters (a newline in a name is an attack on whoever prints it, not a name) and no invisible format
/// characters (zero-width spaces and direction overrides spoof names and make blank ones look filled).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PersonNameError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters", max = PersonName::MAX_CHARS)]
    TooLong,
    #[error("must not contain control or invisible characters")]
    ControlCharacter,
}

impl PersonName {
    pub const MAX_CHARS: usize = 20;

    /// What [`PersonName::parse`] accepts, as a regular expression (for API descriptions): optional surrounding
    /// whitespace, then 1 to 20 characters without control or invisible ones, starting and ending with neither.
    pub const PATTERN: &str = concat!(
        "^[\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*",
        "[^\\u0000-\\u0020\\u007f-\\u00a0\\u00ad\\u034f\\u061c\\u115f\\u1160\\u1680\\u180e\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u206f\\u3000\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff9-\\ufffb]",
        "(?:[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u034f\\u061c\\u115f\\u1160\\u180e\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u206f\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff9-\\ufffb]{0,18}",
        "[^\\u0000-\\u0020\\u007f-\\u00a0\\u00ad\\u034f\\u061c\\u115f\\u1160\\u1680\\u180e\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u206f\\u3000\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff9-\\ufffb])?",
        "[\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$",
    );

    pub fn parse(raw: impl Into<String>) -> Result<Self, PersonNameError> {
        let raw = raw.into();
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(PersonNameError::Empty);
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(PersonNameError::TooLong);
        }
        if trimmed.chars().any(|c| c.is_control() || is_invisible_format(c)) {
            return Err(PersonNameError::ControlCharacter);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Unicode format characters (category Cf) of the Basic Multilingual Plane, line and paragraph separators, the
/// combining grapheme joiner, variation selectors and the blank Hangul fillers: they render as nothing.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

crate::string_value!(PersonName, PersonNameError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_before_measuring() {
        let name = PersonName::parse(format!("  {}  ", "a".repeat(20))).unwrap();
        assert_eq!(name.as_str(), "a".repeat(20));
        assert_eq!(PersonName::parse("a".repeat(21)), Err(PersonNameError::TooLong));
    }

    #[test]
    fn rejects_empty_and_blank() {
        assert_eq!(PersonName::parse(""), Err(PersonNameError::Empty));
        assert_eq!(PersonName::parse(" \t "), Err(PersonNameError::Empty));
    }

    #[test]
    fn accepts_any_script_and_counts_characters() {
        assert_eq!(PersonName::parse("Zoë").unwrap().as_str(), "Zoë");
        assert!(PersonName::parse("李".repeat(20)).is_ok());
        assert_eq!(PersonName::parse("李".repeat(21)), Err(PersonNameError::TooLong));
        assert!(PersonName::parse("Jean-Luc O'Neil").is_ok());
    }

    #[test]
    fn rejects_invisible_characters_that_spoof_or_blank_a_name() {
        for bad in ["\u{202E}evil", "a\u{200B}b", "\u{200B}", "\u{FEFF}Ada", "Ada\u{2066}"] {
            assert_eq!(PersonName::parse(bad), Err(PersonNameError::ControlCharacter), "{bad:?}");
        }
    }

    #[test]
    fn rejects_control_characters_inside() {
        assert_eq!(PersonName::parse("Ada\nLovelace"), Err(PersonNameError::ControlCharacter));
        assert_eq!(PersonName::parse("Ada\u{0}"), Err(PersonNameError::ControlCharacter));
    }
}
