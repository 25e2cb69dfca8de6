//! The admin portal's SECURITY section:
//!
//! - `GET /admin/audit?actor=&action=&target=&before=`: the audit log, newest
//!   first, [`AUDIT_PER_PAGE`] a page (older pages by `before`, the paging
//!   rules of `GET /api/v1/audit-events`); read-only.
//! - `GET /admin/api-keys`: the keys (never their secrets: the store has only
//!   hashes), `POST /admin/api-keys` mints one and shows its secret on the
//!   answer, once; `POST /admin/api-keys/{id}/revoke` revokes. Minting and
//!   revoking are `lanyard_app::admins`, as in the REST API.
//! - `GET /admin/settings`: the effective settings that matter and the admin
//!   accounts, read-only (settings come from the config file, the
//!   environment and flags at startup).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use lanyard_core::admin::Role;
use lanyard_core::{ApiKeyId, Error};

use super::apps::{errors_for, see_other, Errors};
use super::{AdminPost, AdminSignedIn, AdminWriter, Nav};
use lanyard_app::admins;
use lanyard_app::audit::AuditParams;

use crate::pages::forms::PageResult;
use crate::pages::{page, Message};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(audit))
        .route("/admin/api-keys", get(keys).post(create_key))
        .route("/admin/api-keys/{id}/revoke", post(revoke_key))
        .route("/admin/settings", get(settings))
}

/// Events per page of the audit log.
const AUDIT_PER_PAGE: u32 = 50;

fn utc(at: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    at.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_default()
}

// ---- audit log ----

struct EventRow {
    at: String,
    actor: String,
    action: String,
    target: String,
    source: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    nav: Nav,
    actor: String,
    action: String,
    target: String,
    rows: Vec<EventRow>,
    /// The older page's link, when there is one.
    older: Option<String>,
    /// The newest page's link, when this is not it.
    newest: Option<String>,
    filtered: bool,
    /// Sign-in and SSO events this server wrote to its log instead.
    logged_instead: u64,
}

#[derive(serde::Deserialize, Default)]
struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    before: Option<String>,
}

/// `/admin/audit` with the filters (empty ones left out) and more.
fn audit_href(filters: &[(&str, &str)], more: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in filters.iter().chain(more).filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    let q = q.finish();
    if q.is_empty() {
        "/admin/audit".to_owned()
    } else {
        format!("/admin/audit?{q}")
    }
}

fn bad_query(message: String) -> Response {
    Message::new("This link is not valid", message)
        .with_link("/admin/audit", "Back to the audit log")
        .into_page(StatusCode::BAD_REQUEST)
}

async fn audit(
    signed: AdminSignedIn,
    State(state): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    let clean = |v: Option<String>| v.map(|s| s.trim().to_owned()).unwrap_or_default();
    let (actor, action, target) = (clean(q.actor), clean(q.action), clean(q.target));
    let before = match q.before.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
        None => None,
        Some(b) => match b.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return Ok(bad_query(
                    "The page position must be a whole number.".into(),
                ))
            }
        },
    };
    let some = |s: &String| (!s.is_empty()).then(|| s.clone());
    let params = AuditParams {
        actor: some(&actor),
        target: some(&target),
        action: some(&action),
        since: None,
        until: None,
        before,
        limit: Some(AUDIT_PER_PAGE),
    };
    let filter = match params.into_filter() {
        Ok(f) => f,
        Err(Error::Invalid(fields)) => {
            let message = fields
                .iter()
                .map(|(k, v)| format!("{k} {v}."))
                .collect::<Vec<_>>()
                .join(" ");
            return Ok(bad_query(message));
        }
        Err(e) => return Err(e.into()),
    };
    let read = signed.reader(&state);
    let events = read.list_audit_events(&filter).await?;
    let filters = [
        ("actor", actor.as_str()),
        ("action", action.as_str()),
        ("target", target.as_str()),
    ];
    let older = events
        .next
        .map(|n| audit_href(&filters, &[("before", &n.to_string())]));
    let newest = before.map(|_| audit_href(&filters, &[]));
    let rows = events
        .items
        .into_iter()
        .map(|e| EventRow {
            at: utc(e.at),
            actor: e.actor,
            action: e.action,
            target: e.target,
            source: e.source.unwrap_or_default(),
            summary: e.summary,
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &AuditPage {
            nav: signed.nav("audit"),
            filtered: filters.iter().any(|(_, v)| !v.is_empty()),
            logged_instead: read.audit_logged_instead(),
            actor,
            action,
            target,
            rows,
            older,
            newest,
        },
    ))
}

