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
use lanyard_core::application::{check_activation, AppConfig, Application, NewApplication};
use lanyard_core::apps::{
    check_slug, slug_from_label, AcsUrl, AttributeRule, NameIdSource, SignatureAlgorithm,
    SsoSettings,
};
use lanyard_core::aws_rules::{self, AssertionFacts, Violation};
use lanyard_core::catalog::Template;
use lanyard_core::directory::Group;
use lanyard_core::sso::{self, AppFacts, AssertionContent, Denial};
use lanyard_core::{AppId, Error, UserId};
use lanyard_saml::metadata::SpMetadata;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::app_schema::{
    AssertionContentSchema, AttributeRuleSchema, SsoSettingsSchema, ViolationSchema,
};
use super::auth::{Caller, Writer};
use super::catalog::catalog;
use super::error::{ApiError, ApiResult};
use super::input::{ApiJson, ApiPath, ApiQuery, IdPath};
use super::{ListParams, TAG_APPS};
use crate::access::ReadAccess;
use crate::error::ErrorBody;
use crate::images::{check_image, MAX_IMAGE_BYTES};
use crate::{idp, AppState};

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
            idp_url: idp::idp_url(&state.settings, &app.slug),
            metadata_url: idp::metadata_url(&state.settings, &app.slug),
            image_url: app.image.as_ref().map(|i| {
                format!(
                    "{}/app-images/{}?v={}",
                    state.settings.base_url.as_str(),
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

/// Changes to the SSO tab; absent fields stay as they are (on creation: the
/// template's defaults).
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoForm {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idp_entity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sp_entity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<super::app_schema::AcsUrlSchema>>)]
    pub acs_urls: Option<Vec<AcsUrl>>,
    /// An empty string removes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_relay_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::app_schema::NameIdSourceSchema>)]
    pub name_id: Option<NameIdSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_id_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_assertion: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_response: Option<bool>,
    /// `rsa_sha256` or `rsa_sha1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub algorithm: Option<SignatureAlgorithm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_signed_requests: Option<bool>,
}

impl SsoForm {
    fn apply(self, sso: &mut SsoSettings) {
        let SsoForm {
            idp_entity_id,
            sp_entity_id,
            acs_urls,
            default_relay_state,
            name_id,
            name_id_format,
            sign_assertion,
            sign_response,
            algorithm,
            require_signed_requests,
        } = self;
        set(&mut sso.idp_entity_id, idp_entity_id);
        set(&mut sso.sp_entity_id, sp_entity_id);
        set(&mut sso.acs_urls, acs_urls);
        if let Some(rs) = default_relay_state {
            sso.default_relay_state = (!rs.is_empty()).then_some(rs);
        }
        set(&mut sso.name_id, name_id);
        set(&mut sso.name_id_format, name_id_format);
        set(&mut sso.sign_assertion, sign_assertion);
        set(&mut sso.sign_response, sign_response);
        set(&mut sso.algorithm, algorithm);
        set(&mut sso.require_signed_requests, require_signed_requests);
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

/// A new application from a catalog template.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAppForm {
    /// The catalog template's key, e.g. `aws-iam`.
    #[schema(example = "aws-iam")]
    pub template: String,
    /// Display Label (required).
    pub label: String,
    #[serde(default)]
    pub description: String,
    /// IdP URL slug: lowercase letters, digits and hyphens; default from the
    /// label. Cannot be changed later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    /// Show in the User Portal (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_in_portal: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso: Option<SsoForm>,
    /// Replaces the template's attribute rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<AttributeRuleSchema>>)]
    pub attributes: Option<Vec<AttributeRule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_attribute: Option<String>,
    /// The SP's metadata XML: fills the SP entity ID, ACS URLs and the SP's
    /// signing certificate (after the template, before `sso`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_metadata: Option<String>,
    /// Validity of the generated signing certificate (default 1825 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_days: Option<u32>,
}

/// A partial update; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAppForm {
    /// The slug cannot change; sending a different one is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_in_portal: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso: Option<SsoForm>,
    /// Replaces every attribute row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<AttributeRuleSchema>>)]
    pub attributes: Option<Vec<AttributeRule>>,
    /// An empty string removes the groups attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_attribute: Option<String>,
    /// Replaces the SP's request-signing certificates (base64 DER).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_certificates: Option<Vec<String>>,
}

fn target(id: AppId) -> String {
    format!("application:{id}")
}

fn template_of(key: &str) -> ApiResult<&'static Template> {
    catalog()?.get(key).ok_or_else(|| {
        Error::invalid(
            "template",
            format!("unknown template {key:?}: see GET /api/v1/catalog"),
        )
        .into()
    })
}

