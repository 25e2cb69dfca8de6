//! One group in the admin portal:
//! `GET /admin/groups/{id}?saved=&members_after=&user_search=`, one page of
//! stacked cards, and their saves:
//!
//! - Details: name and description, `POST .../details`;
//! - Members: pages of [`MEMBERS_PER_PAGE`] with a "Remove" button each
//!   (`POST .../members/remove`), and "Add member": a list of users who are
//!   not members (narrowed by a user search), `POST .../members/add`;
//! - Group attributes: name/value rows (several rows with one name are its
//!   values), replaced whole by `POST .../attributes`;
//! - Applications: one checkbox per configured application; `POST
//!   .../applications` binds and unbinds until the bindings are the ticked
//!   set, from the group's side, with the actions, targets and summaries of
//!   the API's `/groups/{id}/applications/{app_id}` door;
//! - the way to the delete confirmation (in [`super::groups`]).
//!
//! Changes go through `lanyard_app::directory::groups` (the REST API's
//! use-cases);
//! every POST is an [`AdminPost`] with an [`AdminWriter`]. A rejected save
//! shows the page again (400) with the submitted values and the messages.

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use lanyard_core::application::Application;
use lanyard_core::directory::{Group, ListQuery, MAX_PAGE};
use lanyard_core::{AppId, Error, GroupId, UserId};

use super::apps::{errors_for, invalid, see_other, Errors};
use super::attr_rows::{self, AttrRow};
use super::groups::{bad_query, counts_of, href, list_query, parse_id};
use super::{AdminPost, AdminSignedIn, AdminWriter, Fields, Nav};
use crate::pages::forms::{PageError, PageResult};
use crate::pages::page;
use crate::AppState;
use lanyard_app::apps;
use lanyard_app::directory::groups::{self as changes, UpdateGroupForm};
use lanyard_app::Reader;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/groups/{id}", get(detail))
        .route("/admin/groups/{id}/details", post(save_details))
        .route("/admin/groups/{id}/members/add", post(add_member))
        .route("/admin/groups/{id}/members/remove", post(remove_member))
        .route("/admin/groups/{id}/attributes", post(save_attributes))
        .route("/admin/groups/{id}/applications", post(save_applications))
}

/// Members per page of a group.
const MEMBERS_PER_PAGE: u32 = 100;
/// Users offered by the "Add member" list at once (search to narrow).
const CANDIDATES: u32 = 200;
/// Most applications the Applications card lists (pages of 500).
const MAX_APPS: usize = 10_000;

struct MemberRow {
    id: i64,
    username: String,
    email: String,
    name: String,
    suspended: bool,
}

struct Candidate {
    id: i64,
    label: String,
}

struct AppRow {
    id: i64,
    label: String,
    active: bool,
    bound: bool,
}

#[derive(Template)]
#[template(path = "admin/group_detail.html")]
struct DetailPage {
    nav: Nav,
    id: i64,
    /// The stored name (the heading), whatever the form holds.
    title: String,
    name: String,
    description: String,
    created: String,
    updated: String,
    notice: Option<String>,
    errors: Errors,
    members: Vec<MemberRow>,
    members_next: Option<String>,
    members_first: Option<String>,
    member_count: u64,
    user_search: String,
    candidates: Vec<Candidate>,
    candidates_more: bool,
    attrs: Vec<AttrRow>,
    apps: Vec<AppRow>,
    apps_more: bool,
}

impl DetailPage {
    fn err(&self, field: &str) -> Vec<&str> {
        errors_for(&self.errors, field)
    }

    /// The message of exactly `field` (not of its rows).
    fn err_exact(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }
}

/// What the page shows besides the group: a members page, the user search
/// of "Add member".
#[derive(Default)]
struct View {
    members: Option<ListQuery>,
    user_search: String,
}

/// A rejected form's values and errors (`None`: show the stored values).
#[derive(Default)]
struct Submitted {
    details: Option<(String, String)>,
    attrs: Option<Vec<AttrRow>>,
    apps: Option<BTreeSet<i64>>,
    errors: Errors,
}

fn utc(at: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    at.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_default()
}

/// Every application, by label (pages of 500, at most [`MAX_APPS`]);
/// `true` when some were left out.
async fn all_apps(read: &Reader) -> lanyard_core::Result<(Vec<Application>, bool)> {
    let mut apps = Vec::new();
    let mut after = None;
    loop {
        let page = read
            .list_apps(&ListQuery::new(None, after, Some(MAX_PAGE))?)
            .await?;
        apps.extend(page.items);
        match page.next {
            Some(n) if apps.len() < MAX_APPS => after = Some(n),
            Some(_) => return Ok((apps, true)),
            None => return Ok((apps, false)),
        }
    }
}

