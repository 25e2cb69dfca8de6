//! Who may use an application and what it signs with:
//!
//! - signing keys: `/applications/{id}/keys` (list; generate or upload, with
//!   or without making it the signing key), activate, delete. Every key is
//!   published in the metadata, so adding the next key first and activating
//!   it once the SP has the new metadata rotates without downtime. No private
//!   key is ever in a response: views carry certificates only.
//! - group bindings, one relation with two doors:
//!   `/applications/{id}/groups/{group_id}` and
//!   `/groups/{id}/applications/{app_id}` (`PUT` binds, `DELETE` unbinds,
//!   both idempotent, 404 when either end is missing). Users are implicitly
//!   denied: only members of a bound group may sign in to the app.
//! - AWS entitlements: `/applications/{id}/entitlements`, the whole table
//!   replaced at once (`lanyard_app::apps::grants`, shared with the
//!   admin portal's Attributes tab).

use axum::http::StatusCode;
use axum::Json;
use lanyard_core::application::{AppKey, Grant};
use lanyard_core::apps::Entitlement;
use lanyard_core::{AppId, AppKeyId, Error, GroupId};
use lanyard_saml::keys::Certificate;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::applications::AppView;
use super::auth::{ApiWriter, Caller};
use super::error::ApiResult;
use super::groups::GroupView;
use super::input::{ApiJson, ApiPath, IdPath};
use super::TAG_APPS;
use crate::error::ErrorBody;
use crate::AppState;
use lanyard_app::apps;
use lanyard_app::apps::schema::GrantSchema;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, add_key))
        .routes(routes!(activate_key))
        .routes(routes!(delete_key))
        .routes(routes!(list_app_groups))
        .routes(routes!(bind_group, unbind_group))
        .routes(routes!(list_group_apps))
        .routes(routes!(bind_from_group, unbind_from_group))
        .routes(routes!(get_entitlements, set_entitlements))
}

/// A signing key, by its certificate (the private key never leaves the server).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SigningKey)]
pub struct KeyView {
    pub id: i64,
    /// The key that signs responses; the others are published for rotation.
    pub active: bool,
    pub certificate_pem: String,
    pub subject: String,
    pub bits: usize,
    /// Hex SHA-256 of the certificate's DER, colon-separated.
    pub sha256_fingerprint: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub not_after: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl TryFrom<AppKey> for KeyView {
    type Error = Error;

    fn try_from(k: AppKey) -> Result<Self, Error> {
        let cert = Certificate::from_pem(&k.certificate_pem)
            .map_err(|e| Error::Store(format!("stored certificate of key {}: {e}", k.id)))?;
        Ok(KeyView {
            id: k.id.0,
            active: k.active,
            subject: cert.subject().to_owned(),
            bits: cert.bits(),
            sha256_fingerprint: cert.sha256_fingerprint(),
            not_before: cert.not_before(),
            not_after: cert.not_after(),
            certificate_pem: k.certificate_pem,
            created_at: k.created_at,
        })
    }
}

/// A new signing key: generated (give `validity_days` or nothing), or
/// uploaded (give both PEMs).
// No `Debug`: it carries a private key.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyForm {
    /// Make it the signing key now ("regenerate"). Default false: publish it
    /// first, activate once the SP has the new metadata.
    #[serde(default)]
    pub activate: bool,
    /// Validity of a generated certificate in days (default 1825).
    pub validity_days: Option<u32>,
    /// PEM private key (PKCS#8 or PKCS#1 RSA, at least 2048 bits).
    pub private_key_pem: Option<String>,
    /// PEM certificate matching the private key.
    pub certificate_pem: Option<String>,
}

#[derive(Debug, Deserialize)]
struct KeyPath {
    id: i64,
    key_id: i64,
}

#[utoipa::path(get, path = "/applications/{id}/keys", tag = TAG_APPS,
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<KeyView>), (status = 404, body = ErrorBody)))]
async fn list_keys(caller: Caller, ApiPath(p): ApiPath<IdPath>) -> ApiResult<Json<Vec<KeyView>>> {
    let app = caller.read.get_app(AppId(p.id)).await?;
    let keys = caller.read.list_app_keys(app.id).await?;
    Ok(Json(
        keys.into_iter()
            .map(KeyView::try_from)
            .collect::<Result<_, _>>()?,
    ))
}

