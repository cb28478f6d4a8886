//! `Fields`: turns the raw fields of a request into domain values, collecting every field's error at once.

use std::fmt::Display;

use crate::problem::{FieldError, Problem};

/// Parses field after field and remembers what failed, so a client learns of all its mistakes in one 422.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    errors: Vec<FieldError>,
}

impl Fields {
    pub(crate) fn fail(&mut self, field: &str, message: impl Display) {
        self.errors.push(FieldError { field: field.to_owned(), message: message.to_string() });
    }

    /// A field that must be present (`null` counts as absent).
    pub(crate) fn required<T, E: Display>(
        &mut self,
        field: &str,
        raw: Option<String>,
        parse: impl FnOnce(String) -> Result<T, E>,
    ) -> Option<T> {
        match raw {
            Some(raw) => self.parsed(field, parse(raw)),
            None => {
                self.fail(field, "is required");
                None
            }
        }
    }

    /// A field that may be absent or `null`.
    pub(crate) fn optional<T, E: Display>(
        &mut self,
        field: &str,
        raw: Option<String>,
        parse: impl FnOnce(String) -> Result<T, E>,
    ) -> Option<T> {
        raw.and_then(|raw| self.parsed(field, parse(raw)))
    }

    /// A field of a partial update: absent keeps, `null` clears, a value sets.
    pub(crate) fn patch<T, E: Display>(
        &mut self,
        field: &str,
        raw: Option<Option<String>>,
        parse: impl FnOnce(String) -> Result<T, E>,
    ) -> Option<Option<T>> {
        match raw {
            None => None,
            Some(None) => Some(None),
            Some(Some(raw)) => self.parsed(field, parse(raw)).map(Some),
        }
    }

    /// A field of a partial update that can be replaced but not cleared.
    pub(crate) fn replace<T, E: Display>(
        &mut self,
        field: &str,
        raw: Option<Option<String>>,
        parse: impl FnOnce(String) -> Result<T, E>,
    ) -> Option<T> {
        match raw {
            None => None,
            Some(None) => {
                self.fail(field, "cannot be null");
                None
            }
            Some(Some(raw)) => self.parsed(field, parse(raw)),
        }
    }

    fn parsed<T, E: Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        result.map_err(|error| self.fail(field, error)).ok()
    }

    /// The value built from the fields if every field was valid, else a 422 naming each invalid field.
    pub(crate) fn finish<T>(self, value: Option<T>) -> Result<T, Problem> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ => Err(Problem::validation(self.errors)),
        }
    }

    /// Like [`Fields::finish`], but a failure is a 400: for query and path parameters.
    pub(crate) fn finish_parameters<T>(self, value: Option<T>) -> Result<T, Problem> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ => Err(Problem::invalid_parameters(self.errors)),
        }
    }
}

/// For `#[serde(default, deserialize_with = "nullable")]`: tells an absent field (`None`, via `default`) from an
/// explicit `null` (`Some(None)`).
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use users_domain::{Email, Username};

    #[test]
    fn collects_every_error_before_failing() {
        let mut fields = Fields::default();
        let email = fields.required("email", Some("nope".into()), Email::parse);
        let username = fields.optional("username", Some("has space".into()), Username::parse);
        let password = fields.required("password", None, Ok::<String, String>);
        let problem = fields.finish(email.zip(password).map(|pair| (pair, username))).unwrap_err();
        let named: Vec<_> = problem.errors().iter().map(|error| error.field.as_str()).collect();
        assert_eq!(named, ["email", "username", "password"]);
        assert_eq!(problem.status().as_u16(), 422);
    }

    #[test]
    fn patch_tells_absent_null_and_value_apart() {
        let mut fields = Fields::default();
        assert_eq!(fields.patch("username", None, Username::parse), None);
        assert_eq!(fields.patch("username", Some(None), Username::parse), Some(None));
        assert_eq!(
            fields.patch("username", Some(Some("ada".into())), Username::parse),
            Some(Some(Username::parse("ada").unwrap()))
        );
        assert!(fields.finish(Some(())).is_ok());
    }

    #[test]
    fn replace_refuses_null() {
        let mut fields = Fields::default();
        assert_eq!(fields.replace("email", Some(None), Email::parse), None);
        assert_eq!(fields.finish(Some(())).unwrap_err().errors()[0].message, "cannot be null");
    }
}
