//! Directory users: creation (every field rule and the password rule
//! checked at once), partial updates, passwords (argon2id, hashed before
//! the unit of work begins), attributes, suspension, deletion, and the
//! groups a user is in, changed from the user's side. No audit event ever
//! holds a password.

use lanyard_core::audit::{AuditAction, AuditTarget};
use lanyard_core::directory::{Attributes, NewUser, User, UserPatch, UserState};
use lanyard_core::error::FieldErrors;
use lanyard_core::password::check_new_password;
use lanyard_core::session::SessionEnd;
use lanyard_core::{Error, GroupId, Result, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{summary_of, AttributesSchema};
use crate::Writer;

/// A user to create.
// `Debug` is written by hand below: it leaves the password out.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserForm {
    /// Unique, case-insensitive; stored lower-cased.
    pub email: String,
    /// Unique, case-insensitive: 1-64 of letters, digits, `.`, `_`, `-`.
    pub username: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    #[schema(value_type = AttributesSchema)]
    pub attributes: Attributes,
    /// Optional initial password (8-256 characters). Stored as an argon2id
    /// hash; never returned.
    #[serde(default)]
    pub password: Option<String>,
}

impl std::fmt::Debug for CreateUserForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUserForm")
            .field("email", &self.email)
            .field("username", &self.username)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("attributes", &self.attributes)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A partial update: absent (or null) fields stay as they are; `attributes`
/// replaces the whole map.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserForm {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<AttributesSchema>)]
    pub attributes: Option<Attributes>,
}

/// A new password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordForm {
    /// 8-256 characters.
    pub password: String,
}

// `Debug` by hand: a derived one would print the password.
impl std::fmt::Debug for PasswordForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordForm { .. }")
    }
}

/// What a user creation records in the audit log (no password).
#[derive(Serialize)]
struct Created<'a> {
    email: &'a str,
    username: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    attributes: &'a Attributes,
    password_set: bool,
}

/// The audit target of a user.
pub fn target(id: UserId) -> AuditTarget {
    AuditTarget::User(id)
}

/// Creates a user: every field rule and the password rule checked at once
/// (one `Invalid` naming each bad field), the password hashed (argon2id),
/// then `user.create` recorded without the password.
pub async fn create(w: &Writer, form: CreateUserForm) -> Result<User> {
    let CreateUserForm {
        email,
        username,
        first_name,
        last_name,
        attributes,
        password,
    } = form;
    let mut errors = FieldErrors::new();
    let new = NewUser {
        email,
        username,
        first_name,
        last_name,
        attributes,
    };
    let new = match new.validate() {
        Ok(new) => Some(new),
        Err(Error::Invalid(fields)) => {
            errors.extend(fields);
            None
        }
        Err(other) => return Err(other),
    };
    let min = w.settings().auth.user_password_min;
    if let Some(Err(Error::Invalid(fields))) =
        password.as_deref().map(|p| check_new_password(p, min))
    {
        errors.extend(fields);
    }
    let Some(new) = new.filter(|_| errors.is_empty()) else {
        return Err(Error::Invalid(errors));
    };
    let hash = match password {
        Some(p) => Some(w.lanyard().passwords().hash(p).await?),
        None => None,
    };
    let mut work = w.begin().await?;
    let user = work.create_user(&new, hash.as_deref(), w.now()).await?;
    work.record(
        AuditAction::UserCreate,
        target(user.id),
        &summary_of(&Created {
            email: &user.email,
            username: &user.username,
            first_name: &user.first_name,
            last_name: &user.last_name,
            attributes: &user.attributes,
            password_set: hash.is_some(),
        }),
    );
    work.commit().await?;
    Ok(user)
}

