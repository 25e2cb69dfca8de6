//! `/api/v1/groups`: groups, their attributes and their members.
//!
//! Membership is addressed as a resource, `/groups/{id}/members/{user_id}`:
//! `PUT` adds (idempotent), `DELETE` removes (idempotent), and both answer
//! 404 when the group or the user does not exist (the store tells apart "no
//! such row" from "nothing to do"). The other side of the
//! relation is `GET /users/{id}/groups`.
//!
//! The changes themselves live in [`changes`]: `pub(crate)` functions over
//! an `apps_service::Change`, shared with the admin portal's Groups pages
//! (`pages::admin::groups`): one set of rules (those of
//! `lanyard_core::directory`) and one set of audit events for both doors.

use axum::http::StatusCode;
use axum::Json;
use lanyard_core::directory::{Attributes, Group, GroupPatch, NewGroup};
use lanyard_core::{GroupId, UserId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Caller, Writer};
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

/// A group to create.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupForm {
    /// Unique, case-insensitive; 1-100 characters.
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    #[schema(value_type = AttributesSchema)]
    pub attributes: Attributes,
}

/// A partial update: absent (or null) fields stay as they are; `attributes`
/// replaces the whole map.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroupForm {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<AttributesSchema>)]
    pub attributes: Option<Attributes>,
}

fn target(id: GroupId) -> String {
    format!("group:{id}")
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
    w: Writer,
    ApiJson(form): ApiJson<CreateGroupForm>,
) -> ApiResult<(StatusCode, Json<GroupView>)> {
    let new = NewGroup {
        name: form.name,
        description: form.description,
        attributes: form.attributes,
    };
    let group = changes::create_group(&w, new).await?;
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
    w: Writer,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiJson(form): ApiJson<UpdateGroupForm>,
) -> ApiResult<Json<GroupView>> {
    let patch = GroupPatch {
        name: form.name,
        description: form.description,
        attributes: form.attributes,
    };
    Ok(Json(
        changes::update_group(&w, GroupId(id), patch).await?.into(),
    ))
}

#[utoipa::path(delete, path = "/groups/{id}", tag = TAG_GROUPS, params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_group(w: Writer, ApiPath(IdPath { id }): ApiPath<IdPath>) -> ApiResult<StatusCode> {
    changes::delete_group(&w, GroupId(id)).await?;
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
    w: Writer,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiJson(attributes): ApiJson<Attributes>,
) -> ApiResult<Json<Attributes>> {
    let group = changes::set_attributes(&w, GroupId(id), attributes).await?;
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
    w: Writer,
    ApiPath(MemberPath { id, user_id }): ApiPath<MemberPath>,
) -> ApiResult<StatusCode> {
    changes::add_member(&w, GroupId(id), UserId(user_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the user from the group; removing a non-member is not an error.
#[utoipa::path(delete, path = "/groups/{id}/members/{user_id}", tag = TAG_GROUPS,
    params(("id" = i64, Path), ("user_id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn remove_member(
    w: Writer,
    ApiPath(MemberPath { id, user_id }): ApiPath<MemberPath>,
) -> ApiResult<StatusCode> {
    changes::remove_member(&w, GroupId(id), UserId(user_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The changes to groups, shared with the admin portal's Groups pages: each
/// checks the directory rules, writes, and records the audit event.
pub(crate) mod changes {
    use lanyard_core::directory::{Attributes, Group, GroupPatch, NewGroup};
    use lanyard_core::{GroupId, Result, UserId};
    use serde::Serialize;

    use super::{target, CreateGroupForm, UpdateGroupForm};
    use crate::apps_service::Change;

    fn summary(value: &impl Serialize) -> serde_json::Value {
        serde_json::to_value(value).unwrap_or_default()
    }

    /// Creates a group (name trimmed; every field checked at once).
    pub(crate) async fn create_group(w: &impl Change, new: NewGroup) -> Result<Group> {
        let new = new.validate()?;
        let group = w.store().create_group(&new, w.now()).await?;
        w.record(
            "group.create",
            target(group.id),
            &summary(&CreateGroupForm {
                name: new.name,
                description: new.description,
                attributes: new.attributes,
            }),
        );
        Ok(group)
    }

    /// Applies a partial update (absent fields stay; `attributes` replaces
    /// the whole map).
    pub(crate) async fn update_group(
        w: &impl Change,
        id: GroupId,
        patch: GroupPatch,
    ) -> Result<Group> {
        let patch = patch.validate()?;
        let group = w.store().update_group(id, &patch, w.now()).await?;
        w.record(
            "group.update",
            target(group.id),
            &summary(&UpdateGroupForm {
                name: patch.name,
                description: patch.description,
                attributes: patch.attributes,
            }),
        );
        Ok(group)
    }

    /// Replaces the group's whole attribute map.
    pub(crate) async fn set_attributes(
        w: &impl Change,
        id: GroupId,
        attributes: Attributes,
    ) -> Result<Group> {
        let patch = GroupPatch {
            attributes: Some(attributes),
            ..GroupPatch::default()
        }
        .validate()?;
        let group = w.store().update_group(id, &patch, w.now()).await?;
        w.record(
            "group.attributes.set",
            target(group.id),
            &serde_json::json!({
                "attributes": group.attributes,
            }),
        );
        Ok(group)
    }

    /// Deletes the group (its memberships and application bindings go with
    /// it); returns what was deleted.
    pub(crate) async fn delete_group(w: &impl Change, id: GroupId) -> Result<Group> {
        let group = w.store().get_group(id).await?;
        w.store().delete_group(group.id).await?;
        w.record(
            "group.delete",
            target(group.id),
            &serde_json::json!({ "name": group.name }),
        );
        Ok(group)
    }

    /// Adds `user` to `group` (idempotent; `NotFound` names the missing end).
    pub(crate) async fn add_member(w: &impl Change, group: GroupId, user: UserId) -> Result<()> {
        w.store().add_member(group, user).await?;
        w.record(
            "group.member.add",
            target(group),
            &serde_json::json!({ "user": user }),
        );
        Ok(())
    }

    /// Removes `user` from `group` (idempotent; `NotFound` names the missing end).
    pub(crate) async fn remove_member(w: &impl Change, group: GroupId, user: UserId) -> Result<()> {
        w.store().remove_member(group, user).await?;
        w.record(
            "group.member.remove",
            target(group),
            &serde_json::json!({ "user": user }),
        );
        Ok(())
    }
}