/// Users matching `search` who are not members of `group`: the first
/// [`CANDIDATES`] matches, less the members among them (found by walking
/// the members with the same search up to the last candidate's id).
async fn candidates(
    read: &Reader,
    group: GroupId,
    search: &str,
) -> lanyard_core::Result<(Vec<Candidate>, bool)> {
    let search = Some(search.to_owned());
    let users = read
        .list_users(&ListQuery::new(search.clone(), None, Some(CANDIDATES))?)
        .await?;
    let Some(last) = users.items.last().map(|u| u.id.0) else {
        return Ok((Vec::new(), false));
    };
    let mut members = BTreeSet::new();
    let mut after = None;
    loop {
        let page = read
            .list_members(
                group,
                &ListQuery::new(search.clone(), after, Some(MAX_PAGE))?,
            )
            .await?;
        members.extend(page.items.iter().map(|u| u.id));
        match page.next {
            Some(n) if n < last => after = Some(n),
            _ => break,
        }
    }
    let list = users
        .items
        .into_iter()
        .filter(|u| !members.contains(&u.id))
        .map(|u| Candidate {
            id: u.id.0,
            label: format!("{} ({})", u.username, u.email),
        })
        .collect();
    Ok((list, users.next.is_some()))
}

async fn detail_page(
    state: &AppState,
    signed: &AdminSignedIn,
    group: Group,
    view: View,
    submitted: Submitted,
    notice: Option<String>,
) -> Result<DetailPage, PageError> {
    let read = signed.reader(state);
    let Submitted {
        details,
        attrs,
        apps: ticked,
        errors,
    } = submitted;
    let members_query = match view.members {
        Some(q) => q,
        None => ListQuery::new(None, None, Some(MEMBERS_PER_PAGE))?,
    };
    let base = format!("/admin/groups/{}", group.id);
    let (members, counts, bound, (apps, apps_more)) = tokio::try_join!(
        read.list_members(group.id, &members_query),
        counts_of(&read, group.id),
        read.list_group_apps(group.id),
        all_apps(&read),
    )?;
    let (candidates, candidates_more) = if signed.can_write() {
        candidates(&read, group.id, &view.user_search).await?
    } else {
        (Vec::new(), false)
    };
    let bound: BTreeSet<AppId> = bound.into_iter().map(|a| a.id).collect();
    let attrs = attr_rows::shown(attrs, &group.attributes, &errors, signed.can_write());
    let (name, description) =
        details.unwrap_or_else(|| (group.name.clone(), group.description.clone()));
    Ok(DetailPage {
        nav: signed.nav("groups"),
        id: group.id.0,
        title: group.name,
        name,
        description,
        created: utc(group.created_at),
        updated: utc(group.updated_at),
        notice,
        members: members
            .items
            .into_iter()
            .map(|u| MemberRow {
                id: u.id.0,
                name: format!("{} {}", u.first_name, u.last_name)
                    .trim()
                    .to_owned(),
                username: u.username,
                email: u.email,
                suspended: u.state == lanyard_core::directory::UserState::Suspended,
            })
            .collect(),
        members_next: members
            .next
            .map(|n| href(&base, &[("members_after", &n.to_string())])),
        members_first: members_query.after.map(|_| base.clone()),
        member_count: counts.members,
        user_search: view.user_search,
        candidates,
        candidates_more,
        attrs,
        apps: apps
            .into_iter()
            .map(|a| AppRow {
                id: a.id.0,
                bound: match &ticked {
                    Some(t) => t.contains(&a.id.0),
                    None => bound.contains(&a.id),
                },
                label: a.config.label,
                active: a.sso_active,
            })
            .collect(),
        apps_more,
        errors,
    })
}

#[derive(serde::Deserialize, Default)]
struct DetailParams {
    saved: Option<String>,
    members_after: Option<String>,
    user_search: Option<String>,
}