// ---- API keys ----

struct KeyRow {
    id: i64,
    name: String,
    prefix: String,
    role: &'static str,
    created: String,
    last_used: Option<String>,
    revoked: Option<String>,
    created_by: String,
    expires: Option<String>,
    expired: bool,
}

#[derive(Template)]
#[template(path = "admin/api_keys.html")]
struct KeysPage {
    nav: Nav,
    /// The create form's one-time token (`admins::create_key_once`).
    once: String,
    keys: Vec<KeyRow>,
    /// The create form's values.
    name: String,
    role: String,
    expires_days: String,
    errors: Errors,
    notice: Option<String>,
}

impl KeysPage {
    fn err(&self, field: &str) -> Vec<&str> {
        errors_for(&self.errors, field)
    }
}

#[derive(Template)]
#[template(path = "admin/api_key_created.html")]
struct KeyCreatedPage {
    nav: Nav,
    name: String,
    role: &'static str,
    prefix: String,
    /// Shown on this page only: the store keeps its hash.
    secret: String,
}

fn role_label(role: Role) -> &'static str {
    match role {
        Role::ReadOnly => "read-only",
        Role::Administrator => "administrator",
    }
}

async fn keys_page(
    state: &AppState,
    signed: &AdminSignedIn,
    form: (String, String, String),
    errors: Errors,
    notice: Option<String>,
    status: StatusCode,
) -> PageResult {
    let keys = signed
        .reader(state)
        .list_api_keys()
        .await?
        .into_iter()
        .rev()
        .map(|k| KeyRow {
            expired: k.is_expired(state.lanyard.now()),
            id: k.id.0,
            name: k.name,
            prefix: k.prefix,
            role: role_label(k.role),
            created: utc(k.created_at),
            last_used: k.last_used_at.map(utc),
            revoked: k.revoked_at.map(utc),
            expires: k.expires_at.map(utc),
            created_by: k.created_by.unwrap_or_default(),
        })
        .collect();
    let (name, role, expires_days) = form;
    Ok(page(
        status,
        &KeysPage {
            nav: signed.nav("api-keys"),
            once: admins::form_token()?,
            keys,
            name,
            role,
            expires_days,
            errors,
            notice,
        },
    ))
}

#[derive(serde::Deserialize, Default)]
struct KeysParams {
    saved: Option<String>,
}

async fn keys(
    signed: AdminSignedIn,
    State(state): State<AppState>,
    Query(q): Query<KeysParams>,
) -> PageResult {
    let notice = q.saved.map(|what| match what.as_str() {
        "revoked" => "API key revoked.".to_owned(),
        _ => "Saved.".to_owned(),
    });
    let form = (String::new(), "read_only".to_owned(), String::new());
    keys_page(&state, &signed, form, Errors::new(), notice, StatusCode::OK).await
}

