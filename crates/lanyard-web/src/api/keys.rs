//! `/api/v1/api-keys`: minting, listing and revoking API keys.
//!
//! The secret is in the creation response and nowhere else, ever: the store
//! keeps its SHA-256 hash, and lists show only the recognisable `prefix`. A
//! key's role can be at most its creator's; it records who created it and
//! may carry an expiry (`expires_at`), after which it gets 401 "expired". Revoking (`DELETE`) keeps the key
//! listed with `revoked_at` set, so the audit trail still names it.
//!
//! Minting and revoking are `lanyard_app::admins`, shared with the admin
//! portal's API keys page.

use axum::http::StatusCode;
use axum::Json;
use lanyard_app::admins;
use lanyard_core::admin::ApiKey;
use lanyard_core::ApiKeyId;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{ApiWriter, Caller};
use super::error::ApiResult;
use super::input::{ApiJson, ApiPath, IdPath};
use super::{RoleView, TAG_KEYS};
use crate::error::ErrorBody;
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

/// An API key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApiKey)]
pub struct ApiKeyView {
    pub id: i64,
    pub name: String,
    pub role: RoleView,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Refreshed at most once a minute.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<OffsetDateTime>,
    /// Who made it (`admin:<email>`, `apikey:<name>#<id>`, `cli`); absent
    /// for keys made before this was recorded.
    pub created_by: Option<String>,
    /// After this the key is refused (401, "expired").
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        ApiKeyView {
            id: k.id.0,
            name: k.name,
            role: k.role.into(),
            prefix: k.prefix,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
            created_by: k.created_by,
            expires_at: k.expires_at,
        }
    }
}

/// A key to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyForm {
    /// 1-100 characters, to tell keys apart.
    pub name: String,
    /// At most the caller's own role.
    pub role: RoleView,
    /// When the key stops working (RFC 3339, in the future); absent: never.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

/// A new key and, this once, its secret.
#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    pub key: ApiKeyView,
    /// Send as `Authorization: Bearer <secret>`. Shown only in this response.
    pub secret: String,
}

#[utoipa::path(get, path = "/api-keys", tag = TAG_KEYS,
    responses((status = 200, body = Vec<ApiKeyView>)))]
async fn list_keys(caller: Caller) -> ApiResult<Json<Vec<ApiKeyView>>> {
    let keys = caller.read.list_api_keys().await?;
    Ok(Json(keys.into_iter().map(ApiKeyView::from).collect()))
}

#[utoipa::path(post, path = "/api-keys", tag = TAG_KEYS, request_body = CreateApiKeyForm,
    responses((status = 201, body = CreatedApiKey), (status = 400, body = ErrorBody)))]
async fn create_key(
    w: ApiWriter,
    ApiJson(form): ApiJson<CreateApiKeyForm>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    let (key, secret) =
        admins::create_key(&w, &form.name, form.role.into(), form.expires_at).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            key: key.into(),
            secret,
        }),
    ))
}

/// Revokes the key (it stays listed, with `revoked_at`).
#[utoipa::path(delete, path = "/api-keys/{id}", tag = TAG_KEYS, params(("id" = i64, Path)),
    responses((status = 200, body = ApiKeyView), (status = 404, body = ErrorBody)))]
async fn revoke_key(
    w: ApiWriter,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<ApiKeyView>> {
    Ok(Json(admins::revoke_key(&w, ApiKeyId(id)).await?.into()))
}
