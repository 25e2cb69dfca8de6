//! The Users section of the admin portal:
//!
//! - `GET /admin/users?q=&after=&trail=`: the directory's users, 50 a page
//!   (keyset pages as in `GET /api/v1/users`; `trail` remembers the pages
//!   before, so "Previous" is a plain link), searched by prefix of email,
//!   username, first or last name, with status (active / suspended /
//!   locked) and TOTP on/off.
//! - `GET /admin/users/new` and `POST /admin/users/new`: the "Add User"
//!   form (email, username, names, optional initial password); a rejected
//!   form comes back with a 400 and each message under its field, a created
//!   user is a 303 to its page.
//! - One user's page and its saves live in [`detail`].
//!
//! Every rule and every audit event is the REST API's: the changes are
//! `lanyard_app::directory`'s use-cases, called with an [`AdminWriter`].
//! Failures become pages ([`Failure`]): an unknown
//! user is a 404 pointing back to the list, input the rules refuse a 400,
//! never a panic.

mod detail;

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use lanyard_core::directory::{ListQuery, User, UserState, DEFAULT_PAGE};
use lanyard_core::{Error, UserId};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use super::apps::{errors_for, see_other, Errors};
use super::{read_only_refused, AdminPost, AdminSignedIn, AdminWriter, Fields, Nav};
use crate::pages::forms::PageError;
use crate::pages::{page, Message};
use crate::AppState;
use lanyard_app::directory::users::{self, CreateUserForm};
use lanyard_app::Reader;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list))
        .route("/admin/users/new", get(new_page).post(create))
        .merge(detail::router())
}

/// Earlier pages remembered for "Previous" (older ones fall back to the
/// first page).
const MAX_TRAIL: usize = 100;

/// What a users page answers when something fails.
#[derive(Debug)]
struct Failure(Error);

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure(err)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self.0 {
            Error::NotFound { kind: "user", .. } => {
                Message::new("User not found", "No user has this id (any more).")
                    .with_link("/admin/users", "Back to Users")
                    .into_page(StatusCode::NOT_FOUND)
            }
            Error::NotFound { kind, .. } => Message::new(
                "Not found",
                format!("This {kind} does not exist (any more)."),
            )
            .with_link("/admin/users", "Back to Users")
            .into_page(StatusCode::NOT_FOUND),
            Error::Invalid(fields) => Message {
                heading: "Not accepted".into(),
                paragraphs: fields
                    .iter()
                    .map(|(field, m)| format!("{}: {m}", field.replace('_', " ")))
                    .collect(),
                link: Some(("/admin/users".into(), "Back to Users".into())),
            }
            .into_page(StatusCode::BAD_REQUEST),
            Error::Conflict { field, value } => Message::new(
                "Not accepted",
                format!("The {field} {value:?} is already in use."),
            )
            .with_link("/admin/users", "Back to Users")
            .into_page(StatusCode::CONFLICT),
            other => PageError::from(other).into_response(),
        }
    }
}

/// What the handlers here return.
type Res = Result<Response, Failure>;

/// A rule broken by form input becomes messages under the fields (a taken
/// email or username included); anything else fails the page.
fn field_errors(err: Error) -> Result<Errors, Failure> {
    match err {
        Error::Invalid(fields) => Ok(fields),
        Error::Conflict { field, value } => Ok(Errors::from([(
            field.to_owned(),
            format!("{value:?} is already in use"),
        )])),
        other => Err(Failure(other)),
    }
}

/// The user id of a path: anything but a number is an unknown user.
fn parse_user_id(raw: &str) -> Result<UserId, Failure> {
    raw.trim()
        .parse::<i64>()
        .map(UserId)
        .map_err(|_| Failure(Error::not_found("user", raw)))
}

/// Dates on the pages: UTC, to the minute.
const WHEN: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute] UTC");

fn when(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC).format(WHEN).unwrap_or_default()
}

/// "First Last", or "" when both are empty.
fn full_name(u: &User) -> String {
    format!("{} {}", u.first_name, u.last_name)
        .trim()
        .to_owned()
}

/// Whether each user is locked out and has TOTP, by id, in one store
/// statement for the page; a user deleted meanwhile is left out.
async fn sign_in_flags(
    read: &Reader,
    ids: &[UserId],
    now: time::OffsetDateTime,
) -> Result<HashMap<UserId, (bool, bool)>, Error> {
    Ok(read
        .sign_in_states(ids)
        .await?
        .into_iter()
        .map(|(id, s)| (id, (s.is_locked(now), s.totp_enabled())))
        .collect())
}

// ---- list ----