async fn create_key(State(state): State<AppState>, post: AdminPost) -> PageResult {
    let w = writer_or_refusal!(state, post);
    let name = post.fields.get("name").to_owned();
    let role_field = post.fields.get("role").to_owned();
    let expires_field = post.fields.get("expires_days").trim().to_owned();
    let mut errors = Errors::new();
    let role = Role::parse(&role_field);
    if role.is_none() {
        errors.insert("role".into(), "choose read-only or administrator".into());
    }
    let expires_at = match expires_field.as_str() {
        "" => None,
        days => match days.parse::<u16>() {
            Ok(n @ 1..=3650) => Some(w.now() + time::Duration::days(n.into())),
            _ => {
                errors.insert(
                    "expires_days".into(),
                    "must be a whole number of days from 1 to 3650, or empty for never".into(),
                );
                None
            }
        },
    };
    // Every message at once: the name's rule too.
    if let Err(Error::Invalid(fields)) = lanyard_core::admin::check_key_name(&name) {
        errors.extend(fields);
    }
    let (Some(role), true) = (role, errors.is_empty()) else {
        let form = (name, role_field, expires_field);
        return keys_page(
            &state,
            &post.signed,
            form,
            errors,
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    match admins::create_key_once(&w, post.fields.get("once"), &name, role, expires_at).await {
        Ok(None) => Ok(Message::new(
            "This form was already submitted",
            "A key was created when this form was first sent, and its secret was shown then, once. \
             If it was not saved, revoke that key and create a new one.",
        )
        .with_link("/admin/api-keys", "Back to API keys")
        .into_page(StatusCode::CONFLICT)),
        Ok(Some((key, secret))) => Ok(page(
            StatusCode::OK,
            &KeyCreatedPage {
                nav: post.signed.nav("api-keys"),
                name: key.name,
                role: role_label(key.role),
                prefix: key.prefix,
                secret,
            },
        )),
        Err(Error::Invalid(errors)) => {
            let form = (name, role_field, expires_field);
            keys_page(
                &state,
                &post.signed,
                form,
                errors,
                None,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(Error::Forbidden(message)) => Ok(Message::new("Not allowed", message)
            .with_link("/admin/api-keys", "Back to API keys")
            .into_page(StatusCode::FORBIDDEN)),
        Err(e) => Err(e.into()),
    }
}

async fn revoke_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    post: AdminPost,
) -> PageResult {
    let id = id
        .parse::<i64>()
        .map(ApiKeyId)
        .map_err(|_| Error::not_found("api key", &id))?;
    let w = writer_or_refusal!(state, post);
    admins::revoke_key(&w, id).await?;
    Ok(see_other("/admin/api-keys?saved=revoked"))
}

// ---- settings ----

/// One effective setting: what it is, the config key that sets it, its value.
struct SettingRow {
    label: &'static str,
    key: &'static str,
    value: String,
}

struct AdminRow {
    email: String,
    role: &'static str,
    created: String,
}

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    nav: Nav,
    rows: Vec<SettingRow>,
    admins: Vec<AdminRow>,
    version: &'static str,
}

fn plural(n: i64, unit: &str) -> String {
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

async fn settings(signed: AdminSignedIn, State(state): State<AppState>) -> PageResult {
    let s = state.settings();
    let auth = &s.auth;
    let read = signed.reader(&state);
    // The kind only: the web layer never sees the database URL (it may hold
    // a password); `lanyard check-config` shows it redacted.
    let database = match read.database_kind() {
        "sqlite" => "SQLite",
        "postgres" => "PostgreSQL",
        other => other,
    };
    let rows = vec![
        SettingRow {
            label: "Public base URL",
            key: "base_url",
            value: s.base_url.to_string(),
        },
        SettingRow {
            label: "Listen address",
            key: "listen",
            value: s.listen.to_string(),
        },
        SettingRow {
            label: "Log filter",
            key: "log",
            value: s.log.clone(),
        },
        SettingRow {
            label: "Database",
            key: "database",
            value: format!("{database} (the URL is not shown)"),
        },
        SettingRow {
            label: "Session idle limit",
            key: "session_idle_minutes",
            value: plural(auth.session_idle.whole_minutes(), "minute"),
        },
        SettingRow {
            label: "Session lifetime",
            key: "session_max_hours",
            value: plural(auth.session_max.whole_hours(), "hour"),
        },
        SettingRow {
            label: "Lockout after consecutive failures",
            key: "lockout_failures",
            value: auth.max_failures.to_string(),
        },
        SettingRow {
            label: "First lock lasts (doubling with each further lock, up to a day)",
            key: "lockout_minutes",
            value: plural(auth.lockout_duration.whole_minutes(), "minute"),
        },
        SettingRow {
            label: "Sign-in attempts per minute per address",
            key: "login_attempts_per_minute",
            value: auth.login_attempts_per_minute.to_string(),
        },
        SettingRow {
            label: "Shortest user password",
            key: "user_password_min_length",
            value: plural(auth.user_password_min.into(), "character"),
        },
        SettingRow {
            label: "Shortest admin password",
            key: "admin_password_min_length",
            value: plural(auth.admin_password_min.into(), "character"),
        },
        SettingRow {
            label: "Second factor required for admins",
            key: "require_admin_second_factor",
            value: if auth.require_admin_second_factor {
                "yes"
            } else {
                "no"
            }
            .to_owned(),
        },
    ];
    let admins = read
        .list_admins()
        .await?
        .into_iter()
        .map(|a| AdminRow {
            email: a.email,
            role: role_label(a.role),
            created: utc(a.created_at),
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &SettingsPage {
            nav: signed.nav("settings"),
            rows,
            admins,
            version: env!("CARGO_PKG_VERSION"),
        },
    ))
}
