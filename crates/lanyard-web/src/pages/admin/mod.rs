//! The admin portal under `/admin`, for admin accounts (not directory
//! users): sign-in ([`login`]), the SSO Applications pages ([`apps`], with
//! the Attributes tab in [`app_attributes`] and the Preview tab in
//! [`app_preview`]) and the shared pieces here.
//!
//! - [`AdminSignedIn`]: the extractor for every admin page. It reads the
//!   `lanyard_admin` cookie (`Path=/admin`, `HttpOnly`, `SameSite=Strict`,
//!   `Secure` on https) and authenticates it through
//!   `Lanyard::authenticate_admin_session`, so pages reach the rules only
//!   through the same `Reader` / `Writer` capabilities as the REST API. Without a live session: a 303 to
//!   `/admin/login?next=<this page>`.
//! - [`AdminPost`]: the extractor for every state-changing admin request:
//!   a signed-in admin, `Origin` (when sent) ours, and the form's `csrf`
//!   field equal to the session's CSRF secret (constant-time), else a 403
//!   page before anything else happens. Fields are kept as pairs so
//!   checkbox lists (`ids=1&ids=2`) survive.
//! - [`AdminWriter`]: a write handle for the request, made only when the
//!   admin's role may write; a read-only admin gets a 403 page. Pages hide
//!   write buttons from read-only admins as well, but the server's refusal
//!   does not depend on that.
//! - [`Nav`]: what the layout (`templates/admin/base.html`) needs: the
//!   admin, the sign-out form's token and the current section.
//! - The sections: [`apps`] (SSO Applications), [`users`], [`groups`],
//!   [`system`] (Audit log, API keys, Settings), [`admin_accounts`]
//!   (Admins) and [`account`] (the signed-in admin's own account).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use lanyard_app::{Authenticated, Reader, Writer};
use lanyard_core::admin::{Actor, Admin};
use lanyard_core::session::AdminSession;

use super::forms::{cross_origin, Client};
use super::Message;
use crate::session::{same_origin, tokens_match, Cookie};
use crate::AppState;

/// The POST's writer, or (for a read-only admin) the 403 page returned from
/// the handler. Defined before the submodules so all of them can use it.
macro_rules! writer_or_refusal {
    ($state:expr, $post:expr) => {
        match AdminWriter::new(&$state, &$post) {
            Ok(w) => w,
            Err(refusal) => return Ok(refusal),
        }
    };
}

pub mod account;
pub mod admin_accounts;
pub mod app_assets;
pub mod app_attributes;
pub mod app_detail;
pub mod app_preview;
pub mod apps;
pub mod attr_rows;
pub mod group_detail;
pub mod groups;
pub mod login;
pub mod system;
pub mod users;

/// Where the admin portal lives.
pub const ADMIN_PATH: &str = "/admin";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/admin",
            get(|| async { Redirect::to("/admin/applications") }),
        )
        .merge(login::router())
        .merge(apps::router())
        .merge(app_detail::router())
        .merge(app_assets::router())
        .merge(app_attributes::router())
        .merge(users::router())
        .merge(groups::router())
        .merge(group_detail::router())
        .merge(system::router())
        .merge(admin_accounts::router())
        .merge(account::router())
}

/// A signed-in admin: a live admin session, the admin, and the proof of
/// authentication the capabilities are asked with.
#[derive(Debug, Clone)]
pub struct AdminSignedIn {
    pub who: Authenticated,
    pub session: AdminSession,
    pub admin: Admin,
    /// Signing certificates that expire within 30 days (the banner).
    pub expiring: Vec<lanyard_app::apps::expiry::Expiring>,
}

impl AdminSignedIn {
    pub fn reader(&self, state: &AppState) -> Reader {
        state.lanyard.reader(&self.who)
    }

    pub fn can_write(&self) -> bool {
        self.who.actor().role.can_write()
    }

    /// The layout's data for a page of `section`.
    pub fn nav(&self, section: &'static str) -> Nav {
        Nav {
            email: self.admin.email.clone(),
            role: self.admin.role.as_str(),
            csrf: self.session.csrf_secret.clone(),
            can_write: self.can_write(),
            section,
            expiring: self
                .expiring
                .iter()
                .map(|e| Banner {
                    app_id: e.app_id,
                    message: e.message(),
                    urgent: e.step <= 7,
                })
                .collect(),
        }
    }
}

