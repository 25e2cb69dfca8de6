//! One directory user in the admin portal: `GET /admin/users/{id}`, one
//! page of stacked cards (Details, Password, Custom attributes, Groups,
//! Security, Sessions with the history of ended ones), and their saves, each a POST that answers with a
//! 303 back to the card and a notice (`?saved=...`, a fixed text per
//! action), or with the page again, a 400 and the messages next to the
//! fields:
//!
//! - `.../details` (email, username, names; only changed fields are sent,
//!   as a `PATCH /api/v1/users/{id}` would), `.../password`,
//!   `.../attributes` (one row per value; several rows with one name make a
//!   multi-valued attribute; a row emptied of name and value is dropped);
//! - `.../groups`: the ticked groups become the user's groups among those
//!   the form listed and the admin changed (`Fields::checkbox_changes`), so
//!   groups past the list's limit, or joined or left elsewhere since the
//!   page was shown, are left alone;
//! - `.../suspend`, `.../unsuspend`, `.../unlock`, `.../reset-totp`,
//!   `.../sessions/{session}/revoke` and `.../sessions/revoke-all`.

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use lanyard_core::directory::{ListQuery, UserState};
use lanyard_core::{Error, GroupId, SessionId, UserId};

use super::{field_errors, full_name, parse_user_id, when, Errors, Failure, Res};
use crate::pages::admin::apps::{errors_for, see_other};
use crate::pages::admin::attr_rows::{self, AttrRow};
use crate::pages::admin::{AdminPost, AdminSignedIn, AdminWriter, Fields, Nav};
use crate::pages::page;
use crate::AppState;
use lanyard_app::directory::security;
use lanyard_app::directory::users::{self, UpdateUserForm};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users/{id}", get(detail))
        .route("/admin/users/{id}/details", post(save_details))
        .route("/admin/users/{id}/password", post(save_password))
        .route("/admin/users/{id}/attributes", post(save_attributes))
        .route("/admin/users/{id}/groups", post(save_groups))
        .route("/admin/users/{id}/suspend", post(suspend))
        .route("/admin/users/{id}/unsuspend", post(unsuspend))
        .route("/admin/users/{id}/unlock", post(unlock))
        .route("/admin/users/{id}/reset-totp", post(reset_totp))
        .route(
            "/admin/users/{id}/sessions/{session}/revoke",
            post(revoke_session),
        )
        .route("/admin/users/{id}/sessions/revoke-all", post(revoke_all))
}

/// Groups listed with a checkbox (the user's own groups always are).
const GROUP_LIST_LIMIT: u32 = 500;

/// The notice of `?saved=...`: fixed texts, never the query's own words.
fn notice_of(saved: &str) -> Option<&'static str> {
    Some(match saved {
        "created" => "User created.",
        "details" => "Details saved.",
        "unchanged" => "Nothing changed.",
        "password" => "Password set.",
        "attributes" => "Attributes saved.",
        "groups" => "Groups saved.",
        "suspended" => "User suspended: sign-in and SSO are refused.",
        "unsuspended" => "User unsuspended.",
        "unlocked" => "User unlocked.",
        "totp" => "TOTP reset: the next sign-in needs only the password.",
        "revoked" => "Session revoked.",
        "revoked-all" => "All sessions revoked.",
        _ => return None,
    })
}

/// A 303 back to `card` of the user's page with the notice `saved`.
fn back(id: UserId, saved: &str, card: &str) -> Res {
    Ok(see_other(&format!(
        "/admin/users/{id}?saved={saved}#{card}"
    )))
}

/// The Details card's values (stored or as submitted).
struct DetailsValues {
    email: String,
    username: String,
    first_name: String,
    last_name: String,
}

impl DetailsValues {
    fn from_fields(f: &Fields) -> Self {
        DetailsValues {
            email: f.get("email").trim().to_owned(),
            username: f.get("username").trim().to_owned(),
            first_name: f.get("first_name").trim().to_owned(),
            last_name: f.get("last_name").trim().to_owned(),
        }
    }
}

struct GroupRow {
    id: i64,
    name: String,
    member: bool,
}

struct SessionRow {
    id: i64,
    created: String,
    last_seen: String,
    client: String,
    user_agent: String,
    /// Between the password and the TOTP code.
    awaiting_totp: bool,
}

/// A row of the session history.
struct EndedRow {
    created: String,
    last_seen: String,
    ended: String,
    reason: &'static str,
    client: String,
    user_agent: String,
}

#[derive(Template)]
#[template(path = "admin/user_detail.html")]
struct DetailPage {
    nav: Nav,
    id: i64,
    email: String,
    username: String,
    name: String,
    suspended: bool,
    locked: bool,
    failures: u32,
    max_failures: u32,
    /// When the lock ends, if locked.
    locked_until: Option<String>,
    totp_enabled: bool,
    totp_pending: bool,
    created: String,
    updated: String,
    notice: Option<&'static str>,
    errors: Errors,
    details: DetailsValues,
    attrs: Vec<AttrRow>,
    groups: Vec<GroupRow>,
    groups_more: bool,
    sessions: Vec<SessionRow>,
    ended: Vec<EndedRow>,
}

