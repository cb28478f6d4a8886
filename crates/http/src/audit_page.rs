//! What both dialects' audit routes share: reading `before` and `limit`, and how an event's kind is described.

use users_ports::{AuditEventId, AuditKind};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::fields::Fields;

pub(crate) const DEFAULT_LIMIT: u32 = 20;
pub(crate) const MAX_LIMIT: u32 = 100;

/// `before` (an event id, 1 or more) and `limit` (1 to 100, default 20), each refusal named in `fields`.
pub(crate) fn page(
    fields: &mut Fields,
    before: Option<i64>,
    limit: Option<i64>,
) -> Option<(Option<AuditEventId>, u32)> {
    let before = match before {
        None => Some(None),
        Some(id) if id >= 1 => Some(Some(AuditEventId(id))),
        Some(_) => {
            fields.fail("before", "must be an event id (1 or more)");
            None
        }
    };
    let limit = match limit {
        None => Some(DEFAULT_LIMIT),
        Some(limit) => u32::try_from(limit).ok().filter(|limit| (1..=MAX_LIMIT).contains(limit)).or_else(|| {
            fields.fail("limit", format!("must be between 1 and {MAX_LIMIT}"));
            None
        }),
    };
    before.zip(limit)
}

/// An event's kind as responses name it, and in the document every kind there is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KindName(pub(crate) AuditKind);

impl serde::Serialize for KindName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

impl PartialSchema for KindName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("What happened."))
            .enum_values(Some(AuditKind::ALL.map(AuditKind::as_str)))
            .into()
    }
}

impl ToSchema for KindName {}

/// A `kind` query parameter: one of the kinds, or a refusal naming the parameter.
pub(crate) fn kind(fields: &mut Fields, raw: Option<String>) -> Option<Option<AuditKind>> {
    match raw {
        None => Some(None),
        Some(name) => match AuditKind::parse(&name) {
            Some(kind) => Some(Some(kind)),
            None => {
                fields.fail("kind", "must be one of the event kinds (user.signed_in, user.suspended, ...)");
                None
            }
        },
    }
}