struct ListRow {
    id: i64,
    username: String,
    email: String,
    name: String,
    /// `active`, `suspended` or `locked`.
    status: &'static str,
    totp: bool,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct ListPage {
    nav: Nav,
    q: String,
    rows: Vec<ListRow>,
    /// Query strings (without `?`) of the neighbouring pages.
    next: Option<String>,
    previous: Option<String>,
}

/// The query string of a list page.
fn list_query(q: &str, after: i64, trail: &[i64]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    if !q.is_empty() {
        s.append_pair("q", q);
    }
    if after > 0 {
        s.append_pair("after", &after.to_string());
    }
    if !trail.is_empty() {
        let t: Vec<String> = trail.iter().map(i64::to_string).collect();
        s.append_pair("trail", &t.join(","));
    }
    s.finish()
}

async fn list(
    signed: AdminSignedIn,
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Res {
    let f = Fields::from_pairs(pairs);
    let q = f.get("q").trim().to_owned();
    // A cursor that is not a number is the first page, not an error.
    let after = f.get("after").trim().parse::<i64>().unwrap_or(0).max(0);
    let mut trail: Vec<i64> = f
        .get("trail")
        .split(',')
        .filter_map(|t| t.trim().parse::<i64>().ok())
        .filter(|t| *t >= 0)
        .collect();
    if trail.len() > MAX_TRAIL {
        trail.drain(..trail.len() - MAX_TRAIL);
    }
    let read = signed.reader(&state);
    let query = ListQuery::new(
        Some(q.clone()),
        (after > 0).then_some(after),
        Some(DEFAULT_PAGE),
    )?;
    let users = read.list_users(&query).await?;
    let ids: Vec<UserId> = users.items.iter().map(|u| u.id).collect();
    let flags = sign_in_flags(&read, &ids, state.lanyard.now()).await?;
    let rows = users
        .items
        .iter()
        .map(|u| {
            let (locked, totp) = flags.get(&u.id).copied().unwrap_or_default();
            ListRow {
                id: u.id.0,
                username: u.username.clone(),
                email: u.email.clone(),
                name: full_name(u),
                status: match u.state {
                    UserState::Suspended => "suspended",
                    UserState::Active if locked => "locked",
                    UserState::Active => "active",
                },
                totp,
            }
        })
        .collect();
    let next = users.next.map(|n| {
        let mut t = trail.clone();
        t.push(after);
        list_query(&q, n, &t)
    });
    let previous = (after > 0).then(|| {
        let mut t = trail.clone();
        let back = t.pop().unwrap_or(0);
        list_query(&q, back, &t)
    });
    Ok(page(
        StatusCode::OK,
        &ListPage {
            nav: signed.nav("users"),
            q,
            rows,
            next,
            previous,
        },
    ))
}

// ---- new ----

#[derive(Template)]
#[template(path = "admin/user_new.html")]
struct NewPage {
    nav: Nav,
    email: String,
    username: String,
    first_name: String,
    last_name: String,
    errors: Errors,
}

impl NewPage {
    fn err(&self, field: &str) -> Vec<&str> {
        errors_for(&self.errors, field)
    }
}

async fn new_page(signed: AdminSignedIn) -> Res {
    if !signed.can_write() {
        return Ok(read_only_refused(signed.who.actor()));
    }
    Ok(page(
        StatusCode::OK,
        &NewPage {
            nav: signed.nav("users"),
            email: String::new(),
            username: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            errors: Errors::new(),
        },
    ))
}

async fn create(State(state): State<AppState>, post: AdminPost) -> Res {
    let w = writer_or_refusal!(state, post);
    let f = &post.fields;
    let password = f.get("password");
    let form = CreateUserForm {
        email: f.get("email").trim().to_owned(),
        username: f.get("username").trim().to_owned(),
        first_name: f.get("first_name").trim().to_owned(),
        last_name: f.get("last_name").trim().to_owned(),
        attributes: Default::default(),
        // Empty: no password yet (the user cannot sign in until one is set).
        password: (!password.is_empty()).then(|| password.to_owned()),
    };
    let again = NewPage {
        nav: post.signed.nav("users"),
        email: form.email.clone(),
        username: form.username.clone(),
        first_name: form.first_name.clone(),
        last_name: form.last_name.clone(),
        errors: Errors::new(),
    };
    match users::create(&w, form).await {
        Ok(user) => Ok(see_other(&format!(
            "/admin/users/{}?saved=created",
            user.id
        ))),
        Err(e) => {
            let errors = field_errors(e)?;
            // The password is never sent back.
            Ok(page(StatusCode::BAD_REQUEST, &NewPage { errors, ..again }))
        }
    }
}