impl DetailPage {
    fn err(&self, field: &str) -> Vec<&str> {
        errors_for(&self.errors, field)
    }

    /// The message of exactly `field` (not of the keys under it).
    fn err_exact(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }
}

/// A rejected form's values and errors (`None`: show the stored values).
#[derive(Default)]
struct Submitted {
    details: Option<DetailsValues>,
    attrs: Option<Vec<AttrRow>>,
    /// The ticked group ids.
    groups: Option<BTreeSet<i64>>,
    errors: Errors,
}

async fn detail_page(
    state: &AppState,
    signed: &AdminSignedIn,
    id: UserId,
    submitted: Submitted,
    notice: Option<&'static str>,
) -> Result<DetailPage, Failure> {
    let read = signed.reader(state);
    let user = read.get_user(id).await?;
    let first_groups = ListQuery::new(None, None, Some(GROUP_LIST_LIMIT))?;
    let (sign_in, member_of, all, sessions, ended) = tokio::try_join!(
        read.sign_in_state(id),
        read.list_groups_of_user(id),
        read.list_groups(&first_groups),
        read.list_user_sessions(id),
        read.list_ended_sessions(id),
    )?;
    let Submitted {
        details,
        attrs,
        groups: ticked,
        errors,
    } = submitted;
    let max_failures = state.settings().auth.max_failures;
    let now = state.lanyard.now();
    let idle = state.settings().auth.session_idle;

    let attrs = attr_rows::shown(attrs, &user.attributes, &errors, signed.can_write());

    // Every group of the user is listed, even past the list's limit, so
    // that saving the form cannot drop a membership it did not show.
    let is_member: BTreeSet<GroupId> = member_of.iter().map(|g| g.id).collect();
    let groups_more = all.next.is_some();
    let mut listed = all.items;
    for g in member_of {
        if !listed.iter().any(|l| l.id == g.id) {
            listed.push(g);
        }
    }
    let groups = listed
        .into_iter()
        .map(|g| GroupRow {
            id: g.id.0,
            member: match &ticked {
                Some(t) => t.contains(&g.id.0),
                None => is_member.contains(&g.id),
            },
            name: g.name,
        })
        .collect();

    let sessions = sessions
        .into_iter()
        .filter(|s| s.is_live(now, idle))
        .map(|s| SessionRow {
            id: s.id.0,
            created: when(s.created_at),
            last_seen: when(s.last_seen_at),
            client: s.client.unwrap_or_default(),
            user_agent: s.user_agent.unwrap_or_default(),
            awaiting_totp: s.stage == lanyard_core::session::SessionStage::AwaitingTotp,
        })
        .collect();
    let ended = ended
        .into_iter()
        .map(|s| EndedRow {
            created: when(s.created_at),
            last_seen: when(s.last_seen_at),
            ended: when(s.ended_at),
            reason: s.reason.label(),
            client: s.client.unwrap_or_default(),
            user_agent: s.user_agent.unwrap_or_default(),
        })
        .collect();

    Ok(DetailPage {
        nav: signed.nav("users"),
        id: user.id.0,
        name: full_name(&user),
        suspended: user.state == UserState::Suspended,
        locked: sign_in.is_locked(now),
        locked_until: sign_in.locked_at(now).map(when),
        failures: sign_in.failures,
        max_failures,
        totp_enabled: sign_in.totp_enabled(),
        totp_pending: sign_in.totp_pending.is_some(),
        created: when(user.created_at),
        updated: when(user.updated_at),
        notice,
        errors,
        details: details.unwrap_or_else(|| DetailsValues {
            email: user.email.clone(),
            username: user.username.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
        }),
        email: user.email,
        username: user.username,
        attrs,
        groups,
        groups_more,
        sessions,
        ended,
    })
}

