//! `/api/v1/applications`: configured applications created from the catalog,
//! their settings, activation, deletion, metadata export, SP metadata import,
//! portal image and the per-user preview.
//!
//! Updates are partial: the handler merges the request onto the stored config
//! and validates the whole result ([`AppConfig::validate`]), so a rule that
//! ties two fields together holds whichever of them changes. The slug is fixed
//! at creation; a request that tries to change it is refused by name.
//! Deletion takes several ids and the typed count (`confirm_count`): a
//! mismatch deletes nothing.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lanyard_core::application::Application;
use lanyard_core::apps::{AttributeRule, SsoSettings};
use lanyard_core::{AppId, Error};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{ApiWriter, Caller};
use super::error::{ApiError, ApiResult};
use super::input::{ApiJson, ApiPath, ApiQuery, IdPath};
use super::{ListParams, TAG_APPS};
use crate::error::ErrorBody;
use crate::AppState;
use lanyard_app::apps::images::MAX_IMAGE_BYTES;
use lanyard_app::apps::preview::Preview;
use lanyard_app::apps::schema::{AttributeRuleSchema, SsoSettingsSchema};
use lanyard_app::apps::{self, CreateAppForm, UpdateAppForm};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_apps, create_app, delete_apps))
        .routes(routes!(get_app, update_app))
        .routes(routes!(activate_app))
        .routes(routes!(deactivate_app))
        .routes(routes!(export_metadata))
        .routes(routes!(export_metadata_zip))
        .routes(routes!(import_sp_metadata))
        .routes(routes!(set_image, delete_image))
        .routes(routes!(preview))
}

/// A configured application.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Application)]
pub struct AppView {
    pub id: i64,
    /// Fixed at creation.
    pub slug: String,
    /// The catalog template it was created from.
    pub template: String,
    pub label: String,
    pub description: String,
    pub show_in_portal: bool,
    pub sso_active: bool,
    /// Whether AWS's assertion rules are enforced (AWS IAM template).
    pub aws_rules: bool,
    /// `<base-url>/saml2/<slug>`: the tile's target and the SP-initiated endpoint.
    pub idp_url: String,
    /// Public metadata URL.
    pub metadata_url: String,
    /// Portal image URL, when there is an image.
    pub image_url: Option<String>,
    #[schema(value_type = SsoSettingsSchema)]
    pub sso: SsoSettings,
    #[schema(value_type = Vec<AttributeRuleSchema>)]
    pub attributes: Vec<AttributeRule>,
    pub groups_attribute: Option<String>,
    /// The SP's request-signing certificates (base64 DER).
    pub sp_certificates: Vec<String>,
    /// Fields still holding a template placeholder: SSO cannot be activated
    /// until each is replaced.
    pub placeholders: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl AppView {
    pub fn new(state: &AppState, app: Application) -> Self {
        let placeholders = app.config.sso.placeholder_fields();
        AppView {
            id: app.id.0,
            idp_url: lanyard_app::apps::metadata::idp_url(state.settings(), &app.slug),
            metadata_url: lanyard_app::apps::metadata::metadata_url(state.settings(), &app.slug),
            image_url: app.image.as_ref().map(|i| {
                format!(
                    "{}/app-images/{}?v={}",
                    state.settings().base_url.as_str(),
                    app.id,
                    &i.sha256[..16.min(i.sha256.len())]
                )
            }),
            slug: app.slug,
            template: app.template,
            label: app.config.label,
            description: app.config.description,
            show_in_portal: app.config.show_in_portal,
            sso_active: app.sso_active,
            aws_rules: app.aws_rules,
            sso: app.config.sso,
            attributes: app.config.attributes,
            groups_attribute: app.config.groups_attribute,
            sp_certificates: app.config.sp_certificates,
            placeholders,
            created_at: app.created_at,
            updated_at: app.updated_at,
        }
    }
}

/// One page of applications; pass `next` as `after` for the following page.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppPage {
    pub items: Vec<AppView>,
    pub next: Option<i64>,
}

#[utoipa::path(get, path = "/applications", tag = TAG_APPS, params(ListParams),
    responses((status = 200, body = AppPage), (status = 400, body = ErrorBody)))]