/// One certificate warning on every admin page.
pub struct Banner {
    pub app_id: i64,
    pub message: String,
    /// 7 days or fewer left (or expired).
    pub urgent: bool,
}

/// What `templates/admin/base.html` shows around every page.
pub struct Nav {
    pub email: String,
    pub role: &'static str,
    /// The session's CSRF secret (every form carries it).
    pub csrf: String,
    /// Whether write buttons are shown.
    pub can_write: bool,
    /// `applications`, `users`, `groups`, `audit`, `admins`, `api-keys`,
    /// `settings` or `account`.
    pub section: &'static str,
    /// Signing certificates about to expire.
    pub expiring: Vec<Banner>,
}

/// The admin session of a request, if live.
async fn current(
    state: &AppState,
    headers: &HeaderMap,
) -> lanyard_core::Result<Option<AdminSignedIn>> {
    let Some(token) = Cookie::Admin
        .read(headers, state.settings())
        .filter(|t| lanyard_app::sessions::is_token(t))
    else {
        return Ok(None);
    };
    let Some(s) = state.lanyard.authenticate_admin_session(token).await? else {
        return Ok(None);
    };
    // A failure to read them must not lock admins out: no banner then.
    let expiring = lanyard_app::apps::expiry::expiring(&state.lanyard)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!("cannot read the signing certificates' expiry: {e}");
            Vec::new()
        });
    Ok(Some(AdminSignedIn {
        who: s.who,
        session: s.session,
        admin: s.admin,
        expiring,
    }))
}

/// A 303 to the admin sign-in page, coming back to `next` afterwards.
fn to_admin_login(next: &str) -> Response {
    let target = format!(
        "/admin/login?next={}",
        form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    );
    let value = HeaderValue::from_str(&target).unwrap_or(HeaderValue::from_static("/admin/login"));
    (StatusCode::SEE_OTHER, [(LOCATION, value)]).into_response()
}

impl FromRequestParts<AppState> for AdminSignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match current(state, &parts.headers).await {
            Ok(Some(s)) => Ok(s),
            Ok(None) => {
                // A POST cannot be replayed after sign-in: come back to the
                // page instead of the action.
                let next = if parts.method == axum::http::Method::GET {
                    parts
                        .uri
                        .path_and_query()
                        .map_or("/admin", |pq| pq.as_str())
                } else {
                    "/admin/applications"
                };
                Err(to_admin_login(next))
            }
            Err(e) => Err(crate::session::unavailable(&e)),
        }
    }
}

/// Form fields as submitted, in order (repeated names kept).
#[derive(Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether a checkbox `name` was ticked (present).
    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// The boxes of the checkbox list `name` that the admin changed, as
    /// (id, ticked now). Each listed box comes with a hidden `<name>_shown`
    /// (its id) and, when it was ticked as rendered, a hidden
    /// `<name>_was`. Only boxes whose state differs from how they were
    /// shown count, so ids the page did not list, and changes made
    /// elsewhere since it was rendered, are left alone. `Err` names the
    /// value that is not an id.
    pub fn checkbox_changes(&self, name: &str) -> Result<Vec<(i64, bool)>, lanyard_core::Error> {
        let ids = |field: &str| -> Result<std::collections::BTreeSet<i64>, lanyard_core::Error> {
            self.all(field)
                .iter()
                .map(|v| {
                    v.trim().parse::<i64>().map_err(|_| {
                        lanyard_core::Error::invalid(name, format!("{v:?} is not an id"))
                    })
                })
                .collect()
        };
        let shown = ids(&format!("{name}_shown"))?;
        let was = ids(&format!("{name}_was"))?;
        let now = ids(name)?;
        Ok(shown
            .into_iter()
            .filter_map(|id| {
                let ticked = now.contains(&id);
                (ticked != was.contains(&id)).then_some((id, ticked))
            })
            .collect())
    }

    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Fields(pairs)
    }
}

/// A state-changing admin request that passed the session, origin and CSRF
/// checks.
pub struct AdminPost {
    pub signed: AdminSignedIn,
    pub fields: Fields,
    pub client: Client,
    /// Files of a `multipart/form-data` form (empty for url-encoded ones).
    pub files: Vec<Upload>,
}