#[utoipa::path(post, path = "/applications/{id}/keys", tag = TAG_APPS,
    params(("id" = i64, Path)), request_body = NewKeyForm,
    responses((status = 201, body = KeyView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn add_key(
    w: ApiWriter,
    ApiPath(p): ApiPath<IdPath>,
    ApiJson(form): ApiJson<NewKeyForm>,
) -> ApiResult<(StatusCode, Json<KeyView>)> {
    let source = match (form.private_key_pem, form.certificate_pem) {
        (Some(private_key_pem), Some(certificate_pem)) => {
            if form.validity_days.is_some() {
                return Err(Error::invalid(
                    "validity_days",
                    "applies to generated keys only; an uploaded certificate has its own",
                )
                .into());
            }
            apps::keys::KeySource::Upload {
                private_key_pem,
                certificate_pem,
            }
        }
        (None, None) => apps::keys::KeySource::Generate {
            validity_days: form.validity_days,
        },
        (Some(_), None) => {
            return Err(
                Error::invalid("certificate_pem", "is required with private_key_pem").into(),
            )
        }
        (None, Some(_)) => {
            return Err(
                Error::invalid("private_key_pem", "is required with certificate_pem").into(),
            )
        }
    };
    let stored = apps::keys::add(&w, AppId(p.id), source, form.activate).await?;
    Ok((StatusCode::CREATED, Json(stored.try_into()?)))
}

#[utoipa::path(post, path = "/applications/{id}/keys/{key_id}/activate", tag = TAG_APPS,
    params(("id" = i64, Path), ("key_id" = i64, Path)),
    responses((status = 200, body = KeyView), (status = 404, body = ErrorBody)))]
async fn activate_key(w: ApiWriter, ApiPath(p): ApiPath<KeyPath>) -> ApiResult<Json<KeyView>> {
    let key = apps::keys::activate(&w, AppId(p.id), AppKeyId(p.key_id)).await?;
    Ok(Json(key.try_into()?))
}

#[utoipa::path(delete, path = "/applications/{id}/keys/{key_id}", tag = TAG_APPS,
    params(("id" = i64, Path), ("key_id" = i64, Path)),
    responses((status = 204),
        (status = 400, description = "The active key cannot be deleted", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn delete_key(w: ApiWriter, ApiPath(p): ApiPath<KeyPath>) -> ApiResult<StatusCode> {
    apps::keys::delete(&w, AppId(p.id), AppKeyId(p.key_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct AppGroupPath {
    id: i64,
    group_id: i64,
}

#[derive(Debug, Deserialize)]
struct GroupAppPath {
    id: i64,
    app_id: i64,
}

#[utoipa::path(get, path = "/applications/{id}/groups", tag = TAG_APPS,
    params(("id" = i64, Path)),
    responses((status = 200, description = "The groups whose members may use the app", body = Vec<GroupView>),
        (status = 404, body = ErrorBody)))]
async fn list_app_groups(
    caller: Caller,
    ApiPath(p): ApiPath<IdPath>,
) -> ApiResult<Json<Vec<GroupView>>> {
    let groups = caller.read.list_app_groups(AppId(p.id)).await?;
    Ok(Json(groups.into_iter().map(GroupView::from).collect()))
}

async fn bind(w: &ApiWriter, app: AppId, group: GroupId, on: bool) -> ApiResult<StatusCode> {
    apps::grants::set_binding(w, app, group, on).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/applications/{id}/groups/{group_id}", tag = TAG_APPS,
    params(("id" = i64, Path), ("group_id" = i64, Path)),
    responses((status = 204, description = "Bound (idempotent)"), (status = 404, body = ErrorBody)))]
async fn bind_group(w: ApiWriter, ApiPath(p): ApiPath<AppGroupPath>) -> ApiResult<StatusCode> {
    bind(&w, AppId(p.id), GroupId(p.group_id), true).await
}

#[utoipa::path(delete, path = "/applications/{id}/groups/{group_id}", tag = TAG_APPS,
    params(("id" = i64, Path), ("group_id" = i64, Path)),
    responses((status = 204, description = "Unbound (idempotent)"), (status = 404, body = ErrorBody)))]
