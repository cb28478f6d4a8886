//! `JsonObject`: the request body extractor of both dialects. The body must be a JSON object (serde would
//! otherwise take `[…]` as a struct's fields in order), and a field of the wrong type is reported by name without
//! echoing its value, which may be a password.

use actix_web::dev::Payload;
use actix_web::error::JsonPayloadError;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::errors;
use crate::problem::{FieldError, Problem};

/// A JSON object body, deserialised into `T`. Size and syntax are checked by actix's `JsonConfig`.
#[derive(Debug)]
pub struct JsonObject<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if !is_json(request) {
            return Box::pin(async { Err(errors::json_error(JsonPayloadError::ContentType).into()) });
        }
        let object = web::Json::<Map<String, Value>>::from_request(request, payload);
        Box::pin(async move { Ok(Self(fields_of(object.await?.into_inner())?)) })
    }
}

/// A JSON object body that may be left out altogether (no body, an empty one, or `null`): for `DELETE`s that take
/// optional fields. A body that is there is read exactly as [`JsonObject`] reads it.
#[derive(Debug)]
pub struct OptionalJsonObject<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJsonObject<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let headers = request.headers();
        let declared_empty = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|length| length.to_str().ok())
            .is_some_and(|length| length.trim() == "0");
        let has_body = !declared_empty
            && (headers.contains_key(header::CONTENT_LENGTH) || headers.contains_key(header::TRANSFER_ENCODING));
        if !has_body {
            return Box::pin(async { Ok(Self(None)) });
        }
        if !is_json(request) {
            return Box::pin(async { Err(errors::json_error(JsonPayloadError::ContentType).into()) });
        }
        let body = web::Json::<Value>::from_request(request, payload);
        Box::pin(async move {
            match body.await?.into_inner() {
                Value::Null => Ok(Self(None)),
                Value::Object(object) => Ok(Self(Some(fields_of(object)?))),
                _ => Err(errors::not_an_object().into()),
            }
        })
    }
}

/// Exactly `application/json` (parameters such as a charset aside): actix alone would also take any `+json`.
fn is_json(request: &HttpRequest) -> bool {
    request.mime_type().ok().flatten().is_some_and(|mime| mime.essence_str() == "application/json")
}

/// The object's fields as `T`; a field of the wrong type is named without its value.
fn fields_of<T: DeserializeOwned>(object: Map<String, Value>) -> Result<T, Problem> {
    serde_path_to_error::deserialize(Value::Object(object)).map_err(|error| {
        let field = match error.path().to_string() {
            path if path == "." => "body".to_owned(),
            path => path,
        };
        Problem::validation(vec![FieldError { field, message: without_value(&error.inner().to_string()) }])
    })
}

/// serde's "invalid type: integer `42`, expected a string" without the value: "must be a string".
fn without_value(message: &str) -> String {
    match message.split_once(", expected ") {
        Some((_, expected)) => format!("must be {expected}"),
        None => "is invalid".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::without_value;

    #[test]
    fn type_errors_keep_what_was_expected_and_drop_the_value() {
        assert_eq!(without_value("invalid type: integer `98765432123`, expected a string"), "must be a string");
        assert_eq!(without_value("something else entirely"), "is invalid");
    }
}