impl AdminPost {
    /// The file sent as `name`, if one was chosen.
    pub fn file(&self, name: &str) -> Option<&Upload> {
        self.files.iter().find(|f| f.name == name)
    }
}

/// One file of a multipart form.
pub struct Upload {
    /// The form field's name.
    pub name: String,
    /// The name the browser gave (for messages only; never used as a path).
    pub file_name: String,
    pub bytes: axum::body::Bytes,
}

fn bad_form(status: StatusCode) -> Response {
    Message::new(
        "The form could not be read",
        "Go back, reload the page and try again.",
    )
    .into_page(status)
}

/// The refusal of a form whose token is not the session's.
pub fn admin_csrf_refused() -> Response {
    Message::new(
        "Request refused",
        "This form has expired or did not come from Lanyard. Reload the page and try again.",
    )
    .with_link("/admin/applications", "Back to the admin portal")
    .into_page(StatusCode::FORBIDDEN)
}

impl FromRequest<AppState> for AdminPost {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let signed = AdminSignedIn::from_request_parts(&mut parts, state).await?;
        if !same_origin(&parts.headers, state.settings()) {
            return Err(cross_origin());
        }
        let Ok(client) = Client::from_request_parts(&mut parts, state).await;
        let kind = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let req = Request::from_parts(parts, body);
        let (pairs, files) = match kind.as_str() {
            "application/x-www-form-urlencoded" => {
                let bytes = axum::body::Bytes::from_request(req, state)
                    .await
                    .map_err(|r| bad_form(r.status()))?;
                let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
                    .map_err(|_| bad_form(StatusCode::BAD_REQUEST))?;
                (pairs, Vec::new())
            }
            "multipart/form-data" => read_multipart(req, state).await?,
            _ => return Err(bad_form(StatusCode::UNSUPPORTED_MEDIA_TYPE)),
        };
        let fields = Fields(pairs);
        if !tokens_match(&signed.session.csrf_secret, fields.get("csrf")) {
            return Err(admin_csrf_refused());
        }
        Ok(AdminPost {
            signed,
            fields,
            client,
            files,
        })
    }
}

/// The text fields and files of a `multipart/form-data` body (the body
/// limit of the router applies). A file input left empty is no file.
async fn read_multipart(
    req: Request,
    state: &AppState,
) -> Result<(Vec<(String, String)>, Vec<Upload>), Response> {
    let mut multipart = axum::extract::Multipart::from_request(req, state)
        .await
        .map_err(|r| bad_form(r.status()))?;
    let mut pairs = Vec::new();
    let mut files = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                tracing::info!(
                    error = %e.to_string().escape_debug(),
                    "admin form: unreadable multipart body"
                );
                return Err(bad_form(e.status()));
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let bytes = field.bytes().await.map_err(|e| bad_form(e.status()))?;
        match file_name {
            Some(file_name) if !(file_name.is_empty() && bytes.is_empty()) => files.push(Upload {
                name,
                file_name,
                bytes,
            }),
            Some(_) => {}
            None => {
                let text = String::from_utf8(bytes.to_vec())
                    .map_err(|_| bad_form(StatusCode::BAD_REQUEST))?;
                pairs.push((name, text));
            }
        }
    }
    Ok((pairs, files))
}

/// A write handle for one admin request, with its audit context.
pub struct AdminWriter(Writer);

impl std::ops::Deref for AdminWriter {
    type Target = Writer;

    fn deref(&self) -> &Writer {
        &self.0
    }
}

impl AdminWriter {
    /// Only for a role that may write; a read-only admin gets a 403 page.
    #[allow(clippy::result_large_err)]
    pub fn new(state: &AppState, post: &AdminPost) -> Result<Self, Response> {
        let who = &post.signed.who;
        state
            .lanyard
            .writer(who, post.client.source())
            .map(AdminWriter)
            .ok_or_else(|| read_only_refused(who.actor()))
    }
}

/// The 403 page for a write attempt by a role that cannot write.
pub fn read_only_refused(actor: &Actor) -> Response {
    Message::new(
        "Not allowed",
        format!(
            "{} has the {} role, which can see everything and change nothing.",
            actor.label,
            actor.role.as_str()
        ),
    )
    .with_link("/admin/applications", "Back to the admin portal")
    .into_page(StatusCode::FORBIDDEN)
}
