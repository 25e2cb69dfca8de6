//! Groups in the admin portal:
//!
//! - `GET /admin/groups?search=&after=`: the list (name prefix search, keyset
//!   pages of [`PER_PAGE`], member and bound-application counts) and
//!   "+ Add Group" for writers.
//! - `GET|POST /admin/groups/new`: the create form (inline errors, 400);
//!   success is a 303 to the group with "Group created".
//! - `GET /admin/groups/{id}` and its saves: [`super::group_detail`].
//! - `GET|POST /admin/groups/{id}/delete`: a confirmation page naming what
//!   goes with the group, then the delete (303 to the list, "Group
//!   deleted.").
//!
//! Changes go through `lanyard_app::directory::groups`, the use-cases the
//! REST API uses (the rules of `lanyard_core::directory`, the same audit events).
//! Every POST is an [`AdminPost`] (session, origin, CSRF) and writes through
//! an [`AdminWriter`] (a read-only admin gets a 403 page).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use lanyard_core::directory::{Attributes, GroupCounts, ListQuery};
use lanyard_core::{Error, GroupId};

use super::apps::{errors_for, invalid, see_other, Errors};
use super::{read_only_refused, AdminPost, AdminSignedIn, AdminWriter, Nav};
use crate::pages::forms::{PageError, PageResult};
use crate::pages::{page, Message};
use crate::AppState;
use lanyard_app::directory::groups::{self as group_changes, CreateGroupForm};
use lanyard_app::Reader;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/groups", get(list))
        .route("/admin/groups/new", get(new_page).post(create))
        .route("/admin/groups/{id}/delete", get(delete_page).post(delete))
}

/// Groups per page of the list (their counts come in one more query).
const PER_PAGE: u32 = 25;

pub(super) fn parse_id(raw: &str) -> Result<GroupId, PageError> {
    raw.parse::<i64>()
        .map(GroupId)
        .map_err(|_| Error::not_found("group", raw).into())
}

/// A 400 page for query values the page cannot use.
pub(super) fn bad_query(message: impl Into<String>, back: &str) -> Response {
    Message::new("This link is not valid", message)
        .with_link(back, "Start again")
        .into_page(StatusCode::BAD_REQUEST)
}

/// `ListQuery::new` from raw query values; a broken value is the message
/// of the 400 page that names it (see [`bad_query`]).
pub(super) fn list_query(
    search: Option<String>,
    after: Option<&str>,
    limit: u32,
) -> Result<ListQuery, String> {
    let after = match after.map(str::trim).filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => Some(
            a.parse::<i64>()
                .map_err(|_| "The page position must be a whole number.".to_owned())?,
        ),
    };
    ListQuery::new(search, after, Some(limit)).map_err(|e| match e {
        Error::Invalid(fields) => fields
            .iter()
            .map(|(k, v)| format!("{} {v}.", capitalized(k)))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    })
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// `path?k=v&...` with the non-empty pairs, url-encoded.
pub(super) fn href(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    let q = q.finish();
    if q.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{q}")
    }
}

/// The member and bound-application counts of one group (zero for a group
/// that is gone).
pub(super) async fn counts_of(read: &Reader, id: GroupId) -> lanyard_core::Result<GroupCounts> {
    Ok(read
        .count_group_relations(&[id])
        .await?
        .into_iter()
        .next()
        .map(|(_, c)| c)
        .unwrap_or_default())
}

// ---- list ----

struct Row {
    id: i64,
    name: String,
    description: String,
    members: u64,
    apps: u64,
}

#[derive(Template)]
#[template(path = "admin/groups.html")]
struct ListPage {
    nav: Nav,
    search: String,
    rows: Vec<Row>,
    notice: Option<String>,
    /// The next page's link, when there is one.
    next: Option<String>,
    /// The first page's link, when this is not it.
    first: Option<String>,
}

#[derive(serde::Deserialize, Default)]
struct ListParams {
    search: Option<String>,
    after: Option<String>,
    deleted: Option<String>,
}

