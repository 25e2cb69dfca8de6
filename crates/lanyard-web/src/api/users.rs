//! `/api/v1/users`: directory users, their password, attributes, state and
//! groups.
//!
//! Suspension is two actions (`POST /users/{id}/suspend`, `/unsuspend`)
//! rather than a writable `state` field, so each is its own audit action and
//! a PATCH can never flip it by accident. A password is only ever written
//! (create, `PUT /users/{id}/password`); no response carries it or its hash.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lanyard_core::directory::{Attributes, NewUser, User, UserPatch, UserState};
use lanyard_core::error::FieldErrors;
use lanyard_core::password::check_password;
use lanyard_core::{Error, UserId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Caller, Writer};
use super::error::ApiResult;
use super::groups::GroupView;
use super::input::{ApiJson, ApiPath, ApiQuery, IdPath};
use super::{AttributesSchema, ListParams, TAG_USERS};
use crate::apps_service::Change;
use crate::error::ErrorBody;
use crate::secrets::PasswordHasher;
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
pub(crate) fn target(id: UserId) -> String {
    format!("user:{id}")
}

/// An audit summary as the event stores it (a struct's fields as keys).
fn summary_of(value: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_else(|_| serde_json::json!({}))
}

/// Creates a user: every field rule and the password rule checked at once
/// (one `Invalid` naming each bad field), the password hashed (argon2id),
/// then `user.create` recorded without the password.
pub(crate) async fn create(
    w: &impl Change,
    passwords: &PasswordHasher,
    form: CreateUserForm,
) -> lanyard_core::Result<User> {
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
    if let Some(Err(Error::Invalid(fields))) = password.as_deref().map(check_password) {
        errors.extend(fields);
    }
    let Some(new) = new.filter(|_| errors.is_empty()) else {
        return Err(Error::Invalid(errors));
    };
    let hash = match password {
        Some(p) => Some(passwords.hash(p).await?),
        None => None,
    };
    let user = w
        .store()
        .create_user(&new, hash.as_deref(), w.now())
        .await?;
    w.record(
        "user.create",
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
    Ok(user)
}

/// Applies a partial update (checked by the directory's rules) and records
/// `user.update` with the changed fields.
pub(crate) async fn update(
    w: &impl Change,
    id: UserId,
    form: UpdateUserForm,
) -> lanyard_core::Result<User> {
    let patch = UserPatch {
        email: form.email,
        username: form.username,
        first_name: form.first_name,
        last_name: form.last_name,
        attributes: form.attributes,
    }
    .validate()?;
    let user = w.store().update_user(id, &patch, w.now()).await?;
    let changed = UpdateUserForm {
        email: patch.email,
        username: patch.username,
        first_name: patch.first_name,
        last_name: patch.last_name,
        attributes: patch.attributes,
    };
    w.record("user.update", target(user.id), &summary_of(&changed));
    Ok(user)
}

/// Sets a new password (rule checked before the user is looked up, hashed
/// with argon2id) and records `user.password.set` (no password in it).
pub(crate) async fn replace_password(
    w: &impl Change,
    passwords: &PasswordHasher,
    id: UserId,
    password: String,
) -> lanyard_core::Result<()> {
    check_password(&password)?;
    let user = w.store().get_user(id).await?;
    let hash = passwords.hash(password).await?;
    w.store().set_password_hash(user.id, &hash, w.now()).await?;
    w.record("user.password.set", target(user.id), &serde_json::json!({}));
    Ok(())
}

/// Replaces the user's whole attribute map (names and values checked by the
/// directory's rules) and records `user.attributes.set`.
pub(crate) async fn replace_attributes(
    w: &impl Change,
    id: UserId,
    attributes: Attributes,
) -> lanyard_core::Result<User> {
    let patch = UserPatch {
        attributes: Some(attributes),
        ..UserPatch::default()
    }
    .validate()?;
    let user = w.store().update_user(id, &patch, w.now()).await?;
    w.record(
        "user.attributes.set",
        target(user.id),
        &serde_json::json!({
            "attributes": user.attributes,
        }),
    );
    Ok(user)
}

/// Suspends or reactivates the user, recorded as `user.suspend` /
/// `user.unsuspend`.
pub(crate) async fn change_state(
    w: &impl Change,
    id: UserId,
    state: UserState,
) -> lanyard_core::Result<User> {
    let action = match state {
        UserState::Suspended => "user.suspend",
        UserState::Active => "user.unsuspend",
    };
    let user = w.store().set_user_state(id, state, w.now()).await?;
    w.record(
        action,
        target(user.id),
        &serde_json::json!({ "state": state.as_str() }),
    );
    Ok(user)
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
    w: Writer,
    State(state): State<AppState>,
    ApiJson(form): ApiJson<CreateUserForm>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let user = create(&w, &state.passwords, form).await?;
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
    w: Writer,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiJson(form): ApiJson<UpdateUserForm>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(update(&w, UserId(id), form).await?.into()))
}

#[utoipa::path(delete, path = "/users/{id}", tag = TAG_USERS, params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_user(w: Writer, ApiPath(IdPath { id }): ApiPath<IdPath>) -> ApiResult<StatusCode> {
    let user = w.store.get_user(UserId(id)).await?;
    w.store.delete_user(user.id).await?;
    w.record(
        "user.delete",
        target(user.id),
        &serde_json::json!({
            "email": user.email, "username": user.username,
        }),
    );
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/users/{id}/password", tag = TAG_USERS, params(("id" = i64, Path)),
    request_body = PasswordForm,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_password(
    w: Writer,
    State(state): State<AppState>,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiJson(form): ApiJson<PasswordForm>,
) -> ApiResult<StatusCode> {
    replace_password(&w, &state.passwords, UserId(id), form.password).await?;
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
    w: Writer,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiJson(attributes): ApiJson<Attributes>,
) -> ApiResult<Json<Attributes>> {
    let user = replace_attributes(&w, UserId(id), attributes).await?;
    Ok(Json(user.attributes))
}

#[utoipa::path(post, path = "/users/{id}/suspend", tag = TAG_USERS, params(("id" = i64, Path)),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)))]
async fn suspend_user(
    w: Writer,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(
        change_state(&w, UserId(id), UserState::Suspended)
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/users/{id}/unsuspend", tag = TAG_USERS, params(("id" = i64, Path)),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)))]
async fn unsuspend_user(
    w: Writer,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(
        change_state(&w, UserId(id), UserState::Active)
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
