//! The OpenAPI schemas of the request fields that carry a domain rule, for `#[schema(schema_with = …)]` on the DTOs:
//! the domain's own patterns, lengths and lists, so the document states the rules the parsers apply and cannot drift
//! from them. (The derive takes only literal patterns, and the domain crate knows nothing of OpenAPI.)

use users_domain::{Email, Password, PersonName, ProfileUrl, Role, Username};
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{
    Array, ArrayBuilder, KnownFormat, Object, ObjectBuilder, SchemaFormat, SchemaType, Type,
};

/// A string, or `null` where the field may be cleared or left out.
fn text(nullable: bool) -> ObjectBuilder {
    let schema_type = if nullable { SchemaType::from_iter([Type::String, Type::Null]) } else { Type::String.into() };
    ObjectBuilder::new().schema_type(schema_type)
}

/// An email address, as sign-in takes it.
pub(crate) fn email() -> Object {
    email_builder().build()
}

/// The email address an account is to have.
pub(crate) fn new_email() -> Object {
    email_builder().description(Some("Unique, case-insensitively.")).build()
}

fn email_builder() -> ObjectBuilder {
    text(false).format(Some(SchemaFormat::KnownFormat(KnownFormat::Email))).max_length(Some(Email::MAX_CHARS))
}

/// A username (or `null` for none).
pub(crate) fn username_or_null() -> Object {
    text(true).description(Some("Unique, case-insensitively.")).pattern(Some(Username::PATTERN)).build()
}

/// A first or last name.
pub(crate) fn person_name() -> Object {
    person_name_builder(false).build()
}

/// A first or last name, or `null` for none.
pub(crate) fn person_name_or_null() -> Object {
    person_name_builder(true).build()
}

fn person_name_builder(nullable: bool) -> ObjectBuilder {
    let rule = format!("Trimmed; 1 to {} characters, no control or invisible ones.", PersonName::MAX_CHARS);
    text(nullable).description(Some(rule)).pattern(Some(PersonName::PATTERN))
}

/// A profile link (website, social accounts), or `null` for none.
pub(crate) fn profile_url_or_null() -> Object {
    text(true).max_length(Some(ProfileUrl::MAX_CHARS)).pattern(Some(ProfileUrl::PATTERN)).build()
}

/// A new password: its lengths, and not on the bundled list of common ones. JSON Schema's `not`, which utoipa's
/// model has no field for, goes in as the schema's own keyword through its extensions (which are written flat). The
/// rule against a password made of the account's own names spans two fields, which a schema cannot state: it is
/// only described.
pub(crate) fn new_password() -> Object {
    let common: Vec<&str> = Password::common().collect();
    let not_common = Extensions::from_iter([("not", serde_json::json!({ "enum": common }))]);
    text(false)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
        .min_length(Some(Password::MIN_CHARS))
        .max_length(Some(Password::MAX_CHARS))
        .description(Some(
            "Not one of the most common passwords, and neither equal to nor containing the username or the part of \
             the email before the @ (ignoring case; names under 3 characters only when equal). The second rule spans \
             two fields, which a schema cannot state: a password breaking it gets 422.",
        ))
        .extensions(Some(not_common))
        .build()
}

/// Role ids: integers from the roles the domain defines (and the first migration stores); at least one, or `null`
/// (or left out) for no change.
pub(crate) fn role_ids() -> Array {
    let id = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .enum_values(Some(Role::ALL.map(Role::id)));
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(id)
        .min_items(Some(1))
        .description(Some("Ids from `GET /api/roles`; at least one."))
        .build()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_new_password_is_not_a_common_one_in_the_schema() {
        let schema = serde_json::to_value(new_password()).unwrap();
        let common = schema["not"]["enum"].as_array().expect("a `not` of the common passwords");
        assert!(common.contains(&json!("12345678")), "{common:?}");
        assert_eq!(schema["minLength"], Password::MIN_CHARS);
    }

    #[test]
    fn role_ids_are_the_domain_roles() {
        let schema = serde_json::to_value(role_ids()).unwrap();
        let ids: Vec<i64> = Role::ALL.map(Role::id).to_vec();
        assert_eq!(schema["items"]["enum"], json!(ids));
        assert_eq!(schema["type"], json!(["array", "null"]));
    }
}