async fn unbind_group(w: ApiWriter, ApiPath(p): ApiPath<AppGroupPath>) -> ApiResult<StatusCode> {
    bind(&w, AppId(p.id), GroupId(p.group_id), false).await
}

#[utoipa::path(get, path = "/groups/{id}/applications", tag = TAG_APPS,
    params(("id" = i64, Path)),
    responses((status = 200, description = "The applications the group's members may use", body = Vec<AppView>),
        (status = 404, body = ErrorBody)))]
async fn list_group_apps(
    caller: Caller,
    state: axum::extract::State<AppState>,
    ApiPath(p): ApiPath<IdPath>,
) -> ApiResult<Json<Vec<AppView>>> {
    let apps = caller.read.list_group_apps(GroupId(p.id)).await?;
    Ok(Json(
        apps.into_iter().map(|a| AppView::new(&state, a)).collect(),
    ))
}

#[utoipa::path(put, path = "/groups/{id}/applications/{app_id}", tag = TAG_APPS,
    params(("id" = i64, Path), ("app_id" = i64, Path)),
    responses((status = 204, description = "Bound (idempotent)"), (status = 404, body = ErrorBody)))]
async fn bind_from_group(w: ApiWriter, ApiPath(p): ApiPath<GroupAppPath>) -> ApiResult<StatusCode> {
    bind(&w, AppId(p.app_id), GroupId(p.id), true).await
}

#[utoipa::path(delete, path = "/groups/{id}/applications/{app_id}", tag = TAG_APPS,
    params(("id" = i64, Path), ("app_id" = i64, Path)),
    responses((status = 204, description = "Unbound (idempotent)"), (status = 404, body = ErrorBody)))]
async fn unbind_from_group(
    w: ApiWriter,
    ApiPath(p): ApiPath<GroupAppPath>,
) -> ApiResult<StatusCode> {
    bind(&w, AppId(p.app_id), GroupId(p.id), false).await
}

/// One row of the entitlement table.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GrantForm {
    pub group_id: i64,
    pub account_id: String,
    pub role_name: String,
    /// Absent or empty: the app's default (`sso.aws_provider_name`, else
    /// its slug).
    #[serde(default)]
    pub provider_name: String,
    #[serde(default)]
    pub account_label: Option<String>,
    #[serde(default)]
    pub max_session_duration: Option<u32>,
    /// Where AWS opens after signing in with this role (the RelayState):
    /// an https console URL or a region such as `eu-west-1`.
    #[serde(default)]
    pub deep_link: Option<String>,
}

impl From<GrantForm> for Grant {
    fn from(f: GrantForm) -> Self {
        Grant {
            group_id: GroupId(f.group_id),
            entitlement: Entitlement {
                account_id: f.account_id,
                role_name: f.role_name,
                provider_name: f.provider_name,
                account_label: f.account_label,
                max_session_duration: f.max_session_duration,
                deep_link: f.deep_link.filter(|l| !l.trim().is_empty()),
            },
        }
    }
}

#[utoipa::path(get, path = "/applications/{id}/entitlements", tag = TAG_APPS,
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<GrantSchema>), (status = 404, body = ErrorBody)))]
async fn get_entitlements(
    caller: Caller,
    ApiPath(p): ApiPath<IdPath>,
) -> ApiResult<Json<Vec<Grant>>> {
    let app = caller.read.get_app(AppId(p.id)).await?;
    Ok(Json(caller.read.list_entitlements(app.id).await?))
}

#[utoipa::path(put, path = "/applications/{id}/entitlements", tag = TAG_APPS,
    params(("id" = i64, Path)), request_body = Vec<GrantSchema>,
    responses((status = 200, body = Vec<GrantSchema>), (status = 400, body = ErrorBody),
        (status = 404, description = "No such application, or a row names an unknown group", body = ErrorBody)))]
async fn set_entitlements(
    w: ApiWriter,
    ApiPath(p): ApiPath<IdPath>,
    ApiJson(rows): ApiJson<Vec<GrantForm>>,
) -> ApiResult<Json<Vec<Grant>>> {
    let grants: Vec<Grant> = rows.into_iter().map(Grant::from).collect();
    let stored = apps::grants::set_entitlements(&w, AppId(p.id), &grants).await?;
    Ok(Json(stored))
}
