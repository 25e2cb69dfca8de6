//! Extractors for request input that answer in the API's error shape.
//!
//! axum's own `Json`, `Query` and `Path` reject with plain text; these wrap
//! the same parsing and turn every failure into an [`ApiError`] that names
//! the offending field: `ApiJson` (415 unless JSON, 413 past the body limit,
//! 400 for invalid UTF-8, bad syntax, unknown, missing or mistyped fields),
//! `ApiQuery` (400 naming the parameter, unknown parameters included when the
//! target type denies them) and `ApiPath` (400 naming the path segment).

use axum::body::Bytes;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::error::ApiError;

/// A JSON request body, deserialized strictly.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

/// Query parameters.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

/// Path parameters. Use a struct with named fields (like [`IdPath`]) so a
/// bad value can be reported by the parameter's name.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

/// `/{id}`.
#[derive(Debug, Deserialize)]
pub struct IdPath {
    pub id: i64,
}

/// `/groups/{id}/members/{user_id}`.
#[derive(Debug, Deserialize)]
pub struct MemberPath {
    pub id: i64,
    pub user_id: i64,
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence.rsplit_once('+').is_some_and(|(ty, suffix)| {
            ty.starts_with("application/") && suffix.eq_ignore_ascii_case("json")
        })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::bad_request("body", rejection.body_text())
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Strict JSON parsing with the failing field named.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::bad_request(
            "body",
            "the request body is not valid UTF-8",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = inner.to_string();
        let field = if inner.is_data() {
            field_name(&path, &message)
        } else {
            "body".to_owned()
        };
        ApiError::bad_request(field, message)
    })?;
    de.end()
        .map_err(|err| ApiError::bad_request("body", err.to_string()))?;
    Ok(value)
}

/// The field a serde error is about: the one quoted in "unknown field `x`" or
/// "missing field `x`" (under the path where it happened), else the path.
fn field_name(path: &str, message: &str) -> String {
    let quoted = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name);
    let path = (path != "." && !path.is_empty()).then_some(path);
    match (path, quoted) {
        (Some(p), Some(name)) if p == name || p.ends_with(&format!(".{name}")) => p.to_owned(),
        (Some(p), Some(name)) => format!("{p}.{name}"),
        (None, Some(name)) => name.to_owned(),
        (Some(p), None) => p.to_owned(),
        (None, None) => "body".to_owned(),
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|err| {
                let path = err.path().to_string();
                let message = err.into_inner().to_string();
                let field = match field_name(&path, &message) {
                    f if f == "body" => "query".to_owned(),
                    f => f,
                };
                ApiError::bad_request(field, message)
            })
    }
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(err)) => Err(match err.kind() {
                ErrorKind::ParseErrorAtKey { key, value, .. } => {
                    ApiError::bad_request(key.clone(), format!("{value:?} is not a valid id"))
                }
                _ => ApiError::bad_request("path", err.body_text()),
            }),
            Err(other) => Err(ApiError::bad_request("path", other.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        a: u32,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Option<Inner>,
    }

    fn field_of(body: &str) -> (String, String) {
        match parse_json::<Outer>(body.as_bytes()) {
            Err(ApiError::BadRequest { field, message }) => (field, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        assert_eq!(field_of(r#"{"name":"x","nmae":1}"#).0, "nmae");
        assert!(field_of(r#"{"name":"x","nmae":1}"#)
            .1
            .contains("unknown field `nmae`"));
        assert_eq!(field_of(r#"{}"#).0, "name");
        assert_eq!(field_of(r#"{"name":5}"#).0, "name");
        assert_eq!(field_of(r#"{"name":"x","inner":{"b":1}}"#).0, "inner.b");
        assert_eq!(field_of(r#"{"name":"x","inner":{"a":-1}}"#).0, "inner.a");
        assert_eq!(field_of(r#"{"name":"x","inner":{}}"#).0, "inner.a");
        assert_eq!(field_of(r#"{"name":"x""#).0, "body");
        assert_eq!(field_of(r#"{"name":"x"} x"#).0, "body");
        match parse_json::<Outer>(b"{\"name\":\"\xff\"}") {
            Err(ApiError::BadRequest { field, message }) => {
                assert_eq!(field, "body");
                assert!(message.contains("UTF-8"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_content_types() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        for (v, ok) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
        ] {
            h.insert(CONTENT_TYPE, v.parse().unwrap());
            assert_eq!(is_json(&h), ok, "{v}");
        }
    }
}