async fn detail(
    signed: AdminSignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Res {
    let id = parse_user_id(&id)?;
    let notice = notice_of(Fields::from_pairs(pairs).get("saved"));
    let view = detail_page(&state, &signed, id, Submitted::default(), notice).await?;
    Ok(page(StatusCode::OK, &view))
}

/// The page again with what was submitted and why it was refused.
async fn rejected(state: &AppState, post: &AdminPost, id: UserId, submitted: Submitted) -> Res {
    let view = detail_page(state, &post.signed, id, submitted, None).await?;
    Ok(page(StatusCode::BAD_REQUEST, &view))
}

async fn save_details(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> Res {
    let id = parse_user_id(&id)?;
    let w = writer_or_refusal!(state, post);
    let user = post.signed.reader(&state).get_user(id).await?;
    let values = DetailsValues::from_fields(&post.fields);
    let changed = |new: &str, old: &str| (new != old).then(|| new.to_owned());
    let form = UpdateUserForm {
        email: changed(&values.email, &user.email),
        username: changed(&values.username, &user.username),
        first_name: changed(&values.first_name, &user.first_name),
        last_name: changed(&values.last_name, &user.last_name),
        attributes: None,
    };
    if form.email.is_none()
        && form.username.is_none()
        && form.first_name.is_none()
        && form.last_name.is_none()
    {
        return back(id, "unchanged", "details");
    }
    match users::update(&w, id, form).await {
        Ok(_) => back(id, "details", "details"),
        Err(e) => {
            let submitted = Submitted {
                details: Some(values),
                errors: field_errors(e)?,
                ..Default::default()
            };
            rejected(&state, &post, id, submitted).await
        }
    }
}

async fn save_password(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> Res {
    let id = parse_user_id(&id)?;
    let w = writer_or_refusal!(state, post);
    let password = post.fields.get("password").to_owned();
    match users::set_password(&w, id, password).await {
        Ok(()) => back(id, "password", "password"),
        Err(e) => {
            // The password is never sent back.
            let submitted = Submitted {
                errors: field_errors(e)?,
                ..Default::default()
            };
            rejected(&state, &post, id, submitted).await
        }
    }
}

async fn save_attributes(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> Res {
    let id = parse_user_id(&id)?;
    let w = writer_or_refusal!(state, post);
    let (rows, attributes) = attr_rows::submitted(&post.fields);
    match users::set_attributes(&w, id, attributes).await {
        Ok(_) => back(id, "attributes", "attributes"),
        Err(e) => {
            let submitted = Submitted {
                attrs: Some(rows),
                errors: field_errors(e)?,
                ..Default::default()
            };
            rejected(&state, &post, id, submitted).await
        }
    }
}

/// Group ids of a form field; anything but numbers is refused.
fn group_ids(values: &[&str]) -> Result<BTreeSet<i64>, Failure> {
    values
        .iter()
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| Failure(Error::invalid("groups", format!("{v:?} is not a group id"))))
        })
        .collect()
}

async fn save_groups(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> Res {
    let id = parse_user_id(&id)?;
    let w = writer_or_refusal!(state, post);
    let changes = post.fields.checkbox_changes("groups").map_err(Failure)?;
    let ticked = group_ids(&post.fields.all("groups"))?;
    let join: Vec<GroupId> = changes
        .iter()
        .filter(|(_, on)| *on)
        .map(|(g, _)| GroupId(*g))
        .collect();
    let leave: Vec<GroupId> = changes
        .iter()
        .filter(|(_, on)| !*on)
        .map(|(g, _)| GroupId(*g))
        .collect();
    match users::change_groups(&w, id, &join, &leave).await {
        Ok(()) => {}
        // Every group to join must exist: otherwise nothing changed.
        Err(Error::NotFound {
            kind: "group",
            id: g,
        }) => {
            let submitted = Submitted {
                groups: Some(ticked),
                errors: Errors::from([(
                    "groups".to_owned(),
                    format!("group {g} does not exist (any more)"),
                )]),
                ..Default::default()
            };
            return rejected(&state, &post, id, submitted).await;
        }
        Err(e) => return Err(e.into()),
    }
    back(id, "groups", "groups")
}

async fn set_state(state: AppState, id: String, post: AdminPost, to: UserState) -> Res {
    let id = parse_user_id(&id)?;
    let w = writer_or_refusal!(state, post);
    users::set_state(&w, id, to).await?;
    let saved = match to {
        UserState::Suspended => "suspended",
        UserState::Active => "unsuspended",
    };
    back(id, saved, "security")
}

async fn suspend(State(state): State<AppState>, Path(id): Path<String>, post: AdminPost) -> Res {
    set_state(state, id, post, UserState::Suspended).await
}

async fn unsuspend(State(state): State<AppState>, Path(id): Path<String>, post: AdminPost) -> Res {
    set_state(state, id, post, UserState::Active).await
}

async fn unlock(State(state): State<AppState>, Path(id): Path<String>, post: AdminPost) -> Res {
    let id = parse_user_id(&id)?;
    let w = writer_or_refusal!(state, post);
    security::unlock(&w, id).await?;
    back(id, "unlocked", "security")
}

async fn reset_totp(State(state): State<AppState>, Path(id): Path<String>, post: AdminPost) -> Res {
    let id = parse_user_id(&id)?;
    let w = writer_or_refusal!(state, post);
    security::reset_totp(&w, id).await?;
    back(id, "totp", "security")
}

async fn revoke_session(
    State(state): State<AppState>,
    Path((id, session)): Path<(String, String)>,
    post: AdminPost,
) -> Res {
    let id = parse_user_id(&id)?;
    let session = session
        .trim()
        .parse::<i64>()
        .map_err(|_| Failure(Error::not_found("session", &session)))?;
    let w = writer_or_refusal!(state, post);
    security::revoke_one(&w, id, SessionId(session)).await?;
    back(id, "revoked", "sessions")
}

async fn revoke_all(State(state): State<AppState>, Path(id): Path<String>, post: AdminPost) -> Res {
    let id = parse_user_id(&id)?;
    let w = writer_or_refusal!(state, post);
    security::revoke_all(&w, id).await?;
    back(id, "revoked-all", "sessions")
}