/// Fills SP entity ID, ACS URLs (POST binding), the SP's certificates and
/// the signed-requests flag from an SP's metadata.
fn apply_sp_metadata(xml: &str, config: &mut AppConfig) -> ApiResult<()> {
    let md = SpMetadata::parse(xml)
        .map_err(|e| Error::invalid("sp_metadata", format!("is not usable SP metadata: {e}")))?;
    let post: Vec<_> = md
        .acs
        .iter()
        .filter(|a| a.binding == lanyard_saml::ns::BINDING_POST)
        .collect();
    if post.is_empty() {
        return Err(Error::invalid(
            "sp_metadata",
            "has no AssertionConsumerService with the HTTP-POST binding",
        )
        .into());
    }
    // SAML metadata 2.2.3: the first endpoint marked isDefault="true", else
    // the first in document order.
    let default = post.iter().position(|a| a.is_default).unwrap_or(0);
    config.sso.sp_entity_id = md.entity_id.clone();
    config.sso.acs_urls = post
        .iter()
        .enumerate()
        .map(|(i, a)| AcsUrl {
            url: a.location.clone(),
            is_default: i == default,
        })
        .collect();
    // The certificates are the new SP's (possibly none): an old SP's key
    // must not stay trusted. Signed requests are only ever turned on here,
    // never off: metadata that omits the flag does not weaken a setting.
    config.sp_certificates = md
        .signing_certificates
        .iter()
        .map(|c| c.to_base64())
        .collect();
    config.sso.require_signed_requests |= md.authn_requests_signed;
    Ok(())
}

