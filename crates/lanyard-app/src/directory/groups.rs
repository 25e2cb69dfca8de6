//! Groups: creation, partial updates, attributes, members (from the
//! group's side; the user's side is `users::change_groups`), deletion. One
//! set of rules (`lanyard_core::directory`'s) and one set of audit events
//! for the REST API and the admin portal.

use lanyard_core::audit::{AuditAction, AuditTarget};
use lanyard_core::directory::{Attributes, Group, GroupPatch, NewGroup};
use lanyard_core::{GroupId, Result, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{summary_of, AttributesSchema};
use crate::work::Work;
use crate::Writer;

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

/// The audit target of a group.
pub fn target(id: GroupId) -> AuditTarget {
    AuditTarget::Group(id)
}

/// Creates a group (name trimmed; every field checked at once).
pub async fn create(w: &Writer, form: CreateGroupForm) -> Result<Group> {
    let new = NewGroup {
        name: form.name,
        description: form.description,
        attributes: form.attributes,
    }
    .validate()?;
    let mut work = w.begin().await?;
    let group = work.create_group(&new, w.now()).await?;
    work.record(
        AuditAction::GroupCreate,
        target(group.id),
        &summary_of(&CreateGroupForm {
            name: new.name,
            description: new.description,
            attributes: new.attributes,
        }),
    );
    work.commit().await?;
    Ok(group)
}

/// Applies a partial update (absent fields stay; `attributes` replaces the
/// whole map).
pub async fn update(w: &Writer, id: GroupId, form: UpdateGroupForm) -> Result<Group> {
    let patch = GroupPatch {
        name: form.name,
        description: form.description,
        attributes: form.attributes,
    }
    .validate()?;
    let mut work = w.begin().await?;
    let group = work.update_group(id, &patch, w.now()).await?;
    work.record(
        AuditAction::GroupUpdate,
        target(group.id),
        &summary_of(&UpdateGroupForm {
            name: patch.name,
            description: patch.description,
            attributes: patch.attributes,
        }),
    );
    work.commit().await?;
    Ok(group)
}

/// Replaces the group's whole attribute map.
pub async fn set_attributes(w: &Writer, id: GroupId, attributes: Attributes) -> Result<Group> {
    let patch = GroupPatch {
        attributes: Some(attributes),
        ..GroupPatch::default()
    }
    .validate()?;
    let mut work = w.begin().await?;
    let group = work.update_group(id, &patch, w.now()).await?;
    work.record(
        AuditAction::GroupAttributesSet,
        target(group.id),
        &serde_json::json!({
            "attributes": group.attributes,
        }),
    );
    work.commit().await?;
    Ok(group)
}

/// Deletes the group (its memberships and application bindings go with
/// it); returns what was deleted.
pub async fn delete(w: &Writer, id: GroupId) -> Result<Group> {
    let mut work = w.begin().await?;
    let group = work.get_group(id).await?;
    work.delete_group(group.id).await?;
    work.record(
        AuditAction::GroupDelete,
        target(group.id),
        &serde_json::json!({ "name": group.name }),
    );
    work.commit().await?;
    Ok(group)
}

/// Adds `user` to `group` (idempotent; `NotFound` names the missing end).
pub async fn add_member(w: &Writer, group: GroupId, user: UserId) -> Result<()> {
    let mut work = w.begin().await?;
    set_member(&mut work, group, user, true).await?;
    work.commit().await
}

/// Removes `user` from `group` (idempotent; `NotFound` names the missing end).
pub async fn remove_member(w: &Writer, group: GroupId, user: UserId) -> Result<()> {
    let mut work = w.begin().await?;
    set_member(&mut work, group, user, false).await?;
    work.commit().await
}

/// Adds (`member`) or removes `user` in `group` within `work`, with the
/// `group.member.add` / `.remove` event: from the group's side or the
/// user's.
pub(crate) async fn set_member(
    work: &mut Work<'_>,
    group: GroupId,
    user: UserId,
    member: bool,
) -> Result<()> {
    let action = if member {
        work.add_member(group, user).await?;
        AuditAction::GroupMemberAdd
    } else {
        work.remove_member(group, user).await?;
        AuditAction::GroupMemberRemove
    };
    work.record(action, target(group), &serde_json::json!({ "user": user }));
    Ok(())
}
