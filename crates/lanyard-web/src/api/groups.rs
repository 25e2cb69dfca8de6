//! `/api/v1/groups`: groups, their attributes and their members.
//!
//! Membership is addressed as a resource, `/groups/{id}/members/{user_id}`:
//! `PUT` adds (idempotent), `DELETE` removes (idempotent), and both answer
//! 404 when the group or the user does not exist (the store tells apart "no
//! such row" from "nothing to do"). The other side of the
//! relation is `GET /users/{id}/groups`.
//!
//! The changes are `lanyard_app::directory::groups`, shared with the admin
//! portal's Groups pages.

use axum::http::StatusCode;
use axum::Json;
use lanyard_app::directory::groups::{self, CreateGroupForm, UpdateGroupForm};
use lanyard_core::directory::{Attributes, Group};
use lanyard_core::{GroupId, UserId};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{ApiWriter, Caller};
use super::error::ApiResult;
use super::input::{ApiJson, ApiPath, ApiQuery, IdPath, MemberPath};
use super::users::{UserPage, UserView};
use super::{AttributesSchema, ListParams, TAG_GROUPS};
use crate::error::ErrorBody;
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_groups, create_group))
        .routes(routes!(get_group, update_group, delete_group))
        .routes(routes!(get_group_attributes, set_group_attributes))
        .routes(routes!(list_members))
        .routes(routes!(add_member, remove_member))
}

/// A group of users.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Group)]
pub struct GroupView {
    pub id: i64,
    pub name: String,
    pub description: String,
    #[schema(value_type = AttributesSchema)]
    pub attributes: Attributes,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<Group> for GroupView {
    fn from(g: Group) -> Self {
        GroupView {
            id: g.id.0,
            name: g.name,
            description: g.description,
            attributes: g.attributes,
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

/// One page of groups; pass `next` as `after` for the following page.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupPage {
    pub items: Vec<GroupView>,
    pub next: Option<i64>,
}

#[utoipa::path(get, path = "/groups", tag = TAG_GROUPS, params(ListParams),
    responses((status = 200, body = GroupPage), (status = 400, body = ErrorBody)))]
async fn list_groups(
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<GroupPage>> {
    let page = caller.read.list_groups(&params.into_query()?).await?;
    Ok(Json(GroupPage {
        items: page.items.into_iter().map(GroupView::from).collect(),
        next: page.next,
    }))
}

#[utoipa::path(post, path = "/groups", tag = TAG_GROUPS, request_body = CreateGroupForm,
    responses((status = 201, body = GroupView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create_group(
    w: ApiWriter,
    ApiJson(form): ApiJson<CreateGroupForm>,
) -> ApiResult<(StatusCode, Json<GroupView>)> {
    let group = groups::create(&w, form).await?;
    Ok((StatusCode::CREATED, Json(group.into())))
}

#[utoipa::path(get, path = "/groups/{id}", tag = TAG_GROUPS, params(("id" = i64, Path)),
    responses((status = 200, body = GroupView), (status = 404, body = ErrorBody)))]
async fn get_group(
    caller: Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<GroupView>> {
    Ok(Json(caller.read.get_group(GroupId(id)).await?.into()))
}

#[utoipa::path(patch, path = "/groups/{id}", tag = TAG_GROUPS, params(("id" = i64, Path)),
    request_body = UpdateGroupForm,
    responses((status = 200, body = GroupView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_group(
    w: ApiWriter,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiJson(form): ApiJson<UpdateGroupForm>,
) -> ApiResult<Json<GroupView>> {
    Ok(Json(groups::update(&w, GroupId(id), form).await?.into()))
}

#[utoipa::path(delete, path = "/groups/{id}", tag = TAG_GROUPS, params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_group(
    w: ApiWriter,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<StatusCode> {
    groups::delete(&w, GroupId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/groups/{id}/attributes", tag = TAG_GROUPS, params(("id" = i64, Path)),
    responses((status = 200, body = AttributesSchema), (status = 404, body = ErrorBody)))]
async fn get_group_attributes(
    caller: Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<Attributes>> {
    Ok(Json(caller.read.get_group(GroupId(id)).await?.attributes))
}

/// Replaces the group's whole attribute map.
#[utoipa::path(put, path = "/groups/{id}/attributes", tag = TAG_GROUPS, params(("id" = i64, Path)),
    request_body = AttributesSchema,
    responses((status = 200, body = AttributesSchema), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn set_group_attributes(
    w: ApiWriter,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiJson(attributes): ApiJson<Attributes>,
) -> ApiResult<Json<Attributes>> {
    let group = groups::set_attributes(&w, GroupId(id), attributes).await?;
    Ok(Json(group.attributes))
}

#[utoipa::path(get, path = "/groups/{id}/members", tag = TAG_GROUPS,
    params(("id" = i64, Path), ListParams),
    responses((status = 200, body = UserPage), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn list_members(
    caller: Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<UserPage>> {
    let page = caller
        .read
        .list_members(GroupId(id), &params.into_query()?)
        .await?;
    Ok(Json(UserPage {
        items: page.items.into_iter().map(UserView::from).collect(),
        next: page.next,
    }))
}

/// Adds the user to the group; adding a member again is not an error.
#[utoipa::path(put, path = "/groups/{id}/members/{user_id}", tag = TAG_GROUPS,
    params(("id" = i64, Path), ("user_id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn add_member(
    w: ApiWriter,
    ApiPath(MemberPath { id, user_id }): ApiPath<MemberPath>,
) -> ApiResult<StatusCode> {
    groups::add_member(&w, GroupId(id), UserId(user_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the user from the group; removing a non-member is not an error.
#[utoipa::path(delete, path = "/groups/{id}/members/{user_id}", tag = TAG_GROUPS,
    params(("id" = i64, Path), ("user_id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn remove_member(
    w: ApiWriter,
    ApiPath(MemberPath { id, user_id }): ApiPath<MemberPath>,
) -> ApiResult<StatusCode> {
    groups::remove_member(&w, GroupId(id), UserId(user_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