/// Applies a partial update (checked by the directory's rules) and records
/// `user.update` with the changed fields.
pub async fn update(w: &Writer, id: UserId, form: UpdateUserForm) -> Result<User> {
    let patch = UserPatch {
        email: form.email,
        username: form.username,
        first_name: form.first_name,
        last_name: form.last_name,
        attributes: form.attributes,
    }
    .validate()?;
    let mut work = w.begin().await?;
    let user = work.update_user(id, &patch, w.now()).await?;
    let changed = UpdateUserForm {
        email: patch.email,
        username: patch.username,
        first_name: patch.first_name,
        last_name: patch.last_name,
        attributes: patch.attributes,
    };
    work.record(
        AuditAction::UserUpdate,
        target(user.id),
        &summary_of(&changed),
    );
    work.commit().await?;
    Ok(user)
}

/// Sets a new password (rule checked before the user is looked up, hashed
/// with argon2id), ends every session of the user (whoever held one signed
/// in with the old password), and records `user.password.set` (no password
/// in it).
pub async fn set_password(w: &Writer, id: UserId, password: String) -> Result<()> {
    check_new_password(&password, w.settings().auth.user_password_min)?;
    let user = w.reader().get_user(id).await?;
    let hash = w.lanyard().passwords().hash(password).await?;
    let mut work = w.begin().await?;
    work.set_password_hash(user.id, &hash, w.now()).await?;
    let ended = work
        .revoke_user_sessions(user.id, SessionEnd::PasswordChanged, w.now())
        .await?;
    work.record(
        AuditAction::UserPasswordSet,
        target(user.id),
        &serde_json::json!({ "sessions_ended": ended }),
    );
    work.commit().await
}

/// Replaces the user's whole attribute map (names and values checked by the
/// directory's rules) and records `user.attributes.set`.
pub async fn set_attributes(w: &Writer, id: UserId, attributes: Attributes) -> Result<User> {
    let patch = UserPatch {
        attributes: Some(attributes),
        ..UserPatch::default()
    }
    .validate()?;
    let mut work = w.begin().await?;
    let user = work.update_user(id, &patch, w.now()).await?;
    work.record(
        AuditAction::UserAttributesSet,
        target(user.id),
        &serde_json::json!({
            "attributes": user.attributes,
        }),
    );
    work.commit().await?;
    Ok(user)
}

/// Suspends (ending every session of the user) or reactivates the user,
/// recorded as `user.suspend` / `user.unsuspend`.
pub async fn set_state(w: &Writer, id: UserId, state: UserState) -> Result<User> {
    let action = match state {
        UserState::Suspended => AuditAction::UserSuspend,
        UserState::Active => AuditAction::UserUnsuspend,
    };
    let mut work = w.begin().await?;
    let user = work.set_user_state(id, state, w.now()).await?;
    let mut summary = serde_json::json!({ "state": state.as_str() });
    if state == UserState::Suspended {
        // Ended, not merely refused while suspended: unsuspending must not
        // bring an old session back.
        summary["sessions_ended"] = work
            .revoke_user_sessions(user.id, SessionEnd::Suspended, w.now())
            .await?
            .into();
    }
    work.record(action, target(user.id), &summary);
    work.commit().await?;
    Ok(user)
}

/// Deletes the user (their memberships and sessions go with them).
pub async fn delete(w: &Writer, id: UserId) -> Result<User> {
    let mut work = w.begin().await?;
    let user = work.get_user(id).await?;
    work.delete_user(user.id).await?;
    work.record(
        AuditAction::UserDelete,
        target(user.id),
        &serde_json::json!({
            "email": user.email, "username": user.username,
        }),
    );
    work.commit().await?;
    Ok(user)
}

/// Joins `join` and leaves `leave` (from the user's page), all or none:
/// every group to join must exist, else `NotFound` names it and nothing
/// changes. Each change is the same `group.member.add` / `.remove` event
/// the group's side records.
pub async fn change_groups(
    w: &Writer,
    id: UserId,
    join: &[GroupId],
    leave: &[GroupId],
) -> Result<()> {
    let mut work = w.begin().await?;
    work.get_user(id).await?;
    for g in join {
        work.get_group(*g).await?;
    }
    for g in join {
        super::groups::set_member(&mut work, *g, id, true).await?;
    }
    for g in leave {
        super::groups::set_member(&mut work, *g, id, false).await?;
    }
    work.commit().await
}
