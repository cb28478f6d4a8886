//! What both dialects' user lists share: reading the search and filter parameters (`q`, `role`, `status`,
//! `verified`, the creation range) into a `UserFilter`, each refusal named by the parameter as the dialect spells it.

use chrono::{DateTime, Utc};
use users_domain::{AccountStatus, Role, SearchPrefix};
use users_ports::UserFilter;

use crate::fields::Fields;

/// The filter parameters as a query string holds them, before they are read.
#[derive(Debug, Default)]
pub(crate) struct RawFilter {
    pub(crate) q: Option<String>,
    pub(crate) role: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) verified: Option<String>,
    pub(crate) created_after: Option<String>,
    pub(crate) created_before: Option<String>,
}

/// How a dialect names the two parameters whose names have two words.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CreatedNames {
    pub(crate) after: &'static str,
    pub(crate) before: &'static str,
}

/// The filter `raw` describes; `None` after naming every bad parameter in `fields`.
pub(crate) fn parse(fields: &mut Fields, raw: RawFilter, names: CreatedNames) -> Option<UserFilter> {
    // An empty search box sends `q=`: no search, as it means.
    let q = raw.q.filter(|q| !q.trim().is_empty());
    let text = given(fields, "q", q, SearchPrefix::parse);
    let role = given(fields, "role", raw.role, |name| {
        Role::from_name(&name).map_err(|_| format!("must be a role's name ({})", Role::ALL.map(Role::name).join(", ")))
    });
    let status = given(fields, "status", raw.status, |status| match status.as_str() {
        "active" => Ok(AccountStatus::Active),
        "suspended" => Ok(AccountStatus::Suspended),
        _ => Err("must be active or suspended"),
    });
    let verified = given(fields, "verified", raw.verified, |verified| match verified.as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("must be true or false"),
    });
    let created_after = given(fields, names.after, raw.created_after, timestamp);
    let created_before = given(fields, names.before, raw.created_before, timestamp);
    Some(UserFilter {
        text: text?,
        role: role?,
        status: status?,
        verified: verified?,
        created_after: created_after?,
        created_before: created_before?,
    })
}

/// A parameter whose values are a few words, as the document lists them.
fn words(description: &str, words: &[&str]) -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some(description))
        .enum_values(Some(words.iter().copied()))
        .build()
}

/// The `role` filter's values: the roles' names.
pub(crate) fn role_schema() -> utoipa::openapi::schema::Object {
    words("A role's name.", &Role::ALL.map(Role::name))
}

/// The `status` filter's values.
pub(crate) fn status_schema() -> utoipa::openapi::schema::Object {
    words("An account's status now.", &["active", "suspended"])
}

/// The Admin API's `sort` values.
pub(crate) fn sort_schema() -> utoipa::openapi::schema::Object {
    words("What a list is sorted by.", &["id", "email", "createdAt", "lastSignInAt"])
}

/// The Admin API's `order` values.
pub(crate) fn order_schema() -> utoipa::openapi::schema::Object {
    words("Which way a list is sorted.", &["asc", "desc"])
}

/// `Some(None)` for a parameter not given, `Some(Some(value))` for one read, and `None` for one refused (and named).
fn given<T, E: std::fmt::Display>(
    fields: &mut Fields,
    name: &str,
    raw: Option<String>,
    parse: impl FnOnce(String) -> Result<T, E>,
) -> Option<Option<T>> {
    match raw.map(parse) {
        None => Some(None),
        Some(Ok(value)) => Some(Some(value)),
        Some(Err(error)) => {
            fields.fail(name, error);
            None
        }
    }
}

/// An RFC 3339 time. A `+` of its offset left unencoded in the query string arrives as a space: read as the `+`
/// it was.
fn timestamp(raw: String) -> Result<DateTime<Utc>, &'static str> {
    const MESSAGE: &str = "must be an RFC 3339 time, such as 2026-01-31T12:00:00Z";
    DateTime::parse_from_rfc3339(&raw)
        .or_else(|_| DateTime::parse_from_rfc3339(&raw.replace(' ', "+")))
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| MESSAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: CreatedNames = CreatedNames { after: "createdAfter", before: "createdBefore" };

    fn read(raw: RawFilter) -> Result<UserFilter, Vec<String>> {
        let mut fields = Fields::default();
        let filter = parse(&mut fields, raw, NAMES);
        fields
            .finish_parameters(filter)
            .map_err(|problem| problem.errors().iter().map(|error| error.field.clone()).collect())
    }

    #[test]
    fn no_parameter_is_no_filter() {
        assert_eq!(read(RawFilter::default()), Ok(UserFilter::default()));
    }

    #[test]
    fn an_empty_search_is_no_search() {
        assert_eq!(read(RawFilter { q: Some(" ".into()), ..RawFilter::default() }), Ok(UserFilter::default()));
    }

    #[test]
    fn every_parameter_is_read_into_the_filter() {
        let raw = RawFilter {
            q: Some(" Ada ".into()),
            role: Some("admin".into()),
            status: Some("suspended".into()),
            verified: Some("false".into()),
            created_after: Some("2026-01-31T12:00:00+01:00".into()),
            created_before: Some("2026-02-01T00:00:00 00:00".into()),
        };
        let filter = read(raw).unwrap();
        assert_eq!(filter.text.unwrap().as_str(), "ada");
        assert_eq!(
            (filter.role, filter.status, filter.verified),
            (Some(Role::Admin), Some(AccountStatus::Suspended), Some(false))
        );
        assert_eq!(filter.created_after.unwrap().to_rfc3339(), "2026-01-31T11:00:00+00:00");
        assert_eq!(filter.created_before.unwrap().to_rfc3339(), "2026-02-01T00:00:00+00:00", "a + sent unencoded");
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let raw = RawFilter {
            q: Some("a\u{7}".into()),
            role: Some("root".into()),
            status: Some("banned".into()),
            verified: Some("yes".into()),
            created_after: Some("yesterday".into()),
            created_before: Some("2026-13-01T00:00:00Z".into()),
        };
        assert_eq!(
            read(raw),
            Err(vec!["q", "role", "status", "verified", "createdAfter", "createdBefore"]
                .into_iter()
                .map(String::from)
                .collect())
        );
    }
}
