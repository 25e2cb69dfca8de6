//! Unauthenticated routes for what the IdP publishes: each application's
//! metadata at `<base-url>/saml2/<slug>/metadata` (what an SP or AWS fetches)
//! and portal images at `/app-images/<id>` (served from our origin so the
//! portal's Content-Security-Policy can stay `img-src 'self'`).
//!
//! Neither is secret; both read through `lanyard_app::Public`,
//! which can read nothing else. A deleted or unknown app is a 404.

use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use lanyard_core::{AppId, Error};

use crate::api::ApiError;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/saml2/{slug}/metadata", get(metadata))
        .route("/app-images/{id}", get(image))
}

/// The metadata an SP imports; `?download` is not needed: browsers show it,
/// `curl -O` and AWS's importer take it as is.
async fn metadata(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Response, ApiError> {
    let (app, xml) = lanyard_app::apps::metadata::published(&state.lanyard.public(), &slug).await?;
    Ok(xml_download(&app.slug, xml, false))
}

/// An XML metadata response; `attachment` asks the browser to save it.
pub(crate) fn xml_download(slug: &str, xml: String, attachment: bool) -> Response {
    let disposition = format!(
        "{}; filename=\"{}\"",
        if attachment { "attachment" } else { "inline" },
        lanyard_app::apps::metadata::metadata_filename(slug)
    );
    let mut response = (
        [(CONTENT_TYPE, "application/samlmetadata+xml; charset=utf-8")],
        xml,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        response.headers_mut().insert(CONTENT_DISPOSITION, v);
    }
    response
}

async fn image(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let not_found = || Error::not_found("image", &id);
    let app = id.parse::<i64>().map(AppId).map_err(|_| not_found())?;
    let img = state
        .lanyard
        .public()
        .get_app_image(app)
        .await?
        .ok_or_else(not_found)?;
    let etag = format!("\"{}\"", img.info.sha256);
    let mut response = if headers
        .get(IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        img.bytes.into_response()
    };
    let h = response.headers_mut();
    for (name, value) in [
        (CONTENT_TYPE, img.info.content_type.as_str()),
        (ETAG, etag.as_str()),
        (CACHE_CONTROL, "public, max-age=300"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox"),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    }
    Ok(response)
}