async fn list(
    signed: AdminSignedIn,
    State(state): State<AppState>,
    Query(q): Query<ListParams>,
) -> PageResult {
    let search = q.search.unwrap_or_default();
    let query = match list_query(Some(search.clone()), q.after.as_deref(), PER_PAGE) {
        Ok(query) => query,
        Err(m) => return Ok(bad_query(m, "/admin/groups")),
    };
    let read = signed.reader(&state);
    let groups = read.list_groups(&query).await?;
    let ids: Vec<GroupId> = groups.items.iter().map(|g| g.id).collect();
    let counts: BTreeMap<GroupId, GroupCounts> = read
        .count_group_relations(&ids)
        .await?
        .into_iter()
        .collect();
    let rows = groups
        .items
        .into_iter()
        .map(|g| {
            let c = counts.get(&g.id).copied().unwrap_or_default();
            Row {
                id: g.id.0,
                name: g.name,
                description: g.description,
                members: c.members,
                apps: c.applications,
            }
        })
        .collect();
    let next = groups.next.map(|n| {
        href(
            "/admin/groups",
            &[("search", &search), ("after", &n.to_string())],
        )
    });
    let first = query
        .after
        .map(|_| href("/admin/groups", &[("search", &search)]));
    Ok(page(
        StatusCode::OK,
        &ListPage {
            nav: signed.nav("groups"),
            search,
            rows,
            notice: q.deleted.map(|_| "Group deleted.".to_owned()),
            next,
            first,
        },
    ))
}

// ---- new ----

#[derive(Template)]
#[template(path = "admin/group_new.html")]
struct NewPage {
    nav: Nav,
    name: String,
    description: String,
    errors: Errors,
}

impl NewPage {
    fn err(&self, field: &str) -> Vec<&str> {
        errors_for(&self.errors, field)
    }
}

async fn new_page(signed: AdminSignedIn) -> PageResult {
    if !signed.can_write() {
        return Ok(read_only_refused(signed.who.actor()));
    }
    Ok(page(
        StatusCode::OK,
        &NewPage {
            nav: signed.nav("groups"),
            name: String::new(),
            description: String::new(),
            errors: Errors::new(),
        },
    ))
}

async fn create(State(state): State<AppState>, post: AdminPost) -> PageResult {
    let w = writer_or_refusal!(state, post);
    let (name, description) = (post.fields.get("name"), post.fields.get("description"));
    let form = CreateGroupForm {
        name: name.to_owned(),
        description: description.to_owned(),
        attributes: Attributes::new(),
    };
    match group_changes::create(&w, form).await {
        Ok(group) => Ok(see_other(&format!(
            "/admin/groups/{}?saved=created",
            group.id
        ))),
        Err(e) => Ok(page(
            StatusCode::BAD_REQUEST,
            &NewPage {
                nav: post.signed.nav("groups"),
                name: name.to_owned(),
                description: description.to_owned(),
                errors: invalid(e)?,
            },
        )),
    }
}

// ---- delete ----

#[derive(Template)]
#[template(path = "admin/group_delete.html")]
struct DeletePage {
    nav: Nav,
    id: i64,
    name: String,
    members: u64,
    apps: Vec<String>,
}

async fn delete_page(
    signed: AdminSignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult {
    let id = parse_id(&id)?;
    if !signed.can_write() {
        return Ok(read_only_refused(signed.who.actor()));
    }
    let read = signed.reader(&state);
    let group = read.get_group(id).await?;
    let (counts, apps) = tokio::try_join!(counts_of(&read, id), read.list_group_apps(id))?;
    Ok(page(
        StatusCode::OK,
        &DeletePage {
            nav: signed.nav("groups"),
            id: id.0,
            name: group.name,
            members: counts.members,
            apps: apps.into_iter().map(|a| a.config.label).collect(),
        },
    ))
}

async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    let id = parse_id(&id)?;
    let w = writer_or_refusal!(state, post);
    group_changes::delete(&w, id).await?;
    Ok(see_other("/admin/groups?deleted=1"))
}
