//! `/api/v1/users`: directory users, their password, attributes, state and
//! groups.
//!
//! Suspension is two actions (`POST /users/{id}/suspend`, `/unsuspend`)
//! rather than a writable `state` field, so each is its own audit action and
//! a PATCH can never flip it by accident. A password is only ever written
//! (create, `PUT /users/{id}/password`); no response carries it or its hash.

use axum::http::StatusCode;
use axum::Json;
use lanyard_app::directory::users::{self, CreateUserForm, PasswordForm, UpdateUserForm};
use lanyard_core::directory::{Attributes, User, UserState};
use lanyard_core::UserId;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{ApiWriter, Caller};
use super::error::ApiResult;
use super::groups::GroupView;
use super::input::{ApiJson, ApiPath, ApiQuery, IdPath};
use super::{AttributesSchema, ListParams, TAG_USERS};
use crate::error::ErrorBody;
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(set_password))
        .routes(routes!(get_user_attributes, set_user_attributes))
        .routes(routes!(suspend_user))
        .routes(routes!(unsuspend_user))
        .routes(routes!(list_groups_of_user))
}

/// A directory user.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub state: UserStateView,
    #[schema(value_type = AttributesSchema)]
    pub attributes: Attributes,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = UserState)]
pub enum UserStateView {
    Active,
    Suspended,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            id: u.id.0,
            email: u.email,
            username: u.username,
            first_name: u.first_name,
            last_name: u.last_name,
            state: match u.state {
                UserState::Active => UserStateView::Active,
                UserState::Suspended => UserStateView::Suspended,
            },
            attributes: u.attributes,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// One page of users; pass `next` as `after` for the following page.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserView>,
    pub next: Option<i64>,
}

#[utoipa::path(get, path = "/users", tag = TAG_USERS, params(ListParams),
    responses((status = 200, body = UserPage), (status = 400, body = ErrorBody)))]
async fn list_users(
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<UserPage>> {
    let page = caller.read.list_users(&params.into_query()?).await?;
    Ok(Json(UserPage {
        items: page.items.into_iter().map(UserView::from).collect(),
        next: page.next,
    }))
}

#[utoipa::path(post, path = "/users", tag = TAG_USERS, request_body = CreateUserForm,
    responses((status = 201, body = UserView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create_user(
    w: ApiWriter,
    ApiJson(form): ApiJson<CreateUserForm>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let user = users::create(&w, form).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

#[utoipa::path(get, path = "/users/{id}", tag = TAG_USERS, params(("id" = i64, Path)),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)))]
async fn get_user(
    caller: Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(caller.read.get_user(UserId(id)).await?.into()))
}

#[utoipa::path(patch, path = "/users/{id}", tag = TAG_USERS, params(("id" = i64, Path)),
    request_body = UpdateUserForm,
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_user(
    w: ApiWriter,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiJson(form): ApiJson<UpdateUserForm>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(users::update(&w, UserId(id), form).await?.into()))
}

#[utoipa::path(delete, path = "/users/{id}", tag = TAG_USERS, params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_user(
    w: ApiWriter,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<StatusCode> {
    users::delete(&w, UserId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/users/{id}/password", tag = TAG_USERS, params(("id" = i64, Path)),
    request_body = PasswordForm,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_password(
    w: ApiWriter,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiJson(form): ApiJson<PasswordForm>,
) -> ApiResult<StatusCode> {
    users::set_password(&w, UserId(id), form.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/users/{id}/attributes", tag = TAG_USERS, params(("id" = i64, Path)),
    responses((status = 200, body = AttributesSchema), (status = 404, body = ErrorBody)))]
async fn get_user_attributes(
    caller: Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<Attributes>> {
    Ok(Json(caller.read.get_user(UserId(id)).await?.attributes))
}

/// Replaces the user's whole attribute map.
#[utoipa::path(put, path = "/users/{id}/attributes", tag = TAG_USERS, params(("id" = i64, Path)),
    request_body = AttributesSchema,
    responses((status = 200, body = AttributesSchema), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn set_user_attributes(
    w: ApiWriter,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiJson(attributes): ApiJson<Attributes>,
) -> ApiResult<Json<Attributes>> {
    let user = users::set_attributes(&w, UserId(id), attributes).await?;
    Ok(Json(user.attributes))
}

#[utoipa::path(post, path = "/users/{id}/suspend", tag = TAG_USERS, params(("id" = i64, Path)),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)))]
async fn suspend_user(
    w: ApiWriter,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(
        users::set_state(&w, UserId(id), UserState::Suspended)
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/users/{id}/unsuspend", tag = TAG_USERS, params(("id" = i64, Path)),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)))]
async fn unsuspend_user(
    w: ApiWriter,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(
        users::set_state(&w, UserId(id), UserState::Active)
            .await?
            .into(),
    ))
}

/// The groups the user belongs to (not paginated: a user is in few groups).
#[utoipa::path(get, path = "/users/{id}/groups", tag = TAG_USERS, params(("id" = i64, Path)),
    responses((status = 200, body = Vec<GroupView>), (status = 404, body = ErrorBody)))]
async fn list_groups_of_user(
    caller: Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<Vec<GroupView>>> {
    let groups = caller.read.list_groups_of_user(UserId(id)).await?;
    Ok(Json(groups.into_iter().map(GroupView::from).collect()))
}
