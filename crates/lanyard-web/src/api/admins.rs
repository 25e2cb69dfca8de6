//! `/api/v1/admins`: the accounts that may sign in to the admin portal
//! (separate from directory users).
//!
//! Passwords are hashed with argon2id off the async runtime and never
//! returned. A new admin's role can be at most the caller's.

use axum::http::StatusCode;
use axum::Json;
use lanyard_app::admins;
use lanyard_core::admin::Admin;
use lanyard_core::AdminId;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{ApiWriter, Caller};
use super::error::ApiResult;
use super::input::{ApiJson, ApiPath, IdPath};
use super::{RoleView, TAG_ADMINS};
use crate::error::ErrorBody;
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_admins, create_admin))
        .routes(routes!(delete_admin))
}

/// An admin account.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Admin)]
pub struct AdminView {
    pub id: i64,
    pub email: String,
    pub role: RoleView,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<Admin> for AdminView {
    fn from(a: Admin) -> Self {
        AdminView {
            id: a.id.0,
            email: a.email,
            role: a.role.into(),
            created_at: a.created_at,
        }
    }
}

/// An admin to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAdminForm {
    pub email: String,
    /// At most the caller's own role.
    pub role: RoleView,
    /// 8-256 characters; stored as an argon2id hash, never returned.
    pub password: String,
}

// `Debug` by hand: a derived one would print the password.
impl std::fmt::Debug for CreateAdminForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateAdminForm")
            .field("email", &self.email)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

#[utoipa::path(get, path = "/admins", tag = TAG_ADMINS,
    responses((status = 200, body = Vec<AdminView>)))]
async fn list_admins(caller: Caller) -> ApiResult<Json<Vec<AdminView>>> {
    let admins = caller.read.list_admins().await?;
    Ok(Json(admins.into_iter().map(AdminView::from).collect()))
}

#[utoipa::path(post, path = "/admins", tag = TAG_ADMINS, request_body = CreateAdminForm,
    responses((status = 201, body = AdminView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create_admin(
    w: ApiWriter,
    ApiJson(form): ApiJson<CreateAdminForm>,
) -> ApiResult<(StatusCode, Json<AdminView>)> {
    let admin = admins::create_admin(&w, &form.email, form.role.into(), form.password).await?;
    Ok((StatusCode::CREATED, Json(admin.into())))
}

#[utoipa::path(delete, path = "/admins/{id}", tag = TAG_ADMINS, params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_admin(
    w: ApiWriter,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<StatusCode> {
    admins::delete_admin(&w, AdminId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