async fn detail(
    signed: AdminSignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<DetailParams>,
) -> PageResult {
    let id = parse_id(&id)?;
    let group = signed.reader(&state).get_group(id).await?;
    let back = format!("/admin/groups/{id}");
    let members = match list_query(None, q.members_after.as_deref(), MEMBERS_PER_PAGE) {
        Ok(query) => query,
        Err(m) => return Ok(bad_query(m, &back)),
    };
    let user_search = q.user_search.unwrap_or_default().trim().to_owned();
    if let Err(m) = list_query(Some(user_search.clone()), None, CANDIDATES) {
        return Ok(bad_query(m, &back));
    }
    let notice = q.saved.map(|what| {
        match what.as_str() {
            "created" => "Group created",
            "attributes" => "Attributes saved.",
            "applications" => "Applications saved.",
            "member_added" => "Member added.",
            "member_removed" => "Member removed.",
            _ => "Saved.",
        }
        .to_owned()
    });
    let view = View {
        members: Some(members),
        user_search,
    };
    let page_data = detail_page(&state, &signed, group, view, Submitted::default(), notice).await?;
    Ok(page(StatusCode::OK, &page_data))
}

/// The detail page of `id` again, with the submitted values and errors.
async fn rejected(
    state: &AppState,
    post: &AdminPost,
    id: GroupId,
    submitted: Submitted,
) -> PageResult {
    let group = post.signed.reader(state).get_group(id).await?;
    let view = detail_page(state, &post.signed, group, View::default(), submitted, None).await?;
    Ok(page(StatusCode::BAD_REQUEST, &view))
}

fn saved(id: GroupId, what: &str) -> Response {
    see_other(&format!("/admin/groups/{id}?saved={what}"))
}

async fn save_details(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    let id = parse_id(&id)?;
    let w = writer_or_refusal!(state, post);
    let name = post.fields.get("name").to_owned();
    let description = post.fields.get("description").to_owned();
    let form = UpdateGroupForm {
        name: Some(name.clone()),
        description: Some(description.clone()),
        attributes: None,
    };
    match changes::update(&w, id, form).await {
        Ok(_) => Ok(saved(id, "details")),
        Err(e) => {
            let errors = invalid(e)?;
            let submitted = Submitted {
                details: Some((name, description)),
                errors,
                ..Default::default()
            };
            rejected(&state, &post, id, submitted).await
        }
    }
}

/// The user a members form names, or the form's error.
fn user_of(fields: &Fields) -> Result<UserId, Errors> {
    fields
        .get("user")
        .trim()
        .parse::<i64>()
        .map(UserId)
        .map_err(|_| Errors::from([("user".to_owned(), "choose a user".to_owned())]))
}

/// A change to the membership: done (303 back), or the reason on the page.
async fn change_members(state: &AppState, post: AdminPost, id: &str, add: bool) -> PageResult {
    let id = parse_id(id)?;
    let w = writer_or_refusal!(*state, post);
    let user = match user_of(&post.fields) {
        Ok(user) => user,
        Err(errors) => {
            let submitted = Submitted {
                errors,
                ..Default::default()
            };
            return rejected(state, &post, id, submitted).await;
        }
    };
    let done = if add {
        changes::add_member(&w, id, user).await
    } else {
        changes::remove_member(&w, id, user).await
    };
    match done {
        Ok(()) => Ok(saved(
            id,
            if add {
                "member_added"
            } else {
                "member_removed"
            },
        )),
        Err(Error::NotFound { kind: "user", .. }) => {
            let errors = Errors::from([(
                "user".to_owned(),
                format!("user {user} does not exist (any more)"),
            )]);
            let submitted = Submitted {
                errors,
                ..Default::default()
            };
            rejected(state, &post, id, submitted).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn add_member(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    change_members(&state, post, &id, true).await
}

async fn remove_member(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    change_members(&state, post, &id, false).await
}

async fn save_attributes(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    let id = parse_id(&id)?;
    let w = writer_or_refusal!(state, post);
    let (rows, attributes) = attr_rows::submitted(&post.fields);
    match changes::set_attributes(&w, id, attributes).await {
        Ok(_) => Ok(saved(id, "attributes")),
        Err(e) => {
            let errors = invalid(e)?;
            let submitted = Submitted {
                attrs: Some(rows),
                errors,
                ..Default::default()
            };
            rejected(&state, &post, id, submitted).await
        }
    }
}

async fn save_applications(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    let id = parse_id(&id)?;
    let w = writer_or_refusal!(state, post);
    let changes: Vec<_> = match post.fields.checkbox_changes("apps") {
        Ok(c) => c
            .into_iter()
            .map(|(app, on)| (AppId(app), id, on))
            .collect(),
        Err(e) => {
            let submitted = Submitted {
                errors: invalid(e)?,
                ..Default::default()
            };
            return rejected(&state, &post, id, submitted).await;
        }
    };
    apps::grants::apply_bindings(&w, &changes).await?;
    Ok(saved(id, "applications"))
}