/// `base`, or `base-2`, `base-3`, ... when taken: a default slug the admin
/// did not type should not fail as a conflict. (A race with another create
/// can still end in a 409, which names the slug.)
async fn free_slug(w: &Writer, base: &str) -> ApiResult<String> {
    for n in 1..=100u32 {
        let candidate = if n == 1 {
            base.to_owned()
        } else {
            let suffix = format!("-{n}");
            let keep = base.len().min(63 - suffix.len());
            format!("{}{suffix}", base[..keep].trim_end_matches('-'))
        };
        match w.store.get_app_by_slug(&candidate).await {
            Err(Error::NotFound { .. }) => return Ok(candidate),
            Ok(_) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::invalid("slug", "no free slug for this label: choose one").into())
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
    w: Writer,
    state: axum::extract::State<AppState>,
    ApiJson(form): ApiJson<CreateAppForm>,
) -> ApiResult<(StatusCode, Json<AppView>)> {
    let template = template_of(&form.template)?;
    let slug = match &form.slug {
        Some(s) => {
            check_slug(s).map_err(|m| Error::invalid("slug", m))?;
            s.clone()
        }
        None => free_slug(&w, &slug_from_label(&form.label)).await?,
    };
    let mut config = AppConfig {
        label: form.label.clone(),
        description: form.description.clone(),
        show_in_portal: form.show_in_portal.unwrap_or(true),
        sso: template.sso_settings(state.settings.base_url.as_str(), &slug),
        attributes: template.attribute_rules(),
        groups_attribute: form.groups_attribute.clone().filter(|g| !g.is_empty()),
        sp_certificates: Vec::new(),
    };
    if let Some(xml) = &form.sp_metadata {
        apply_sp_metadata(xml, &mut config)?;
    }
    if let Some(sso) = form.sso {
        sso.apply(&mut config.sso);
    }
    if let Some(rules) = form.attributes {
        config.attributes = rules;
    }
    let config = config.validate(template.aws_rules)?;
    let key = idp::generate_key(
        &slug,
        w.now(),
        form.validity_days.unwrap_or(idp::DEFAULT_VALIDITY_DAYS),
    )
    .await?;
    let new = NewApplication {
        slug,
        template: template.key.clone(),
        aws_rules: template.aws_rules,
        sso_active: config.sso.placeholder_fields().is_empty(),
        config,
    };
    let app = w.store.create_app(&new, &key, w.now()).await?;
    w.record(
        "application.create",
        target(app.id),
        &serde_json::json!({"template": app.template, "slug": app.slug, "label": app.config.label}),
    );
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
    w: Writer,
    state: axum::extract::State<AppState>,
    ApiPath(p): ApiPath<IdPath>,
    ApiJson(form): ApiJson<UpdateAppForm>,
) -> ApiResult<Json<AppView>> {
    let id = AppId(p.id);
    let current = w.store.get_app(id).await?;
    if form.slug.as_ref().is_some_and(|s| *s != current.slug) {
        return Err(Error::invalid(
            "slug",
            format!(
                "is immutable: the IdP URL and metadata of this app use {:?}; create a new app for a new slug",
                current.slug
            ),
        )
        .into());
    }
    let summary = serde_json::to_value(&form).unwrap_or_default();
    let mut config = current.config.clone();
    set(&mut config.label, form.label);
    set(&mut config.description, form.description);
    set(&mut config.show_in_portal, form.show_in_portal);
    if let Some(sso) = form.sso {
        sso.apply(&mut config.sso);
    }
    set(&mut config.attributes, form.attributes);
    if let Some(g) = form.groups_attribute {
        config.groups_attribute = (!g.is_empty()).then_some(g);
    }
    set(&mut config.sp_certificates, form.sp_certificates);
    let config = config.validate(current.aws_rules)?;
    if current.sso_active {
        // "Cannot be activated while a placeholder remains" holds for an
        // active app too: it may not gain one.
        check_activation(&Application {
            config: config.clone(),
            ..current.clone()
        })
        .map_err(|e| match e {
            Error::Invalid(fields) => Error::Invalid(
                fields
                    .into_keys()
                    .map(|f| {
                        (
                            f,
                            "would hold a template placeholder while SSO is active: deactivate SSO first, or enter your AWS value".to_owned(),
                        )
                    })
                    .collect(),
            ),
            other => other,
        })?;
    }
    let app = w.store.update_app(id, &config, w.now()).await?;
    w.record("application.update", target(id), &summary);
    Ok(Json(AppView::new(&state, app)))
}

#[utoipa::path(post, path = "/applications/{id}/activate", tag = TAG_APPS,
    params(("id" = i64, Path)),
    responses((status = 200, body = AppView),
        (status = 400, description = "A field still holds a template placeholder: `fields` names each", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn activate_app(
    w: Writer,
    state: axum::extract::State<AppState>,
    ApiPath(p): ApiPath<IdPath>,
) -> ApiResult<Json<AppView>> {
    let id = AppId(p.id);
    check_activation(&w.store.get_app(id).await?)?;
    let app = w.store.set_app_sso_active(id, true, w.now()).await?;
    w.record("application.activate", target(id), &serde_json::json!({}));
    Ok(Json(AppView::new(&state, app)))
}

#[utoipa::path(post, path = "/applications/{id}/deactivate", tag = TAG_APPS,
    params(("id" = i64, Path)),
    responses((status = 200, body = AppView), (status = 404, body = ErrorBody)))]
async fn deactivate_app(
    w: Writer,
    state: axum::extract::State<AppState>,
    ApiPath(p): ApiPath<IdPath>,
) -> ApiResult<Json<AppView>> {
    let id = AppId(p.id);
    let app = w.store.set_app_sso_active(id, false, w.now()).await?;
    w.record("application.deactivate", target(id), &serde_json::json!({}));
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
    w: Writer,
    ApiJson(form): ApiJson<DeleteAppsForm>,
) -> ApiResult<Json<DeletedApps>> {
    let ids: BTreeSet<i64> = form.ids.iter().copied().collect();
    if ids.is_empty() {
        return Err(Error::invalid("ids", "name at least one application").into());
    }
    if form.confirm_count != ids.len() as u64 {
        return Err(Error::invalid(
            "confirm_count",
            format!(
                "you are deleting {n} application{s}: type {n} to confirm (got {c}); nothing was deleted",
                n = ids.len(),
                s = if ids.len() == 1 { "" } else { "s" },
                c = form.confirm_count
            ),
        )
        .into());
    }
    let ids: Vec<AppId> = ids.into_iter().map(AppId).collect();
    let deleted = w.store.delete_apps(&ids).await?;
    for app in &deleted {
        w.record(
            "application.delete",
            target(app.id),
            &serde_json::json!({"slug": app.slug, "label": app.config.label}),
        );
    }
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
async fn export_metadata(
    caller: Caller,
    state: axum::extract::State<AppState>,
    ApiPath(p): ApiPath<IdPath>,
) -> ApiResult<Response> {
    let app = caller.read.get_app(AppId(p.id)).await?;
    let keys = caller.read.list_app_keys(app.id).await?;
    let xml = idp::metadata_xml(&state.settings, &app, &keys)?;
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
    state: axum::extract::State<AppState>,
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
    if ids.is_empty() || ids.len() > 500 {
        return Err(Error::invalid("ids", "name 1-500 application ids, comma-separated").into());
    }
    let mut files = Vec::with_capacity(ids.len());
    for id in ids {
        let app = caller.read.get_app(AppId(id)).await?;
        let keys = caller.read.list_app_keys(app.id).await?;
        files.push((
            idp::metadata_filename(&app.slug),
            idp::metadata_xml(&state.settings, &app, &keys)?,
        ));
    }
    let bytes = idp::zip(&files)?;
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
    w: Writer,
    state: axum::extract::State<AppState>,
    ApiPath(p): ApiPath<IdPath>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<AppView>> {
    let id = AppId(p.id);
    let xml = xml_body(&headers, &body)?;
    let current = w.store.get_app(id).await?;
    let mut config = current.config.clone();
    apply_sp_metadata(&xml, &mut config)?;
    let config = config.validate(current.aws_rules)?;
    let app = w.store.update_app(id, &config, w.now()).await?;
    w.record(
        "application.import_sp_metadata",
        target(id),
        &serde_json::json!({"sp_entity_id": app.config.sso.sp_entity_id, "acs_urls": app.config.sso.acs_urls.len()}),
    );
    Ok(Json(AppView::new(&state, app)))
}

#[utoipa::path(put, path = "/applications/{id}/image", tag = TAG_APPS,
    params(("id" = i64, Path)),
    request_body(content = Vec<u8>, content_type = "image/png",
        description = "A PNG, JPEG or WebP image of at most 512 KiB and 2048x2048 pixels; the format is read from the bytes"),
    responses((status = 200, body = AppView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn set_image(
    w: Writer,
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
    let bytes = body.clone();
    let info = tokio::task::spawn_blocking(move || check_image(&bytes))
        .await
        .map_err(|e| Error::Store(format!("image check task failed: {e}")))??;
    let app = w
        .store
        .set_app_image(id, Some((&info, &body)), w.now())
        .await?;
    w.record("application.set_image", target(id), &info);
    Ok(Json(AppView::new(&state, app)))
}

#[utoipa::path(delete, path = "/applications/{id}/image", tag = TAG_APPS,
    params(("id" = i64, Path)),
    responses((status = 200, body = AppView), (status = 404, body = ErrorBody)))]
async fn delete_image(
    w: Writer,
    state: axum::extract::State<AppState>,
    ApiPath(p): ApiPath<IdPath>,
) -> ApiResult<Json<AppView>> {
    let id = AppId(p.id);
    let app = w.store.set_app_image(id, None, w.now()).await?;
    w.record(
        "application.delete_image",
        target(id),
        &serde_json::json!({}),
    );
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

/// What one user would get from one application.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    pub user_id: i64,
    /// `issue` when a response would be sent, else the denial's code
    /// (`sso_inactive`, `placeholders`, `user_suspended`, `not_authorized`,
    /// `no_name_id`, `breaks_aws_rules`).
    pub decision: String,
    /// The denial's details, when denied.
    #[schema(value_type = Option<Object>)]
    pub denial: Option<Denial>,
    /// The assertion content the user's values produce (shown even when the
    /// user is denied, so the admin can see what is wrong).
    #[schema(value_type = Option<AssertionContentSchema>)]
    pub content: Option<AssertionContent>,
    /// Every AWS rule the content breaks (AWS apps only).
    #[schema(value_type = Vec<ViolationSchema>)]
    pub violations: Vec<Violation>,
}

/// By email or username first (usernames may be all digits), then by id.
async fn find_user(read: &ReadAccess, who: &str) -> ApiResult<lanyard_core::directory::User> {
    if let Some(user) = read.find_user_by_login(who).await? {
        return Ok(user);
    }
    match who.parse::<i64>() {
        Ok(id) => Ok(read.get_user(UserId(id)).await?),
        Err(_) => Err(Error::not_found("user", who).into()),
    }
}

#[utoipa::path(get, path = "/applications/{id}/preview", tag = TAG_APPS,
    params(("id" = i64, Path), PreviewParams),
    responses((status = 200, body = Preview), (status = 404, body = ErrorBody)))]
async fn preview(
    caller: Caller,
    ApiPath(p): ApiPath<IdPath>,
    ApiQuery(params): ApiQuery<PreviewParams>,
) -> ApiResult<Json<Preview>> {
    let read = &caller.read;
    let app = read.get_app(AppId(p.id)).await?;
    let user = find_user(read, &params.user).await?;
    let groups: Vec<Group> = read.list_groups_of_user(user.id).await?;
    let grants = read.app_grants(app.id).await?;
    let facts = AppFacts::new(&app, &grants);
    let acs = match params.acs_url {
        Some(url) => {
            if !app.config.sso.acs_urls.iter().any(|a| a.url == url) {
                return Err(Error::invalid("acs_url", "is not one of the app's ACS URLs").into());
            }
            url
        }
        None => app.config.sso.default_acs().unwrap_or_default().to_owned(),
    };
    let bound_groups: Vec<&Group> = groups
        .iter()
        .filter(|g| grants.bound_groups.contains(&g.id))
        .collect();
    let content = sso::content(&facts, &user, &bound_groups, &acs).ok();
    let violations = match (&content, app.aws_rules) {
        (Some(c), true) => aws_rules::check(&AssertionFacts {
            name_id: &c.name_id,
            audience: &c.audience,
            recipient: &c.acs_url,
            attributes: &c.attributes,
        }),
        _ => Vec::new(),
    };
    let denial = sso::decide(&facts, &user, &groups, &acs).err();
    Ok(Json(Preview {
        user_id: user.id.0,
        decision: denial.as_ref().map_or("issue", Denial::code).to_owned(),
        denial,
        content,
        violations,
    }))
}
