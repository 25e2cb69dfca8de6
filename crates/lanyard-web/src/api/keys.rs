//! `/api/v1/api-keys`: minting, listing and revoking API keys.
//!
//! The secret is in the creation response and nowhere else, ever: the store
//! keeps its SHA-256 hash, and lists show only the recognisable `prefix`. A
//! key's role can be at most its creator's. Revoking (`DELETE`) keeps the key
//! listed with `revoked_at` set, so the audit trail still names it.
//!
//! Minting and revoking live in [`changes`], shared with the admin portal's
//! API keys page (`pages::admin::system`).

use axum::http::StatusCode;
use axum::Json;
use lanyard_core::admin::ApiKey;
use lanyard_core::ApiKeyId;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Caller, Writer};
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
}

/// A new key and, this once, its secret.
#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    pub key: ApiKeyView,
    /// Send as `Authorization: Bearer <secret>`. Shown only in this response.
    pub secret: String,
}

fn target(id: ApiKeyId) -> String {
    format!("apikey:{id}")
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
    w: Writer,
    ApiJson(form): ApiJson<CreateApiKeyForm>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    let creator = w.actor.role;
    let (key, secret) = changes::create_key(&w, creator, &form.name, form.role.into()).await?;
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
    w: Writer,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<ApiKeyView>> {
    Ok(Json(changes::revoke_key(&w, ApiKeyId(id)).await?.into()))
}

/// Minting and revoking, shared with the admin portal: the rules (name,
/// role at most the creator's) and the audit events.
pub(crate) mod changes {
    use lanyard_core::admin::{check_key_name, ApiKey, Role};
    use lanyard_core::{ApiKeyId, Result};

    use super::target;
    use crate::api::error::{ApiError, ApiResult};
    use crate::apps_service::Change;
    use crate::secrets::new_api_key;

    /// Mints a key named `name` with `role` for a creator holding `creator`;
    /// returns it with its secret, which exists nowhere else afterwards.
    /// A role above the creator's is `Forbidden`.
    pub(crate) async fn create_key(
        w: &impl Change,
        creator: Role,
        name: &str,
        role: Role,
    ) -> ApiResult<(ApiKey, String)> {
        let name = check_key_name(name)?;
        if role > creator {
            return Err(ApiError::Forbidden(format!(
                "a key's role can be at most its creator's ({})",
                creator.as_str()
            )));
        }
        let generated = new_api_key()?;
        let key = w
            .store()
            .create_api_key(&name, role, &generated.prefix, &generated.hash, w.now())
            .await?;
        w.record(
            "apikey.create",
            target(key.id),
            &serde_json::json!({
                "name": key.name, "role": key.role.as_str(), "prefix": key.prefix,
            }),
        );
        Ok((key, generated.secret))
    }

    /// Revokes the key (it stays listed, with `revoked_at`).
    pub(crate) async fn revoke_key(w: &impl Change, id: ApiKeyId) -> Result<ApiKey> {
        let key = w.store().revoke_api_key(id, w.now()).await?;
        w.record(
            "apikey.revoke",
            target(key.id),
            &serde_json::json!({
                "name": key.name, "prefix": key.prefix,
            }),
        );
        Ok(key)
    }
}
