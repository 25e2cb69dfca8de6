//! The admin portal's Admins section: who may sign in to this portal.
//!
//! - `GET /admin/admins`: the admin accounts (role, disabled, second
//!   factor, lock) and, for administrators, a form that creates one;
//!   `POST /admin/admins` creates.
//! - `POST /admin/admins/{id}/role|disable|enable|unlock|reset-2fa|delete`:
//!   the changes of `lanyard_app::admins`, the same rules as the REST API
//!   and the CLI: the last active administrator cannot be demoted,
//!   disabled or deleted (a 409 page saying so).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use lanyard_app::admins::{self, AdminChange};
use lanyard_app::Writer;
use lanyard_core::admin::Role;
use lanyard_core::{AdminId, Error};

use super::apps::{errors_for, see_other, Errors};
use super::{AdminPost, AdminSignedIn, AdminWriter, Nav};
use crate::pages::forms::PageResult;
use crate::pages::page;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/admins", get(list).post(create))
        .route("/admin/admins/{id}/role", post(set_role))
        .route("/admin/admins/{id}/disable", post(disable))
        .route("/admin/admins/{id}/enable", post(enable))
        .route("/admin/admins/{id}/unlock", post(unlock))
        .route("/admin/admins/{id}/reset-2fa", post(reset_2fa))
        .route("/admin/admins/{id}/delete", post(delete))
}

struct Row {
    id: i64,
    email: String,
    role: &'static str,
    administrator: bool,
    disabled: bool,
    second_factor: bool,
    locked_until: Option<String>,
    created: String,
    /// The row is the signed-in admin.
    me: bool,
}

#[derive(Template)]
#[template(path = "admin/admins.html")]
struct AdminsPage {
    nav: Nav,
    rows: Vec<Row>,
    email: String,
    role: String,
    errors: Errors,
    notice: Option<String>,
    admin_min: u32,
    second_factor_required: bool,
}

impl AdminsPage {
    fn err(&self, field: &str) -> Vec<&str> {
        errors_for(&self.errors, field)
    }
}

fn utc(at: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    at.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_default()
}

async fn render(
    state: &AppState,
    signed: &AdminSignedIn,
    form: (String, String),
    errors: Errors,
    notice: Option<String>,
    status: StatusCode,
) -> PageResult {
    let now = state.lanyard.now();
    let rows = signed
        .reader(state)
        .list_admins()
        .await?
        .into_iter()
        .map(|a| Row {
            id: a.id.0,
            role: a.role.as_str(),
            administrator: a.role == Role::Administrator,
            disabled: a.disabled,
            second_factor: a.second_factor,
            locked_until: a.locked_until.filter(|t| *t > now).map(utc),
            created: utc(a.created_at),
            me: a.id == signed.admin.id,
            email: a.email,
        })
        .collect();
    let (email, role) = form;
    let auth = &state.settings().auth;
    Ok(page(
        status,
        &AdminsPage {
            nav: signed.nav("admins"),
            rows,
            email,
            role,
            errors,
            notice,
            admin_min: auth.admin_password_min,
            second_factor_required: auth.require_admin_second_factor,
        },
    ))
}

#[derive(serde::Deserialize, Default)]
struct Saved {
    saved: Option<String>,
}

async fn list(
    signed: AdminSignedIn,
    State(state): State<AppState>,
    Query(q): Query<Saved>,
) -> PageResult {
    let notice = q.saved.map(|what| {
        match what.as_str() {
            "created" => "Admin created.",
            "role" => "Role changed.",
            "disabled" => "Admin disabled; their sessions ended.",
            "enabled" => "Admin enabled.",
            "unlocked" => "Admin unlocked.",
            "reset-2fa" => "Second factor removed; their sessions ended.",
            "deleted" => "Admin deleted.",
            _ => "Saved.",
        }
        .to_owned()
    });
    let form = (String::new(), "read_only".to_owned());
    render(&state, &signed, form, Errors::new(), notice, StatusCode::OK).await
}

async fn create(State(state): State<AppState>, post: AdminPost) -> PageResult {
    let w = writer_or_refusal!(state, post);
    let email = post.fields.get("email").trim().to_owned();
    let role_field = post.fields.get("role").to_owned();
    let Some(role) = Role::parse(&role_field) else {
        let errors = Errors::from([("role".into(), "choose read-only or administrator".into())]);
        let form = (email, role_field);
        return render(
            &state,
            &post.signed,
            form,
            errors,
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let password = post.fields.get("password").to_owned();
    match admins::create_admin(&w, &email, role, password).await {
        Ok(_) => Ok(see_other("/admin/admins?saved=created")),
        Err(Error::Invalid(errors)) => {
            let form = (email, role_field);
            render(
                &state,
                &post.signed,
                form,
                errors,
                None,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(Error::Conflict { field, .. }) => {
            let errors = Errors::from([(field.to_owned(), "is already in use".to_owned())]);
            let form = (email, role_field);
            render(
                &state,
                &post.signed,
                form,
                errors,
                None,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

fn admin_id(id: &str) -> Result<AdminId, Error> {
    id.trim()
        .parse::<i64>()
        .map(AdminId)
        .map_err(|_| Error::not_found("admin", id))
}

/// Runs `op` on the admin the path names, as the request's writer (a
/// read-only admin gets the 403 page), then back to the list saying
/// `saved`. Refusals (the last administrator) become their pages.
async fn act<T>(
    state: AppState,
    id: String,
    post: AdminPost,
    saved: &str,
    op: impl AsyncFnOnce(&Writer, AdminId) -> lanyard_core::Result<T>,
) -> PageResult {
    let id = admin_id(&id)?;
    let w = writer_or_refusal!(state, post);
    op(&w, id).await?;
    Ok(see_other(&format!("/admin/admins?saved={saved}")))
}

async fn change(
    state: AppState,
    id: String,
    post: AdminPost,
    change: AdminChange,
    saved: &str,
) -> PageResult {
    act(state, id, post, saved, async |w, id| {
        admins::update_admin(w, id, change).await
    })
    .await
}

async fn set_role(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    let Some(role) = Role::parse(post.fields.get("role")) else {
        return Err(Error::invalid("role", "choose read-only or administrator").into());
    };
    change(state, id, post, AdminChange::role(role), "role").await
}

async fn disable(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    change(state, id, post, AdminChange::disabled(true), "disabled").await
}

async fn enable(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    change(state, id, post, AdminChange::disabled(false), "enabled").await
}

async fn unlock(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    act(state, id, post, "unlocked", admins::unlock_admin).await
}

async fn reset_2fa(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    act(state, id, post, "reset-2fa", admins::reset_admin_totp).await
}

async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    act(state, id, post, "deleted", admins::delete_admin).await
}