async fn list_apps(
    caller: Caller,
    state: axum::extract::State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<AppPage>> {
    let page = caller.read.list_apps(&params.into_query()?).await?;
    Ok(Json(AppPage {
        items: page
            .items
            .into_iter()
            .map(|a| AppView::new(&state, a))
            .collect(),
        next: page.next,
    }))
}

#[utoipa::path(post, path = "/applications", tag = TAG_APPS, request_body = CreateAppForm,
    responses((status = 201, body = AppView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create_app(
    w: ApiWriter,
    state: axum::extract::State<AppState>,
    ApiJson(form): ApiJson<CreateAppForm>,
) -> ApiResult<(StatusCode, Json<AppView>)> {
    let app = apps::create(&w, form, None).await?;
    Ok((StatusCode::CREATED, Json(AppView::new(&state, app))))
}

#[utoipa::path(get, path = "/applications/{id}", tag = TAG_APPS, params(("id" = i64, Path)),
    responses((status = 200, body = AppView), (status = 404, body = ErrorBody)))]
async fn get_app(
    caller: Caller,
    state: axum::extract::State<AppState>,
    ApiPath(p): ApiPath<IdPath>,
) -> ApiResult<Json<AppView>> {
    let app = caller.read.get_app(AppId(p.id)).await?;
    Ok(Json(AppView::new(&state, app)))
}

#[utoipa::path(patch, path = "/applications/{id}", tag = TAG_APPS, params(("id" = i64, Path)),
    request_body = UpdateAppForm,
    responses((status = 200, body = AppView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn update_app(
    w: ApiWriter,
    state: axum::extract::State<AppState>,
    ApiPath(p): ApiPath<IdPath>,
    ApiJson(form): ApiJson<UpdateAppForm>,
) -> ApiResult<Json<AppView>> {
    let app = apps::update(&w, AppId(p.id), form).await?;
    Ok(Json(AppView::new(&state, app)))
}

#[utoipa::path(post, path = "/applications/{id}/activate", tag = TAG_APPS,
    params(("id" = i64, Path)),
    responses((status = 200, body = AppView),
        (status = 400, description = "A field still holds a template placeholder: `fields` names each", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn activate_app(
    w: ApiWriter,
    state: axum::extract::State<AppState>,
    ApiPath(p): ApiPath<IdPath>,
) -> ApiResult<Json<AppView>> {
    let app = apps::activate(&w, AppId(p.id)).await?;
    Ok(Json(AppView::new(&state, app)))
}

#[utoipa::path(post, path = "/applications/{id}/deactivate", tag = TAG_APPS,
    params(("id" = i64, Path)),
    responses((status = 200, body = AppView), (status = 404, body = ErrorBody)))]
async fn deactivate_app(
    w: ApiWriter,
    state: axum::extract::State<AppState>,
    ApiPath(p): ApiPath<IdPath>,
) -> ApiResult<Json<AppView>> {
    let app = apps::deactivate(&w, AppId(p.id)).await?;
    Ok(Json(AppView::new(&state, app)))
}

/// Applications to delete, and how many the admin typed to confirm.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAppsForm {
    pub ids: Vec<i64>,
    /// Must equal the number of (distinct) ids.
    pub confirm_count: u64,
}

/// What was deleted.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedApps {
    pub deleted: Vec<DeletedApp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedApp {
    pub id: i64,
    pub slug: String,
    pub label: String,
}

#[utoipa::path(delete, path = "/applications", tag = TAG_APPS, request_body = DeleteAppsForm,
    responses((status = 200, body = DeletedApps),
        (status = 400, description = "No ids, or `confirm_count` is not the number of applications: nothing was deleted", body = ErrorBody),
        (status = 404, description = "An id is unknown: nothing was deleted", body = ErrorBody)))]
async fn delete_apps(
    w: ApiWriter,
    ApiJson(form): ApiJson<DeleteAppsForm>,
) -> ApiResult<Json<DeletedApps>> {
    let deleted = apps::delete(&w, &form.ids, form.confirm_count).await?;
    Ok(Json(DeletedApps {
        deleted: deleted
            .into_iter()
            .map(|a| DeletedApp {
                id: a.id.0,
                slug: a.slug,
                label: a.config.label,
            })
            .collect(),
    }))
}

#[utoipa::path(get, path = "/applications/{id}/metadata", tag = TAG_APPS,
    params(("id" = i64, Path)),
    responses((status = 200, description = "IdP metadata to upload to the SP (e.g. AWS IAM), as the download `Lanyard-<slug>-metadata.xml`",
        content_type = "application/samlmetadata+xml", body = String),
        (status = 404, body = ErrorBody)))]
