//! The files and keys of one application in the admin portal, the parts
//! of the SSO and General tabs that are not plain settings:
//!
//! - `POST /admin/applications/{id}/keys`: a new signing key, generated
//!   (`source=generate`, `validity_days`) or uploaded (`source=upload`,
//!   `private_key_pem` + `certificate_pem`, pasted or as files), published
//!   at once and the signing key only when `activate` is ticked;
//!   `POST .../keys/{key}/activate` and `POST .../keys/{key}/delete`.
//!   Every key stays in the metadata, so "publish, update the SP, activate"
//!   rotates without downtime.
//! - `POST /admin/applications/{id}/sp-metadata`: the SP's metadata, as a
//!   file or pasted, fills the SP entity ID and ACS URLs.
//! - `POST /admin/applications/{id}/image` (a file) and `.../image/delete`:
//!   the user portal image.
//!
//! Every change goes through `lanyard_app::apps` (the REST API's rules and
//! audit events); a rejection re-renders the tab with the rule's message.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::Router;
use lanyard_core::{AppId, AppKeyId, Error};

use super::app_detail::{rejected, Submitted};
use super::apps::{invalid, parse_id, see_other};
use super::{AdminPost, AdminWriter};
use crate::pages::forms::{PageError, PageResult};
use crate::AppState;
use lanyard_app::apps::{self, keys::KeySource};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/applications/{id}/keys", post(add_key))
        .route(
            "/admin/applications/{id}/keys/{key}/activate",
            post(activate_key),
        )
        .route(
            "/admin/applications/{id}/keys/{key}/delete",
            post(delete_key),
        )
        .route(
            "/admin/applications/{id}/sp-metadata",
            post(import_metadata),
        )
        .route("/admin/applications/{id}/image", post(set_image))
        .route("/admin/applications/{id}/image/delete", post(remove_image))
}

/// The outcome of a change: back to `tab` with a notice, or the tab again
/// with the rule that was broken.
async fn finish<T>(
    state: &AppState,
    post: &AdminPost,
    id: AppId,
    tab: &'static str,
    done: &str,
    result: lanyard_core::Result<T>,
) -> PageResult {
    match result {
        Ok(_) => Ok(see_other(&format!(
            "/admin/applications/{id}?tab={tab}&saved={done}"
        ))),
        Err(e) => {
            let errors = invalid(e)?;
            tracing::info!(app = id.0, ?errors, "admin change to application refused");
            rejected(state, post, id, tab, Submitted::errors(errors)).await
        }
    }
}

/// A form field's text, or the file chosen for `file_field` instead (a
/// file wins when both are given).
fn text_or_file(post: &AdminPost, field: &str, file_field: &str) -> Result<String, Error> {
    match post.file(file_field) {
        Some(upload) => String::from_utf8(upload.bytes.to_vec()).map_err(|_| {
            Error::invalid(
                field,
                format!("{:?} is not a UTF-8 text file", upload.file_name),
            )
        }),
        None => Ok(post.fields.get(field).trim().to_owned()),
    }
}

fn key_id(raw: &str) -> Result<AppKeyId, PageError> {
    raw.parse::<i64>()
        .map(AppKeyId)
        .map_err(|_| Error::not_found("key", raw).into())
}

async fn add_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    let id = parse_id(&id)?;
    let w = writer_or_refusal!(state, post);
    let activate = post.fields.checked("activate");
    let source = match post.fields.get("source") {
        "generate" => {
            let raw = post.fields.get("validity_days").trim();
            if raw.is_empty() {
                Ok(KeySource::Generate {
                    validity_days: None,
                })
            } else {
                raw.parse::<u32>()
                    .map(|days| KeySource::Generate {
                        validity_days: Some(days),
                    })
                    .map_err(|_| Error::invalid("validity_days", "must be a whole number of days"))
            }
        }
        "upload" => text_or_file(&post, "private_key_pem", "private_key_file").and_then(|key| {
            let cert = text_or_file(&post, "certificate_pem", "certificate_file")?;
            if key.is_empty() {
                return Err(Error::invalid("private_key_pem", "is required"));
            }
            if cert.is_empty() {
                return Err(Error::invalid("certificate_pem", "is required"));
            }
            Ok(KeySource::Upload {
                private_key_pem: key,
                certificate_pem: cert,
            })
        }),
        _ => Err(Error::invalid("source", "choose generate or upload")),
    };
    let result = match source {
        Ok(source) => apps::keys::add(&w, id, source, activate).await,
        Err(e) => Err(e),
    };
    let done = if activate { "key_rotated" } else { "key_added" };
    finish(&state, &post, id, "sso", done, result).await
}

async fn activate_key(
    State(state): State<AppState>,
    Path((id, key)): Path<(String, String)>,
    post: AdminPost,
) -> PageResult {
    let (id, key) = (parse_id(&id)?, key_id(&key)?);
    let w = writer_or_refusal!(state, post);
    let result = apps::keys::activate(&w, id, key).await;
    finish(&state, &post, id, "sso", "key_activated", result).await
}

async fn delete_key(
    State(state): State<AppState>,
    Path((id, key)): Path<(String, String)>,
    post: AdminPost,
) -> PageResult {
    let (id, key) = (parse_id(&id)?, key_id(&key)?);
    let w = writer_or_refusal!(state, post);
    let result = apps::keys::delete(&w, id, key).await;
    finish(&state, &post, id, "sso", "key_deleted", result).await
}

async fn import_metadata(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    let id = parse_id(&id)?;
    let w = writer_or_refusal!(state, post);
    let result = match text_or_file(&post, "sp_metadata", "sp_metadata_file") {
        Ok(xml) if xml.is_empty() => Err(Error::invalid(
            "sp_metadata",
            "is empty: choose the SP's metadata file or paste its XML",
        )),
        Ok(xml) => apps::metadata::import_sp_metadata(&w, id, &xml).await,
        Err(e) => Err(e),
    };
    finish(&state, &post, id, "sso", "metadata_imported", result).await
}

async fn set_image(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    let id = parse_id(&id)?;
    let w = writer_or_refusal!(state, post);
    let result = match post.file("image") {
        Some(upload) => apps::images::set(&w, id, upload.bytes.clone().to_vec()).await,
        None => Err(Error::invalid(
            "image",
            "no file was chosen: pick a PNG, JPEG or WebP image",
        )),
    };
    finish(&state, &post, id, "general", "image_set", result).await
}

async fn remove_image(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    let id = parse_id(&id)?;
    let w = writer_or_refusal!(state, post);
    let result = apps::images::remove(&w, id).await;
    finish(&state, &post, id, "general", "image_removed", result).await
}
