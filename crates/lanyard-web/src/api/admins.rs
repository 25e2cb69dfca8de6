//! `/api/v1/admins`: the accounts that may sign in to the admin portal
//! (separate from directory users).
//!
//! Passwords are hashed with argon2id off the async runtime and never
//! returned; they follow the admin password rules (`admin_password_min_length`,
//! not a common password). A new admin's role can be at most the caller's.
//! The last active administrator cannot be demoted, disabled or deleted
//! (409 `refused`). `POST /admins/{id}/unlock` ends a lock,
//! `DELETE /admins/{id}/totp` removes a lost second factor.

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
        .routes(routes!(get_admin, update_admin, delete_admin))
        .routes(routes!(unlock_admin))
        .routes(routes!(reset_admin_totp))
}

/// An admin account.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Admin)]
pub struct AdminView {
    pub id: i64,
    pub email: String,
    pub role: RoleView,
    /// A disabled admin cannot sign in.
    pub disabled: bool,
    /// The admin has a confirmed TOTP second factor.
    pub second_factor: bool,
    /// Locked after failed sign-ins until then (absent or past: not
    /// locked).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub locked_until: Option<OffsetDateTime>,
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
            disabled: a.disabled,
            second_factor: a.second_factor,
            locked_until: a.locked_until,
            created_at: a.created_at,
        }
    }
}

/// What to change about an admin (absent fields stay as they are).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAdminForm {
    /// At most the caller's own role.
    pub role: Option<RoleView>,
    /// Disabling ends the admin's sessions.
    pub disabled: Option<bool>,
}

/// An admin to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAdminForm {
    pub email: String,
    /// At most the caller's own role.
    pub role: RoleView,
    /// `admin_password_min_length` (12 by default) to 256 characters and
    /// not a common password; stored as an argon2id hash, never returned.
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

#[utoipa::path(get, path = "/admins/{id}", tag = TAG_ADMINS, params(("id" = i64, Path)),
    responses((status = 200, body = AdminView), (status = 404, body = ErrorBody)))]
async fn get_admin(
    caller: Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<AdminView>> {
    Ok(Json(caller.read.get_admin(AdminId(id)).await?.into()))
}

/// Changes the role or disables/enables the admin.
#[utoipa::path(patch, path = "/admins/{id}", tag = TAG_ADMINS, params(("id" = i64, Path)),
    request_body = UpdateAdminForm,
    responses((status = 200, body = AdminView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_admin(
    w: ApiWriter,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiJson(form): ApiJson<UpdateAdminForm>,
) -> ApiResult<Json<AdminView>> {
    let change = admins::AdminChange {
        role: form.role.map(Into::into),
        disabled: form.disabled,
    };
    Ok(Json(
        admins::update_admin(&w, AdminId(id), change).await?.into(),
    ))
}

/// Ends the admin's lock and failure counts at once.
#[utoipa::path(post, path = "/admins/{id}/unlock", tag = TAG_ADMINS, params(("id" = i64, Path)),
    responses((status = 200, body = AdminView), (status = 404, body = ErrorBody)))]
async fn unlock_admin(
    w: ApiWriter,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<AdminView>> {
    admins::unlock_admin(&w, AdminId(id)).await?;
    Ok(Json(w.reader().get_admin(AdminId(id)).await?.into()))
}

/// Removes the admin's second factor (a lost device) and ends their
/// sessions.
#[utoipa::path(delete, path = "/admins/{id}/totp", tag = TAG_ADMINS, params(("id" = i64, Path)),
    responses((status = 200, body = AdminView), (status = 404, body = ErrorBody)))]
async fn reset_admin_totp(
    w: ApiWriter,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<AdminView>> {
    Ok(Json(
        admins::reset_admin_totp(&w, AdminId(id)).await?.into(),
    ))
}

#[utoipa::path(delete, path = "/admins/{id}", tag = TAG_ADMINS, params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_admin(
    w: ApiWriter,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<StatusCode> {
    admins::delete_admin(&w, AdminId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