async fn export_metadata(caller: Caller, ApiPath(p): ApiPath<IdPath>) -> ApiResult<Response> {
    let (app, xml) = apps::metadata::export(&caller.read, AppId(p.id)).await?;
    Ok(crate::public::xml_download(&app.slug, xml, true))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ZipParams {
    /// Comma-separated application ids, e.g. `1,2,3`.
    pub ids: String,
}

#[utoipa::path(get, path = "/applications/metadata", tag = TAG_APPS, params(ZipParams),
    responses((status = 200, description = "A zip of `Lanyard-<slug>-metadata.xml` files",
        content_type = "application/zip", body = Vec<u8>),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn export_metadata_zip(
    caller: Caller,
    ApiQuery(params): ApiQuery<ZipParams>,
) -> ApiResult<Response> {
    let mut ids = BTreeSet::new();
    for part in params
        .ids
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let id = part
            .parse::<i64>()
            .map_err(|_| Error::invalid("ids", format!("{part:?} is not an application id")))?;
        ids.insert(id);
    }
    let bytes = apps::metadata::export_zip(&caller.read, &ids).await?;
    Ok((
        [
            (CONTENT_TYPE, "application/zip"),
            (
                CONTENT_DISPOSITION,
                "attachment; filename=\"Lanyard-metadata.zip\"",
            ),
        ],
        bytes,
    )
        .into_response())
}

/// A raw request body's text, for endpoints that take XML.
fn xml_body(headers: &HeaderMap, body: &Bytes) -> ApiResult<String> {
    let ct = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !(ct == "application/xml" || ct == "text/xml" || ct.ends_with("+xml")) {
        return Err(ApiError::bad_request(
            "body",
            "send the SP's metadata as XML (Content-Type: application/xml or application/samlmetadata+xml)",
        ));
    }
    String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::bad_request("body", "the metadata is not valid UTF-8"))
}

#[utoipa::path(post, path = "/applications/{id}/sp-metadata", tag = TAG_APPS,
    params(("id" = i64, Path)),
    request_body(content = String, content_type = "application/samlmetadata+xml",
        description = "The SP's metadata XML"),
    responses((status = 200, body = AppView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn import_sp_metadata(
    w: ApiWriter,
    state: axum::extract::State<AppState>,
    ApiPath(p): ApiPath<IdPath>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<AppView>> {
    let xml = xml_body(&headers, &body)?;
    let app = apps::metadata::import_sp_metadata(&w, AppId(p.id), &xml).await?;
    Ok(Json(AppView::new(&state, app)))
}

#[utoipa::path(put, path = "/applications/{id}/image", tag = TAG_APPS,
    params(("id" = i64, Path)),
    request_body(content = Vec<u8>, content_type = "image/png",
        description = "A PNG, JPEG or WebP image of at most 512 KiB and 2048x2048 pixels; the format is read from the bytes"),
    responses((status = 200, body = AppView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn set_image(
    w: ApiWriter,
    state: axum::extract::State<AppState>,
    ApiPath(p): ApiPath<IdPath>,
    body: Bytes,
) -> ApiResult<Json<AppView>> {
    let id = AppId(p.id);
    if body.len() > MAX_IMAGE_BYTES {
        return Err(Error::invalid(
            "image",
            format!(
                "is {} bytes; the limit is {} KiB",
                body.len(),
                MAX_IMAGE_BYTES / 1024
            ),
        )
        .into());
    }
    let app = apps::images::set(&w, id, body.to_vec()).await?;
    Ok(Json(AppView::new(&state, app)))
}

#[utoipa::path(delete, path = "/applications/{id}/image", tag = TAG_APPS,
    params(("id" = i64, Path)),
    responses((status = 200, body = AppView), (status = 404, body = ErrorBody)))]
async fn delete_image(
    w: ApiWriter,
    state: axum::extract::State<AppState>,
    ApiPath(p): ApiPath<IdPath>,
) -> ApiResult<Json<AppView>> {
    let id = AppId(p.id);
    let app = apps::images::remove(&w, id).await?;
    Ok(Json(AppView::new(&state, app)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PreviewParams {
    /// The user's id, email or username.
    pub user: String,
    /// The ACS URL to address (default: the app's default ACS URL).
    pub acs_url: Option<String>,
}

#[utoipa::path(get, path = "/applications/{id}/preview", tag = TAG_APPS,
    params(("id" = i64, Path), PreviewParams),
    responses((status = 200, body = Preview), (status = 404, body = ErrorBody)))]
async fn preview(
    caller: Caller,
    ApiPath(p): ApiPath<IdPath>,
    ApiQuery(params): ApiQuery<PreviewParams>,
) -> ApiResult<Json<Preview>> {
    let preview =
        apps::preview::preview(&caller.read, AppId(p.id), &params.user, params.acs_url).await?;
    Ok(Json(preview))
}
